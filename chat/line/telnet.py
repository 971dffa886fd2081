"""
Enough of the telnet protocol (RFC 854) for the line port: L{TelnetInput}.

A telnet client sends its commands in the same stream as the user's text, each starting with
C{IAC} (0xFF, a byte that never occurs in UTF-8, so that no chat text is mistaken for one).
The one that matters is Ctrl-C: telnet sends C{IAC IP} (interrupt process), then
C{IAC DO TIMING-MARK}, and throws away all the server sends until the server answers the mark.
A server that does not answer leaves its telnet users deaf for good, while what they type
still reaches everyone else.

So the line port takes every command out of the input (none is ever relayed), answers
C{DO TIMING-MARK} with C{WILL TIMING-MARK}, refuses every other option (C{WONT} to a C{DO},
C{DONT} to a C{WILL}; nothing to a C{WONT} or C{DONT}, which asks for what is already so,
lest the two ends answer each other for ever), skips subnegotiations, and ignores C{IP}: a
chat has no process to interrupt, and a stray Ctrl-C should not throw anyone out; C{/quit}
leaves.  An C{IAC} before a byte that names no command is data, like the byte after it.

Commands are not held, so they cost no memory however many come; nor are they lines, so a
connection that sends nothing else is closed by the idle timeout.
"""

from __future__ import annotations

from typing import Protocol

IAC = 0xFF
DONT = 0xFE
DO = 0xFD
WONT = 0xFC
WILL = 0xFB
SB = 0xFA
IP = 0xF4
SE = 0xF0
TIMING_MARK = 6

_IAC = bytes([IAC])
_NEGOTIATION = frozenset((WILL, WONT, DO, DONT))


class TelnetPeer(Protocol):
    """
    The connection a L{TelnetInput} answers through.
    """

    def telnetReply(self, reply: bytes) -> None:
        """
        Send C{reply} (telnet commands) now, after the output queued so far.
        """

    def telnetInterrupted(self) -> None:
        """
        The user pressed Ctrl-C (C{IP}), and telnet sees the server's output again (the
        C{DO TIMING-MARK} that followed is answered).
        """


class TelnetInput:
    """
    Takes telnet commands out of a connection's input and answers them, whatever the chunks
    they arrive in: a command cut in two is held until the rest comes.

    A connection gets one only once it has sent an C{IAC}; until then its input is not looked
    at twice.
    """

    __slots__ = ("_peer", "_partial", "_subnegotiating", "_interrupted")

    def __init__(self, peer: TelnetPeer) -> None:
        self._peer = peer
        self._partial = b""  # the start of a command cut off at the end of the last chunk
        self._subnegotiating = False  # inside IAC SB ... IAC SE, which is skipped whole
        self._interrupted = False  # an IP came, and the timing mark that follows it has not

    def feed(self, data: bytes) -> bytes:
        """
        Handle the commands in C{data}, and return the rest: the user's text.
        """
        data = self._partial + data
        self._partial = b""
        text: list[bytes] = []
        replies: list[bytes] = []
        interrupts = 0
        start, end = 0, len(data)
        while start < end:
            command = data.find(_IAC, start)
            if command < 0:
                if not self._subnegotiating:
                    text.append(data[start:])
                break
            if not self._subnegotiating:
                text.append(data[start:command])
            if command + 1 == end:
                self._partial = data[command:]
                break
            verb = data[command + 1]
            start = command + 2
            if verb < SE and not self._subnegotiating:  # not a command: data (and not UTF-8)
                text.append(data[command:start])
            elif self._subnegotiating:
                self._subnegotiating = verb != SE
            elif verb == IAC:  # an escaped 0xFF: not UTF-8, so the line will be refused
                text.append(_IAC)
            elif verb == SB:
                self._subnegotiating = True
            elif verb == IP:
                self._interrupted = True
            elif verb in _NEGOTIATION:
                if command + 2 == end:
                    self._partial = data[command:]
                    break
                option = data[command + 2]
                start = command + 3
                reply = _answer(verb, option)
                if reply:
                    replies.append(reply)
                if verb == DO and option == TIMING_MARK and self._interrupted:
                    self._interrupted = False
                    interrupts += 1
        if replies:
            self._peer.telnetReply(b"".join(replies))
        for _ in range(interrupts):  # told after the answers: telnet shows what follows them
            self._peer.telnetInterrupted()
        return b"".join(text)


def _answer(verb: int, option: int) -> bytes:
    """
    The reply to C{IAC verb option}: agree to the timing mark alone.
    """
    if verb == DO:
        return bytes([IAC, WILL if option == TIMING_MARK else WONT, option])
    if verb == WILL:
        return bytes([IAC, DONT, option])
    return b""

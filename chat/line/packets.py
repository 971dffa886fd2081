"""
Clients that send one message per packet, with no line ending: L{FirstInput} tells them from
line clients, L{asLine} and L{asPacket} translate for them.

The daemon replaces a tutorial's threaded socket chat, whose client sends each typed line with
C{socket.send(text.encode())}, no line ending, and prints each C{recv()} with C{print}; its
server took each C{recv()} as one message.  Line clients (C{nc}, telnet, L{chat.client}) end
every line they send.  So a connection whose first message comes without a line ending, and
nothing after it for L{PACKET_WAIT} seconds, sends packets, for its whole life; one whose
first input holds a line end sends lines, and is never switched.  No option is needed, and a
line client is never held up: it ends its first line, and that decides at once.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

PACKET_WAIT = 0.3
"""
Seconds of quiet after a first message without a line ending before the connection is taken
to send packets: far longer than the gaps in one line cut into TCP segments, far shorter than
a person takes to type the next message.
"""


def asLine(packet: bytes) -> bytes:
    """
    A packet as a line, for L{chat.reader.LineReader}: its line ending added if it has none.
    A packet with line ends inside it is several lines, like any input.
    """
    return packet if packet.endswith(b"\n") else packet + b"\n"


def asPacket(lines: bytes) -> bytes:
    """
    Lines of output (each ending in CRLF) as a packet client shows them: C{print} adds a line
    end after each C{recv()}, so the last line has none of its own, and the others end in a
    bare LF (a CR would reach a piped output as it is).
    """
    return lines[:-2].replace(b"\r\n", b"\n") if lines.endswith(b"\r\n") else lines


class FirstInput:
    """
    A connection's input until it shows whether it sends lines or packets; then C{decided} is
    called once, with the answer and the input so far, as lines.

    @ivar limit: the most input held: a first line that long is a line, overlong.
    """

    __slots__ = ("_clock", "_decided", "_chunks", "_size", "_timer", "limit")

    def __init__(
        self, clock: IReactorTime, decided: Callable[[bool, bytes], None], limit: int
    ) -> None:
        self._clock = clock
        self._decided = decided
        self._chunks: list[bytes] = []
        self._size = 0
        self._timer: IDelayedCall | None = None
        self.limit = limit

    def dataReceived(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if b"\n" in data or self._size > self.limit:
            self._decide(False)
        elif self._timer is None:
            self._timer = self._clock.callLater(PACKET_WAIT, self._decide, True)
        else:  # the wait is for quiet after the last chunk
            self._timer.reset(PACKET_WAIT)

    def stop(self) -> None:
        """
        The connection is gone: let go of the timer.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _decide(self, packets: bool) -> None:
        self.stop()
        chunks, self._chunks = self._chunks, []
        self._decided(packets, b"".join(map(asLine, chunks) if packets else chunks))

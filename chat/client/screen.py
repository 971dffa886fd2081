"""
The terminal front end: an input line at the bottom that incoming lines never clobber.

Built on Twisted's own line editor, L{twisted.conch.recvline.HistoricRecvLine}, run over
standard input in raw mode through L{twisted.conch.insults.insults.ServerProtocol}: it gives
the editing keys and the input history.  An incoming line is drawn over the input line, which
is then drawn again below it with the half-typed text and the cursor where they were.
"""

from __future__ import annotations

import contextlib
import os
import signal
import termios
import tty
from collections.abc import Iterator

from twisted.conch.recvline import HistoricRecvLine

from chat.client.session import Session
from chat.client.style import Styler

CTRL_C = b"\x03"
CTRL_D = b"\x04"


class Screen(HistoricRecvLine):
    """
    The input line and the lines scrolling above it.  Built by L{ServerProtocol}, which
    passes the terminal.
    """

    def __init__(self, styler: Styler) -> None:
        self.styler = styler
        self.session: Session | None = None
        self._partial = b""  # the first bytes of a UTF-8 character being typed
        self._early: list[str] = []  # lines that came before the terminal was ready
        self._setPrompt("")

    # View

    def show(self, text: str) -> None:
        self._above(self.styler.format(text))

    def notify(self, text: str) -> None:
        self._above(self.styler.formatOwn(text))

    def following(self, nick: str, room: str) -> None:
        self._setPrompt(f"{nick} {room}" if room else nick)
        self._redrawInput()

    # The line editor

    def initializeScreen(self) -> None:
        # Draw the prompt where the cursor is; the terminal's scrollback stays as it was.
        self.terminal.write(self.ps[self.pn])
        self.setInsertMode()
        early, self._early = self._early, []
        for text in early:
            self._above(text)

    def terminalSize(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._redrawInput()

    def keystrokeReceived(self, keyID, modifier) -> None:
        if keyID in (CTRL_C, CTRL_D):
            if self.session is not None:
                self.session.quit()
        elif isinstance(keyID, bytes) and keyID[0] >= 0x80:
            self._utf8(keyID)
        else:
            super().keystrokeReceived(keyID, modifier)

    def handle_RETURN(self) -> None:
        line = b"".join(self.lineBuffer)
        if line:
            self.historyLines.append(line)
        self.historyPosition = len(self.historyLines)
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self._redrawInput()  # the server echoes what was said; no copy of it stays here
        if line and self.session is not None:
            self.session.send(line)

    # Helpers

    def _utf8(self, byte: bytes) -> None:
        """
        Collect the bytes of one character, so that the cursor moves over it as one.
        """
        self._partial += byte
        try:
            self._partial.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.reason == "unexpected end of data" and len(self._partial) < 4:
                return
            self._partial = b""
            return
        character, self._partial = self._partial, b""
        self.characterReceived(character, False)

    def _setPrompt(self, where: str) -> None:
        prompt = f"{where}> ".encode("utf-8")
        self.ps = (prompt, prompt)

    def _above(self, text: str) -> None:
        if getattr(self, "terminal", None) is None:
            self._early.append(text)
            return
        self.terminal.write(b"\r")
        self.terminal.eraseLine()
        self.terminal.write(text.encode("utf-8", "replace") + b"\r\n")
        self._redrawInput()

    def _redrawInput(self) -> None:
        if getattr(self, "terminal", None) is None:
            return
        self.terminal.write(b"\r")
        self.terminal.eraseLine()
        self.drawInputLine()
        after = len(self.lineBuffer) - self.lineBufferIndex
        if after:
            self.terminal.cursorBackward(after)


@contextlib.contextmanager
def rawTerminal(fd: int, onResize) -> Iterator[None]:
    """
    Put the terminal in raw mode for the line editor, and always restore it, whatever
    happens; call C{onResize(width, height)} when the window changes size.
    """
    saved = termios.tcgetattr(fd)
    previous = signal.getsignal(signal.SIGWINCH)

    def resized(signum: int, frame: object) -> None:
        size = os.get_terminal_size(fd)
        onResize(size.columns, size.lines)

    tty.setraw(fd)
    signal.signal(signal.SIGWINCH, resized)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)

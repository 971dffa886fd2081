"""
The terminal front end: an input line at the bottom that incoming lines never clobber.

Built on Twisted's own line editor, L{twisted.conch.recvline.HistoricRecvLine}, run over
standard input in raw mode through L{twisted.conch.insults.insults.ServerProtocol}: it gives
the editing keys and the input history.  An incoming line is drawn over the input line, which
is then drawn again below it with the half-typed text and the cursor where they were.

The input line is always one row: text longer than the terminal is wide scrolls sideways
under the cursor, so that the terminal never wraps it and a redraw never leaves pieces of it
behind.  The line editor only changes its buffer; L{Screen} draws the row after every key.
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
RETURN = (b"\r", b"\n")


def _ignore(*args: object, **kwargs: object) -> None:
    pass


class _Unseen:
    """
    A terminal that draws nothing, for the line editor's own updates of the input row.
    """

    def __getattr__(self, name: str) -> object:
        return _ignore


_UNSEEN = _Unseen()


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
        self._scroll = 0  # the first character of the input that the row shows
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
        elif keyID in RETURN:
            self.handle_RETURN()  # drawn, not hidden: sending may show a line at once
        else:
            terminal, self.terminal = self.terminal, _UNSEEN
            try:
                super().keystrokeReceived(keyID, modifier)
            finally:
                self.terminal = terminal
            self._redrawInput()

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
        self._redrawInput()

    def _deliverBuffer(self, buf: bytes) -> None:
        # A recalled line, a character (not a byte) at a time, as it was typed.
        for character in buf.decode("utf-8", "replace"):
            self.characterReceived(character.encode("utf-8"), True)

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
        """
        Draw the prompt and as much of the input as fits around the cursor, on one row.
        """
        if getattr(self, "terminal", None) is None:
            return
        prompt = self.ps[self.pn]
        # Columns for the text: the row's last column is left for the cursor.
        room = max(1, getattr(self, "width", 80) - len(prompt.decode("utf-8")) - 1)
        index = self.lineBufferIndex
        if len(self.lineBuffer) <= room:
            self._scroll = 0
        elif index < self._scroll:
            self._scroll = index
        elif index > self._scroll + room:
            self._scroll = index - room
        shown = self.lineBuffer[self._scroll : self._scroll + room]
        self.terminal.write(b"\r")
        self.terminal.eraseLine()
        self.terminal.write(prompt + b"".join(shown))
        after = self._scroll + len(shown) - index
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

"""
The terminal front end: an input line at the bottom that incoming lines never clobber.

Built on Twisted's own line editor, L{twisted.conch.recvline.HistoricRecvLine}, run over
standard input in raw mode through L{twisted.conch.insults.insults.ServerProtocol}: it gives
the editing keys and the input history.  An incoming line is drawn over the input line, which
is then drawn again below it with the half-typed text and the cursor where they were.

The input line is always one row: text longer than the terminal is wide scrolls sideways
under the cursor, so that the terminal never wraps it and a redraw never leaves pieces of it
behind.  What fits is counted in terminal columns, not characters (L{columns}): a CJK
character or an emoji takes two, a combining mark or a zero-width joiner none.  The line
editor only changes its buffer; L{Screen} draws the row after every key.

The keys are readline's where readline has one (Ctrl-A, Ctrl-E, Ctrl-U, Ctrl-K, Ctrl-W,
Ctrl-L); Tab completes the nicks of the client's room.  Any other control key is ignored:
inserted, it would move the terminal's cursor behind the row's back and reach everyone in
the room.
"""

from __future__ import annotations

import contextlib
import os
import signal
import termios
import tty
import unicodedata
from collections.abc import Callable, Iterator

import wcwidth
from twisted.conch.recvline import HistoricRecvLine
from twisted.internet import defer
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure

from chat.client.session import Session
from chat.client.style import Styler

CTRL_C = b"\x03"
CTRL_D = b"\x04"
RETURN = (b"\r", b"\n")
_VS16 = "\ufe0f"  # asks for the emoji presentation of the character before: two columns


def widths(text: str) -> list[int]:
    """
    The terminal columns of each character of C{text}.

    Each character is counted on its own, as most terminals (and pyte) draw them; the sum is
    never less than what a terminal that joins emoji sequences draws, so that a row laid out
    by it never wraps.
    """
    result: list[int] = []
    for character in text:
        width = max(wcwidth.wcwidth(character), 0)
        if character == _VS16 and result and result[-1] == 1:
            width = 1
        result.append(width)
    return result


def columns(text: str) -> int:
    """
    The terminal columns that C{text} takes: see L{widths}.
    """
    return sum(widths(text))


def visibleSlice(
    characterWidths: list[int], cursor: int, first: int, room: int
) -> tuple[int, int]:
    """
    Which characters of the input to show in C{room} columns: those from the returned first
    up to the returned end, with the C{cursor} (an index into the input) among them or just
    after them.  The view moves as little as it can from C{first}, where it was, so that the
    text does not jump under the cursor.
    """
    if sum(characterWidths) <= room:
        return 0, len(characterWidths)
    first = min(first, cursor)
    used = sum(characterWidths[first:cursor])
    while used > room or (first < cursor and characterWidths[first] == 0):
        used -= characterWidths[first]
        first += 1
    end = cursor
    while end < len(characterWidths) and used + characterWidths[end] <= room:
        used += characterWidths[end]
        end += 1
    return first, end


def commonPrefix(words: list[str]) -> str:
    """
    The longest start that all of C{words} share, ignoring case; spelt as the first word.
    """
    shortest = min(len(word) for word in words)
    length = 0
    while length < shortest and len({word[length].lower() for word in words}) == 1:
        length += 1
    return words[0][:length]


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

    @ivar closed: fires once the terminal is closed, all that was written to it written.
    """

    def __init__(self, styler: Styler) -> None:
        self.styler = styler
        self.session: Session | None = None
        self._partial = b""  # the first bytes of a UTF-8 character being typed
        self._early: list[str] = []  # lines that came before the terminal was ready
        self._scroll = 0  # the first character of the input that the row shows
        self._left = False  # the row is gone for good: the client is exiting
        self.closed: defer.Deferred[None] = defer.Deferred()
        self._setPrompt("")

    # View

    def show(self, text: str) -> None:
        self._above(self.styler.format(text))

    def notify(self, text: str) -> None:
        self._above(self.styler.formatOwn(text))

    def following(self, nick: str, room: str) -> None:
        self._setPrompt(f"{nick} {room}" if room else nick)
        self._redrawInput()

    def leave(self) -> None:
        """
        Clear the input row for good, so that whatever comes next (the shell's prompt, a last
        message) starts on a clean line.
        """
        if getattr(self, "terminal", None) is not None:
            self.terminal.write(b"\r")
            self.terminal.eraseLine()
        self._left = True

    # The line editor

    def connectionMade(self) -> None:
        super().connectionMade()
        # Keys that only change the buffer, the row being drawn after them...
        self._editingKeys: dict[bytes, Callable[[], None]] = {
            b"\x01": self.handle_HOME,  # Ctrl-A
            b"\x05": self.handle_END,  # Ctrl-E
            b"\x08": self.handle_BACKSPACE,  # Ctrl-H, what some terminals send for Backspace
            self.terminal.BACKSPACE: self.handle_BACKSPACE,
            b"\x0b": self.handle_KILL_END,  # Ctrl-K
            b"\x15": self.handle_KILL_START,  # Ctrl-U
            b"\x17": self.handle_KILL_WORD,  # Ctrl-W
        }
        # ...and keys that draw on the screen too.
        self._drawingKeys: dict[bytes, Callable[[], None]] = {
            b"\t": self.handle_TAB,
            b"\x0c": self.handle_CLEAR,  # Ctrl-L
        }

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.closed.called:
            self.closed.callback(None)

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

    def keystrokeReceived(self, keyID: bytes, modifier: object) -> None:
        """
        One key: a byte typed, or a function key as L{ServerProtocol} names it
        (C{b"[LEFT_ARROW]"}).
        """
        if keyID in (CTRL_C, CTRL_D):
            if self.session is not None:
                self.session.quit()
        elif modifier is not None:
            pass  # Alt with a key: readline's meta commands, none of them here
        elif keyID in RETURN:
            self.handle_RETURN()  # drawn, not hidden: sending may show a line at once
        elif keyID in self._drawingKeys:
            self._drawingKeys[keyID]()
            self._redrawInput()
        elif handler := self._editingKeys.get(keyID) or self.keyHandlers.get(keyID):
            self._edit(handler)  # the arrows, Home, End, Delete... too
        elif len(keyID) == 1 and keyID[0] >= 0x80:
            self._utf8(keyID)
        elif len(keyID) == 1 and keyID[0] >= 0x20:
            self._edit(lambda: self.characterReceived(keyID, False))
        # Any other key, a control key or a function key with no use here, is ignored.

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

    def handle_KILL_END(self) -> None:
        del self.lineBuffer[self.lineBufferIndex :]

    def handle_KILL_START(self) -> None:
        del self.lineBuffer[: self.lineBufferIndex]
        self.lineBufferIndex = 0

    def handle_KILL_WORD(self) -> None:
        """
        Delete the word before the cursor and the spaces after it, as readline's
        C{unix-word-rubout} does.
        """
        start = self.lineBufferIndex
        while start and self.lineBuffer[start - 1] == b" ":
            start -= 1
        start = self._wordStart(start)
        del self.lineBuffer[start : self.lineBufferIndex]
        self.lineBufferIndex = start

    def handle_CLEAR(self) -> None:
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()

    def handle_TAB(self) -> None:
        """
        Complete the nick before the cursor from the nicks of the room: all of it when one
        nick matches, as much as they share when several do (listing them when that adds
        nothing).  A nick at the start of the line is addressed: C{bob: }.
        """
        if self.session is None:
            return
        start = self._wordStart(self.lineBufferIndex)
        word = b"".join(self.lineBuffer[start : self.lineBufferIndex]).decode("utf-8")
        own = self.session.nick.lower()
        nicks = [nick for nick in self.session.members.matching(word) if nick.lower() != own]
        if not word or not nicks:
            return
        if len(nicks) == 1:
            self._replaceWord(start, nicks[0] + (": " if start == 0 else " "))
        elif len(shared := commonPrefix(nicks)) > len(word):
            self._replaceWord(start, shared)
        else:
            self.notify(" ".join(nicks))

    # Helpers

    def _edit(self, handler: Callable[[], None]) -> None:
        """
        Let C{handler} change the buffer, drawing nothing, then draw the row as it now is.
        """
        terminal, self.terminal = self.terminal, _UNSEEN
        try:
            handler()
        finally:
            self.terminal = terminal
        self._redrawInput()

    def _wordStart(self, end: int) -> int:
        """
        Where the word that ends at C{end} in the input starts: after the space before it.
        """
        while end and self.lineBuffer[end - 1] != b" ":
            end -= 1
        return end

    def _replaceWord(self, start: int, text: str) -> None:
        self.lineBuffer[start : self.lineBufferIndex] = [c.encode("utf-8") for c in text]
        self.lineBufferIndex = start + len(text)

    def _utf8(self, byte: bytes) -> None:
        """
        Collect the bytes of one character, so that the cursor moves over it as one.
        """
        self._partial += byte
        try:
            character = self._partial.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.reason == "unexpected end of data" and len(self._partial) < 4:
                return
            self._partial = b""
            return
        encoded, self._partial = self._partial, b""
        if unicodedata.category(character) != "Cc":  # not a C1 control either
            self._edit(lambda: self.characterReceived(encoded, False))

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
        Draw the prompt and as much of the input as fits around the cursor, on one row.  The
        text after the cursor is drawn between a save and a restore of the cursor, so that
        the terminal itself, not a count of ours, puts the cursor back where it belongs.
        """
        if getattr(self, "terminal", None) is None or self._left:
            return
        prompt = self.ps[self.pn]
        # Columns for the text: the row's last column is left for the cursor.
        room = max(1, getattr(self, "width", 80) - columns(prompt.decode("utf-8")) - 1)
        cursor = self.lineBufferIndex
        characterWidths = widths(b"".join(self.lineBuffer).decode("utf-8", "replace"))
        self._scroll, end = visibleSlice(characterWidths, cursor, self._scroll, room)
        self.terminal.write(b"\r")
        self.terminal.eraseLine()
        self.terminal.write(prompt + b"".join(self.lineBuffer[self._scroll : cursor]))
        if end > cursor:
            self.terminal.saveCursor()
            self.terminal.write(b"".join(self.lineBuffer[cursor:end]))
            self.terminal.restoreCursor()


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

"""
The terminal screen in memory: the keys and the layout of the input row, on a session with a
fake server, rendered by a terminal emulator (pyte) as a person would see them.
"""

from __future__ import annotations

import pyte
import pytest
from twisted.conch.insults.insults import ServerProtocol
from twisted.internet.testing import StringTransport

from chat.client.screen import Screen, visibleSlice, widths
from chat.client.style import Styler
from test_client import ServerEnd, welcomed

PROMPT = "alice #lobby> "
LEFT = "\x1b[D"


class MemoryTerminal:
    """
    A L{Screen} on a pyte screen, its session welcomed into C{#lobby} as alice with
    C{others} there too.
    """

    def __init__(self, others: tuple[str, ...] = ("bob", "carol"), columns: int = 80, lines: int = 12):
        self.view = Screen(Styler(colour=False, timestamps=False))
        self.server = ServerEnd(view=self.view)
        self.view.session = self.server.session
        self.output = StringTransport()
        ServerProtocol(lambda: self.view).makeConnection(self.output)
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.view.terminalSize(columns, lines)
        self.server.accept()
        welcomed(self.server, "alice")
        nicks = sorted(("alice", *others))
        self.server.say(f"*** In #lobby ({len(nicks)}): {' '.join(nicks)}")
        self.server.sent()

    def type(self, keys: str | bytes) -> None:
        self.view.terminal.dataReceived(keys.encode("utf-8") if isinstance(keys, str) else keys)

    def lines(self) -> list[str]:
        self.stream.feed(self.output.value())
        self.output.clear()
        return [line.rstrip() for line in self.screen.display]

    def inputLine(self) -> str:
        return self.lines()[self.screen.cursor.y]

    @property
    def column(self) -> int:
        self.lines()
        return self.screen.cursor.x


@pytest.mark.parametrize(
    "keys, line, column",
    [
        ("hello world\x01X", "Xhello world", 15),  # Ctrl-A: start of line
        ("hello" + LEFT * 3 + "\x05!", "hello!", 20),  # Ctrl-E: end of line
        ("hello world" + LEFT * 5 + "\x15", "world", 14),  # Ctrl-U: kill to the start
        ("hello world" + LEFT * 5 + "\x0b", "hello", 20),  # Ctrl-K: kill to the end
        ("say hello  world\x17", "say hello", 25),  # Ctrl-W: the word before the cursor...
        ("say hello  world\x17\x17", "say", 18),  # ...and the spaces after the word before
        ("hello wor\x17ld", "hello ld", 22),
        ("ab\x08c", "ac", 16),  # Ctrl-H: backspace
    ],
    ids=["ctrl-a", "ctrl-e", "ctrl-u", "ctrl-k", "ctrl-w", "ctrl-w-twice", "ctrl-w-mid", "ctrl-h"],
)
def test_readlineKeys(keys, line, column) -> None:
    terminal = MemoryTerminal()
    terminal.type(keys)
    assert terminal.inputLine() == PROMPT + line
    assert terminal.column == column


def test_otherControlKeysAreIgnored() -> None:
    terminal = MemoryTerminal()
    # Ctrl-G, a C1 control typed as UTF-8, Alt-x, F12, Ctrl-V, Ctrl-\
    terminal.type("a\x07\u009b\x1bx\x1b[24~\x16\x1cb")
    assert terminal.inputLine() == PROMPT + "ab"
    assert terminal.column == len(PROMPT) + 2
    terminal.type("\r")
    assert terminal.server.sent() == [b"ab"]


def test_ctrlLClearsTheScreenAndKeepsTheInput() -> None:
    terminal = MemoryTerminal()
    terminal.server.say("<bob> one", "<bob> two")
    terminal.type("half" + LEFT)
    assert "<bob> two" in terminal.lines()
    terminal.type("\x0c")
    assert terminal.lines() == [PROMPT + "half"] + [""] * 11
    assert terminal.column == len(PROMPT) + 3
    terminal.server.say("<bob> three")
    assert terminal.lines()[:2] == ["<bob> three", PROMPT + "half"]


@pytest.mark.parametrize(
    "keys, line",
    [
        ("b\t", "bob:"),  # at the start of the line: addressed
        ("hi CA\t", "hi carol"),  # any case; then a space to go on typing
        ("d\t", "dan"),  # as much as daniel and danny share
        ("/msg dann\t", "/msg danny"),
        ("al\t", "al"),  # not your own nick
        ("zed\t", "zed"),
        ("\t", ""),
    ],
)
def test_tabCompletesNicksOfTheRoom(keys, line) -> None:
    terminal = MemoryTerminal(others=("bob", "carol", "daniel", "danny"))
    terminal.type(keys)
    assert terminal.inputLine() == (PROMPT + line).rstrip()
    typed = {"bob:": "bob: ", "hi carol": "hi carol ", "/msg danny": "/msg danny "}.get(line, line)
    assert terminal.column == len(PROMPT) + len(typed)


def test_tabListsTheNicksWhenItCannotChoose() -> None:
    terminal = MemoryTerminal(others=("daniel", "danny"))
    terminal.type("dan\t")
    lines = terminal.lines()
    assert "--- daniel danny" in lines
    assert terminal.inputLine() == PROMPT + "dan"


def test_tabFollowsTheRoom() -> None:
    terminal = MemoryTerminal(others=("bob",))
    terminal.server.say("*** bob is now known as robert", "*** zoe has joined #lobby")
    terminal.type("r\t")
    assert terminal.inputLine() == PROMPT + "robert:"
    terminal.type("\x15z\t")
    assert terminal.inputLine() == PROMPT + "zoe:"


@pytest.mark.parametrize(
    "text, shown, column",
    [
        ("中" * 45, "中" * 32, 78),  # 65 columns for text: 32 wide characters, not 65
        ("😀" * 40, "😀" * 32, 78),
        ("e\u0301" * 70, "\u00e9" * 65, 79),  # combining marks take no column (pyte: NFC)
    ],
    ids=["cjk", "emoji", "combining"],
)
def test_wideAndNarrowCharactersFitOneRow(text, shown, column) -> None:
    terminal = MemoryTerminal()
    terminal.type(text)
    lines = terminal.lines()
    assert sum(PROMPT in line for line in lines) == 1
    assert terminal.inputLine() == PROMPT + shown
    assert terminal.column == column
    terminal.type("\x1b[H")  # Home
    assert terminal.column == len(PROMPT)
    assert sum(PROMPT in line for line in terminal.lines()) == 1


def test_widths() -> None:
    # CJK, e and a combining acute, emoji, ZWJ, a heart in emoji presentation (VS16),
    # a zero-width space, a
    assert widths("中e\u0301😀\u200d❤\ufe0f\u200ba") == [2, 1, 0, 2, 0, 1, 1, 0, 1]


def test_visibleSlice() -> None:
    assert visibleSlice([1] * 5, 5, 0, 10) == (0, 5)
    assert visibleSlice([2] * 10, 10, 0, 9) == (6, 10)  # 8 columns, the cursor after them
    assert visibleSlice([2] * 10, 0, 6, 9) == (0, 4)  # back at the start
    assert visibleSlice([2] * 10, 7, 6, 9) == (6, 10)  # the view stays while the cursor is in it
    # Zero-width characters take no room, and the view never starts on one: a combining mark
    # there would join the prompt.
    assert visibleSlice([1, 0] * 10, 20, 0, 6) == (8, 20)
    assert visibleSlice([1, 0] * 10, 20, 0, 5) == (10, 20)

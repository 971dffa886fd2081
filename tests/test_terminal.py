"""
The client on a terminal, against the real daemon: what a person sees and types.
"""

from __future__ import annotations

import os
import signal
import socket
import termios
import threading

import pytest

from daemon import LineSocket, joinAs
from terminal import TerminalClient


@pytest.fixture
def daemon(daemons):
    return daemons()


@pytest.fixture
def terminals():
    opened: list[TerminalClient] = []

    def open_(*argv: str, **kw) -> TerminalClient:
        client = TerminalClient(*argv, **kw)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.close()


def other(daemon, nick: str) -> LineSocket:
    return joinAs(daemon.ports[0], nick)


def test_incomingLinesScrollAboveTheHalfTypedLine(daemon, terminals) -> None:
    alice = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "alice")
    alice.waitFor(lambda: alice.inputLine() == "alice #lobby>", "the prompt")
    bob = other(daemon, "bob")
    alice.type("half li")
    alice.waitFor(lambda: alice.inputLine() == "alice #lobby> half li", "the half line")
    alice.type("\x1b[D\x1b[D")  # two steps left: the cursor is before "li"
    bob.send("hello from bob")
    alice.waitForText("<bob> hello from bob")
    lines = alice.lines()
    assert lines.index(alice.inputLine()) > max(i for i, line in enumerate(lines) if "<bob> hello" in line)
    assert alice.inputLine() == "alice #lobby> half li"
    assert alice.screen.cursor.x == len("alice #lobby> half ")
    alice.type("\x1b[F" + "ne\r")  # End, then finish the line
    assert bob.readUntil("half line")[-1] == "<alice> half line"
    alice.waitFor(lambda: alice.inputLine() == "alice #lobby>", "an empty input line")
    alice.type("\x1b[A")  # up: the last line again
    alice.waitFor(lambda: alice.inputLine() == "alice #lobby> half line", "the recalled line")


def test_promptFollowsNickAndRoom(daemon, terminals) -> None:
    client = terminals("127.0.0.1", str(daemon.ports[0]))
    client.waitFor(lambda: client.inputLine().endswith("#lobby>"), "the prompt")
    client.type("/nick zoe\r")
    client.waitFor(lambda: client.inputLine() == "zoe #lobby>", "the new nick")
    client.type("/join dev\r")
    client.waitFor(lambda: client.inputLine() == "zoe #dev>", "the new room")


def test_colourAndNoColour(daemon, terminals) -> None:
    bob = other(daemon, "bob")
    coloured = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "col")
    plain = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "mono", env={"NO_COLOR": "1"})
    for client in (coloured, plain):
        client.waitFor(lambda: client.inputLine().endswith("#lobby>"), "the prompt")
    bob.send("colours?")
    for client in (coloured, plain):
        client.waitForText("<bob> colours?")
    assert b"\x1b[3" in coloured.raw or b"\x1b[9" in coloured.raw
    assert not any(code in plain.raw for code in (b"\x1b[3", b"\x1b[9", b"\x1b[1;", b"\x1b[2m"))


def test_hostileServerCannotDriveTheTerminal(terminals) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            connection.sendall(
                b"*** Welcome to evil, guest1! Type /help for the commands.\r\n"
                b"<evil> \x1b[2J\x1b]0;pwned\x07\x1bP1$r\x1b\\\x1b[31mred\xc2\x9b6n done\r\n"
            )
            connection.recv(100)
            connection.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client = terminals("127.0.0.1", str(port), "--no-reconnect")
        client.waitForText("done")
        client.type("\x04")
        client.wait()
    for sequence in (b"\x1b[2J", b"\x1b]", b"\x1bP", b"\x07", b"\x1b[31m", b"\xc2\x9b"):
        assert sequence not in client.raw
    assert any("^[[2J^[]0;pwned^G" in line for line in client.lines())


@pytest.mark.parametrize("key", [b"\x04", b"\x03"], ids=["ctrl-d", "ctrl-c"])
def test_ctrlDOrCLeavesAndRestoresTheTerminal(daemon, terminals, key) -> None:
    client = terminals("127.0.0.1", str(daemon.ports[0]))
    client.waitFor(lambda: client.inputLine().endswith("#lobby>"), "the prompt")
    assert termios.tcgetattr(client.slave) != client.modeBefore  # raw while it runs
    client.type(key)
    assert client.wait() == 0
    assert termios.tcgetattr(client.slave) == client.modeBefore


def test_terminalIsRestoredWhenTheServerGoes(daemons, terminals) -> None:
    daemon = daemons()
    client = terminals("127.0.0.1", str(daemon.ports[0]), "--no-reconnect")
    client.waitFor(lambda: client.inputLine().endswith("#lobby>"), "the prompt")
    assert daemon.terminate() == 0
    assert client.wait() == 1
    assert termios.tcgetattr(client.slave) == client.modeBefore
    assert b"closed the connection" in client.process.stderr.read()


def test_aResizeKeepsTheInputLine(daemon, terminals) -> None:
    client = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "resizer")
    client.waitFor(lambda: client.inputLine() == "resizer #lobby>", "the prompt")
    client.type("typed so far")
    client.waitFor(lambda: client.inputLine().endswith("typed so far"), "the typing")
    termios.tcsetwinsize(client.slave, (10, 60))
    client.screen.resize(10, 60)
    os.killpg(client.process.pid, signal.SIGWINCH)
    other(daemon, "bob").send("after the resize")
    client.waitForText("<bob> after the resize")
    assert client.inputLine() == "resizer #lobby> typed so far"
    assert client.screen.cursor.x == len("resizer #lobby> typed so far")


def test_aLongInputLineScrollsSidewaysOnOneRow(daemon, terminals) -> None:
    client = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "wide", columns=40)
    prompt = "wide #lobby> "
    client.waitFor(lambda: client.inputLine() == prompt.rstrip(), "the prompt")
    text = "".join(f"{n:02d}-" for n in range(30))  # 90 characters, none alike
    room = 40 - len(prompt) - 1  # the last column is the cursor's
    client.type(text)
    client.waitFor(lambda: client.inputLine() == prompt + text[-room:], "the end of the line")
    assert client.screen.cursor.x == 39
    assert not any(text[:9] in line for line in client.lines())  # nothing wrapped or left over
    client.type("\x1b[H")  # Home
    client.waitFor(lambda: client.inputLine() == prompt + text[:room], "the start of the line")
    assert client.screen.cursor.x == len(prompt)
    other(daemon, "bob").send("hello wide")
    client.waitForText("<bob> hello wide")
    assert client.inputLine() == prompt + text[:room]
    assert client.screen.cursor.x == len(prompt)
    assert sum(prompt in line for line in client.lines()) == 1
    client.type("\r")
    client.waitForText(f"<wide> {text[:20]}")


def test_chineseAndEmojiKeepOneInputRow(daemon, terminals) -> None:
    client = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "alice")
    prompt = "alice #lobby> "
    client.waitFor(lambda: client.inputLine() == prompt.rstrip(), "the prompt")
    room = 80 - len(prompt) - 1  # columns for the text; the last one is the cursor's
    for character in ("中", "😀"):  # two columns each
        client.type(character * 45)
        shown = character * (room // 2)
        client.waitFor(lambda: client.inputLine() == prompt + shown, "the end of the line")
        assert client.screen.cursor.x == len(prompt) + 2 * (room // 2)
        lines = client.lines()
        assert sum(prompt in line for line in lines) == 1
        assert [line for line in lines if character in line] == [prompt + shown]
        client.type("\x1b[H")  # Home
        client.waitFor(lambda: client.screen.cursor.x == len(prompt), "the cursor at the start")
        assert client.inputLine() == prompt + shown
        client.type("\r")
        client.waitForText(f"<alice> {character * 30}")
        client.waitFor(lambda: client.inputLine() == prompt.rstrip(), "an empty input line")
        assert sum(prompt.rstrip() in line for line in client.lines()) == 1


def test_controlKeysAreNotSent(daemon, terminals) -> None:
    bob = other(daemon, "bob")
    client = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "alice")
    client.waitFor(lambda: client.inputLine() == "alice #lobby>", "the prompt")
    client.type("hello\x0b\x07 world\r")  # Ctrl-K (once inserted raw), Ctrl-G
    assert bob.readUntil("world")[-1] == "<alice> hello world"
    client.waitForText("<alice> hello world")  # the echo: nothing more is coming
    client.type("gone\x0c")  # Ctrl-L
    client.waitFor(lambda: client.lines()[0] == "alice #lobby> gone", "a clear screen")
    assert client.lines()[1:] == [""] * 11


def test_tabCompletesTheNicksOfTheRoom(daemon, terminals) -> None:
    carol = other(daemon, "carol")  # there before: known from /who
    client = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "alice")
    client.waitFor(lambda: client.inputLine() == "alice #lobby>", "the prompt")
    bob = other(daemon, "bob")  # came after: known from the join and the nick change
    client.waitForText("now known as bob")
    client.type("c\thi b\t")
    client.waitFor(lambda: client.inputLine() == "alice #lobby> carol: hi bob", "the nicks")
    assert client.screen.cursor.x == len("alice #lobby> carol: hi bob ")
    client.type("\r")
    assert carol.readUntil("hi bob")[-1] == "<alice> carol: hi bob "  # completion adds a space
    assert bob.readUntil("hi bob")[-1] == "<alice> carol: hi bob "
    assert not any("*** In #lobby" in line for line in client.lines())  # asked silently


def test_exitClearsThePromptRow(daemon, terminals) -> None:
    client = terminals("127.0.0.1", str(daemon.ports[0]), "--nick", "alice")
    client.waitFor(lambda: client.inputLine() == "alice #lobby>", "the prompt")
    client.type("half typed")
    client.waitFor(lambda: client.inputLine().endswith("half typed"), "the typing")
    client.type("\x04")
    assert client.wait() == 0
    client.waitFor(lambda: not any("#lobby>" in line for line in client.lines()), "no prompt")
    assert "*** Goodbye" in client.lines()[client.screen.cursor.y - 1]
    assert client.screen.cursor.x == 0
    assert client.inputLine() == ""

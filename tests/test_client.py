"""
The terminal client's protocols, in memory.
"""

from __future__ import annotations

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from chat.client import Console, ServerConnection, parseArguments


def connected(nick: str | None = None) -> tuple[ServerConnection, StringTransport, list[str]]:
    shown: list[str] = []
    server = ServerConnection(shown.append, nick)
    transport = StringTransport()
    server.makeConnection(transport)
    return server, transport, shown


def test_nickIsSentOnConnecting() -> None:
    _, transport, _ = connected("alice")
    assert transport.value() == b"/nick alice\r\n"


def test_serverLinesAreShownWithControlsVisible() -> None:
    server, _, shown = connected()
    server.dataReceived(b"<bob> \x1b[31mred\x1b[0m\r\n<bob> caf\xc3\xa9\n")
    assert shown == ["<bob> ^[[31mred^[[0m", "<bob> café"]


def test_typedLinesAreSentAndEndOfInputQuits() -> None:
    server, transport, _ = connected()
    console = Console()
    console.server = server
    console.makeConnection(StringTransport())
    console.dataReceived(b"hello\r\nworld\n")
    console.readConnectionLost()
    assert transport.value() == b"hello\r\nworld\r\n/quit\r\n"
    assert server.quitting


def test_typedQuitIsNotSentTwice() -> None:
    server, transport, _ = connected()
    server.send(b"/QUIT gone")
    server.quit()
    assert transport.value() == b"/QUIT gone\r\n"


def test_finishedFiresWithTheReason() -> None:
    server, _, _ = connected()
    results = []
    server.finished.addCallback(results.append)
    server.connectionLost(Failure(ConnectionDone()))
    assert results == [None]
    assert server.lostReason.check(ConnectionDone)


@pytest.mark.parametrize(
    "argv", [[], ["host"], ["host", "port"], ["host", "0"], ["h", "1", "--cafile", "x"]]
)
def test_badArguments(argv) -> None:
    with pytest.raises(SystemExit) as raised:
        parseArguments(argv)
    assert raised.value.code == 2


def test_optionsMayFollowTheAddress() -> None:
    arguments = parseArguments(["example.org", "30000", "--nick", "bob", "--tls"])
    assert (arguments.host, arguments.port, arguments.nick, arguments.tls) == (
        "example.org", 30000, "bob", True,
    )

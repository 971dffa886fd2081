"""
The terminal client's parts, in memory: the session (with its reconnection on a fake clock),
the styles, the plain console and the options.
"""

from __future__ import annotations

import pytest
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from chat.client.app import hintFor
from chat.client.options import parseArguments
from chat.client.plain import PlainConsole
from chat.client.session import Session, SessionEnded
from chat.client.style import Styler, nickColour


class FakeView:
    def __init__(self) -> None:
        self.shown: list[str] = []
        self.notes: list[str] = []
        self.where: list[tuple[str, str]] = []

    def show(self, text: str) -> None:
        self.shown.append(text)

    def notify(self, text: str) -> None:
        self.notes.append(text)

    def following(self, nick: str, room: str) -> None:
        self.where.append((nick, room))


class ServerEnd:
    """
    The far end of the session's connections, on a memory reactor.
    """

    def __init__(
        self, nick: str | None = None, reconnect: bool = True, view=None, **options
    ) -> None:
        self.reactor = MemoryReactorClock()
        self.view = FakeView() if view is None else view
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", 30000)
        self.session = Session(
            self.reactor, endpoint, self.view, "127.0.0.1:30000", nick, reconnect, **options
        )
        self.started = self.session.start()
        self.ended: list[object] = []
        self.session.finished.addBoth(self.ended.append)

    def accept(self) -> StringTransport:
        """
        Complete the session's newest connection attempt.
        """
        factory = self.reactor.tcpClients[-1][2]
        self.protocol = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        return self.transport

    def say(self, *lines: str) -> None:
        self.protocol.dataReceived(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))

    def sent(self) -> list[bytes]:
        data = self.transport.value()
        self.transport.clear()
        return data.split(b"\r\n")[:-1]

    def drop(self, reason: Exception = ConnectionDone()) -> None:
        self.protocol.connectionLost(Failure(reason))


def welcomed(server: ServerEnd, nick: str = "guest1", room: str = "#lobby") -> None:
    server.say(f"*** Welcome to chat, {nick}! Type /help for the commands.", f"*** {nick} has joined {room}")


def test_nickIsSentOnConnecting() -> None:
    server = ServerEnd(nick="alice")
    server.accept()
    assert server.sent() == [b"/nick alice"]


def test_serverLinesAreShownWithControlsVisible() -> None:
    server = ServerEnd()
    server.accept()
    server.protocol.dataReceived(b"<bob> \x1b[31mred\x1b[0m\r\n<bob> caf\xc3\xa9\n")
    assert server.view.shown == ["<bob> ^[[31mred^[[0m", "<bob> café"]


def test_followsItsNickAndRoom() -> None:
    server = ServerEnd()
    server.accept()
    welcomed(server)
    server.say("*** bob is now known as carol", "*** guest1 is now known as alice", "*** alice has joined #dev")
    assert server.view.where == [("guest1", ""), ("guest1", "#lobby"), ("alice", "#lobby"), ("alice", "#dev")]


def test_quitWaitsForTheServerToClose() -> None:
    server = ServerEnd()
    server.accept()
    server.say("*** Welcome to chat, guest1! Type /help for the commands.")
    server.session.send(b"hello")
    server.session.quit()
    server.session.quit()
    assert server.sent() == [b"hello", b"/quit"]
    assert server.ended == []
    server.drop()
    assert server.ended == [None]
    server.reactor.advance(60)
    assert len(server.reactor.tcpClients) == 1  # no reconnection after a quit


def test_reconnectsAndTakesBackItsNickAndRoom() -> None:
    server = ServerEnd()
    server.accept()
    welcomed(server)
    server.say("*** guest1 is now known as alice", "*** alice has joined #dev")
    server.drop(ConnectionLost())
    assert server.view.notes == ["lost the connection to 127.0.0.1:30000; reconnecting"]
    server.session.send(b"into the void")
    assert server.view.notes[-1] == "not connected: that line was not sent"
    server.reactor.advance(31)
    assert len(server.reactor.tcpClients) == 2
    server.accept()
    assert server.view.notes[-1] == "reconnected to 127.0.0.1:30000"
    assert server.sent() == [b"/nick alice"]
    welcomed(server, "guest7")
    assert server.sent() == [b"/join #dev"]
    server.say("*** guest7 is now known as alice", "*** alice has joined #dev")
    assert server.view.where[-1] == ("alice", "#dev")
    assert server.ended == []


def test_noReconnectEndsWithAReason() -> None:
    server = ServerEnd(reconnect=False)
    server.accept()
    welcomed(server)
    server.drop()
    assert server.ended[0].check(SessionEnded)
    assert str(server.ended[0].value) == "the server at 127.0.0.1:30000 closed the connection"


def test_firstConnectionFailing() -> None:
    server = ServerEnd()
    failures = []
    server.started.addErrback(failures.append)
    connector = server.reactor.connectors[-1]
    server.reactor.tcpClients[-1][2].clientConnectionFailed(connector, Failure(ConnectionRefusedError()))
    assert failures and failures[0].check(ConnectionRefusedError)


def test_noWelcomeEndsWithAHint() -> None:
    server = ServerEnd(welcomeTimeout=2, hint="is this a TLS port? try --tls")
    server.accept()
    server.reactor.advance(1.9)
    assert server.ended == []
    server.reactor.advance(0.1)
    assert str(server.ended[0].value) == (
        "no answer from 127.0.0.1:30000 in 2 s: is this a TLS port? try --tls"
    )
    server.reactor.advance(60)
    assert len(server.reactor.tcpClients) == 1  # given up on, not retried in silence


def test_closedBeforeAnyWelcomeEndsWithAHint() -> None:
    server = ServerEnd(hint="is this a TLS port? try --tls")
    server.accept()
    server.drop()
    assert str(server.ended[0].value) == (
        "the server at 127.0.0.1:30000 closed the connection before any welcome:"
        " is this a TLS port? try --tls"
    )


def test_aRefusalIsNoReasonForAHint() -> None:
    server = ServerEnd()
    server.accept()
    server.say("!!! Too many connections from your address")
    server.drop()
    assert server.ended == []
    assert server.view.notes == ["lost the connection to 127.0.0.1:30000; reconnecting"]


def test_aWelcomeEndsTheWait() -> None:
    server = ServerEnd(welcomeTimeout=2)
    server.accept()
    welcomed(server)
    server.reactor.advance(60)
    assert server.ended == [] and not server.transport.disconnecting


def test_aServerThatWelcomedBeforeIsRetriedWhenSilent() -> None:
    server = ServerEnd(welcomeTimeout=2)
    server.accept()
    welcomed(server)
    server.drop(ConnectionLost())
    server.reactor.advance(31)
    server.accept()
    server.reactor.advance(2)
    assert server.view.notes[-1] == "no answer from 127.0.0.1:30000 in 2 s"
    assert server.transport.disconnected  # aborted: a stuck server may not close cleanly
    server.drop(ConnectionLost())
    assert server.ended == []
    assert server.view.notes[-1] == "lost the connection to 127.0.0.1:30000; reconnecting"


def test_quittingBeforeAWelcomeStillGetsTheHint() -> None:
    server = ServerEnd(hint="is this a TLS port? try --tls")
    server.accept()
    server.session.quit()  # piped input that ended at once: the lines went nowhere
    server.drop()
    assert str(server.ended[0].value).endswith("before any welcome: is this a TLS port? try --tls")


# What the client knows of its room, for completion


def test_asksWhoIsInTheRoomWithoutShowingTheAnswer() -> None:
    server = ServerEnd()
    server.accept()
    welcomed(server)
    assert server.sent() == [b"/who #lobby"]
    server.say("*** In #lobby (3): Bob bobby guest1")
    assert server.view.shown[-1] == "*** guest1 has joined #lobby"
    assert server.session.members.matching("b") == ["Bob", "bobby"]
    server.session.send(b"/who")
    server.say("*** In #lobby (3): Bob bobby guest1")  # the user's own /who is shown
    assert server.view.shown[-1] == "*** In #lobby (3): Bob bobby guest1"


def test_asksAgainOnJoiningAnotherRoom() -> None:
    server = ServerEnd()
    server.accept()
    welcomed(server)
    server.say("*** In #lobby (2): bob guest1", "*** guest1 has joined #dev")
    server.say("*** guest1 has left #lobby")
    assert server.sent() == [b"/who #lobby", b"/who #dev"]
    assert server.session.members.matching("") == ["guest1"]
    server.say("*** In #dev (2): carol guest1")
    assert server.session.members.matching("") == ["carol", "guest1"]
    assert not any(line.startswith("*** In ") for line in server.view.shown)


def test_membersFollowTheRoom() -> None:
    server = ServerEnd()
    server.accept()
    welcomed(server)
    server.say(
        "*** In #lobby (4): bob carol dave guest1",
        "*** erin has joined #lobby",
        "*** frank has joined #elsewhere",
        "*** bob has left #lobby",
        "*** carol has quit (Quit)",
        "*** dave is now known as dan",
        "<gina> hi",  # a big room announces no joins, but speakers are seen
        "* hal waves",
        "*ivan* psst",  # a private message: ivan may be in any room
        "[history 2026-11-24T21:20:01Z] <jo> gone long ago",
    )
    assert server.session.members.matching("") == ["dan", "erin", "gina", "guest1", "hal"]


def test_plainConsoleSendsLinesAndQuitsAtTheEndOfInput() -> None:
    server = ServerEnd()
    server.accept()
    console = PlainConsole()
    console.session = server.session
    out = StringTransport()
    console.makeConnection(out)
    console.dataReceived(b"hello\r\nworld\n")
    console.readConnectionLost()
    assert server.sent() == [b"hello", b"world", b"/quit"]
    console.show("<bob> hi")
    assert out.value() == b"<bob> hi\n"


# Styles


def test_sameNickSameColour() -> None:
    assert nickColour("alice") == nickColour("ALICE")
    assert len({nickColour(f"user{n}") for n in range(50)}) > 3


def test_styles() -> None:
    styler = Styler(timestamps=False)
    assert styler.format("<bob> hi") == f"{nickColour('bob')}<bob>\x1b[0m hi"
    assert styler.format("* bob waves") == f"* {nickColour('bob')}bob\x1b[0m waves"
    assert styler.format("!!! No").startswith("\x1b[1;31m")
    assert styler.format("*** bob has joined #lobby").startswith("\x1b[36m")
    assert styler.format("*bob* psst").startswith("\x1b[1;35m")
    assert styler.format("[history 2026-11-24T21:20:01Z] <bob> hi").endswith("<bob>\x1b[0m hi")


def test_noColourAndTimestamps() -> None:
    styler = Styler(colour=False, timestamps=True, now=lambda: 0.0)
    line = styler.format("<bob> ^[[2J hi")
    assert "\x1b" not in line
    assert line.endswith(" <bob> ^[[2J hi") and line[2] == ":"


# Options


@pytest.mark.parametrize(
    "argv",
    [
        [], ["host"], ["host", "port"], ["host", "0"], ["h", "1", "--cafile", "x"],
        ["h", "1", "--insecure"], ["h", "1", "--tls", "--insecure", "--cafile", "x"],
    ],
)
def test_badArguments(argv) -> None:
    with pytest.raises(SystemExit) as raised:
        parseArguments(argv)
    assert raised.value.code == 2


def test_optionsMayFollowTheAddress(monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    arguments = parseArguments(["example.org", "30000", "--nick", "bob", "--tls"])
    assert (arguments.host, arguments.port, arguments.nick, arguments.tls) == (
        "example.org", 30000, "bob", True,
    )
    assert arguments.color and arguments.timestamps and arguments.reconnect


def test_noColorEnvironment(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert not parseArguments(["h", "1"]).color


@pytest.mark.parametrize(
    "argv",
    [
        ["--connect", "unix:/tmp/chat.sock", "host", "1"],
        ["--connect", "tls:host:1", "--tls"],
        ["--connect", "tcp:host:1", "--insecure"],
        ["--connect", "tcp:host:1", "--welcome-timeout", "0"],
    ],
)
def test_badConnectArguments(argv) -> None:
    with pytest.raises(SystemExit) as raised:
        parseArguments(argv)
    assert raised.value.code == 2


def test_connectInsteadOfHostAndPort() -> None:
    arguments = parseArguments(["--connect", "unix:/run/chat/chat.sock", "--welcome-timeout", "0.5"])
    assert (arguments.connect, arguments.host, arguments.welcome_timeout) == (
        "unix:/run/chat/chat.sock", None, 0.5,
    )
    assert parseArguments(["h", "1"]).welcome_timeout == 5


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["h", "1"], "is this a TLS port? try --tls"),
        (["h", "1", "--tls"], "is it a chat server?"),
        (["--connect", "tcp:h:1"], "is this a TLS port? try --connect tls:HOST:PORT"),
        (["--connect", "unix:/x"], "is this a TLS port? try --connect tls:HOST:PORT"),
        (["--connect", "tls:h:1"], "is it a chat server?"),
    ],
)
def test_hints(argv, hint) -> None:
    assert hintFor(parseArguments(argv)) == hint

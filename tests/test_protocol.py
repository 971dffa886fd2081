"""
The line protocol end to end in memory: every command, notice and error.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from chat.limits import Limits
from chat.line.protocol import ENTRY_DELAY
from helpers import FakeServer


def test_welcomeMotdAndDefaultRoom() -> None:
    server = FakeServer(motd=("Be nice.", "Have fun."))
    client = server.connect()
    assert client.received() == [
        "*** Welcome to testchat, guest1! Type /help for the commands.",
        "*** MOTD: Be nice.",
        "*** MOTD: Have fun.",
        "*** guest1 has joined #lobby",
    ]
    assert client.protocol.room == "#lobby"
    assert server.gate.connections == {client.protocol}


def test_aClientIsLetInOnItsFirstInputOrAfterTheEntryDelay() -> None:
    server = FakeServer()
    (watcher,) = server.connectMany("watcher")
    quiet = server._connectTo(server.factory, "127.0.0.1", wait=False)
    talker = server._connectTo(server.factory, "127.0.0.1", wait=False)
    talker.send("hello")  # let in at once, then said
    assert watcher.received() == ["*** guest2 has joined #lobby", "<guest2> hello"]
    assert quiet.protocol.nick == "" and quiet.transport.value() == b""  # not in yet
    server.clock.advance(ENTRY_DELAY)
    assert watcher.received() == ["*** guest3 has joined #lobby"]
    assert quiet.received()[0] == "*** Welcome to testchat, guest3! Type /help for the commands."
    assert server.gate._entry is None  # no timer left waiting


def test_guestNicksAreUnique() -> None:
    server = FakeServer()
    first, second = server.connect(), server.connect()
    assert (first.protocol.nick, second.protocol.nick) == ("guest1", "guest2")


def test_lineGoesToEveryoneInTheRoomIncludingTheSender() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("hello there")
    assert alice.received() == ["<alice> hello there"]
    assert bob.received() == ["<alice> hello there"]


def test_bareNewlineEndsALine() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(b"one\ntwo\r\nthr")
    alice.protocol.dataReceived(b"ee\n")
    assert bob.received() == ["<alice> one", "<alice> two", "<alice> three"]


def test_emptyLinesAreIgnored() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("")
    alice.send("   ")
    assert alice.received() == []


def test_doubleSlashSaysASlashLine() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("//join is how you move")
    assert bob.received() == ["<alice> /join is how you move"]


def test_me() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/me waves")
    assert alice.received() == bob.received() == ["* alice waves"]


def test_nickChangeIsAnnouncedToTheRoom() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/nick Alicia")
    assert alice.received() == bob.received() == ["*** alice is now known as Alicia"]
    assert server.hub.find("alicia") is alice.protocol


def test_nickChangeOfCaseOnly() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/nick ALICE")
    assert alice.received() == ["*** alice is now known as ALICE"]


def test_nickTakenCaseInsensitively() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    bob.send("/nick ALICE")
    assert bob.received() == ["!!! The nick ALICE is taken"]
    assert alice.received() == []
    assert bob.protocol.nick == "bob"


def test_nickTakenUnderIrcCaseMapping() -> None:
    server = FakeServer()
    _, bob = server.connectMany("a[b]", "bob")
    bob.send("/nick A{B}")
    assert bob.received() == ["!!! The nick A{B} is taken"]


def test_invalidNicks() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    for nick in ["9lives", "-dash", "a b", "x" * 33, "é", "a\x1bb"]:
        alice.send(f"/nick {nick}")
        [line] = alice.received()
        assert line.startswith("!!! A nick"), (nick, line)
    assert alice.protocol.nick == "alice"


def test_longestNickIsAccepted() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/nick " + "n" * 32)
    assert alice.received() == [f"*** alice is now known as {'n' * 32}"]


def test_privateMessage() -> None:
    server = FakeServer()
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    alice.send("/msg BOB psst, over here")
    assert bob.received() == ["*alice* psst, over here"]
    assert alice.received() == ["-> *bob* psst, over here"]
    assert carol.received() == []


def test_privateMessageCrossesRooms() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    bob.send("/join elsewhere")
    bob.received()
    alice.send("/msg bob hi")
    assert bob.received() == ["*alice* hi"]


def test_privateMessageErrors() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/msg nobody hi")
    alice.send("/msg")
    alice.send("/msg bob")
    assert alice.received() == [
        "!!! No such nick: nobody",
        "!!! Usage: /msg NICK TEXT",
        "!!! Usage: /msg NICK TEXT",
    ]


def test_joinMovesBetweenRooms() -> None:
    server = FakeServer()
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    carol.send("/join dev")
    assert carol.received() == ["*** carol has joined #dev", "*** carol has left #lobby"]
    assert alice.received() == bob.received() == ["*** carol has left #lobby"]
    alice.send("/join #DEV")
    assert carol.received() == ["*** alice has joined #dev"]
    assert alice.protocol.room == "#dev"


def test_roomsAreIsolated() -> None:
    server = FakeServer()
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    carol.send("/join dev")
    for client in (alice, bob, carol):
        client.received()
    carol.send("only for dev")
    alice.send("only for the lobby")
    assert carol.received() == ["<carol> only for dev"]
    assert bob.received() == ["<alice> only for the lobby"]


def test_joinErrors() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/join lobby")
    alice.send("/join")
    alice.send("/join a,b")
    alice.send("/join #" + "r" * 50)
    alice.send("/join bad\u202eroom")
    assert alice.received() == [
        "!!! You are already in #lobby",
        "!!! Usage: /join ROOM",
        "!!! A room name cannot contain spaces or commas",
        "!!! A room name is at most 50 characters",
        "!!! A room name cannot contain <U+202E>",
    ]
    assert alice.protocol.room == "#lobby"


def test_emptyRoomsVanishButTheLobbyStays() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/join dev")
    alice.send("/join lobby")
    assert [room.name for room in server.hub.rooms()] == ["#lobby"]


def test_rooms() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    bob.send("/join dev")
    bob.send("/topic Twisted internals")
    alice.received()
    alice.send("/rooms")
    assert alice.received() == [
        "*** 2 rooms:",
        "*** #dev (1 member): Twisted internals",
        "*** #lobby (1 member)",
    ]


def test_who() -> None:
    server = FakeServer()
    dave, alice, bob, carol = server.connectMany("dave", "alice", "Bob", "carol")
    carol.send("/join dev")
    alice.send("/who")
    alice.send("/who dev")
    alice.send("/who nowhere")
    assert alice.received() == [
        "*** carol has left #lobby",
        "*** In #lobby (3): alice Bob dave",  # by nick, whatever the order of joining
        "*** In #dev (1): carol",
        "!!! No such room: nowhere",
    ]


def test_topic() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/topic")
    assert alice.received() == ["*** #lobby has no topic"]
    alice.send("/topic   Release on Friday  ")
    assert alice.received() == bob.received() == [
        "*** alice set the topic of #lobby to: Release on Friday"
    ]
    bob.send("/topic")
    assert bob.received() == ["*** Topic of #lobby: Release on Friday"]
    alice.send("/topic bad\x1b[2Jtopic")
    assert alice.received() == ["!!! A topic cannot contain ^["]


def test_topicIsShownOnJoin() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/join dev")
    alice.send("/topic tea")
    bob.received()
    bob.send("/join dev")
    assert bob.received() == [
        "*** bob has joined #dev",
        "*** Topic of #dev: tea",
        "*** bob has left #lobby",
    ]


def test_help() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/help")
    lines = alice.received()
    assert lines[0].startswith("*** Commands")
    for command in ["nick", "me", "msg", "join", "rooms", "who", "topic", "help", "quit"]:
        assert any(line.startswith(f"*** /{command} ") for line in lines), command
    alice.send("/help msg")
    alice.send("/help /JOIN")
    alice.send("/help frobnicate")
    assert alice.received() == [
        "*** /msg NICK TEXT: send TEXT to NICK alone",
        "*** /join ROOM: leave your room for ROOM, creating it if need be",
        "!!! No such command: /frobnicate",
    ]


def test_unknownCommandKeepsTheConnection() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/frobnicate now")
    assert alice.received() == ["!!! Unknown command /frobnicate; type /help for the list"]
    assert alice.transport.connected and not alice.transport.disconnecting


def test_commandsAreCaseInsensitive() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.send("/ME shouts")
    assert alice.received() == ["* alice shouts"]


def test_missingArguments() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    for command, usage in [("nick", "/nick NAME"), ("me", "/me ACTION")]:
        alice.send(f"/{command}")
        assert alice.received() == [f"!!! Usage: {usage}"]


def test_quitWithReason() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/quit off to lunch")
    assert alice.received() == ["*** Goodbye"]
    assert alice.transport.disconnecting
    assert bob.received() == ["*** alice has quit (off to lunch)"]
    alice.disconnect()
    assert bob.received() == []
    assert server.gate.connections == {bob.protocol}


def test_quitWithoutReason() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/quit")
    assert bob.received() == ["*** alice has quit (Quit)"]


def test_disconnectFreesNickAndRoom() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/join dev")
    alice.protocol.connectionLost(Failure(ConnectionLost("reset")))
    assert bob.received() == ["*** alice has left #lobby"]
    assert [room.name for room in server.hub.rooms()] == ["#lobby"]
    bob.send("/nick alice")
    assert bob.received() == ["*** bob is now known as alice"]


def test_quitNoticeReachesEachPeerOnce() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    server.hub.join(alice.protocol, "#dev")
    server.hub.join(bob.protocol, "#dev")
    bob.received()
    alice.disconnect()
    assert bob.received() == ["*** alice has quit (Connection closed)"]


def test_invalidUtf8IsRefused() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send(b"caf\xc3")
    assert alice.received() == ["!!! That line was not valid UTF-8 and was discarded"]
    assert bob.received() == []
    alice.send("café")
    assert bob.received() == ["<alice> café"]


def test_controlCharactersAreMadeVisible() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.send("\x1b[2Jboo\x07 \x9b31m \u202eevil\ttab")
    assert bob.received() == ["<alice> ^[[2Jboo^G <U+009B>31m <U+202E>evil\ttab"]


def test_historyIsReplayedOnJoin() -> None:
    server = FakeServer()
    server.clock.advance(1_700_000_000)
    (alice,) = server.connectMany("alice")
    alice.send("first")
    server.clock.advance(61)
    alice.send("/me second")
    alice.send("/msg alice private")
    bob = server.connect()
    server.clock.advance(ENTRY_DELAY)
    assert bob.received()[-2:] == [
        "[history 2023-11-14T22:13:20Z] <alice> first",
        "[history 2023-11-14T22:14:21Z] * alice second",
    ]


def test_historyKeepsTheLastLines() -> None:
    server = FakeServer(history=3)
    (alice,) = server.connectMany("alice")
    for n in range(5):
        alice.send(f"line {n}")
    bob = server.connect()
    server.clock.advance(ENTRY_DELAY)
    replay = [line for line in bob.received() if line.startswith("[history")]
    assert [line.split("> ")[1] for line in replay] == ["line 2", "line 3", "line 4"]


def test_historyOff() -> None:
    server = FakeServer(history=0)
    (alice,) = server.connectMany("alice")
    alice.send("gone")
    assert not any("[history" in line for line in server.connect().received())


def test_shutdownTellsEveryoneAndWaits() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    done = server.gate.shutdown(grace=5)
    assert alice.received()[0] == "*** Server shutting down"
    assert bob.received()[0] == "*** Server shutting down"
    assert alice.transport.disconnecting and bob.transport.disconnecting
    results = []
    done.addCallback(results.append)
    alice.disconnect()
    assert results == []
    bob.disconnect()
    assert results == [None]
    server.clock.advance(0)  # the last output
    assert not server.clock.getDelayedCalls()


def test_shutdownAbortsStragglers() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    results = []
    server.gate.shutdown(grace=5).addCallback(results.append)
    server.clock.advance(4.9)
    assert not alice.transport.disconnected
    server.clock.advance(0.2)
    # StringTransport records the abort; a real transport would then call connectionLost.
    assert alice.transport.disconnected
    alice.disconnect()
    assert results == [None]


def test_shutdownWithNobody() -> None:
    results = []
    FakeServer().gate.shutdown(grace=5).addCallback(results.append)
    assert results == [None]


class BareTransport:
    """
    Only what C{ITransport} promises, as a WebSocket or SSH channel gives: no socket, no
    producer, no abort, no C{disconnecting}.
    """

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def writeSequence(self, data) -> None:
        self.written.extend(data)

    def loseConnection(self) -> None:
        self.closed = True

    def getPeer(self):
        return IPv4Address("TCP", "127.0.0.1", 50000)

    def getHost(self):
        return IPv4Address("TCP", "127.0.0.1", 30000)


def test_aTransportThatIsOnlyAnITransportWorks() -> None:
    server = FakeServer(limits=Limits(floodBurst=1, floodRate=1, closeTimeout=5))
    (watcher,) = server.connectMany("watcher")
    protocol = server.factory.buildProtocol(None)
    transport = BareTransport()
    protocol.makeConnection(transport)
    server.clock.advance(0)
    protocol.dataReceived(b"one\ntwo\n")  # the second is held by the flood limit
    server.clock.advance(1)
    protocol.dataReceived(b"/quit\n")
    server.clock.advance(1)
    lines = b"".join(transport.written).decode().splitlines()
    assert lines[0].startswith("*** Welcome") and lines[-1] == "*** Goodbye"
    assert "<guest2> one" in lines and "<guest2> two" in lines
    assert transport.closed
    server.clock.advance(5)  # no abortConnection to call: it is closed again, harmlessly
    assert watcher.received()[-1] == "*** guest2 has quit (Quit)"

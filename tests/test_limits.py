"""
Hostile and broken clients, in memory: every limit and what the client sees at it.
"""

from __future__ import annotations

import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.logger import globalLogPublisher

from chat.limits import Limits
from chat.line.protocol import ENTRY_DELAY
from helpers import NO_FLOOD, FakeServer



def isClosedWith(client, reason: str) -> bool:
    return client.transport.disconnecting and client.received()[-1] == f"!!! {reason}"


# Long lines


def test_longLineIsRefusedWhole() -> None:
    server = FakeServer(limits=Limits(maxLine=100))
    alice, bob = server.connectMany("alice", "bob")
    alice.send("x" * 101)
    assert alice.received() == ["!!! Line too long (over 100 bytes); it was discarded"]
    assert bob.received() == []
    alice.send("x" * 100)
    assert bob.received() == ["<alice> " + "x" * 100]


def test_longLineAcrossChunksIsDiscardedUpToItsNewline() -> None:
    server = FakeServer(limits=Limits(maxLine=100))
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(b"y" * 150)
    assert alice.received() == ["!!! Line too long (over 100 bytes); it was discarded"]
    alice.protocol.dataReceived(b"tail of the long line")
    alice.protocol.dataReceived(b" still the tail\nnext line\n")
    assert bob.received() == ["<alice> next line"]
    assert alice.received() == ["<alice> next line"]


def test_lineLimitCountsBytesAndNeverSplitsACharacter() -> None:
    server = FakeServer(limits=Limits(maxLine=100))
    alice, bob = server.connectMany("alice", "bob")
    alice.send("é" * 50)
    alice.send("é" * 51)
    assert bob.received() == ["<alice> " + "é" * 50]
    assert alice.received()[-1].startswith("!!! Line too long")


def test_crlfDoesNotCountTowardsTheLimit() -> None:
    server = FakeServer(limits=Limits(maxLine=10))
    (alice,) = server.connectMany("al")
    alice.protocol.dataReceived(b"0123456789\r\n")
    assert alice.received() == ["<al> 0123456789"]


def test_endlessLineIsDisconnected() -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    for _ in range(16):
        alice.protocol.dataReceived(b"z" * 4096)
    assert not alice.transport.disconnecting
    alice.protocol.dataReceived(b"z")
    lines = alice.received()
    assert lines[0].startswith("!!! Line too long (over 2048")
    assert lines[-1] == "!!! Line too long: no end of line in 65536 bytes"
    assert alice.transport.disconnecting
    assert bob.received() == []


# Floods


def test_pasteIsDelayedNotDropped() -> None:
    server = FakeServer(limits=Limits(floodBurst=10, floodRate=5))
    alice, bob = server.connectMany("alice", "bob")
    server.clock.advance(10)  # refill the bucket that /nick took from
    alice.protocol.dataReceived(b"".join(b"line %d\n" % n for n in range(50)))
    assert bob.received() == [f"<alice> line {n}" for n in range(10)]
    assert alice.transport.producerState == "paused"
    received = []
    for _ in range(40):
        server.clock.advance(0.2)
        received += bob.received()
    assert received == [f"<alice> line {n}" for n in range(10, 50)]
    assert alice.transport.producerState == "producing"


def test_floodingOneClientDoesNotSlowTheOthers() -> None:
    server = FakeServer(limits=Limits(floodBurst=2, floodRate=1))
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    server.clock.advance(10)
    alice.protocol.dataReceived(b"a\nb\nc\nd\n")
    bob.send("bob is fine")
    assert carol.received() == ["<alice> a", "<alice> b", "<bob> bob is fine"]
    server.clock.advance(1)
    assert carol.received() == ["<alice> c"]


def test_inputWhileHeldBackIsQueuedInOrder() -> None:
    server = FakeServer(limits=Limits(floodBurst=1, floodRate=1))
    alice, bob = server.connectMany("alice", "bob")
    server.clock.advance(10)
    alice.protocol.dataReceived(b"one\ntwo\nthr")
    alice.protocol.dataReceived(b"ee\n")
    assert bob.received() == ["<alice> one"]
    server.clock.advance(1)
    server.clock.advance(1)
    assert bob.received() == ["<alice> two", "<alice> three"]


def test_floodControlOff() -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(b"x\n" * 500)
    assert len(bob.received()) == 500


# Slow readers


def test_clientThatStopsReadingIsCutOffAtTheSendQueueCap() -> None:
    server = FakeServer(limits=Limits(maxSendQ=10_000, floodRate=0))
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    carol.transport.producer.pauseProducing()  # carol's transport buffer is full
    for n in range(200):
        alice.send(f"message {n:03d} " + "." * 50)
        server.clock.advance(0)  # one reactor turn a line
    assert carol.transport.disconnected  # aborted
    assert len(bob.received()) == 200
    carol.disconnect(ConnectionLost())
    assert bob.received() == ["*** carol has quit (SendQ exceeded)"]


def test_drainedBufferResetsTheSendQueue() -> None:
    server = FakeServer(limits=Limits(maxSendQ=1_000, floodRate=0))
    alice, carol = server.connectMany("alice", "carol")
    for _ in range(5):
        carol.transport.producer.pauseProducing()
        for n in range(10):
            alice.send("x" * 50)
        carol.transport.producer.resumeProducing()
    assert not carol.transport.disconnecting


# Idle connections


def test_idleConnectionIsClosed() -> None:
    server = FakeServer(limits=Limits(idleTimeout=60))
    (alice,) = server.connectMany("alice")
    server.clock.advance(59)
    alice.send("still here")
    server.clock.advance(59)
    assert not alice.transport.disconnecting
    server.clock.advance(60 / 10)  # idle checks come every tenth of the timeout
    assert isClosedWith(alice, "Idle timeout: no line for 60 seconds")


def test_tricklingBytesDoesNotKeepAConnectionAlive() -> None:
    server = FakeServer(limits=Limits(idleTimeout=60))
    (alice,) = server.connectMany("alice")
    for _ in range(7):
        alice.protocol.dataReceived(b"a")
        server.clock.advance(10)
    assert isClosedWith(alice, "Idle timeout: no line for 60 seconds")


def test_idleChecksStopWithTheLastClient() -> None:
    server = FakeServer(limits=Limits(idleTimeout=60))
    (alice,) = server.connectMany("alice")
    server.clock.advance(ENTRY_DELAY)  # the gate's turn for alice, who went in at once
    assert len(server.clock.getDelayedCalls()) == 1
    alice.disconnect()
    server.clock.advance(0)
    assert server.clock.getDelayedCalls() == []


def test_noIdleTimeout() -> None:
    server = FakeServer(limits=Limits(idleTimeout=0))
    (alice,) = server.connectMany("alice")
    server.clock.advance(10**6)
    assert not alice.transport.disconnecting


# Too many connections


def test_maxClients() -> None:
    server = FakeServer(limits=Limits(maxClients=2))
    server.connectMany("alice", "bob")
    third = server.connect()
    assert third.received() == ["!!! The server is full; try again later"]
    assert third.transport.disconnecting
    third.disconnect()
    assert len(server.gate.connections) == 2
    assert [m.nick for m in server.hub.room("#lobby").members] == ["alice", "bob"]


def test_maxPerIP() -> None:
    server = FakeServer(limits=Limits(maxPerIP=2))
    first = server.connect(host="192.0.2.1")
    server.connect(host="192.0.2.1")
    refused = server.connect(host="192.0.2.1")
    assert refused.received() == ["!!! Too many connections from 192.0.2.1"]
    assert not server.connect(host="192.0.2.2").transport.disconnecting
    first.disconnect()
    refused.disconnect()
    assert not server.connect(host="192.0.2.1").transport.disconnecting


def test_loopbackIsExemptUnlessConfigured() -> None:
    server = FakeServer(limits=Limits(maxPerIP=1))
    assert not any(server.connect().transport.disconnecting for _ in range(3))
    strict = FakeServer(limits=Limits(maxPerIP=1, perIPExempt=()))
    strict.connect()
    assert strict.connect().transport.disconnecting


# Wrong protocols


def test_httpRequestIsTurnedAway() -> None:
    """
    A browser is refused before it is let in: it never has a nick, and the room neither hears
    of it nor shows it its history.
    """
    server = FakeServer()
    (bob,) = server.connectMany("bob")
    bob.send("something private")
    bob.received()
    browser = server._connectTo(server.factory, "127.0.0.1", wait=False)
    browser.protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert browser.received() == ["!!! This is a chat server, not a web server"]
    assert browser.transport.disconnecting and not browser.protocol.nick
    server.clock.advance(ENTRY_DELAY)
    assert bob.received() == []
    assert server.gate.stats.refusedConnections == {"http": 1}


def test_aClientThatSendsNothingIsLetInAfterAPause() -> None:
    server = FakeServer()
    (bob,) = server.connectMany("bob")
    quiet = server._connectTo(server.factory, "127.0.0.1", wait=False)
    assert quiet.received() == []
    server.clock.advance(ENTRY_DELAY)
    assert quiet.received() == [
        "*** Welcome to testchat, guest2! Type /help for the commands.",
        "*** guest2 has joined #lobby",
    ]
    assert bob.received() == ["*** guest2 has joined #lobby"]


def test_tlsHandshakeOnAPlainPortIsTurnedAway() -> None:
    server = FakeServer()
    client = server._connectTo(server.factory, "127.0.0.1", wait=False)
    client.protocol.dataReceived(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200))
    assert isClosedWith(client, "This port speaks plain text, not TLS")


def test_randomBinary() -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(bytes(range(11, 256)) * 4 + b"\n")
    assert alice.received() == ["!!! That line was not valid UTF-8 and was discarded"]
    assert bob.received() == []


# Faults


def test_bugInAHandlerHurtsOnlyThatLine(monkeypatch) -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    logged = []
    globalLogPublisher.addObserver(logged.append)
    try:
        monkeypatch.setattr(server.hub, "setTopic", lambda *a: 1 / 0)
        alice.send("/topic boom")
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert alice.received() == ["!!! Internal error: that line was dropped"]
    assert [e["log_failure"].type for e in logged if "log_failure" in e] == [ZeroDivisionError]
    alice.send("still works")
    assert bob.received() == ["<alice> still works"]


def test_connectionThatVanishesMidBroadcast() -> None:
    server = FakeServer()
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    original = bob.protocol.writePending

    def vanish():
        bob.protocol.writePending = original
        bob.disconnect(ConnectionLost("reset by peer"))

    bob.protocol.writePending = vanish
    alice.send("hello")
    assert carol.received() == [
        "<alice> hello",
        "*** bob has quit (Connection reset)",
    ]
    assert server.gate.connections == {alice.protocol, carol.protocol}
    bob.disconnect()
    assert carol.received() == []


class SlowRelay:
    """
    A cluster relay whose nick claims wait until the test answers them.
    """

    def __init__(self) -> None:
        self.claims: list[defer.Deferred[bool]] = []

    def publish(self, event) -> None:
        pass

    def release(self, nick: str) -> None:
        pass

    def forget(self, room: str) -> None:
        pass

    def claim(self, nick: str) -> defer.Deferred[bool]:
        self.claims.append(defer.Deferred())
        return self.claims[-1]


def test_linesWaitForACommandThatWaits() -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob = server.connectMany("alice", "bob")
    server.hub.relay = relay = SlowRelay()
    alice.protocol.dataReceived(b"/nick alicia\nsaid as alicia\n")
    assert bob.received() == []
    assert alice.transport.producerState == "paused"
    relay.claims[0].callback(True)
    assert bob.received() == ["*** alice is now known as alicia", "<alicia> said as alicia"]
    assert alice.transport.producerState == "producing"
    alice.protocol.dataReceived(b"/nick ally\nnever said\n")
    alice.disconnect()
    relay.claims[1].callback(True)
    assert bob.received() == ["*** alicia has quit (Connection closed)"]


def test_aSplitCrlfDoesNotCountTowardsTheLimit() -> None:
    server = FakeServer(limits=Limits(maxLine=10))
    (alice,) = server.connectMany("al")
    alice.protocol.dataReceived(b"0123456789\r")  # the LF comes in the next segment
    alice.protocol.dataReceived(b"\n")
    assert alice.received() == ["<al> 0123456789"]
    alice.protocol.dataReceived(b"0123456789x\r")
    assert alice.received() == ["!!! Line too long (over 10 bytes); it was discarded"]


# Every close ends within a bound


@pytest.mark.parametrize(
    "close, reason",
    [
        (lambda server, client: server.clock.advance(66), "Idle timeout: no line for 60 seconds"),
        (lambda server, client: client.send("/quit bye"), "bye"),
        (lambda server, client: server.gate.shutdown(grace=5), "Server shutting down"),
    ],
)
def test_aClientThatNeverReadsIsAbortedWhenItsCloseDoesNotFinish(close, reason, logged) -> None:
    """
    A graceful close waits for the peer to read what it is owed; a peer that never does
    would hold its place (in --max-clients and --max-per-ip) for ever.
    """
    server = FakeServer(limits=Limits(idleTimeout=60, maxClients=2, closeTimeout=5))
    alice, stalled = server.connectMany("alice", "stalled")
    close(server, stalled)
    assert stalled.transport.disconnecting and not stalled.transport.disconnected
    for _ in range(20):  # idle sweeps come and go; the close is logged once
        server.clock.advance(0.25)
    assert stalled.transport.disconnected  # aborted, 5 s after the close began
    stalled.disconnect()  # the reactor reports the abort
    # One line for the whole story, not one per sweep nor one per step (drop, abort, end).
    assert [line for line in logged if "(stalled)" in line] == [
        f"127.0.0.1:40002 (stalled) disconnected: {reason}; still open 5 s later"
    ]
    assert stalled.protocol not in server.gate.connections  # its place is free


def test_aRefusedClientThatNeverReadsIsAbortedToo() -> None:
    server = FakeServer(limits=Limits(maxClients=1, closeTimeout=5))
    server.connectMany("alice")
    refused = server.connect()
    assert refused.transport.disconnecting and not refused.transport.disconnected
    server.clock.advance(5)
    assert refused.transport.disconnected


def test_theGateLetsAStormInAFewHundredATurn() -> None:
    """
    Between two turns the reactor drains the listening sockets: a turn that let ten thousand
    connections in would leave the kernel's accept queue to overflow meanwhile.
    """
    from chat.gate import ENTER_AT_ONCE

    server = FakeServer()
    entered: list[int] = []
    for n in range(ENTER_AT_ONCE * 2 + 10):
        server.gate.enter(lambda n=n: entered.append(n))
    (turn,) = server.clock.getDelayedCalls()
    turn.func(*turn.args, **turn.kw)  # one reactor turn
    assert entered == list(range(ENTER_AT_ONCE))
    server.clock.advance(0)  # and the next ones, in order
    assert entered == list(range(ENTER_AT_ONCE * 2 + 10))


def test_theGateLetsEachInWhenItsWaitIsOver() -> None:
    """
    Connections that wait different times go in when each one's wait is over, whatever the
    order they came in: one that need not wait does not wait for one that must.
    """
    server = FakeServer()
    entered: list[str] = []
    server.gate.enter(lambda: entered.append("slow"), 0.1)
    server.clock.advance(0.05)
    server.gate.enter(lambda: entered.append("later slow"), 0.1)
    server.gate.enter(lambda: entered.append("fast"))
    server.clock.advance(0)
    assert entered == ["fast"]
    server.clock.advance(0.05)
    assert entered == ["fast", "slow"]
    server.clock.advance(0.05)
    assert entered == ["fast", "slow", "later slow"]

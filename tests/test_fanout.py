"""
Output batching: whatever happens within one reactor turn, each client gets its lines in
order, none lost, merged or split, in one write.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chat import connection, fanout
from chat.line.protocol import ENTRY_DELAY
from helpers import NO_FLOOD, FakeServer, MixedServer, countWrites



def test_oneWritePerClientPerTurn() -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    writes = countWrites(carol)
    for n in range(5):
        alice.send(f"a{n}")
        bob.send(f"b{n}")
    assert writes == []  # nothing before the turn ends
    expected = [line for n in range(5) for line in (f"<alice> a{n}", f"<bob> b{n}")]
    assert carol.received() == expected
    assert len(writes) == 1


def test_eachLineIsRenderedOnce(monkeypatch) -> None:
    server = FakeServer(limits=NO_FLOOD)
    clients = server.connectMany(*(f"user{n}" for n in range(10)))
    rendered = []
    fanout = server.factory.fanout
    encode = fanout._encode
    monkeypatch.setattr(fanout, "_encode", lambda event: rendered.append(event) or encode(event))
    clients[0].send("hello")
    assert all(client.received() == ["<user0> hello"] for client in clients)
    assert len(rendered) == 1


def test_privateLinesKeepTheirPlaceAmongRoomLines() -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    alice.send("one")
    bob.send("/msg carol psst")
    alice.send("two")
    carol.send("/who")
    alice.send("three")
    assert carol.received() == [
        "<alice> one",
        "*bob* psst",
        "<alice> two",
        "*** In #lobby (3): alice bob carol",
        "<alice> three",
    ]
    assert bob.received() == ["<alice> one", "-> *carol* psst", "<alice> two", "<alice> three"]


def test_aClientJoiningMidTurnGetsOnlyWhatCameAfter() -> None:
    server = FakeServer(limits=NO_FLOOD, history=0)
    alice, bob = server.connectMany("alice", "bob")
    alice.send("/join dev")
    alice.send("before")
    bob.send("/join dev")
    alice.send("after")
    assert bob.received() == [
        "*** alice has left #lobby",
        "*** bob has joined #dev",
        "*** bob has left #lobby",
        "<alice> after",
    ]


def test_aClientLeavingMidTurnGetsNothingAfter() -> None:
    server = FakeServer(limits=NO_FLOOD, history=0)
    alice, bob, carol = server.connectMany("alice", "bob", "carol")
    alice.send("before")
    bob.send("/join elsewhere")
    alice.send("after")
    assert bob.received() == [
        "<alice> before",
        "*** bob has joined #elsewhere",
        "*** bob has left #lobby",
    ]
    assert carol.received() == ["<alice> before", "*** bob has left #lobby", "<alice> after"]


def test_aClosingClientGetsItsLinesFirst() -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob = server.connectMany("alice", "bob")
    alice.send("last words")
    bob.send("/quit")
    assert bob.transport.disconnecting
    assert bob.transport.value().decode().splitlines() == ["<alice> last words", "*** Goodbye"]


def test_bigRoomsAnnounceOnlyToTheMemberConcerned() -> None:
    server = FakeServer(limits=NO_FLOOD)
    server.hub.bigRoom = 3
    alice, bob = server.connectMany("alice", "bob")
    carol = server.connect()
    server.clock.advance(ENTRY_DELAY)
    assert carol.received()[-1] == "*** guest3 has joined #lobby"
    assert alice.received() == []  # the third member makes the room big
    carol.send("/nick carol")
    assert carol.received() == ["*** guest3 is now known as carol"]
    carol.send("hello")
    assert alice.received() == ["<carol> hello"]
    dave = server.connect("dave")
    dave.disconnect()
    assert alice.received() == []
    carol.send("/join small")
    assert carol.received() == [
        "<carol> hello",
        "*** carol has joined #small",
        "*** carol has left #lobby",
    ]
    assert alice.received() == []
    alice.send("/join small")
    assert carol.received() == ["*** alice has joined #small"]  # #small is not big


class FakeSocket:
    """
    Stands for a connection's socket: takes at most C{room} bytes a C{send}, or none at all
    (L{BlockingIOError}) when C{room} is 0.
    """

    def __init__(self, room: int = 1 << 20) -> None:
        self.room = room
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        if not self.room:
            raise BlockingIOError()
        self.sent.append(data[: self.room])
        return len(self.sent[-1])


def withSockets(monkeypatch, clients, **rooms: int) -> dict[str, FakeSocket]:
    """
    Give each client a L{FakeSocket}, idle (open to a direct send) while nothing is buffered
    in its transport, as a real connection's socket is.
    """
    sockets: dict[object, FakeSocket] = {}
    for client in clients:
        nick = client.protocol.nick
        sockets[client.transport] = sockets[nick] = FakeSocket(rooms.get(nick, 1 << 20))
        client.protocol.outlet = None
    monkeypatch.setattr(
        connection, "idleSocket", lambda transport: None if transport.value() else sockets[transport]
    )
    return sockets


def arrived(client, socket: FakeSocket) -> list[str]:
    """
    Every line the client got, straight from the socket or through the transport's buffer.
    """
    client.protocol.gate.clock.advance(0)
    data = b"".join(socket.sent) + client.transport.value()
    socket.sent.clear()
    client.transport.clear()
    return data.decode().splitlines()


def test_anIdleSocketGetsEachTurnInOneSend(monkeypatch) -> None:
    server = FakeServer(limits=NO_FLOOD)
    clients = server.connectMany("alice", "bob", "carol")
    sockets = withSockets(monkeypatch, clients)
    alice = clients[0]
    alice.send("one")
    alice.send("two")
    server.clock.advance(0)
    alice.send("three")
    server.clock.advance(0)
    for client in clients:
        assert client.transport.value() == b""  # nothing went through the transport
        assert sockets[client.protocol.nick].sent == [
            b"<alice> one\r\n<alice> two\r\n",
            b"<alice> three\r\n",
        ]


def test_whatASocketDoesNotTakeWaitsInOrder(monkeypatch) -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob = server.connectMany("alice", "bob")
    sockets = withSockets(monkeypatch, [alice, bob])
    alice.send("zero")
    assert arrived(bob, sockets["bob"]) == ["<alice> zero"]
    sockets["bob"].room = 5
    alice.send("one")
    server.clock.advance(0)
    assert sockets["bob"].sent == [b"<alic"]
    assert bob.transport.value() == b"e> one\r\n"
    alice.send("two")
    alice.send("/msg bob three")
    server.clock.advance(0)
    assert sockets["bob"].sent == [b"<alic"]  # later lines queue behind the buffered rest
    assert arrived(bob, sockets["bob"]) == ["<alice> one", "<alice> two", "*alice* three"]
    alice.send("four")  # the buffer drained: straight to the socket again
    server.clock.advance(0)
    assert sockets["bob"].sent == [b"<alic"]
    assert arrived(bob, sockets["bob"]) == ["<alice> four"]
    assert arrived(alice, sockets["alice"]) == [
        "<alice> zero",
        "<alice> one", "<alice> two", "-> *bob* three", "<alice> four"
    ]


def test_aFullSocketBuffersEverything(monkeypatch) -> None:
    server = FakeServer(limits=NO_FLOOD)
    alice, bob = server.connectMany("alice", "bob")
    sockets = withSockets(monkeypatch, [alice, bob], bob=0)
    alice.send("one")
    alice.send("two")
    server.clock.advance(0)
    assert sockets["bob"].sent == []
    assert bob.transport.value() == b"<alice> one\r\n<alice> two\r\n"


def test_aSenderWithoutEchoGetsTheOthersLinesInOneSend(monkeypatch) -> None:
    """
    An IRC client does not hear its own lines: when its socket is idle, the flush sends it
    the room's batch less its own lines, in one send, in order; a batch of nothing but its
    own lines sends it nothing.
    """
    from helpers import MixedServer

    server = MixedServer()
    alice, bob = server.connectIRC("alice"), server.connectIRC("bob")
    (carol,) = server.connectMany("carol")
    for client in (alice, bob):
        client.send("JOIN #lobby")
    for client in (alice, bob, carol):
        client.received()
    sockets = withSockets(monkeypatch, [alice, bob, carol])
    alice.send("PRIVMSG #lobby :a1")
    bob.send("PRIVMSG #lobby :b1")
    alice.send("PRIVMSG #lobby :a2")
    carol.send("c1")
    alice.send("PRIVMSG #lobby :a3")
    server.clock.advance(0)
    assert sockets["alice"].sent == [
        b":bob!bob@chat PRIVMSG #lobby :b1\r\n:carol!carol@chat PRIVMSG #lobby :c1\r\n"
    ]
    assert sockets["bob"].sent == [
        b":alice!alice@chat PRIVMSG #lobby :a1\r\n:alice!alice@chat PRIVMSG #lobby :a2\r\n"
        b":carol!carol@chat PRIVMSG #lobby :c1\r\n:alice!alice@chat PRIVMSG #lobby :a3\r\n"
    ]
    assert sockets["carol"].sent == [
        b"<alice> a1\r\n<bob> b1\r\n<alice> a2\r\n<carol> c1\r\n<alice> a3\r\n"
    ]
    alice.send("PRIVMSG #lobby :alone")
    server.clock.advance(0)
    assert sockets["alice"].sent == [sockets["alice"].sent[0]]
    assert arrived(bob, sockets["bob"])[-1] == ":alice!alice@chat PRIVMSG #lobby :alone"


# What a client of the property below may do: (who, what, which room or line).
_ACTIONS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5),
        st.sampled_from(["say", "join", "part", "msg", "arrive", "leave"]),
        st.integers(min_value=0, max_value=2),
    ),
    max_size=30,
)


def _play(actions: list[tuple[int, str, int]], turnEach: bool) -> list[list[str]]:
    """
    Three line clients, two IRC clients (no echo) and one line client still at the gate, in
    #lobby with two lines of history; what each receives when they do C{actions}, in one
    reactor turn or, if C{turnEach}, in a turn each.
    """
    server = MixedServer(history=2)
    lines = server.connectMany("l0", "l1", "l2")
    ircs = [server.connectIRC(f"i{n}") for n in range(2)]
    for irc in ircs:
        irc.send("JOIN #lobby")
    waiting = server._connectTo(server.factory, "127.0.0.1", wait=False)
    clients = [*lines, *ircs, waiting]
    for client in clients:
        client.received()
    arrived = gone = False
    rooms = ("lobby", "a", "b")
    for who, what, which in actions:
        client = clients[who]
        irc = client in ircs
        if client is waiting and (not arrived or gone):
            if what == "arrive" and not arrived:
                arrived = True
                waiting.protocol.enterNow()
        elif what == "say":
            client.send(f"PRIVMSG #{rooms[which]} :{who} says {which}" if irc else f"{who} says {which}")
        elif what == "join":
            client.send(f"JOIN #{rooms[which]}" if irc else f"/join {rooms[which]}")
        elif what == "part" and irc:
            client.send(f"PART #{rooms[which]}")
        elif what == "msg":
            client.send(f"PRIVMSG l{which} :psst" if irc else f"/msg l{which} psst")
        elif what == "leave" and client is waiting:
            gone = True
            waiting.disconnect()
        if turnEach:
            server.clock.advance(0)
    return [client.received() if client is not waiting or not gone else [] for client in clients]


@settings(max_examples=300, deadline=None)
@given(_ACTIONS)
def test_batchingChangesNothingClientsSee(actions: list[tuple[int, str, int]]) -> None:
    """
    Whatever clients of both front ends do (speak, join, part, arrive, whisper) within one
    reactor turn, each receives exactly what it would if each thing had its own turn: lines
    shared by a room's members, joiners who hear from their join on, leavers who hear
    nothing after, senders who do not hear their own lines.
    """
    assert _play(actions, turnEach=False) == _play(actions, turnEach=True)


def test_aTurnsArrivalsShareOneBatch(monkeypatch) -> None:
    """
    Clients let in together (a connect storm) each hear the room from their own join on, and
    the room's members hear every join: one batch for them all, not one a join that every
    member is queued, which costs the room's size times the joins.
    """
    server = FakeServer(limits=NO_FLOOD, history=0)
    (alice,) = server.connectMany("alice")
    arriving = [server._connectTo(server.factory, "127.0.0.1", wait=False) for _ in range(4)]
    batches = []
    init = fanout.Batch.__init__
    monkeypatch.setattr(fanout.Batch, "__init__", lambda self, *a: batches.append(self) or init(self, *a))
    server.clock.advance(ENTRY_DELAY)
    joins = [f"*** guest{n} has joined #lobby" for n in range(2, 6)]
    assert alice.received() == joins
    for n, client in enumerate(arriving):
        assert [line for line in client.received() if "has joined" in line] == joins[n:]
    assert len(batches) == 1

"""
Output batching: whatever happens within one reactor turn, each client gets its lines in
order, none lost, merged or split, in one write.
"""

from __future__ import annotations

from chat import fanout
from chat.limits import Limits
from helpers import FakeServer

NO_FLOOD = Limits(floodRate=0)


def countWrites(client) -> list[bytes]:
    writes: list[bytes] = []
    write = client.transport.write

    def counted(data: bytes) -> None:
        writes.append(data)
        write(data)

    client.transport.write = counted
    return writes


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
    encode = fanout.encode
    monkeypatch.setattr(fanout, "encode", lambda event: rendered.append(event) or encode(event))
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

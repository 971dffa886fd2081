"""
Several real twistd chat nodes sharing a real redis-server, over loopback.
"""

from __future__ import annotations

import os
import re
import threading

import pytest

from chat import events
from chat.attempts import MAX_FAILURES
from chat.cluster import MalformedEvent, decodeEvent, encodeEvent
from chat.cluster.messages import (
    NodeGone,
    NodeSynced,
    OtherFormat,
    decodeBatch,
    decodeRooms,
    encodeBatch,
    encodeOne,
    encodeRooms,
    ownPrefix,
)
from daemon import LineSocket, connect, waitUntil
from redisserver import REDIS_SERVER, RedisServer

needsRedis = pytest.mark.skipif(
    REDIS_SERVER is None and not os.environ.get("CI"),
    reason="no redis-server: apt-get install redis-server (.ci/run installs it)",
)


# The wire format


@pytest.mark.parametrize(
    "event",
    [
        events.Said("#lobby", "alice", "hi", 12.5, True),
        events.Joined("#dev", "bob"),
        events.Left("#dev", "bob"),
        events.Quit("bob", "bye"),
        events.NickChanged("bob", "robert"),
        events.TopicChanged("#dev", "bob", "news"),
        events.PrivateMessage("alice", "bob", "psst"),
        events.AwayChanged("alice", "lunch"),
        events.AwayChanged("alice", ""),
        events.AccountChanged("alice", "alice"),
        events.AccountChanged("alice", None),
        NodeSynced({"alice": ["#lobby", "#dev"], "bob": []}),
        NodeSynced({}),
        NodeGone("node2"),
    ],
)
def test_eventsRoundTrip(event) -> None:
    assert decodeEvent(encodeEvent("node1", event)) == ("node1", event)


def test_aBatchKeepsItsEventsInOrder() -> None:
    batch = [
        events.Joined("#dev", "bob"),
        events.Said("#dev", "bob", "one", 1.0),
        events.Said("#dev", "bob", "two", 2.0, True),
        events.Left("#dev", "bob"),
    ]
    message = encodeBatch("node1", [encodeOne(event) for event in batch])
    assert decodeBatch(message) == ("node1", batch)
    assert message.startswith(ownPrefix("node1"))


@pytest.mark.parametrize(
    "message",
    [
        b"not json", b"[]", b'["chat2"]', b'["chat2", 1, ["join", "#a", "x"]]',
        b'["chat2", "n", ["nope", "x"]]', b'["chat2", "n", "join"]', b'["chat2", "n", []]',
        b'["chat2", "n", ["join", 5, "x"]]',
        b'["chat2", "n", ["join", "#a"]]',
        b'["chat2", "n", ["join", "#a", "x", "y"]]',
        b'["chat2", "n", ["say", "#a", "x", "t", 1, 0]]',
        b'["chat2", "n", ["say", "#a", "x", "t", true, false]]',
        b'["chat2", "n", ["synced", ["x"]]]',
        b'["chat2", "n", ["synced", {"x": "#a"}]]',
        b'["chat2", "n", ["synced", {"x": ["#a", 1]}]]',
        b'["chat2", "n", ["gone"]]',
        b'["chat2", "n", ["account", "x", 5]]',
        b'["chat2", "n", ["away", "x", null]]',
        b"\xff\xfe",
        # Half a batch, as a message cut short would be: nothing of it is taken.
        b'["chat2", "n", ["join", "#a", "x"], ["say", "#a", "x", "hi", 1.0, fal',
        # A good event and a garbled one: refused whole, the good one too.
        b'["chat2", "n", ["join", "#a", "x"], ["say", "#a", "x"]]',
    ],
)
def test_malformedMessages(message) -> None:
    with pytest.raises(MalformedEvent):
        decodeBatch(message)


@pytest.mark.parametrize(
    "message",
    [
        # One JSON object an event, as nodes sent before the batches.
        b'{"node": "n", "event": "join", "room": "#a", "nick": "x"}',
        b'["chat3", "n", ["join", "#a", "x"]]',
    ],
)
def test_anotherVersionsMessagesAreRefusedAsSuch(message) -> None:
    with pytest.raises(OtherFormat):
        decodeBatch(message)


def test_oneEventOrNone() -> None:
    with pytest.raises(MalformedEvent):
        decodeEvent(encodeBatch("n", [encodeOne(events.Joined("#a", "x"))] * 2))


@pytest.mark.parametrize(
    "entry, rooms",
    [
        (encodeRooms(["#lobby", "#dev"]), ["#lobby", "#dev"]),
        (encodeRooms([]), []),
        ("#lobby", ["#lobby"]),  # as nodes stored it before the rooms became a list
        (b'["#a"]', ["#a"]),
        ('{"#a": 1}', []),
        ("nonsense", []),
    ],
)
def test_directoryEntries(entry, rooms) -> None:
    assert decodeRooms(entry) == rooms


# The cluster


@pytest.fixture
def redis(tmp_path):
    if REDIS_SERVER is None:
        pytest.fail("CI must have redis-server: .ci/run installs it")
    server = RedisServer(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def nodes(daemons, redis):
    def start(*options: str):
        # --state '': these tests are about what the cluster's link keeps in Redis; its
        # state store there is test_nodesShareAccountsAndHistoryInRedis's.
        node = daemons("--redis", redis.endpoint, "--node-ttl", "3", "--state", "", *options)
        node.waitForLog("is in the cluster")
        return node

    return start



def meet(first, firstNick: str, second, secondNick: str) -> tuple[LineSocket, LineSocket]:
    """
    Connect C{firstNick} to node C{first}, then C{secondNick} to node C{second}, and wait
    until each node knows the other's member.

    The first node hears of the second's member joining and taking its nick; the second
    node may not have heard of the first's yet when its own client is in, so the first
    speaks, and the second's client hearing it shows the second node knows it.
    """
    one, other = connect(first, firstNick), connect(second, secondNick)
    one.readUntil(f"now known as {secondNick}")
    one.send("/me is here")
    other.readUntil(f"* {firstNick} is here")
    return one, other


def who(client: LineSocket, room: str = "#lobby") -> str:
    client.send(f"/who {room}")
    return client.readUntil(f"In {room}")[-1]


pytestmark = needsRedis


def test_roomsSpanTheNodes(nodes) -> None:
    a, b = nodes(), nodes()
    alice, bob = connect(a, "alice"), connect(b, "bob")
    assert re.fullmatch(r"\*\*\* guest\d+ is now known as bob", alice.readUntil("bob")[-1])
    alice.send("hello from a")
    bob.readUntil("hello from a")
    bob.send("/me waves from b")
    assert alice.readUntil("waves from b")[-2:] == ["<alice> hello from a", "* bob waves from b"]
    assert bob.readUntil("waves from b") == ["* bob waves from b"]
    assert who(bob) == "*** In #lobby (2): alice bob"
    alice.send("/join dev")
    assert bob.readUntil("alice has left")[-1] == "*** alice has left #lobby"
    alice.send("/topic cross-node")

    def rooms() -> list[str]:
        bob.send("/rooms")
        return bob.readUntil("#lobby (")

    waitUntil(lambda: "*** #dev (1 member): cross-node" in rooms(), "the topic reaches b")
    bob.send("/join dev")
    assert bob.readUntil("Topic of")[-1] == "*** Topic of #dev: cross-node"


def test_privateMessagesAndNicksAcrossNodes(nodes) -> None:
    a, b = nodes(), nodes()
    alice, bob = meet(a, "alice", b, "bob")
    alice.send("/msg bob psst")
    assert bob.readUntil("psst")[-1] == "*alice* psst"
    assert alice.readUntil("psst")[-1] == "-> *bob* psst"
    carol = connect(b, "carol")
    carol.send("/nick ALICE")
    assert carol.readUntil("taken")[-1] == "!!! The nick ALICE is taken"
    alice.send("/nick alicia")
    waitUntil(lambda: "alicia" in who(carol), "the rename reaches b")
    carol.send("/nick alice")
    assert carol.readUntil("now known as alice")[-1] == "*** carol is now known as alice"
    carol.send("/nick Alice")  # a change of case keeps the nick
    assert carol.readUntil("Alice")[-1] == "*** alice is now known as Alice"
    waitUntil(lambda: "Alice" in who(alice), "the change of case reaches a")
    alice.send("/nick ALICE")
    assert alice.readUntil("ALICE")[-1] == "!!! The nick ALICE is taken"


def test_twoClaimsOnOneNickExactlyOneWins(nodes) -> None:
    a, b = nodes(), nodes()
    for round in range(5):
        first, second = LineSocket(a.ports[0]), LineSocket(b.ports[0])
        guests = [client.readUntil("Welcome")[-1].split(", ")[1].split("!")[0] for client in (first, second)]
        wanted = f"prize{round}"
        threads = [threading.Thread(target=c.send, args=(f"/nick {wanted}",)) for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes = []
        for client, nick in zip((first, second), guests):
            # A guest nick that another node had too is replaced at once; follow it.
            line = ""
            while True:
                line = client.readLine()
                if line == f"*** {nick} is now known as {wanted}" or line.startswith("!!! "):
                    break
                if line.startswith(f"*** {nick} is now known as "):
                    nick = line.rsplit(" ", 1)[1]
            outcomes.append(line)
        outcomes = [line if line.startswith("!!!") else "won" for line in outcomes]
        assert sorted(outcomes) == [f"!!! The nick {wanted} is taken", "won"]
        first.close(), second.close()


def test_orderKeptAndNothingTwice(nodes) -> None:
    a, b = nodes("--flood-rate", "0"), nodes("--flood-rate", "0")
    sender, reader = connect(a, "sender"), connect(b, "reader")
    sender.send(b"".join(b"line %d\n" % n for n in range(200)))
    for client in (sender, reader):
        lines = [line for line in client.readUntil("line 199") if "> line " in line]
        assert lines == [f"<sender> line {n}" for n in range(200)]
    sender.send("/who")
    assert not any("> line" in line for line in sender.readUntil("In #lobby"))


def test_historyComesFromTheSharedStore(nodes) -> None:
    a = nodes()
    alice = connect(a, "alice")
    alice.send("said before b existed")
    alice.readUntil("said before")
    b = nodes()
    newcomer = LineSocket(b.ports[0])
    lines = newcomer.readUntil("said before")
    assert lines[-1].endswith("<alice> said before b existed") and lines[-1].startswith("[history ")


def test_aRoomThatEmptiesTakesItsHistoryAndTopicWithIt(nodes) -> None:
    a = nodes()
    alice = connect(a, "alice")
    alice.send("/join tmp")
    alice.send("/topic old topic")
    alice.send("old secret")
    alice.send("/join lobby")  # #tmp is gone
    alice.readUntil("alice has joined #lobby")
    bob = connect(a, "bob")
    bob.send("/join tmp")  # a new #tmp
    bob.readUntil("bob has joined #tmp")
    b = nodes()  # loads the rooms it learns of from Redis
    carol = connect(b, "carol")
    carol.send("/join tmp")
    carol.send("/topic")
    lines = carol.readUntil("topic")
    assert lines[-1] == "*** #tmp has no topic"
    assert not any("old" in line for line in lines)


def test_aKilledNodeLeavesEveryNode(nodes) -> None:
    a, b, c = nodes(), nodes(), nodes()
    # The survivors first: a node that has a guest of its own by the name a newcomer had
    # elsewhere misses that newcomer's nick change (see meet).
    survivors = [connect(b, "survivor"), connect(c, "other")]
    connect(a, "doomed").sock.detach()  # keep the connection open until the node dies
    for survivor in survivors:
        survivor.readUntil("now known as doomed")
    a.process.kill()
    # How soon is test_cluster_memory's, on a fake clock: here, that every survivor hears it.
    for survivor in survivors:
        assert survivor.readUntil("doomed has quit")[-1] == "*** doomed has quit (Server lost)"
    for survivor in survivors:
        assert "doomed" not in who(survivor)
    survivors[0].send("/nick doomed")
    assert survivors[0].readUntil("doomed")[-1] == "*** survivor is now known as doomed"


def test_redisOutageAndReturn(nodes, redis) -> None:
    a, b = nodes(), nodes()
    alice, bob = meet(a, "alice", b, "bob")
    redis.kill()
    for client in (alice, bob):
        assert "link to the other servers is down" in client.readUntil("is down")[-1]
    alice.send("only here")
    assert alice.readUntil("only here")[-1] == "<alice> only here"
    redis.start()  # empty
    heard = {}
    for client in (alice, bob):
        heard[client] = client.readUntil("is back")
        assert heard[client][-1] == "*** The link to the other servers is back"
    alice.send("across again")
    heard[bob] += bob.readUntil("across again")
    assert heard[bob][-1] == "<alice> across again"
    bob.send("and back")
    heard[alice] += alice.readUntil("and back")
    # Nobody left, so nobody quits or joins.
    for lines in heard.values():
        assert not [line for line in lines if " has " in line]
    assert len(a.waitForLog("link to .* is down")) == 1


def test_malformedMessagesAreIgnored(nodes, redis) -> None:
    a = nodes()
    alice = connect(a, "alice")
    redis.command("PUBLISH", "chat:0:events", "garbage")
    a.waitForLog("Ignored a malformed message")
    alice.send("still fine")
    assert alice.readUntil("still fine")[-1] == "<alice> still fine"


def test_redisWithAPassword(daemons, tmp_path) -> None:
    if REDIS_SERVER is None:
        pytest.fail("CI must have redis-server: .ci/run installs it")
    redis = RedisServer(tmp_path, password="s3cret")
    try:
        # The state store too: it authenticates and selects the database as the link does.
        options = ("--redis", redis.endpoint, "--redis-password", "s3cret", "--redis-db", "2")
        a, b = daemons(*options), daemons(*options)
        for node in (a, b):
            node.waitForLog("is in the cluster")
        alice, bob = connect(a, "alice"), connect(b, "bob")
        alice.readUntil("now known as bob")
        alice.send("behind a password")
        assert bob.readUntil("behind a password")[-1] == "<alice> behind a password"
        bob.send("/history 1")  # from the store, in Redis's database 2
        assert bob.readUntil("behind a password")[-1].endswith("] <alice> behind a password")
    finally:
        redis.kill()


def test_aStoppedNodesPeopleLeaveAtOnce(nodes) -> None:
    a, b = nodes(), nodes()
    # The stayer first: b could have a guest of its own by the name the leaver had on a, and
    # then miss the leaver's nick change (see meet).
    stayer = connect(b, "stayer")
    connect(a, "leaving").sock.detach()  # open until the node stops
    stayer.readUntil("now known as leaving")
    assert a.terminate() == 0
    assert stayer.readUntil("leaving has quit")[-1] == "*** leaving has quit (Server shutting down)"
    stayer.send("/nick leaving")
    assert stayer.readUntil("now known as leaving")[-1] == "*** stayer is now known as leaving"


def test_wrongPasswordsCountOnEveryNode(daemons, redis) -> None:
    """
    A guesser gets no more tries from a cluster than from one server: wrong passwords from an
    address count on every node, in Redis, and the lockout holds on every node.
    """
    a, b = (daemons("--redis", redis.endpoint) for _ in range(2))
    alice, carol = meet(a, "alice", b, "carol")
    alice.send("/register secret123")
    alice.readUntil("registered")
    guessers = [carol, connect(a, "dave")]
    for attempt in range(MAX_FAILURES):
        guesser = guessers[attempt % 2]
        guesser.send(f"/identify alice wrong{attempt}")
        assert guesser.readUntil("alice")[-1] == "!!! Wrong password for alice"
    for guesser in guessers:
        guesser.send("/identify alice secret123")
        assert guesser.readUntil("alice")[-1].startswith("!!! Too many wrong passwords for alice")


def test_nodesShareAccountsAndHistoryInRedis(daemons, redis, tmp_path) -> None:
    """
    Without C{--state}, a cluster keeps its state in Redis: an account registered on one
    node identifies on another, and the history outlives a restart of every node.
    """

    def node():
        started = daemons("--redis", redis.endpoint, "--node-ttl", "3")
        started.waitForLog("is in the cluster")
        return started

    a, b = node(), node()
    alice, carol = meet(a, "alice", b, "carol")
    alice.send("/register secret123")
    alice.readUntil("registered")
    alice.send("said on a")
    carol.readUntil("said on a")
    # a reads its history after writing its lines, on one connection: once it has shown the
    # line, Redis has it.
    alice.send("/history 1")
    alice.readUntil("] <alice> said on a")
    carol.send("/history 5")  # read from Redis, where a wrote it: b kept no copy
    shown = [line.split("] ", 1)[-1] for line in carol.readUntil("said on a")]
    assert shown[-3:] == ["*** The last 2 lines of #lobby:", "* alice is here", "<alice> said on a"]
    alice.send("/quit")
    carol.readUntil("alice has quit")
    carol.send("/identify alice secret123")
    assert carol.readUntil("now known as alice")[0] == "*** You are identified as alice"
    assert a.terminate() == 0 and b.terminate() == 0

    a, b = node(), node()
    replay = LineSocket(b.ports[0])
    replay.send("/who")
    lines = replay.readUntil("In #lobby")
    assert [line.split("] ", 1)[1] for line in lines if line.startswith("[history ")] == [
        "* alice is here",
        "<alice> said on a",
    ]
    dave = connect(a, "dave")
    dave.send("/nick alice")
    assert "is registered" in dave.readUntil("registered")[-1]
    assert list(tmp_path.glob("*.sqlite3*")) == []

"""
Three hubs and their L{ClusterLink}s over one in-memory Redis (L{fakeredis}), on one
L{Clock}: node deaths, Redis losing everything, resyncs and members in several rooms, with
no process, socket or wall-clock wait.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from chat import events
from chat.cluster import ClusterLink
from chat.cluster.link import MAX_BATCH
from chat.cluster.messages import decodeBatch, decodeEvent, decodeRooms, encodeBatch, encodeEvent, encodeOne
from chat.hub import ChatError, Hub
from chat.accounts import Accounts
from chat.store import RedisStore
from fakeredis import FakeConnections, FakeOpener, FakeRedis
from helpers import CHEAP_HASHER, NO_FLOOD, FakeServer, Recorder, countWrites, runNow

TTL = 3.0


def comings(person: Recorder) -> list[events.Event]:
    """
    The joins, parts and quits C{person} heard since the last call.
    """
    return [e for e in person.take() if isinstance(e, (events.Joined, events.Left, events.Quit))]


class OffsetClock:
    """
    A clock C{offset} seconds ahead of C{clock}: a node whose clock is not quite right.
    """

    def __init__(self, clock: Clock, offset: float) -> None:
        self.clock = clock
        self.offset = offset

    def seconds(self) -> float:
        return self.clock.seconds() + self.offset

    def callLater(self, delay: float, f, *args, **kwargs):
        return self.clock.callLater(delay, f, *args, **kwargs)


class Node:
    def __init__(self, cluster: MemoryCluster, name: str, retry: float, offset: float) -> None:
        self.name = name
        clock = OffsetClock(cluster.clock, offset)
        self.store: RedisStore | None = None
        accounts = None
        if cluster.stores:
            self.store = RedisStore(cluster.clock, FakeOpener(cluster.redis))
            self.store.start()
            accounts = Accounts(clock, self.store, CHEAP_HASHER, runInThread=runNow)
        self.hub = Hub(clock, store=self.store, accounts=accounts)
        if cluster.stores:
            self.hub.load()
        self.connections = FakeConnections(cluster.redis, retry)
        self.link = ClusterLink(
            cluster.clock, self.hub, where="memory", ttl=TTL, node=name, connections=self.connections
        )
        self.link.startService()

    def person(self, nick: str, *rooms: str) -> Recorder:
        """
        Connect someone who takes C{nick} and joins C{rooms} (by default the default room).
        """
        person = Recorder()
        self.hub.connect(person)
        renamed = self.hub.rename(person, nick)
        assert renamed.called and renamed.result is None, renamed.result
        for room in rooms or (self.hub.defaultRoom,):
            self.hub.join(person, room)
        person.take()
        return person

    def seats(self) -> dict[str, list[str]]:
        """
        Everyone this node knows, with the rooms this node seats them in.
        """
        return {m.nick: sorted(r.name for r in self.hub.roomsOf(m)) for m in self.hub.members()}

    def knows(self, nick: str) -> bool:
        try:
            self.hub.find(nick)
        except ChatError:
            return False
        return True


class MemoryCluster:
    """
    @ivar stores: whether each node keeps its state in the Redis store, as C{--redis} does.
    """

    def __init__(self, *names: str, retries: tuple[float, ...] = (), stores: bool = False) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.redis = FakeRedis(self.clock)
        self.stores = stores
        self.nodes: dict[str, Node] = {}
        for index, name in enumerate(names):
            retry = retries[index] if index < len(retries) else 1.0
            self.add(name, retry)

    def add(self, name: str, retry: float = 1.0, offset: float = 0.0) -> Node:
        node = self.nodes[name] = Node(self, name, retry, offset)
        self.clock.advance(0)
        assert node.link.linked
        return node

    def run(self, seconds: float, step: float = 0.1) -> None:
        """
        Let C{seconds} pass, a C{step} at a time.
        """
        for _ in range(round(seconds / step)):
            self.clock.advance(step)

    def runUntil(self, condition, what: str, limit: float) -> float:
        """
        Let time pass until C{condition()}, for at most C{limit} seconds; return how long.
        """
        began = self.clock.seconds()
        while not condition():
            if self.clock.seconds() - began > limit:
                raise AssertionError(f"not within {limit} s: {what}")
            self.clock.advance(0.1)
        return self.clock.seconds() - began

    def seats(self) -> dict[str, dict[str, list[str]]]:
        return {name: node.seats() for name, node in self.nodes.items()}


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster("a", "b", "c")


def test_everyNodeDropsADeadNodesMembers(cluster) -> None:
    """
    Of three nodes, one is killed: both others drop its members within the TTL and a beat,
    not only the one that reaps it in Redis.
    """
    a, b, c = cluster.nodes.values()
    alice, bob = a.person("alice", "#lobby", "#dev"), b.person("bob", "#lobby")
    c.person("doomed", "#lobby", "#dev")
    cluster.clock.advance(0)
    assert a.knows("doomed") and b.knows("doomed")
    comings(alice), comings(bob)
    c.connections.kill()
    took = cluster.runUntil(
        lambda: not a.knows("doomed") and not b.knows("doomed"), "both forget doomed", TTL * 3
    )
    assert took <= TTL + TTL / 3 + 0.2
    for person in (alice, bob):
        assert comings(person) == [events.Quit("doomed", "Server lost")]
    assert cluster.redis.data.get("chat:0:nodes") == {"a", "b"}
    assert "chat:0:members:c" not in cluster.redis.data
    assert "chat:0:nick:doomed" not in cluster.redis.data


def test_aNodeTheReaperMissedIsDroppedAllTheSame(cluster) -> None:
    """
    A node that missed the reaper's word (it was relinking) still drops the dead node's
    members once it sees the node's presence expired.
    """
    a, b, c = cluster.nodes.values()
    a.person("alice")
    c.person("doomed")
    cluster.clock.advance(0)
    c.connections.kill()
    b.connections.subscribed = False  # b hears nothing on the channel from now on
    took = cluster.runUntil(
        lambda: not a.knows("doomed") and not b.knows("doomed"), "both forget doomed", TTL * 3
    )
    assert took <= TTL + TTL / 3 + 0.2


def test_aRedisRestartInventsNoComingsAndGoings() -> None:
    """
    Redis restarts empty and the nodes come back to it one by one: nobody who stayed is
    announced as quitting or joining, and every node seats everyone where they were.
    """
    cluster = MemoryCluster("a", "b", "c", retries=(0.5, 1.5, 2.5))
    a, b, c = cluster.nodes.values()
    people = [
        a.person("alice", "#lobby", "#dev"),
        b.person("Bob", "#lobby", "#ops", "#dev"),
        c.person("carol", "#ops"),
        c.person("dave"),
    ]
    cluster.clock.advance(0)
    before = cluster.seats()
    assert before["a"] == before["b"] == before["c"]
    for person in people:
        comings(person)
    cluster.redis.crash()
    cluster.run(1)
    cluster.redis.restart()
    cluster.runUntil(lambda: all(n.link.linked for n in cluster.nodes.values()), "all back", 5)
    cluster.run(TTL * 3)  # well past the time a node that was not back would be dropped
    assert cluster.seats() == before
    for person in people:
        assert comings(person) == []
    assert decodeRooms(cluster.redis.data["chat:0:members:b"]["Bob"]) == ["#lobby", "#ops", "#dev"]
    assert cluster.redis.data["chat:0:nodes"] == {"a", "b", "c"}


def test_aResyncAnnouncesWhatReallyChanged() -> None:
    """
    What a node's members did while Redis was away reaches the others when it is back: the
    member who left quits, the newcomer joins, the one who moved leaves one room and joins
    another; and nothing else is announced.
    """
    cluster = MemoryCluster("a", "b", retries=(0.5, 2.0))
    a, b = cluster.nodes.values()
    alice = a.person("alice", "#lobby", "#dev", "#ops")
    leaver, mover = b.person("leaver"), b.person("mover", "#lobby", "#dev")
    b.person("stayer", "#lobby", "#dev")
    cluster.clock.advance(0)
    comings(alice)
    cluster.redis.crash()
    cluster.clock.advance(0)
    b.hub.disconnect(leaver, "bye")
    b.hub.part(mover, "#dev")
    b.hub.join(mover, "#ops")
    b.person("newcomer", "#dev")
    cluster.redis.restart()
    cluster.run(TTL * 2)
    assert comings(alice) == [
        events.Quit("leaver", "Left while the link was down"),
        events.Left("#dev", "mover"),
        events.Joined("#ops", "mover"),
        events.Joined("#dev", "newcomer"),
    ]
    assert a.seats() == b.seats()


def test_aNodeThatNeverComesBackAfterARedisRestartIsDropped() -> None:
    """
    Nodes keep the members of a node Redis lost while it may still come back, but not
    longer than the TTL once they are back themselves.
    """
    cluster = MemoryCluster("a", "b", "c", retries=(0.5, 0.5, 0.5))
    a, b, c = cluster.nodes.values()
    alice = a.person("alice")
    c.person("doomed")
    cluster.clock.advance(0)
    comings(alice)
    cluster.redis.crash()
    c.connections.kill()
    cluster.redis.restart()
    cluster.runUntil(lambda: a.link.linked and b.link.linked, "a and b back", 5)
    back = cluster.clock.seconds()
    cluster.runUntil(lambda: not a.knows("doomed") and not b.knows("doomed"), "doomed dropped", TTL * 2)
    assert cluster.clock.seconds() - back >= TTL - TTL / 3
    assert comings(alice) == [events.Quit("doomed", "Server lost")]


def test_theDirectoryKeepsEveryRoom(cluster) -> None:
    """
    The member directory in Redis records every room a member is in, and the rooms it
    leaves, its nick changes and its quit; a node that joins later seats each member in
    exactly its rooms.
    """
    a, b, c = cluster.nodes.values()
    irc = b.person("irc", "#lobby", "#dev", "#ops")
    b.hub.part(irc, "#dev")
    b.hub.join(irc, "#web")
    cluster.clock.advance(0)  # a turn's writes go to Redis when it ends
    directory = cluster.redis.data["chat:0:members:b"]
    assert decodeRooms(directory["irc"]) == ["#lobby", "#ops", "#web"]
    b.hub.rename(irc, "ircer")
    cluster.clock.advance(0)
    directory = cluster.redis.data["chat:0:members:b"]
    assert set(directory) == {"ircer"}
    assert decodeRooms(directory["ircer"]) == ["#lobby", "#ops", "#web"]
    cluster.clock.advance(0)
    late = cluster.add("d")
    assert late.seats()["ircer"] == ["#lobby", "#ops", "#web"]
    assert a.seats() == b.seats() == c.seats() == late.seats()
    b.hub.disconnect(irc, "bye")
    cluster.clock.advance(0)
    assert "chat:0:members:b" not in cluster.redis.data


def test_relayedLinesKeepTheSendersTime() -> None:
    """
    A line said on one node has the same time in every node's history, whatever the
    receiving node's clock says.
    """
    cluster = MemoryCluster("a")
    a = cluster.nodes["a"]
    late = cluster.add("b", offset=100.0)
    alice = a.person("alice")
    late.person("bob")
    a.hub.say(alice, "#lobby", "when?")
    cluster.clock.advance(0)
    [mine], [theirs] = a.hub.room("#lobby").history, late.hub.room("#lobby").history
    assert theirs == mine
    assert theirs.time == cluster.clock.seconds()


def test_aNodeTakenForDeadTellsItsMembersAgain(cluster) -> None:
    """
    A node that stalled past the TTL is reaped by the others; when it wakes, it hears so
    and announces its members again, and the others seat them again.
    """
    a, b, c = cluster.nodes.values()
    alice = a.person("alice")
    c.person("sleepy", "#lobby", "#dev")
    cluster.clock.advance(0)
    comings(alice)
    c.link._heartbeat.stop()
    c.connections.pause()
    cluster.runUntil(lambda: not a.knows("sleepy") and not b.knows("sleepy"), "sleepy dropped", TTL * 2)
    c.link._heartbeat.start(TTL / 3, now=False)
    c.connections.resume()
    cluster.clock.advance(0)
    assert a.seats()["sleepy"] == b.seats()["sleepy"] == ["#dev", "#lobby"]
    assert comings(alice) == [events.Quit("sleepy", "Server lost"), events.Joined("#lobby", "sleepy")]
    cluster.run(TTL * 2)
    assert a.knows("sleepy") and b.knows("sleepy")


def test_aNodesEventsNeverTouchAnotherNodesMember(cluster) -> None:
    """
    An event from one node about a nick that this node knows as another node's member (two
    nodes gave one guest nick) leaves that member alone: taking it for the sender's would
    keep it past the sender's death, or drop it with the wrong node.
    """
    a, b, c = cluster.nodes.values()
    b.person("guest9")
    cluster.clock.advance(0)
    a.link.received(encodeEvent("c", events.NickChanged("guest9", "renamed")))
    a.link.received(encodeEvent("c", events.Joined("#dev", "guest9")))
    assert a.seats()["guest9"] == ["#lobby"]
    assert not a.knows("renamed")


def test_twoFreshNodesNeverGiveOutOneGuestNick() -> None:
    """
    Both nodes' first guest is C{guest1} as far as each node alone knows: the one that loses the
    claim takes the next guest nick before anyone hears of either, so no rename goes unheard
    and no phantom nick stays behind in Redis.
    """
    cluster = MemoryCluster("a", "b")
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    first, second = Recorder(), Recorder()
    granted = [a.hub.connect(first), b.hub.connect(second)]
    cluster.clock.advance(0)
    assert [d.result for d in granted] == ["guest1", "guest2"]
    a.hub.join(first, a.hub.defaultRoom)
    b.hub.join(second, b.hub.defaultRoom)
    cluster.run(0.5)
    assert a.seats() == b.seats() == {"guest1": ["#lobby"], "guest2": ["#lobby"]}
    a.hub.disconnect(first, "bye")
    b.hub.disconnect(second, "bye")
    cluster.run(0.5)
    assert not any(key.startswith("chat:0:nick:") for key in cluster.redis.data)
    late = b.person("guest1")  # free everywhere again
    assert late.nick == "guest1"


def test_nodesShareTheRedisStore() -> None:
    """
    With the Redis store, as C{--redis} has it: a line is kept once, by its sender's node,
    and every node's C{/history} shows it; the link keeps no history list of its own; a room
    that empties everywhere keeps its lines, replayed by a node made later; an account
    registered on one node identifies on another, whose registered nicks learn it.
    """
    cluster = MemoryCluster("a", "b", stores=True)
    a, b = cluster.nodes.values()
    alice, bob = a.person("alice", "#dev"), b.person("bob", "#dev")
    a.hub.say(alice, "#dev", "kept once")
    cluster.clock.advance(0)
    assert [e.text for e in bob.take() if isinstance(e, events.Said)] == ["kept once"]
    assert len(cluster.redis.data["chat:0:store:history:#dev"].scores) == 1
    assert not [key for key in cluster.redis.data if key.startswith("chat:0:history:")]
    history = b.hub.history(bob, "#dev", 10)
    assert [said.text for said in history.result] == ["kept once"]
    a.hub.part(alice, "#dev"), b.hub.part(bob, "#dev")  # #dev is gone everywhere
    cluster.clock.advance(0)
    newcomer = cluster.add("late").person("newcomer")
    cluster.nodes["late"].hub.join(newcomer, "#dev")
    replayed = [e.said.text for e in newcomer.take() if isinstance(e, events.Replayed)]
    assert replayed == ["kept once"]

    registered = a.hub.accounts.register(alice, "alice", "secret123")
    assert registered.called and registered.result is None
    stranger = Recorder()
    b.hub.connect(stranger)
    identified = b.hub.accounts.identify(stranger, "ALICE", "secret123", "127.0.0.1")
    assert identified.result == "alice"
    b.hub.accounts.load()
    assert "alice" in b.hub.accounts.registered


# Batches: a node's events of one reactor turn travel as one message


def test_aTurnsEventsGoOutInOnePublish() -> None:
    """
    Whatever a node's members do within one reactor turn goes to the channel when the turn
    ends, in one message, in the order it happened.
    """
    cluster = MemoryCluster("a", "b")
    a = cluster.nodes["a"]
    alice = a.person("alice")
    cluster.clock.advance(0)
    published = len(cluster.redis.published)
    a.hub.join(alice, "#dev")
    for n in range(3):
        a.hub.say(alice, "#dev", f"line {n}")
    a.hub.part(alice, "#lobby")
    assert len(cluster.redis.published) == published  # nothing before the turn ends
    cluster.clock.advance(0)
    [message] = cluster.redis.published[published:]
    node, batch = decodeBatch(message)
    assert node == "a"
    assert [type(event) for event in batch] == [events.Joined] + [events.Said] * 3 + [events.Left]
    assert [event.text for event in batch if isinstance(event, events.Said)] == ["line 0", "line 1", "line 2"]


def test_aLongTurnIsCutIntoSeveralMessagesInOrder() -> None:
    cluster = MemoryCluster("a", "b")
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    alice, bob = a.person("alice"), b.person("bob")
    cluster.clock.advance(0)
    published = len(cluster.redis.published)
    lines = [f"line {n}" for n in range(MAX_BATCH * 2 + 1)]
    for line in lines:
        a.hub.say(alice, "#lobby", line)
    cluster.clock.advance(0)
    assert len(cluster.redis.published) - published == 3
    cluster.clock.advance(0)
    assert [event.text for event in bob.take() if isinstance(event, events.Said)] == lines


def test_aRoomsHistoryTakesATurnsLinesInOnePush(monkeypatch) -> None:
    """
    A turn's lines in a room go to its history in Redis in one LPUSH (and one LTRIM), of at
    most the history's size: newest first, as line by line.
    """
    cluster = MemoryCluster("a")
    a = cluster.nodes["a"]
    alice = a.person("alice")
    cluster.clock.advance(0)
    commands = a.link._commands
    pushes = []
    push = commands.lpush
    monkeypatch.setattr(commands, "lpush", lambda key, values: pushes.append(key) or push(key, values))
    size = a.hub.historySize
    for n in range(size + 5):
        a.hub.say(alice, "#lobby", f"line {n}")
    cluster.clock.advance(0)
    assert pushes == ["chat:0:history:#lobby"]
    kept = [decodeEvent(line)[1].text for line in cluster.redis.data["chat:0:history:#lobby"]]
    assert kept == [f"line {n}" for n in reversed(range(5, size + 5))]
    late = cluster.add("b")  # loads the history from Redis
    assert [said.text for said in late.hub.room("#lobby").history] == [f"line {n}" for n in range(5, size + 5)]


def test_aReceivedBatchIsPlayedInOrder() -> None:
    cluster = MemoryCluster("a", "b")
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    bob = b.person("bob", "#lobby", "#dev")
    bob.take()
    batch = [
        events.Joined("#dev", "carol"),
        events.Said("#dev", "carol", "one", 5.0),
        events.Said("#lobby", "carol", "two", 6.0, True),
        events.Left("#dev", "carol"),
        events.Said("#lobby", "carol", "three", 7.0),
    ]
    a.link.received(encodeBatch("c", [encodeOne(event) for event in batch]))
    b.link.received(encodeBatch("c", [encodeOne(event) for event in batch]))
    heard = [e for e in bob.take() if not isinstance(e, events.Joined) or e.room == "#dev"]
    assert heard == batch
    assert a.seats()["carol"] == b.seats()["carol"] == ["#lobby"]


@pytest.mark.parametrize(
    "message",
    [
        # Cut short, as a message half received would be.
        '["chat2","c",["join","#dev","carol"],["say","#dev","carol","one",5.0,fa',
        # A good event, then a garbled one: the good one is not played either.
        '["chat2","c",["join","#dev","carol"],["say","#dev","carol",5.0]]',
        "\x00garbage",
    ],
)
def test_aGarbledBatchIsRefusedWhole(logged, message) -> None:
    cluster = MemoryCluster("a")
    a = cluster.nodes["a"]
    alice = a.person("alice", "#lobby", "#dev")
    a.link.received(message)
    assert not a.knows("carol")
    assert alice.take() == []
    assert [line for line in logged if "Ignored a malformed message on chat:0:events" in line]
    a.hub.say(alice, "#dev", "still fine")
    assert alice.take() == [events.Said("#dev", "alice", "still fine", cluster.clock.seconds())]


def test_anotherVersionsMessagesAreRefusedLoudlyOnce(logged) -> None:
    cluster = MemoryCluster("a")
    a = cluster.nodes["a"]
    old = '{"node": "c", "event": "join", "room": "#dev", "nick": "carol"}'
    for _ in range(3):
        a.link.received(old)
    assert not a.knows("carol")
    warnings = [line for line in logged if "another version" in line]
    assert len(warnings) == 1
    assert "every node must run the same version" in warnings[0]


def test_aReceivedBatchReachesEachLineClientInOneWrite() -> None:
    """
    The lines of a batch from another node join the turn's fan-out: each local client gets
    them all in one write, in order.
    """
    server = FakeServer(limits=NO_FLOOD)
    link = ClusterLink(
        server.clock, server.hub, where="memory", ttl=TTL, node="a",
        connections=FakeConnections(FakeRedis(server.clock)),
    )
    link.startService()
    server.clock.advance(0)
    assert link.linked
    clients = server.connectMany("alice", "dave")
    writes = [countWrites(client) for client in clients]
    lines = [events.Said("#lobby", "carol", f"line {n}", 5.0 + n) for n in range(5)]
    link.received(encodeBatch("c", [encodeOne(events.Joined("#lobby", "carol"))] + [encodeOne(said) for said in lines]))
    server.clock.advance(0)
    for client, written in zip(clients, writes):
        assert client.received() == ["*** carol has joined #lobby"] + [f"<carol> line {n}" for n in range(5)]
        assert len(written) == 1


def test_aRoomThatEmptiesWithinATurnLeavesNoHistory() -> None:
    """
    A room's lines queued for Redis go before the room does, so that a room said in and
    emptied within one turn leaves nothing behind.
    """
    cluster = MemoryCluster("a")
    a = cluster.nodes["a"]
    alice = a.person("alice")
    a.hub.join(alice, "#tmp")
    a.hub.setTopic(alice, "#tmp", "secret topic")
    a.hub.say(alice, "#tmp", "secret line")
    a.hub.part(alice, "#tmp")
    cluster.clock.advance(0)
    assert not [key for key in cluster.redis.data if "#tmp" in key]


def test_aRelayedLineIsSpeltAsThisHubSpellsItsRoomAndNick() -> None:
    cluster = MemoryCluster("a")
    a = cluster.nodes["a"]
    bob = a.person("bob")
    a.link.received(encodeEvent("c", events.Joined("#lobby", "Carol")))
    bob.take()
    a.link.received(encodeEvent("c", events.Said("#LOBBY", "CAROL", "hi", 5.0)))
    assert bob.take() == [events.Said("#lobby", "Carol", "hi", 5.0)]
    assert a.hub.room("#lobby").history[-1] == events.Said("#lobby", "Carol", "hi", 5.0)
    a.link.received(encodeEvent("c", events.Said("#lobby", "Carol", "bad\nline", 6.0)))
    assert bob.take() == []  # what no front end can carry stays out


def test_aRelayedLineIsScreenedAsALocalOneIs() -> None:
    """
    A member who ignores someone on another node does not hear their lines either.
    """
    cluster = MemoryCluster("a")
    a = cluster.nodes["a"]
    bob, dave = a.person("bob"), a.person("dave")
    a.hub.moderation.ignore(bob, "carol")
    a.link.received(encodeEvent("c", events.Joined("#lobby", "carol")))
    bob.take(), dave.take()
    a.link.received(encodeEvent("c", events.Said("#lobby", "carol", "hi", 5.0)))
    assert bob.take() == []
    assert dave.take() == [events.Said("#lobby", "carol", "hi", 5.0)]

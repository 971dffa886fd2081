"""
What is the Redis store's alone (the contract it shares with the others is tested in
C{test_store.py}): lines written once a turn, capped, kept in order; prune; two stores on one
Redis; its key layout's version; a Redis that fails or does not answer; and the registered
nicks read again as other nodes change them.  All on an
in-memory Redis (L{fakeredis}) and a L{Clock}.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from chat import events
from chat.accounts import FAILURE_WINDOW, LOCKOUT, MAX_FAILURES, Accounts
from chat.errors import StateUnavailable
from chat.hub import Hub
from chat.store import Account, RedisStore
from chat.store.interface import MAX_HISTORY, Rule
from chat.store.redis import MAX_UNSENT
from chat.store.service import ACCOUNTS_REFRESH, StateService
from fakeredis import FakeOpener, FakeRedis
from helpers import CHEAP_HASHER, runNow

HISTORY = "chat:0:store:history:"


def said(room: str, nick: str, text: str, time: float, action: bool = False) -> events.Said:
    return events.Said(room, nick, text, time, action)


def result(deferred: defer.Deferred[Any]) -> Any:
    """
    What C{deferred}, which has fired, fired with; raise what it failed with.
    """
    outcome: list[Any] = []
    deferred.addBoth(outcome.append)
    assert outcome, "not fired"
    if isinstance(outcome[0], defer.Failure):
        outcome[0].raiseException()
    return outcome[0]


class Recording(FakeOpener):
    """
    A connection that notes the name of every command run on it.
    """

    def __init__(self, server: FakeRedis) -> None:
        super().__init__(server)
        self.names: list[str] = []

    def open(self) -> Any:
        commands = super().open()
        opener = self

        class Noted:
            def __getattr__(self, name: str) -> Any:
                opener.names.append(name)
                return getattr(commands, name)

        return Noted()


class Stalled:
    """
    A Redis that takes commands and never answers, as one that is unreachable while
    txredisapi waits to reconnect.
    """

    def __init__(self) -> None:
        self.waiting: list[defer.Deferred[Any]] = []

    def open(self) -> Any:
        return self

    def close(self) -> defer.Deferred[None]:
        return defer.succeed(None)

    def __getattr__(self, name: str) -> Any:
        def command(*args: Any, **kwargs: Any) -> defer.Deferred[Any]:
            self.waiting.append(defer.Deferred())
            return self.waiting[-1]

        return command


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def redis(clock) -> FakeRedis:
    return FakeRedis(clock)


def started(clock: Clock, opener: Any) -> RedisStore:
    store = RedisStore(clock, opener)
    result(store.start())
    return store


def test_linesAreWrittenOnceATurn(clock, redis) -> None:
    """
    The lines said in one turn go out together, after it: one ZADD and one trim per room,
    one SADD for the set of rooms, whatever the number of lines.
    """
    opener = Recording(redis)
    store = started(clock, opener)
    del opener.names[:]
    for n in range(50):
        store.addLine(said("#a" if n % 2 else "#B", "alice", f"line {n}", float(n)))
    assert opener.names == [] and HISTORY + "#a" not in redis.data
    clock.advance(0)
    assert sorted(opener.names) == sorted(["zadd", "zremrangebyrank"] * 2 + ["sadd"])
    assert redis.data["chat:0:store:rooms"] == {"#a", "#b"}
    assert [line.text for line in result(store.lines("#b", 2))] == ["line 46", "line 48"]


def test_eachRoomKeepsItsLastLinesInOrder(clock, redis) -> None:
    """
    A room keeps its last L{MAX_HISTORY} lines, in the order they were said even when said
    at one time; C{lines} and C{recentLines} give the last ones asked for, and nothing for 0.
    """
    store = started(clock, FakeOpener(redis))
    for n in range(MAX_HISTORY + 20):
        store.addLine(said("#a", "alice", f"line {n}", 7.0))
        if n % 100 == 0:
            clock.advance(0)  # several batches
    lines = result(store.lines("#A", MAX_HISTORY + 20))
    assert [line.text for line in lines] == [f"line {n}" for n in range(20, MAX_HISTORY + 20)]
    assert len(redis.data[HISTORY + "#a"].scores) == MAX_HISTORY
    assert [line.text for line in result(store.lines("#a", 3))] == [
        f"line {n}" for n in range(MAX_HISTORY + 17, MAX_HISTORY + 20)
    ]
    assert result(store.recentLines(1)) == {"#a": [said("#a", "alice", f"line {MAX_HISTORY + 19}", 7.0)]}
    assert result(store.lines("#a", 0)) == []
    assert result(store.recentLines(0)) == {}
    assert result(store.lines("#nowhere", 5)) == []


def test_linesKeepTheirTextExactly(clock, redis) -> None:
    """
    What a line holds comes back as it went in: any text, a room's spelling, the sender's
    time to the last bit, an action.
    """
    store = started(clock, FakeOpener(redis))
    odd = said("#Été", "bob", 'quotes " and \\ and : and ünïcödé 🎉 and \x1b[31m', 1764111872.123456789, True)
    store.addLine(odd)
    assert result(store.lines("#été", 1)) == [odd]


def test_pruneForgetsOldLinesAndEmptiedRooms(clock, redis) -> None:
    store = started(clock, FakeOpener(redis))
    store.addLine(said("#old", "alice", "old", 1.0))
    store.addLine(said("#mixed", "alice", "old", 2.0))
    store.addLine(said("#mixed", "alice", "new", 3.0))
    assert result(store.prune(3.0)) == 2  # the lines said before it, queued ones included
    assert HISTORY + "#old" not in redis.data
    assert redis.data["chat:0:store:rooms"] == {"#mixed"}
    assert result(store.recentLines(5)) == {"#mixed": [said("#mixed", "alice", "new", 3.0)]}
    assert result(store.prune(3.0)) == 0


def test_twoStoresShareOneRedis(clock, redis) -> None:
    """
    Two nodes' stores: an account made by one is the other's; each one's lines are in the
    other's history, by the time they were said; of two registering one nick, one wins.
    """
    one, other = started(clock, FakeOpener(redis)), started(clock, FakeOpener(redis))
    assert result(one.createAccount(Account("Alice", "hash1", 5.5)))
    assert not result(other.createAccount(Account("ALICE", "hash2", 6.0)))
    assert result(other.account("alice")) == Account("Alice", "hash1", 5.5)
    result(other.setPassword("alice", "hash3"))
    assert result(one.account("alice")) == Account("Alice", "hash3", 5.5)
    assert result(one.registeredNicks()) == ["Alice"]
    result(other.deleteAccount("aLiCe"))
    assert result(one.account("alice")) is None and result(one.registeredNicks()) == []
    result(one.setPassword("alice", "hash4"))  # no account: nothing made
    assert result(one.account("alice")) is None
    assert not [key for key in redis.data if "account" in key]

    one.addLine(said("#a", "alice", "first", 1.0))
    other.addLine(said("#a", "bob", "second", 2.0))
    one.addLine(said("#a", "alice", "third", 3.0))
    clock.advance(0)
    assert [line.text for line in result(other.lines("#a", 10))] == ["first", "second", "third"]


def test_rulesAreSharedAndSavedOnceATurn(clock, redis) -> None:
    """
    The moderation rules two nodes save are one set: every node saves each change it
    applies, which changes nothing the second time; they are written with the turn's lines,
    and a reader sees those queued before it asked.
    """
    one, other = started(clock, FakeOpener(redis)), started(clock, FakeOpener(redis))
    ban = Rule("ban", "#dev", "nick:mallory", 100.0, "spam ünïcödé", "alice", 1.5)
    for store in (one, other):
        store.saveRule(ban)
        store.saveRule(Rule("op", "#dev", "bob", by="alice", created=2.0))
    assert "chat:0:store:rules" not in redis.data
    clock.advance(0)
    assert len(redis.data["chat:0:store:rules"]) == 2
    other.deleteRule("op", "#dev", "bob")
    one.deleteRule("op", "#dev", "bob")
    assert result(other.rules()) == [ban]
    assert result(one.rules()) == [ban]
    result(FakeOpener(redis).open().hset("chat:0:store:rules", "not json", "[]"))
    assert result(one.rules()) == [ban]


def test_aNewerLayoutIsRefused(clock, redis) -> None:
    redis.set("chat:0:store:version", "2", None, False)
    store = RedisStore(clock, FakeOpener(redis))
    with pytest.raises(RuntimeError, match="newer"):
        result(store.start())


def test_theDatabaseNamesThePrefix(clock, redis) -> None:
    store = RedisStore(clock, FakeOpener(redis), db=3)
    result(store.start())
    store.addLine(said("#a", "alice", "hi", 1.0))
    clock.advance(0)
    assert redis.data["chat:3:store:version"] == "1"
    assert HISTORY.replace(":0:", ":3:") + "#a" in redis.data


def test_aMalformedLineIsSkipped(clock, redis, logged) -> None:
    store = started(clock, FakeOpener(redis))
    store.addLine(said("#a", "alice", "good", 2.0))
    clock.advance(0)
    result(FakeOpener(redis).open().zadd(HISTORY + "#a", 1.0, "000000000001:x:[not json"))
    assert result(store.lines("#a", 10)) == [said("#a", "alice", "good", 2.0)]
    assert any("malformed line" in line for line in logged)


def test_aDownRedisFailsRequestsClearly(clock, redis, logged) -> None:
    store = started(clock, FakeOpener(redis))
    redis.crash()
    with pytest.raises(StateUnavailable):
        result(store.account("alice"))
    store.addLine(said("#a", "alice", "lost", 1.0))
    clock.advance(0)
    assert any("Writing 1 lines and 0 rule changes to Redis failed" in line for line in logged)
    redis.restart()
    store.addLine(said("#a", "alice", "kept", 2.0))
    assert [line.text for line in result(store.lines("#a", 10))] == ["kept"]


def test_aSilentRedisNeitherHangsNorFillsMemory(clock, logged) -> None:
    """
    Redis takes commands and never answers: a request fails after the timeout; lines wait,
    up to L{MAX_UNSENT}, and the rest are dropped, said once; stopping waits no longer than
    the timeout.
    """
    stalled = Stalled()
    store = RedisStore(clock, stalled, timeout=5.0)
    starting = store.start()
    clock.advance(5.0)
    with pytest.raises(StateUnavailable):
        result(starting)
    asked = store.lines("#a", 10)
    clock.advance(4.9)
    assert not asked.called
    clock.advance(0.1)
    with pytest.raises(StateUnavailable):
        result(asked)
    for n in range(MAX_UNSENT + 100):
        store.addLine(said("#a", "alice", f"line {n}", float(n)))
        if n % 1000 == 0:
            clock.advance(0)
    clock.advance(0)
    assert store._unsent == MAX_UNSENT
    assert sum("dropping lines" in line for line in logged) == 1
    stopping = store.stop()
    clock.advance(5.0)
    assert result(stopping) is None
    assert any(f"{MAX_UNSENT} lines were not written" in line for line in logged)


def test_wrongPasswordsAreCountedForEveryNode(clock, redis) -> None:
    """
    Stores on one Redis count an address's wrong passwords together: the last one allowed,
    from either, locks that address out of the account on both, for L{LOCKOUT} seconds.  A
    window starts with its first wrong password, and a right password forgets them.
    """
    one, other = started(clock, FakeOpener(redis)), started(clock, FakeOpener(redis))
    for attempt in range(MAX_FAILURES - 1):
        assert result((one, other)[attempt % 2].failed("Alice", "192.0.2.1")) is False
    assert result(one.lockedFor("alice", "192.0.2.1")) == 0
    assert result(other.failed("alice", "192.0.2.1")) is True
    assert result(one.lockedFor("ALICE", "192.0.2.1")) == LOCKOUT
    assert result(other.lockedFor("alice", "192.0.2.2")) == 0
    clock.advance(LOCKOUT)
    assert result(one.lockedFor("alice", "192.0.2.1")) == 0
    for attempt in range(MAX_FAILURES - 1):
        result(one.failed("alice", "192.0.2.1"))
    one.succeeded("alice", "192.0.2.1")
    for attempt in range(MAX_FAILURES - 1):
        assert result(other.failed("alice", "192.0.2.1")) is False
    clock.advance(FAILURE_WINDOW)
    assert result(other.failed("alice", "192.0.2.1")) is False


def test_theRegisteredNicksAreReadAgain(clock, redis) -> None:
    """
    On a shared store, the state service reads the registered nicks again every
    L{ACCOUNTS_REFRESH} seconds: a nick another node registers or unregisters is known here
    within that time.  A Redis that does not answer meanwhile stops nothing.
    """
    store = RedisStore(clock, FakeOpener(redis))
    hub = Hub(clock, store=store, accounts=Accounts(clock, store, CHEAP_HASHER, runInThread=runNow))
    state = StateService(clock, hub, store, keepDays=0)
    state.startService()
    assert state.ready.called
    elsewhere = started(clock, FakeOpener(redis))
    result(elsewhere.createAccount(Account("Alice", "hash", 1.0)))
    clock.advance(ACCOUNTS_REFRESH)
    assert hub.accounts.registered == {"alice"}
    redis.crash()
    clock.advance(ACCOUNTS_REFRESH)
    redis.restart()
    result(elsewhere.createAccount(Account("bob", "hash", 1.0)))
    clock.advance(ACCOUNTS_REFRESH)
    assert hub.accounts.registered == {"bob"}  # Redis lost alice when it crashed
    result(state.stopService())
    clock.advance(ACCOUNTS_REFRESH)
    assert clock.getDelayedCalls() == []

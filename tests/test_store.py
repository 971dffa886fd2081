"""
The state stores, in memory and in SQLite on a temporary file, held to the same contract; the
SQLite file's schema upgrade; and the hub's use of a store for room history.
"""

from __future__ import annotations

import os
import sqlite3

import pytest
import pytest_twisted
from helpers import NO_FLOOD, FakeServer, Recorder
from twisted.internet import defer, reactor
from twisted.internet.testing import MemoryReactorClock

from chat import events
from chat.errors import Banned, NotRoomOperator
from chat.hub import Hub
from chat.store import Account, MemoryStore, SQLiteStore
from chat.store.interface import Rule
from chat.store.service import DAY, StateService
from chat.store.sqlite import SCHEMA_VERSION, UPGRADES


def said(room: str, nick: str, text: str, time: float, action: bool = False) -> events.Said:
    return events.Said(room, nick, text, time, action)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        made = MemoryStore()
    else:
        made = SQLiteStore(reactor, str(tmp_path / "state.sqlite3"))
    pytest_twisted.blockon(made.start())
    yield made
    pytest_twisted.blockon(made.stop())


@pytest_twisted.inlineCallbacks
def test_lines(store) -> None:
    store.addLine(said("#a", "alice", "one", 1.0))
    store.addLine(said("#A", "bob", "two", 2.0, action=True))
    store.addLine(said("#b", "alice", "elsewhere", 3.0))
    store.addLine(said("#a", "alice", "three", 4.0))
    lines = yield store.lines("#A", 2)
    assert lines == [said("#A", "bob", "two", 2.0, True), said("#a", "alice", "three", 4.0)]
    recent = yield store.recentLines(2)
    assert recent == {
        "#a": [said("#A", "bob", "two", 2.0, True), said("#a", "alice", "three", 4.0)],
        "#b": [said("#b", "alice", "elsewhere", 3.0)],
    }
    pruned = yield store.prune(3.0)
    assert pruned == 2
    lines = yield store.lines("#a", 10)
    assert lines == [said("#a", "alice", "three", 4.0)]


@pytest_twisted.inlineCallbacks
def test_accounts(store) -> None:
    created = yield store.createAccount(Account("Alice", "hash1", 5.0))
    assert created
    created = yield store.createAccount(Account("ALICE", "hash2", 6.0))
    assert not created
    yield store.setPassword("alice", "hash3")
    account = yield store.account("aLiCe")
    assert account == Account("Alice", "hash3", 5.0)
    nicks = yield store.registeredNicks()
    assert nicks == ["Alice"]
    yield store.deleteAccount("alice")
    account = yield store.account("alice")
    assert account is None


@pytest_twisted.inlineCallbacks
def test_sqliteKeepsAcrossReopening(tmp_path) -> None:
    path = str(tmp_path / "state.sqlite3")
    store = SQLiteStore(reactor, path)
    yield store.start()
    store.addLine(said("#a", "alice", "kept", 1.0))
    yield store.createAccount(Account("alice", "hash", 1.0))
    yield store.stop()  # writes what is queued
    store = SQLiteStore(reactor, path)
    yield store.start()
    lines = yield store.lines("#a", 10)
    account = yield store.account("alice")
    yield store.stop()
    assert lines == [said("#a", "alice", "kept", 1.0)]
    assert account == Account("alice", "hash", 1.0)
    assert os.stat(path).st_mode & 0o777 == 0o600
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


@pytest_twisted.inlineCallbacks
def test_sqliteUpgradesInPlace(tmp_path) -> None:
    """
    A file of schema version 1 (history, no accounts) is upgraded when the store starts, its
    lines kept.
    """
    path = str(tmp_path / "old.sqlite3")
    connection = sqlite3.connect(path)
    for statement in UPGRADES[0]:
        connection.execute(statement)
    connection.execute(
        "INSERT INTO lines (room, roomName, time, nick, text, action)"
        " VALUES ('#a', '#A', 1.0, 'alice', 'old line', 0)"
    )
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    store = SQLiteStore(reactor, path)
    yield store.start()
    lines = yield store.lines("#a", 10)
    created = yield store.createAccount(Account("alice", "hash", 1.0))
    yield store.stop()
    assert lines == [said("#A", "alice", "old line", 1.0)]
    assert created
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


@pytest_twisted.inlineCallbacks
def test_sqliteRefusesANewerSchema(tmp_path) -> None:
    path = str(tmp_path / "new.sqlite3")
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    store = SQLiteStore(reactor, path)
    with pytest.raises(RuntimeError, match="newer"):
        yield store.start()
    yield store.stop()


def test_hubLoadsHistory() -> None:
    """
    A hub on a store replays, in each room it creates, the last lines the store kept of it,
    and keeps what a room said when the room vanishes, for the next time it is created.
    """
    store = MemoryStore()
    for n in range(5):
        store.addLine(said("#lobby", "alice", f"lobby {n}", float(n)))
        store.addLine(said("#Side", "bob", f"side {n}", float(n)))
    clock = MemoryReactorClock()
    hub = Hub(clock, historySize=3, store=store)
    hub.load()
    assert [s.text for s in hub.room("#lobby").history] == ["lobby 2", "lobby 3", "lobby 4"]
    member = Recorder()
    hub.connect(member, "carol")
    hub.join(member, "#side")
    replayed = [e.said.text for e in member.take() if isinstance(e, events.Replayed)]
    assert replayed == ["side 2", "side 3", "side 4"]
    hub.say(member, "#side", "new")
    hub.part(member, "#side")
    hub.join(member, "#side")
    replayed = [e.said.text for e in member.take() if isinstance(e, events.Replayed)]
    assert replayed == ["side 3", "side 4", "new"]


def test_historyCommand() -> None:
    server = FakeServer(history=2, store=MemoryStore())
    alice = server.connect("alice")
    for n in range(5):
        server.clock.advance(1)
        alice.send(f"line {n}")
    alice.send("/msg alice private")
    alice.received()
    alice.send("/history 4")
    assert alice.received() == ["*** The last 4 lines of #lobby:"] + [
        f"[history 1970-01-01T00:00:0{n + 1}Z] <alice> line {n}" for n in range(1, 5)
    ]
    alice.send("/join #empty")
    alice.received()
    alice.send("/history")
    assert alice.received() == ["*** Nothing was said in #empty"]
    alice.send("/history many")
    assert alice.received() == ["!!! Usage: /history [N]"]


def test_pruning() -> None:
    """
    The state service prunes lines older than C{keepDays} every interval, in the store and
    in what the hub keeps of vanished rooms.
    """
    clock = MemoryReactorClock()
    clock.advance(10 * DAY)
    store = MemoryStore()
    hub = Hub(clock, store=store)
    state = StateService(clock, hub, store, keepDays=1, pruneInterval=3600)
    state.startService()
    member = Recorder()
    hub.connect(member, "alice")
    hub.join(member, "#old")
    hub.say(member, "#old", "old line")
    hub.part(member, "#old")
    clock.advance(DAY + 3600)
    hub.join(member, "#old")
    assert not [e for e in member.take() if isinstance(e, events.Replayed)]
    assert store.lines("#old", 10).result == []
    state.stopService()


def test_noClientBeforeTheStateIsLoaded() -> None:
    """
    A client accepted before the store is loaded waits at the gate, so that it is replayed
    its room's history like any other.
    """
    store = MemoryStore()
    store.addLine(said("#lobby", "alice", "from before", 1.0))
    server = FakeServer(history=5)
    server.hub.store = store
    loaded: defer.Deferred[None] = defer.Deferred()
    server.gate.holdUntil(loaded)
    client = server.connect()
    assert client.received() == []
    server.hub.load().chainDeferred(loaded)
    lines = client.received()
    assert lines[0].startswith("*** Welcome")
    assert lines[-1] == "[history 1970-01-01T00:00:01Z] <alice> from before"


def test_stateOptions(tmp_path, monkeypatch) -> None:
    """
    C{--state} names the SQLite file, made absolute (twistd may change directory), by default
    C{chat.sqlite3} here; C{--state ''} keeps everything in memory.  Building the service
    opens no file: starting it does.
    """
    from chat.tap import Options, makeService

    monkeypatch.chdir(tmp_path)

    def parse(*argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    default = parse()
    assert default["state"] == str(tmp_path / "chat.sqlite3")
    assert default["keep-days"] == 30
    service = makeService(default, MemoryReactorClock())
    assert isinstance(service.state.store, SQLiteStore)
    assert list(tmp_path.iterdir()) == []
    assert parse("--state", "kept.db", "--keep-days", "0")["state"] == str(tmp_path / "kept.db")
    service = makeService(parse("--state", ""), MemoryReactorClock())
    assert isinstance(service.state.store, MemoryStore)


def test_roomsMadeAndLeftCannotFillMemory() -> None:
    """
    A client that makes room after room, saying a line in each: the memory store and the
    hub's history of vanished rooms keep a bounded number of rooms, the oldest dropped first.
    """
    from chat.hub import MAX_KEPT_ROOMS
    from chat.store.memory import MAX_ROOMS

    store = MemoryStore()
    server = FakeServer(history=5, limits=NO_FLOOD)
    server.hub.store = store
    (spammer,) = server.connectMany("spammer")
    for n in range(max(MAX_ROOMS, MAX_KEPT_ROOMS) + 50):
        spammer.send(f"/join r{n}")
        spammer.send("x")
    assert len(store._lines) <= MAX_ROOMS
    assert len(server.hub._kept) <= MAX_KEPT_ROOMS
    assert "#r0" not in server.hub._kept and f"#r{MAX_KEPT_ROOMS + 48}" in server.hub._kept


@pytest_twisted.inlineCallbacks
def test_rules(store) -> None:
    """
    Moderation rules are kept by kind, scope and target: saving one again replaces it.
    """
    ban = Rule("ban", "#dev", "nick:mallory", 100.0, "spam", "alice", 1.0)
    store.saveRule(ban)
    store.saveRule(Rule("op", "#dev", "bob", by="alice", created=2.0))
    store.saveRule(Rule("ban", "#dev", "nick:mallory", 200.0, "more spam", "alice", 3.0))
    store.saveRule(Rule("ignore", "carol", "nick:mallory", created=4.0))
    store.deleteRule("op", "#dev", "bob")
    rules = yield store.rules()
    assert sorted(rules, key=lambda rule: rule.created) == [
        Rule("ban", "#dev", "nick:mallory", 200.0, "more spam", "alice", 3.0),
        Rule("ignore", "carol", "nick:mallory", created=4.0),
    ]


@pytest_twisted.inlineCallbacks
def test_sqliteUpgradesAccountsToRules(tmp_path) -> None:
    """
    A file of schema version 2 (history and accounts) gains the rules, its accounts kept.
    """
    path = str(tmp_path / "v2.sqlite3")
    connection = sqlite3.connect(path)
    for statement in UPGRADES[0] + UPGRADES[1]:
        connection.execute(statement)
    connection.execute("INSERT INTO accounts VALUES ('alice', 'Alice', 'hash', 1.0)")
    connection.execute("PRAGMA user_version = 2")
    connection.commit()
    connection.close()
    store = SQLiteStore(reactor, path)
    yield store.start()
    account = yield store.account("alice")
    store.saveRule(Rule("gban", "", "ip:192.0.2.0/24"))
    rules = yield store.rules()
    yield store.stop()
    assert account == Account("Alice", "hash", 1.0)
    assert rules == [Rule("gban", "", "ip:192.0.2.0/24")]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


@pytest_twisted.inlineCallbacks
def test_moderationSurvivesReopeningTheStateFile(tmp_path) -> None:
    """
    What moderation decided (an owner, operators, bans, a lock) is in the SQLite file: a hub
    that loads it again enforces it, and a ban that lapsed meanwhile is gone.
    """
    path = str(tmp_path / "state.sqlite3")
    clock = MemoryReactorClock()
    clock.advance(1000)
    store = SQLiteStore(reactor, path)
    yield store.start()
    hub = Hub(clock, store=store)
    yield hub.load()
    for action, target, until in [
        ("claim", "alice", 0.0),
        ("op", "bob", 0.0),
        ("ban", "nick:mallory", 0.0),
        ("ban", "nick:brief", 1060.0),
        ("lock", "topic", 0.0),
    ]:
        hub.moderation.apply(events.Moderated("#dev", "alice", action, target, "", until))
    hub.moderation.apply(events.Moderated("#dev", "alice", "op", "carol"))
    hub.moderation.apply(events.Moderated("#dev", "alice", "deop", "carol"))
    yield store.stop()

    clock.advance(120)
    store = SQLiteStore(reactor, path)
    yield store.start()
    hub = Hub(clock, store=store)
    yield hub.load()
    rules = yield store.rules()
    yield store.stop()
    assert hub.moderation.owner("#dev") == "alice"
    assert hub.moderation.operators("#dev") == ["bob"]
    assert [rule.target for rule in hub.moderation.bans("#dev")] == ["nick:mallory"]
    assert len(rules) == 4  # the lapsed ban is gone from the file too
    mallory, brief = Recorder(), Recorder()
    hub.connect(mallory, "mallory")
    hub.connect(brief, "brief")
    with pytest.raises(Banned):
        hub.join(mallory, "#dev")
    hub.join(brief, "#dev")
    with pytest.raises(NotRoomOperator):
        hub.setTopic(brief, "#dev", "locked")

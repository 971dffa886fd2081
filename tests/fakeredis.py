"""
An in-memory Redis for L{chat.cluster.ClusterLink} and L{chat.store.redis.RedisStore}: the
subset of commands they run (their scripts included, in Python), with txredisapi's signatures
and results, keys that expire on a test's clock, and a channel.

One L{FakeRedis} is shared by the links of several hubs; each link reaches it through its own
L{FakeConnections}.  Replies are immediate; channel messages arrive one reactor turn later, in
the order they were published, as over one real connection.
"""

from __future__ import annotations

from typing import Any

import txredisapi
from twisted.internet import defer
from twisted.internet.task import Clock

from chat.cluster.link import _RELEASE, ClusterLink
from chat.store import redis as store


def redisRange(items: list[Any], start: int, stop: int) -> list[Any]:
    """
    The items from index C{start} to C{stop}, both included, negative ones counted from the
    end, as LRANGE, LTRIM and ZRANGE take them.
    """
    count = len(items)
    start = max(count + start, 0) if start < 0 else start
    stop = count + stop if stop < 0 else min(stop, count - 1)
    return items[start : stop + 1] if start <= stop else []


class SortedSet:
    """
    A sorted set's value: each member's score; members rank by score, then by their bytes.
    """

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self.scores)

    def ranked(self) -> list[str]:
        return sorted(self.scores, key=lambda member: (self.scores[member], member.encode("utf-8")))

    def removeBelow(self, below: float) -> int:
        gone = [member for member, score in self.scores.items() if score < below]
        for member in gone:
            del self.scores[member]
        return len(gone)


class FakeRedis:
    """
    The server: its keys, and the connections subscribed to its channel.

    @ivar up: whether it accepts connections and commands.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.up = True
        self.data: dict[str, Any] = {}
        self._expiries: dict[str, float] = {}
        self.clients: list[FakeConnections] = []
        self.published: list[str] = []  # every message on the channel, in order

    def crash(self) -> None:
        """
        Stop, losing every key, and drop every connection (each reconnects when it is back).
        """
        self.up = False
        self.data.clear()
        self._expiries.clear()
        for client in list(self.clients):
            client.lost()

    def restart(self) -> None:
        self.up = True
        for client in list(self.clients):
            client.serverBack()

    # Keys

    def _live(self, key: str) -> bool:
        deadline = self._expiries.get(key)
        if deadline is not None and self.clock.seconds() >= deadline:
            del self._expiries[key]
            self.data.pop(key, None)
        return key in self.data

    def value(self, key: str, kind: type, create: bool = False) -> Any:
        if not self._live(key):
            if not create:
                return kind()
            self.data[key] = kind()
        value = self.data[key]
        if not isinstance(value, kind):
            raise txredisapi.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
        return value

    def dropIfEmpty(self, key: str) -> None:
        if key in self.data and not self.data[key]:
            self.delete(key)

    def delete(self, key: str) -> int:
        self._expiries.pop(key, None)
        return int(self.data.pop(key, None) is not None)

    def set(self, key: str, value: str, expire: int | None, nx: bool) -> str | None:
        if nx and self._live(key):
            return None
        self.data[key] = value
        self._expiries.pop(key, None)
        if expire is not None:
            self._expiries[key] = self.clock.seconds() + expire
        return "OK"

    def publish(self, message: str) -> int:
        self.published.append(message)
        listeners = [client for client in self.clients if client.subscribed]
        for client in listeners:
            self.clock.callLater(0, client.deliver, client.generation, message)
        return len(listeners)


class FakeTransport:
    def __init__(self, connections: FakeConnections) -> None:
        self._connections = connections

    def loseConnection(self) -> None:
        self._connections.lost()
        self._connections.serverBack()


class FakeCommands:
    """
    One command connection to a L{FakeRedis}; L{chat.cluster.connections.Commands}.
    """

    def __init__(self, connections: FakeConnections) -> None:
        self._connections = connections
        self.transport = FakeTransport(connections)

    def _run(self, command, *args: Any) -> defer.Deferred[Any]:
        if not self._connections.isCurrent(self):
            return defer.fail(txredisapi.ConnectionError("Not connected"))
        try:
            return defer.succeed(command(self._connections.server, *args))
        except txredisapi.ResponseError as e:
            return defer.fail(e)

    def set(self, key, value, expire=None, pexpire=None, only_if_not_exists=False, only_if_exists=False):
        assert pexpire is None and not only_if_exists, "not faked"
        return self._run(FakeRedis.set, key, value, expire, only_if_not_exists)

    def incr(self, key):
        def incr(server: FakeRedis) -> int:
            value = int(server.value(key, str, create=True) or 0) + 1
            server.data[key] = str(value)
            return value

        return self._run(incr)

    def get(self, key):
        return self._run(lambda server: server.data.get(key) if server._live(key) else None)

    def delete(self, keys, *args):
        keys = [keys] if isinstance(keys, str) else list(keys)
        return self._run(lambda server: sum(server.delete(key) for key in keys + list(args)))

    def exists(self, key):
        return self._run(lambda server: int(server._live(key)))

    def sadd(self, key, members, *args):
        members = [members] if isinstance(members, str) else list(members)

        def sadd(server: FakeRedis) -> int:
            values = server.value(key, set, create=True)
            new = set(members) - values
            values |= new
            return len(new)

        return self._run(sadd)

    def srem(self, key, members, *args):
        members = [members] if isinstance(members, str) else list(members)

        def srem(server: FakeRedis) -> int:
            values = server.value(key, set)
            gone = values & set(members)
            values -= gone
            server.dropIfEmpty(key)
            return len(gone)

        return self._run(srem)

    def smembers(self, key):
        return self._run(lambda server: set(server.value(key, set)))

    def hset(self, key, field, value):
        return self.hmset(key, {field: value}).addCallback(lambda _: 1)

    def hmset(self, key, mapping):
        assert mapping, "Redis refuses an empty HMSET"
        return self._run(lambda server: server.value(key, dict, create=True).update(mapping) or "OK")

    def hdel(self, key, fields):
        fields = [fields] if isinstance(fields, str) else list(fields)

        def hdel(server: FakeRedis) -> int:
            values = server.value(key, dict)
            gone = [field for field in fields if values.pop(field, None) is not None]
            server.dropIfEmpty(key)
            return len(gone)

        return self._run(hdel)

    def hgetall(self, key):
        return self._run(lambda server: dict(server.value(key, dict)))

    def lpush(self, key, value):
        pushed = list(value) if isinstance(value, (list, tuple)) else [value]

        def lpush(server: FakeRedis) -> int:
            values = server.value(key, list, create=True)
            values[:0] = reversed(pushed)  # each in turn at the head, as Redis does
            return len(values)

        return self._run(lpush)

    def ltrim(self, key, start, end):
        def ltrim(server: FakeRedis) -> str:
            values = server.value(key, list)
            values[:] = redisRange(values, start, end)
            server.dropIfEmpty(key)
            return "OK"

        return self._run(ltrim)

    def lrange(self, key, start, end):
        return self._run(lambda server: redisRange(server.value(key, list), start, end))

    def zadd(self, key, score, member, *args):
        pairs = [score, member, *args]
        assert len(pairs) % 2 == 0, "ZADD takes scores and members in pairs"

        def zadd(server: FakeRedis) -> int:
            scores = server.value(key, SortedSet, create=True).scores
            new = 0
            for score, member in zip(pairs[::2], pairs[1::2]):
                new += member not in scores
                scores[member] = float(score)
            return new

        return self._run(zadd)

    def zrange(self, key, start=0, end=-1, withscores=False):
        assert not withscores, "not faked"
        return self._run(lambda server: redisRange(server.value(key, SortedSet).ranked(), start, end))

    def zremrangebyrank(self, key, min=0, max=-1):
        def zremrangebyrank(server: FakeRedis) -> int:
            members = server.value(key, SortedSet)
            gone = redisRange(members.ranked(), min, max)
            for member in gone:
                del members.scores[member]
            server.dropIfEmpty(key)
            return len(gone)

        return self._run(zremrangebyrank)

    def eval(self, script, keys=[], args=[]):
        return self._run(lambda server: SCRIPTS[script](server, list(keys), list(args)))

    def publish(self, channel, message):
        return self._run(lambda server: server.publish(message))

    def sendUnanswered(self, commands):
        """
        Run C{commands}, as C{(NAME, *arguments)}, ignoring what each answers or whether it
        fails, as Redis does when told to send no reply.
        """
        for name, *arguments in commands:
            if name == "LPUSH":
                key, *values = arguments
                arguments = [key, values]
            elif name == "HDEL":
                key, *fields = arguments
                arguments = [key, fields]
            elif name == "LTRIM":
                arguments = [arguments[0], int(arguments[1]), int(arguments[2])]
            getattr(self, name.lower())(*arguments).addErrback(lambda failure: None)


def _release(server: FakeRedis, keys: list[str], args: list[str]) -> int:
    if server._live(keys[0]) and server.data[keys[0]] == args[0]:
        return server.delete(keys[0])
    return 0


def _prune(server: FakeRedis, keys: list[str], args: list[str]) -> int:
    rooms = server.value(keys[0], set)
    pruned = 0
    for room in list(rooms):
        key = args[1] + room
        pruned += server.value(key, SortedSet).removeBelow(float(args[0]))
        server.dropIfEmpty(key)
        if not server._live(key):
            rooms.discard(room)
    server.dropIfEmpty(keys[0])
    return pruned


def _createAccount(server: FakeRedis, keys: list[str], args: list[str]) -> int:
    if server._live(keys[0]):
        return 0
    nick, passwordHash, created = args
    server.value(keys[0], dict, create=True).update(nick=nick, passwordHash=passwordHash, created=created)
    server.value(keys[1], set, create=True).add(nick)
    return 1


def _setPassword(server: FakeRedis, keys: list[str], args: list[str]) -> int:
    if not server._live(keys[0]):
        return 0
    server.value(keys[0], dict)["passwordHash"] = args[0]
    return 1


def _deleteAccount(server: FakeRedis, keys: list[str], args: list[str]) -> int:
    nick = server.value(keys[0], dict).get("nick")
    if nick is not None:
        server.value(keys[1], set).discard(nick)
        server.dropIfEmpty(keys[1])
    return server.delete(keys[0])


def _failedPassword(server: FakeRedis, keys: list[str], args: list[str]) -> int:
    window, most, lockout = (int(arg) for arg in args)
    count = int(server.data[keys[0]]) + 1 if server._live(keys[0]) else 1
    server.data[keys[0]] = str(count)
    if count == 1:
        server._expiries[keys[0]] = server.clock.seconds() + window / 1000
    if count < most:
        return 0
    server.delete(keys[0])
    server.set(keys[1], "1", lockout / 1000, nx=False)
    return 1


def _lockedFor(server: FakeRedis, keys: list[str], args: list[str]) -> int:
    if not server._live(keys[0]):
        return -2
    return int((server._expiries[keys[0]] - server.clock.seconds()) * 1000)


# The scripts the link and the store run, as Redis would run them.
SCRIPTS = {
    _RELEASE: _release,
    store.PRUNE: _prune,
    store.CREATE_ACCOUNT: _createAccount,
    store.SET_PASSWORD: _setPassword,
    store.DELETE_ACCOUNT: _deleteAccount,
    store.FAILED_PASSWORD: _failedPassword,
    store.LOCKED_FOR: _lockedFor,
}


class FakeOpener:
    """
    One command connection to a L{FakeRedis}, for a L{chat.store.redis.RedisStore}; its
    commands fail while the server is down, and work again once it is back.
    """

    def __init__(self, server: FakeRedis) -> None:
        self.server = server
        self.commands: FakeCommands | None = None

    def open(self) -> FakeCommands:
        self.commands = FakeCommands(self)
        return self.commands

    def close(self) -> defer.Deferred[None]:
        self.commands = None
        return defer.succeed(None)

    def isCurrent(self, commands: FakeCommands) -> bool:
        return self.server.up and commands is self.commands

    def lost(self) -> None:
        pass

    def serverBack(self) -> None:
        pass


class FakeConnections:
    """
    A link's two connections to a L{FakeRedis}; L{chat.cluster.connections.Connections}.

    @ivar retry: seconds after the server is back before these connections are, as
        txredisapi's backoff would have it.
    """

    def __init__(self, server: FakeRedis, retry: float = 1.0) -> None:
        self.server = server
        self.retry = retry
        self.link: ClusterLink | None = None
        self.subscribed = False
        self._commands: FakeCommands | None = None
        self._reconnecting = None
        self.dead = False
        # Which connection this is: a message published to an earlier one is lost with it.
        self.generation = 0
        self._held: list[tuple[int, str]] | None = None

    def start(self, link: ClusterLink) -> None:
        self.link = link
        self.server.clients.append(self)
        self.server.clock.callLater(0, self._connect)

    def stop(self) -> defer.Deferred[None]:
        self.lost()
        if self in self.server.clients:
            self.server.clients.remove(self)
        return defer.succeed(None)

    def kill(self) -> None:
        """
        Die as a killed process does: the connections close, and nothing is told to anyone.
        """
        self.dead = True
        self.subscribed = False
        self._commands = None
        self.server.clients.remove(self)

    def isCurrent(self, commands: FakeCommands) -> bool:
        return self.server.up and commands is self._commands

    def _connect(self) -> None:
        self._reconnecting = None
        if self.dead or not self.server.up or self.link is None or self._commands is not None:
            return
        self._commands = FakeCommands(self)
        self.subscribed = True
        self.generation += 1
        self.link.commandsUp(self._commands)
        self.link.subscribed(self)

    def lost(self) -> None:
        commands, self._commands = self._commands, None
        wasSubscribed, self.subscribed = self.subscribed, False
        if self.link is None:
            return
        if commands is not None:
            self.link.commandsDown(commands)
        if wasSubscribed:
            self.link.subscriberDown(self)

    def serverBack(self) -> None:
        if self._reconnecting is None and not self.dead:
            self._reconnecting = self.server.clock.callLater(self.retry, self._connect)

    def pause(self) -> None:
        """
        Stop reading the channel, as a stalled process does: messages wait for L{resume}.
        """
        self._held = []

    def resume(self) -> None:
        held, self._held = self._held or [], None
        for generation, message in held:
            self.deliver(generation, message)

    def deliver(self, generation: int, message: str) -> None:
        if self._held is not None:
            self._held.append((generation, message))
            return
        if self.subscribed and generation == self.generation and self.link is not None:
            self.link.received(message)

"""
The state store in Redis, for a cluster (C{--redis}): every node reads and writes the same
accounts and room history, so that an account registered on one node identifies on any other,
and C{/history} shows what was said on every node.

Its keys are in the cluster's database, under C{chat:DB:store:} (the cluster's own keys, under
C{chat:DB:}, are described in L{chat.cluster}):

- C{version}: the layout of these keys, L{VERSION}; a store refuses to start on a newer one.
- C{history:ROOM} (the folded room name): the room's lines, a sorted set scored by the time
  each was said on its node (the sender's time), so that pruning is a C{ZREMRANGEBYSCORE} a
  room (L{PRUNE}, one script for every room); each member is C{SEQ:ORIGIN:JSON}, where
  C{SEQ} (zero-padded) and C{ORIGIN} (the writing store) keep lines said at one time in the
  order they were said and distinct, and C{JSON} is C{[room as spelt, time, nick, text,
  action]}.  Each room keeps its last L{MAX_HISTORY} lines, all that C{/history} may ask
  for, so that Redis's memory is bounded by rooms, not by time.
- C{rooms}: the folded names of the rooms that have a C{history:ROOM}.
- C{account:NICK} (the folded nick): a hash of C{nick} (as registered), C{passwordHash}
  and C{created}; C{accounts}: the set of the nicks, as registered, that have one (each node
  reads it every few seconds, L{chat.store.service}).  Each change of an account is one
  script, so that two nodes changing one account at once leave it whole.
- C{rules}: the moderation rules (L{Rule}), a hash of C{JSON [kind, scope, target]} to
  C{JSON [until, reason, by, created]}.  Every node applies every moderation action, and
  saves or deletes its rule here: the same change, made again, changes nothing.

Lines are written once a reactor turn: one C{ZADD} and one C{ZREMRANGEBYRANK} per room and
one C{SADD}, sent together without waiting for any reply, so that a busy room costs no round
trip per line; rule changes go with them, in order.  Requests wait for Redis while it is
unreachable (txredisapi reconnects), but at most L{RedisStore.timeout} seconds, after which
they fail with L{StateUnavailable}; lines wait too, at most L{MAX_UNSENT} of them, the others
are dropped (said once in the log).

Redis keeps these keys in memory: they outlive a restart of every node, and a restart of Redis
only if it persists them (C{appendonly yes}, or RDB snapshots).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import txredisapi
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat import events
from chat.attempts import FAILURE_WINDOW, LOCKOUT, MAX_FAILURES
from chat.errors import StateUnavailable
from chat.names import foldNick, foldRoom
from chat.store.interface import MAX_HISTORY, Account, Rule
from chat.store.queue import TurnQueue

VERSION = 1

# Lines queued or sent and not yet acknowledged, at most: what waits for an unreachable Redis.
MAX_UNSENT = 10000

# Forget the lines of every room scored below ARGV[1]; KEYS[1] is the set of rooms, ARGV[2]
# the prefix of a room's key.  A room left empty leaves the set in the same step, so that a
# line written meanwhile by another node cannot lose its room.
PRUNE = """
local pruned = 0
for _, room in ipairs(redis.call('smembers', KEYS[1])) do
  local key = ARGV[2] .. room
  pruned = pruned + redis.call('zremrangebyscore', key, '-inf', '(' .. ARGV[1])
  if redis.call('exists', key) == 0 then redis.call('srem', KEYS[1], room) end
end
return pruned
"""

CREATE_ACCOUNT = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('hset', KEYS[1], 'nick', ARGV[1], 'passwordHash', ARGV[2], 'created', ARGV[3])
redis.call('sadd', KEYS[2], ARGV[1])
return 1
"""

SET_PASSWORD = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('hset', KEYS[1], 'passwordHash', ARGV[1])
return 1
"""

DELETE_ACCOUNT = """
local nick = redis.call('hget', KEYS[1], 'nick')
if nick then redis.call('srem', KEYS[2], nick) end
return redis.call('del', KEYS[1])
"""

# A wrong password (see L{chat.attempts}): count it in a window that starts with the first; at
# the limit, lock the address out.  Returns 1 if it did.
FAILED_PASSWORD = """
local count = redis.call('incr', KEYS[1])
if count == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
if count < tonumber(ARGV[2]) then return 0 end
redis.call('del', KEYS[1])
redis.call('set', KEYS[2], '1', 'px', ARGV[3])
return 1
"""

# Milliseconds a lockout has left, or a negative number if there is none.
LOCKED_FOR = """
return redis.call('pttl', KEYS[1])
"""

T = TypeVar("T")


class Opener(Protocol):
    """
    How a store reaches Redis: L{chat.cluster.connections.RedisCommands} in the daemon, an
    in-memory Redis in C{tests/fakeredis.py}.
    """

    def open(self) -> Any:
        """
        Start connecting; the result runs txredisapi's commands.
        """

    def close(self) -> defer.Deferred[None]: ...


class RedisStore(TurnQueue):
    """
    A L{chat.store.interface.Store} in the Redis of a cluster, shared by all its nodes, which
    also counts wrong passwords for them all (L{chat.attempts.Attempts}).

    @ivar shared: L{True}: each node keeps only its own members' lines, which every node reads.
    @ivar timeout: seconds a request waits for Redis before it fails.
    """

    log = Logger()
    shared = True

    def __init__(
        self, clock: IReactorTime, opener: Opener, db: int = 0, timeout: float = 10.0
    ) -> None:
        TurnQueue.__init__(self, clock)
        self.prefix = f"chat:{db}:store:"
        self.timeout = timeout
        self._opener = opener
        self._redis: Any = None
        # Which store wrote a line, and in what order: lines said at one time stay in order.
        self._origin = uuid.uuid4().hex[:8]
        self._sequence = 0
        self._unsent = 0
        self._dropping = False
        self._writing: set[defer.Deferred[None]] = set()

    # Keys

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _historyKey(self, room: str) -> str:
        return self.prefix + "history:" + room

    def _accountKey(self, nick: str) -> str:
        return self.prefix + "account:" + foldNick(nick)

    # Requests

    def _ask(self, request: Callable[[Any], defer.Deferred[T]]) -> defer.Deferred[T]:
        """
        Run C{request} on the connection, failing with L{StateUnavailable} if Redis does not
        answer within L{timeout} seconds or the connection is lost.  The request itself is
        not cancelled: txredisapi has no way to take back a command it may have sent.
        """
        if self._redis is None:
            return defer.fail(StateUnavailable())
        result: defer.Deferred[T] = defer.Deferred()

        def late() -> None:
            result.errback(StateUnavailable())

        timer = self._clock.callLater(self.timeout, late)

        def done(outcome: object) -> None:
            if not timer.active():
                return  # too late: the caller was told already
            timer.cancel()
            if isinstance(outcome, Failure) and outcome.check(txredisapi.ConnectionError):
                result.errback(StateUnavailable())
            elif isinstance(outcome, Failure):
                result.errback(outcome)
            else:
                result.callback(outcome)

        try:
            asked = request(self._redis)
        except Exception:
            asked = defer.fail()
        asked.addBoth(done)
        return result

    def start(self) -> defer.Deferred[None]:
        self._redis = self._opener.open()

        async def checked(redis: Any) -> None:
            key = self._key("version")
            await redis.set(key, str(VERSION), only_if_not_exists=True)
            found = int(await redis.get(key))
            if found > VERSION:
                raise RuntimeError(
                    f"The state in Redis ({key}) has version {found}, newer than this server's {VERSION}"
                )

        return self._ask(lambda redis: defer.ensureDeferred(checked(redis)))

    def stop(self) -> defer.Deferred[None]:
        """
        Send the queued lines, wait for what was sent (at most L{timeout} seconds), and close.
        """
        self._writeQueued()
        waiting: defer.Deferred[None] = defer.Deferred()

        def stopWaiting(_: object = None) -> None:
            if not waiting.called:
                waiting.callback(None)

        timer = self._clock.callLater(self.timeout, stopWaiting)
        defer.DeferredList(list(self._writing)).addCallback(stopWaiting)

        def close(_: None) -> defer.Deferred[None]:
            if timer.active():
                timer.cancel()
            if self._unsent:
                self.log.warn("{count} lines were not written to Redis", count=self._unsent)
            self._redis = None
            return self._opener.close()

        return waiting.addCallback(close)

    # Lines

    def addLine(self, said: events.Said) -> None:
        if self._unsent + len(self._queued) >= MAX_UNSENT:
            if not self._dropping:
                self._dropping = True
                self.log.warn(
                    "Redis has not taken the last {count} lines: dropping lines until it does",
                    count=MAX_UNSENT,
                )
            return
        self._queued.append(said)
        self._writeSoon()

    def _member(self, said: events.Said) -> str:
        self._sequence += 1
        line = json.dumps([said.room, said.time, said.nick, said.text, said.action], ensure_ascii=False)
        return f"{self._sequence:012d}:{self._origin}:{line}"

    def _writeQueued(self) -> None:
        """
        Send the queued lines and rule changes, all at once.
        """
        if not (self._queued or self._queuedRules) or self._redis is None:
            return
        queued, changes = self._takeQueued()
        rooms: dict[str, list[object]] = {}
        for said in queued:
            rooms.setdefault(foldRoom(said.room), []).extend((said.time, self._member(said)))
        redis = self._redis
        sent = []
        for room, scored in rooms.items():
            key = self._historyKey(room)
            sent.append(redis.zadd(key, *scored))
            sent.append(redis.zremrangebyrank(key, 0, -MAX_HISTORY - 1))
        if rooms:
            sent.append(redis.sadd(self._key("rooms"), list(rooms)))
        rules = self._key("rules")
        for rule, key in changes:
            if rule is not None:
                value = json.dumps([rule.until, rule.reason, rule.by, rule.created], ensure_ascii=False)
                sent.append(redis.hset(rules, _ruleField(rule.key), value))
            else:
                sent.append(redis.hdel(rules, _ruleField(key)))
        self._unsent += len(queued)
        writing = defer.gatherResults(sent, consumeErrors=True)
        self._writing.add(writing)

        def written(outcome: object) -> None:
            self._writing.discard(writing)
            self._unsent -= len(queued)
            if isinstance(outcome, Failure):
                self.log.warn(
                    "Writing {count} lines and {rules} rule changes to Redis failed: {why}",
                    count=len(queued),
                    rules=len(changes),
                    why=outcome.value.subFailure.getErrorMessage()
                    if isinstance(outcome.value, defer.FirstError)
                    else outcome.getErrorMessage(),
                )
            elif self._dropping and not self._unsent:
                self._dropping = False
                self.log.info("Redis takes lines again")

        writing.addBoth(written)

    def _read(self, request: Callable[[Any], defer.Deferred[T]]) -> defer.Deferred[T]:
        """
        Ask after sending the queued lines: one connection answers in order, so that a reader
        sees every line said before it asked.
        """
        self._writeQueued()
        return self._ask(request)

    def _decode(self, member: str | bytes) -> events.Said | None:
        try:
            if isinstance(member, bytes):
                member = member.decode("utf-8")
            room, time, nick, text, action = json.loads(member.split(":", 2)[2])
            return events.Said(room, nick, text, float(time), bool(action))
        except (ValueError, TypeError, IndexError, UnicodeDecodeError):
            self.log.warn("Ignored a malformed line in Redis: {line!r}", line=member[:100])
            return None

    def _decodeAll(self, members: list[str]) -> list[events.Said]:
        return [said for said in map(self._decode, members) if said is not None]

    def lines(self, room: str, limit: int) -> defer.Deferred[list[events.Said]]:
        if limit <= 0:
            return defer.succeed([])
        key = self._historyKey(foldRoom(room))
        return self._read(lambda redis: redis.zrange(key, -limit, -1)).addCallback(self._decodeAll)

    def recentLines(self, limit: int) -> defer.Deferred[dict[str, list[events.Said]]]:
        if limit <= 0:
            return defer.succeed({})

        async def read(redis: Any) -> dict[str, list[events.Said]]:
            rooms = sorted(await redis.smembers(self._key("rooms")))
            found = await defer.gatherResults(
                [redis.zrange(self._historyKey(room), -limit, -1) for room in rooms],
                consumeErrors=True,
            )
            kept = {room: self._decodeAll(members) for room, members in zip(rooms, found)}
            return {room: lines for room, lines in kept.items() if lines}

        return self._read(lambda redis: defer.ensureDeferred(read(redis)))

    def prune(self, before: float) -> defer.Deferred[int]:
        return self._read(
            lambda redis: redis.eval(
                PRUNE, [self._key("rooms")], [repr(float(before)), self.prefix + "history:"]
            )
        )

    # Accounts

    def account(self, nick: str) -> defer.Deferred[Account | None]:
        def found(fields: dict[str, str]) -> Account | None:
            if "passwordHash" not in fields:
                return None
            return Account(fields["nick"], fields["passwordHash"], float(fields["created"]))

        key = self._accountKey(nick)
        return self._ask(lambda redis: redis.hgetall(key)).addCallback(found)

    def registeredNicks(self) -> defer.Deferred[list[str]]:
        key = self._key("accounts")
        return self._ask(lambda redis: redis.smembers(key)).addCallback(sorted)

    def createAccount(self, account: Account) -> defer.Deferred[bool]:
        keys = [self._accountKey(account.nick), self._key("accounts")]
        args = [account.nick, account.passwordHash, repr(account.created)]
        return self._ask(lambda redis: redis.eval(CREATE_ACCOUNT, keys, args)).addCallback(bool)

    def setPassword(self, nick: str, passwordHash: str) -> defer.Deferred[None]:
        keys = [self._accountKey(nick)]
        return self._ask(lambda redis: redis.eval(SET_PASSWORD, keys, [passwordHash])).addCallback(
            lambda _: None
        )

    def deleteAccount(self, nick: str) -> defer.Deferred[None]:
        keys = [self._accountKey(nick), self._key("accounts")]
        return self._ask(lambda redis: redis.eval(DELETE_ACCOUNT, keys, [])).addCallback(
            lambda _: None
        )

    # Wrong passwords (chat.attempts.Attempts), counted in a window that starts with the first
    # rather than a sliding one: two keys an account and address, both expiring.

    def _attemptKeys(self, nick: str, address: str) -> list[str]:
        who = f"{foldNick(nick)}:{address}"
        return [self.prefix + "failures:" + who, self.prefix + "locked:" + who]

    def lockedFor(self, nick: str, address: str) -> defer.Deferred[float]:
        keys = self._attemptKeys(nick, address)[1:]
        return self._ask(lambda redis: redis.eval(LOCKED_FOR, keys, [])).addCallback(
            lambda milliseconds: max(0.0, int(milliseconds) / 1000)
        )

    def failed(self, nick: str, address: str) -> defer.Deferred[bool]:
        keys = self._attemptKeys(nick, address)
        args = [int(FAILURE_WINDOW * 1000), MAX_FAILURES, int(LOCKOUT * 1000)]
        return self._ask(lambda redis: redis.eval(FAILED_PASSWORD, keys, args)).addCallback(bool)

    def succeeded(self, nick: str, address: str) -> None:
        key = self._attemptKeys(nick, address)[0]
        self._ask(lambda redis: redis.delete(key)).addErrback(lambda failure: None)

    # Moderation rules

    def rules(self) -> defer.Deferred[list[Rule]]:
        key = self._key("rules")
        return self._read(lambda redis: redis.hgetall(key)).addCallback(self._decodeRules)

    def _decodeRules(self, fields: dict[str, str]) -> list[Rule]:
        rules = []
        for field, value in fields.items():
            try:
                kind, scope, target = json.loads(field)
                until, reason, by, created = json.loads(value)
                rules.append(Rule(kind, scope, target, float(until), reason, by, float(created)))
            except (ValueError, TypeError):
                self.log.warn("Ignored a malformed rule in Redis: {rule!r}", rule=field[:100])
        return rules



def _ruleField(key: tuple[str, str, str]) -> str:
    return json.dumps(list(key), ensure_ascii=False)

"""
A state store in memory: for C{--state ''}, which keeps nothing across restarts, and for tests.
Each room keeps its last L{MAX_HISTORY} lines, all that C{/history} can ask for, and at most
L{MAX_ROOMS} rooms are kept, the oldest dropped first.
"""

from __future__ import annotations

from collections import deque

from twisted.internet import defer

from chat import events
from chat.names import foldNick, foldRoom
from chat.store.interface import MAX_HISTORY, Account, Rule

MAX_ROOMS = 1000


class MemoryStore:
    """
    A L{chat.store.interface.Store} that keeps everything in this process.
    """

    def __init__(self, maxLines: int = MAX_HISTORY) -> None:
        self._maxLines = maxLines
        self._lines: dict[str, deque[events.Said]] = {}
        self._accounts: dict[str, Account] = {}
        self._rules: dict[tuple[str, str, str], Rule] = {}

    def start(self) -> defer.Deferred[None]:
        return defer.succeed(None)

    def stop(self) -> defer.Deferred[None]:
        return defer.succeed(None)

    def addLine(self, said: events.Said) -> None:
        key = foldRoom(said.room)
        room = self._lines.get(key)
        if room is None:
            room = self._lines[key] = deque(maxlen=self._maxLines)
            if len(self._lines) > MAX_ROOMS:  # a client making rooms cannot fill memory
                del self._lines[next(iter(self._lines))]
        room.append(said)

    def lines(self, room: str, limit: int) -> defer.Deferred[list[events.Said]]:
        kept = self._lines.get(foldRoom(room), ())
        return defer.succeed(list(kept)[-limit:] if limit > 0 else [])

    def recentLines(self, limit: int) -> defer.Deferred[dict[str, list[events.Said]]]:
        if limit <= 0:
            return defer.succeed({})
        return defer.succeed({key: list(kept)[-limit:] for key, kept in self._lines.items() if kept})

    def prune(self, before: float) -> defer.Deferred[int]:
        pruned = 0
        for key in list(self._lines):
            kept = self._lines[key]
            while kept and kept[0].time < before:
                kept.popleft()
                pruned += 1
            if not kept:
                del self._lines[key]
        return defer.succeed(pruned)

    def account(self, nick: str) -> defer.Deferred[Account | None]:
        return defer.succeed(self._accounts.get(foldNick(nick)))

    def registeredNicks(self) -> defer.Deferred[list[str]]:
        return defer.succeed([account.nick for account in self._accounts.values()])

    def createAccount(self, account: Account) -> defer.Deferred[bool]:
        key = foldNick(account.nick)
        if key in self._accounts:
            return defer.succeed(False)
        self._accounts[key] = account
        return defer.succeed(True)

    def setPassword(self, nick: str, passwordHash: str) -> defer.Deferred[None]:
        key = foldNick(nick)
        account = self._accounts.get(key)
        if account is not None:
            self._accounts[key] = Account(account.nick, passwordHash, account.created)
        return defer.succeed(None)

    def deleteAccount(self, nick: str) -> defer.Deferred[None]:
        self._accounts.pop(foldNick(nick), None)
        return defer.succeed(None)

    def rules(self) -> defer.Deferred[list[Rule]]:
        return defer.succeed(list(self._rules.values()))

    def saveRule(self, rule: Rule) -> None:
        self._rules[rule.key] = rule

    def deleteRule(self, kind: str, scope: str, target: str) -> None:
        self._rules.pop((kind, scope, target), None)

"""
The interface of a state store.  Every method that reads or waits returns a L{Deferred}: a
store does its work off the reactor thread (SQLite in its one writer thread), so that a slow
disk never stalls the chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from twisted.internet import defer

from chat import events

# The most lines one request for a room's history returns.
MAX_HISTORY = 500


@dataclass(frozen=True, slots=True)
class Account:
    """
    A registered nick: C{nick} as it was registered, and the argon2id hash of its password.
    """

    nick: str
    passwordHash: str
    created: float


@dataclass(frozen=True, slots=True)
class Rule:
    """
    A standing moderation decision (see L{chat.moderation}), kept across restarts.

    @ivar kind: C{ban}, C{mute}, C{op}, C{owner}, C{lock} (of a room), C{gban} (of the
        server), C{ignore} (of an account).
    @ivar scope: what it applies to: a folded room name, C{""} for the server, or the folded
        account that ignores.
    @ivar target: a mask (bans, mutes, ignores), a folded account (ops, owner), C{topic}
        (locks).
    @ivar until: when it lapses, in seconds since the epoch; 0: never.
    """

    kind: str
    scope: str
    target: str
    until: float = 0.0
    reason: str = ""
    by: str = ""
    created: float = 0.0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.scope, self.target)


class Store(Protocol):
    def start(self) -> defer.Deferred[None]:
        """
        Open the store, creating or upgrading its schema; the other methods may be called
        before the result fires, and wait for it.
        """

    def stop(self) -> defer.Deferred[None]:
        """
        Write what is queued and close the store.
        """

    def addLine(self, said: events.Said) -> None:
        """
        Keep C{said}, a line said in a room.  It is queued, not written at once: lines are
        written together, once a reactor turn, in the order they were added.
        """

    def lines(self, room: str, limit: int) -> defer.Deferred[list[events.Said]]:
        """
        The last C{limit} lines said in C{room} (any case), oldest first.
        """

    def recentLines(self, limit: int) -> defer.Deferred[dict[str, list[events.Said]]]:
        """
        The last C{limit} lines of every room, oldest first, by folded room name: what a
        server replays of each room after a restart.
        """

    def prune(self, before: float) -> defer.Deferred[int]:
        """
        Forget the lines said before C{before}, a time in seconds since the epoch; the result
        is how many were forgotten.
        """

    def account(self, nick: str) -> defer.Deferred[Account | None]:
        """
        The account of C{nick} (any case), or L{None}.
        """

    def registeredNicks(self) -> defer.Deferred[list[str]]:
        """
        Every registered nick, as registered.
        """

    def createAccount(self, account: Account) -> defer.Deferred[bool]:
        """
        Register C{account}; the result is whether its nick was free.
        """

    def setPassword(self, nick: str, passwordHash: str) -> defer.Deferred[None]:
        """
        Give the account of C{nick} a new password hash.
        """

    def deleteAccount(self, nick: str) -> defer.Deferred[None]:
        """
        Forget the account of C{nick}.
        """

    def rules(self) -> defer.Deferred[list[Rule]]:
        """
        Every moderation rule kept (expired ones too: the caller drops those).
        """

    def saveRule(self, rule: Rule) -> None:
        """
        Keep C{rule}, replacing the one with the same kind, scope and target.  Queued, as
        lines are, in order with them.
        """

    def deleteRule(self, kind: str, scope: str, target: str) -> None:
        """
        Forget the rule with this kind, scope and target, if any.  Queued.
        """

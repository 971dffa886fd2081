"""
Wrong passwords, counted per account and address: L{Attempts}.

The L{MAX_FAILURES}th wrong password within L{FAILURE_WINDOW} seconds locks that account, for
that address only, for L{LOCKOUT} seconds, so that a guesser is slowed without locking the
owner out from elsewhere.  One server counts in memory (L{LocalAttempts}); the servers of a
cluster count together, in the Redis they share (L{chat.store.redis.RedisStore}), or a guesser
would get as many tries as there are servers.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from chat.names import foldNick

MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
LOCKOUT = 15 * 60.0


class Attempts(Protocol):
    """
    Where wrong passwords are counted.
    """

    def lockedFor(self, nick: str, address: str) -> defer.Deferred[float]:
        """
        How many seconds C{address} is still locked out of C{nick}'s account: 0 if it is not.
        """

    def failed(self, nick: str, address: str) -> defer.Deferred[bool]:
        """
        Count a wrong password for C{nick} from C{address}; fire with whether that locked
        C{address} out.
        """

    def succeeded(self, nick: str, address: str) -> None:
        """
        A right password for C{nick} from C{address}: its wrong ones no longer count.
        """


class LocalAttempts:
    """
    L{Attempts} in this server's memory, over a sliding window.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        # Times of recent wrong passwords, and lockouts' ends, by (folded nick, address).
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lockedUntil: dict[tuple[str, str], float] = {}

    def lockedFor(self, nick: str, address: str) -> defer.Deferred[float]:
        key = (foldNick(nick), address)
        lockedUntil = self._lockedUntil.get(key)
        if lockedUntil is None:
            return defer.succeed(0.0)
        left = lockedUntil - self._clock.seconds()
        if left <= 0:
            del self._lockedUntil[key]
            return defer.succeed(0.0)
        return defer.succeed(left)

    def failed(self, nick: str, address: str) -> defer.Deferred[bool]:
        key = (foldNick(nick), address)
        now = self._clock.seconds()
        failures = self._failures.get(key)
        if failures is None:
            failures = self._failures[key] = deque()
        failures.append(now)
        while failures and failures[0] <= now - FAILURE_WINDOW:
            failures.popleft()
        locked = len(failures) >= MAX_FAILURES
        if locked:
            del self._failures[key]
            self._lockedUntil[key] = now + LOCKOUT
        self._sweep(now)
        return defer.succeed(locked)

    def succeeded(self, nick: str, address: str) -> None:
        self._failures.pop((foldNick(nick), address), None)

    def _sweep(self, now: float) -> None:
        """
        Drop counts and lockouts that are over, so that a guesser trying many nicks or
        addresses does not grow them without bound.
        """
        if len(self._failures) + len(self._lockedUntil) < 1000:
            return
        for key in [key for key, times in self._failures.items() if times[-1] <= now - FAILURE_WINDOW]:
            del self._failures[key]
        for key in [key for key, until in self._lockedUntil.items() if until <= now]:
            del self._lockedUntil[key]

"""
Admission and lifetime of every front end's connections: L{Gate}.

Whatever protocol a client speaks, it counts against the same C{--max-clients} and
C{--max-per-ip}, is closed by the same idle sweep, and hears of a shutdown.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from chat.limits import Limits
from chat.stats import Stats


class Admitted(Protocol):
    """
    A connection as the gate sees it (L{chat.connection.Connection} is one).
    """

    host: str | None
    countedHost: str | None  # set by the gate: the host it counted it under, if any
    lastActive: float

    @property
    def closing(self) -> bool: ...

    def closeIdle(self) -> None: ...

    def shutdown(self, grace: float) -> None: ...


# Connections let in a reactor turn at most: between two turns the listening sockets are
# drained (see L{chat.accepting}), so that a connect storm never waits on a full accept queue.
ENTER_AT_ONCE = 256


class _Waiting:
    """
    The connections waiting the same time to go in: in the order they came, so in the order
    they may go in, each as when it may and what lets it in.
    """

    __slots__ = ("dues", "letIns")

    def __init__(self) -> None:
        self.dues: deque[float] = deque()
        self.letIns: deque[Callable[[], object]] = deque()


class Gate:
    """
    The connections of every front end, and the limits on them.

    @ivar clock: the reactor's clock, for timeouts and flood limits.
    @ivar stats: the counters of every front end's connections (see L{chat.metrics}).
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, limits: Limits = Limits()) -> None:
        self.clock = clock
        self.limits = limits
        self.stats = Stats()
        self.connections: set[Admitted] = set()
        self.mostConnections = 0  # at once, since the server started
        self._perHost: Counter[str] = Counter()
        self._counts: dict[str, bool] = {}
        self._whenEmpty: list[defer.Deferred[None]] = []
        self._stopping = False
        # One timer for every connection's idle timeout: a DelayedCall each would cost 440
        # bytes of memory a connection and a heap operation per line.
        self._idleCheck = LoopingCall(self._closeIdle)
        self._idleCheck.clock = clock
        # Connections waiting to go in, by how long they wait: one timer for them all, and as
        # little as can be for each (what lets it in, and when), as the objects a connect storm
        # makes and drops leave holes in memory that the idle connections pay for after.
        self._entering: dict[float, _Waiting] = {}
        self._entry: IDelayedCall | None = None
        self._held = False

    def admit(self, connection: Admitted) -> str | None:
        """
        Count C{connection} in, or return why it may not connect now.
        """
        if self._stopping:
            self.stats.refusedConnections["shutting-down"] += 1
            return "The server is shutting down"
        if len(self.connections) >= self.limits.maxClients:
            self.stats.refusedConnections["full"] += 1
            return "The server is full; try again later"
        host = self._countedHost(connection.host)
        if host is not None:
            if self._perHost[host] >= self.limits.maxPerIP:
                self.stats.refusedConnections["per-ip"] += 1
                return f"Too many connections from {host}"
            self._perHost[host] += 1
        connection.countedHost = host
        self.connections.add(connection)
        self.mostConnections = max(self.mostConnections, len(self.connections))
        if self.limits.idleTimeout and not self._idleCheck.running:
            self._idleCheck.start(self.limits.idleCheckInterval, now=False)
        return None

    def enter(self, letIn: Callable[[], object], delay: float = 0.0) -> None:
        """
        For an admitted connection: call C{letIn} when it may go into the chat (register, be
        welcomed, join), C{delay} seconds from now at the end of a reactor turn, or later in a
        connect storm, so that the turns between let the listening ports drain the kernel's
        accept queue.  A connection that went in sooner, or went away, ignores the call.
        """
        waiting = self._entering.get(delay)
        if waiting is None:
            waiting = self._entering[delay] = _Waiting()
        due = self.clock.seconds() + delay
        waiting.dues.append(due)
        waiting.letIns.append(letIn)
        if self._held:
            return
        if self._entry is None:
            self._entry = self.clock.callLater(delay, self._letIn)
        elif due < self._entry.getTime():
            self._entry.reset(delay)

    @property
    def holding(self) -> bool:
        """
        Whether the gate lets nobody in for now (see L{holdUntil}).
        """
        return self._held

    def holdUntil(self, ready: defer.Deferred[object]) -> None:
        """
        Let no connection into the chat until C{ready} fires (either way): the listening ports
        may accept before the server has loaded what it kept (room history, accounts), and a
        client let in before that would miss the replay of its room.
        """
        self._held = True

        def release(result: object) -> object:
            # Those that waited meanwhile have waited long enough: in they go, at once.
            self._held = False
            now = self.clock.seconds()
            for waiting in self._entering.values():
                waiting.dues = deque(min(due, now) for due in waiting.dues)
            if self._entry is None:
                self._scheduleEntry()
            return result

        ready.addBoth(release)

    def _letIn(self) -> None:
        self._entry = None
        now = self.clock.seconds()
        for _ in range(ENTER_AT_ONCE):
            waiting = self._next(now)
            if waiting is None:
                break
            waiting.dues.popleft()
            try:
                waiting.letIns.popleft()()
            except Exception:
                self.log.failure("Letting a connection in")
        self._scheduleEntry()

    def _next(self, now: float) -> _Waiting | None:
        """
        Of the connections due to go in by C{now}, the queue of the one due first.
        """
        first = None
        for waiting in self._entering.values():
            if waiting.dues and waiting.dues[0] <= now:
                if first is None or waiting.dues[0] < first.dues[0]:
                    first = waiting
        return first

    def _scheduleEntry(self) -> None:
        """
        Call L{_letIn} when the next waiting connection is due.
        """
        dues = [waiting.dues[0] for waiting in self._entering.values() if waiting.dues]
        if dues:
            self._entry = self.clock.callLater(max(0.0, min(dues) - self.clock.seconds()), self._letIn)

    def release(self, connection: Admitted) -> None:
        """
        C{connection} is gone (or was never admitted).
        """
        if connection not in self.connections:
            return
        self.connections.remove(connection)
        host = connection.countedHost
        if host is not None:
            self._perHost[host] -= 1
            if not self._perHost[host]:
                del self._perHost[host]
        if not self.connections:
            if self._idleCheck.running:
                self._idleCheck.stop()
            # Who still waits to go in went in sooner, or went away: no timer for them.
            self._entering.clear()
            if self._entry is not None:
                self._entry.cancel()
                self._entry = None
            waiting, self._whenEmpty = self._whenEmpty, []
            for d in waiting:
                d.callback(None)

    def setLimits(self, limits: Limits) -> None:
        """
        Apply new C{limits} (on a reload): at once for admission, the idle sweep and the
        send queues; the connections made from then on get the new input limits too.
        """
        self.limits = limits
        self._counts.clear()
        if self._idleCheck.running:
            self._idleCheck.stop()
        if limits.idleTimeout and self.connections:
            self._idleCheck.start(limits.idleCheckInterval, now=False)

    def _closeIdle(self) -> None:
        """
        Close the connections that did nothing for the idle timeout, once each.
        """
        deadline = self.clock.seconds() - self.limits.idleTimeout
        for connection in [
            c for c in self.connections if c.lastActive <= deadline and not c.closing
        ]:
            connection.closeIdle()

    def _countedHost(self, host: str | None) -> str | None:
        """
        C{host} if its connections count against C{--max-per-ip}, else L{None}; remembered,
        since in a connect storm the same few addresses come thousands of times.
        """
        if host is None:
            return None
        counts = self._counts.get(host)
        if counts is None:
            if len(self._counts) >= 4096:
                self._counts.clear()
            counts = self._counts[host] = self.limits.countsPerIP(host)
        return host if counts else None

    def shutdown(self, grace: float) -> defer.Deferred[None]:
        """
        Admit nobody more; tell every connection the server is going away and close it.  The
        result fires once all are gone, within C{grace} seconds: any still open then (a
        client that does not read) are aborted.
        """
        self._stopping = True
        if not self.connections:
            return defer.succeed(None)
        self.log.info("Shutting down; closing {count} connections", count=len(self.connections))
        done = self.whenEmpty()
        for connection in list(self.connections):
            connection.shutdown(grace)
        return done

    def whenEmpty(self) -> defer.Deferred[None]:
        """
        A L{defer.Deferred} that fires once no connection is left.
        """
        if not self.connections:
            return defer.succeed(None)
        waiting: defer.Deferred[None] = defer.Deferred()
        self._whenEmpty.append(waiting)
        return waiting

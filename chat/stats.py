"""
What the daemon counts as it runs: L{Stats}, plain integers that the hot paths add to.

The counting is kept apart from its export (L{chat.metrics}) so that the hot paths pay an
integer addition, never a call into a metrics library (a lock and a few calls per event), and
so that the core does not depend on C{prometheus_client}.
"""

from __future__ import annotations

import resource
from collections import Counter
from collections.abc import Iterable


class Stats:
    """
    Counters of one daemon, shared by its gate, its front ends and their connections.

    @ivar linesIn: lines received from clients, whatever became of them.
    @ivar deliveries: events queued for members (a room line to a room of 100 counts 100).
    @ivar bytesOut: bytes written to clients.
    @ivar floodHolds: times a client's input was held back by flood control.
    @ivar sendQAborts: connections cut off because they did not read their output.
    @ivar refusedConnections: connections refused, by reason (C{full}, C{per-ip},
        C{shutting-down}, C{tls}, C{http}).
    @ivar refusedLines: lines refused, by reason (C{too-long}, C{invalid-utf8}).
    """

    __slots__ = (
        "linesIn",
        "deliveries",
        "bytesOut",
        "floodHolds",
        "sendQAborts",
        "refusedConnections",
        "refusedLines",
    )

    def __init__(self) -> None:
        self.linesIn = 0
        self.deliveries = 0
        self.bytesOut = 0
        self.floodHolds = 0
        self.sendQAborts = 0
        self.refusedConnections: Counter[str] = Counter()
        self.refusedLines: Counter[str] = Counter()


class Rate:
    """
    The rate of a counter between two readings: C{/stats}'s lines per second.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[float, int] | None = None

    def read(self, now: float, count: int) -> float | None:
        """
        Per second since the last reading, or L{None} at the first (or with no time between).
        """
        last, self._last = self._last, (now, count)
        if last is None or now <= last[0]:
            return None
        return (count - last[1]) / (now - last[0])


def report(
    connections: Iterable[object], stats: Stats, rooms: int, members: int, linesPerSecond: float | None
) -> list[str]:
    """
    What C{/stats} tells a server operator: connections by front end (named by the package
    of the connection's class: C{line}, C{irc}, C{web}), rooms, members, lines per second and
    the process's peak memory.
    """
    byFrontEnd = Counter(type(connection).__module__.split(".")[1] for connection in connections)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    rate = "n/a (first reading)" if linesPerSecond is None else f"{linesPerSecond:.1f}"
    return [
        "Connections: "
        + (", ".join(f"{kind} {count}" for kind, count in sorted(byFrontEnd.items())) or "none")
        + f" ({sum(byFrontEnd.values())} in all)",
        f"Rooms: {rooms}; members, here and on other servers: {members}",
        f"Lines in: {stats.linesIn} in all; {rate} a second since the last /stats",
        f"Deliveries: {stats.deliveries}; bytes out: {stats.bytesOut}",
        f"Memory: {peak / 1024:.1f} MiB at most so far (peak resident set)",
    ]

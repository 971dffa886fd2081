"""
What the daemon counts as it runs: L{Stats}, plain integers that the hot paths add to.

The counting is kept apart from its export (L{chat.metrics}) so that the hot paths pay an
integer addition, never a call into a metrics library (a lock and a few calls per event), and
so that the core does not depend on C{prometheus_client}.
"""

from __future__ import annotations

from collections import Counter


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

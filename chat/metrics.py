"""
What an operator's monitoring reads: C{--metrics ENDPOINT} serves Prometheus's text format at
C{/metrics} and the daemon's state at C{/health}.

Nothing here runs on the hot path.  The daemon counts into plain integers
(L{chat.stats.Stats}) and keeps its state where it lives (the gate's connections, the hub's
members and rooms, the cluster link); L{ChatCollector} reads them when Prometheus scrapes, on
the reactor thread, so that no lock is needed and nothing is read half-updated.  That is also
why C{prometheus_client.twisted.MetricsResource} is not used: it renders in a thread pool.
Each daemon has its own C{CollectorRegistry}: no global state, and two daemons in one test
process do not see each other's numbers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from twisted.application import service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from chat.gate import Gate
from chat.hub import Hub
from chat.relay import isRemote


class LinkState(Protocol):
    """
    What the metrics read of a cluster link (L{chat.cluster.ClusterLink} is one).
    """

    linked: bool
    roundTrip: float | None


def frontEndOf(connection: object) -> str:
    """
    The front end a connection belongs to, named after its package: C{line} for
    L{chat.line.protocol.LineProtocol}, C{irc}, and so on for any front end to come.
    """
    parts = type(connection).__module__.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "chat" else parts[-1]


class LagMeter:
    """
    How late the reactor runs a timer: a busy reactor serves every client late by as much.

    @ivar worst: the worst lag seen since L{takeWorst} last ran, in seconds.
    """

    def __init__(self, clock: IReactorTime, interval: float = 1.0) -> None:
        self._clock = clock
        self._interval = interval
        self._due = 0.0
        self._call: IDelayedCall | None = None
        self.worst = 0.0

    def start(self) -> None:
        self._schedule()

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def takeWorst(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst

    def _schedule(self) -> None:
        self._due = self._clock.seconds() + self._interval
        self._call = self._clock.callLater(self._interval, self._tick)

    def _tick(self) -> None:
        self.worst = max(self.worst, self._clock.seconds() - self._due)
        self._schedule()


class ChatCollector:
    """
    The daemon's metrics, computed when they are scraped: see the module docstring.

    @ivar cluster: the cluster link (with C{linked} and C{roundTrip}), if there is one.
    """

    def __init__(
        self,
        gate: Gate,
        hub: Hub,
        frontEnds: Iterable[str] = (),
        cluster: LinkState | None = None,
        lag: LagMeter | None = None,
    ) -> None:
        self.gate = gate
        self.hub = hub
        self.frontEnds = tuple(frontEnds)
        self.cluster = cluster
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        stats = self.gate.stats
        byFrontEnd = Counter(dict.fromkeys(self.frontEnds, 0))
        byFrontEnd.update(map(frontEndOf, self.gate.connections))
        yield _labelled(
            GaugeMetricFamily, "chat_connections", "Open client connections.", "frontend", byFrontEnd
        )
        members = self.hub.members()
        remote = sum(map(isRemote, members))
        yield _labelled(
            GaugeMetricFamily,
            "chat_members",
            "Members of the chat: this server's clients (local), and other servers' (remote).",
            "where",
            {"local": len(members) - remote, "remote": remote},
        )
        yield GaugeMetricFamily("chat_rooms", "Rooms that exist.", value=len(self.hub.rooms()))
        for name, documentation, value in (
            ("chat_lines_in", "Lines received from clients.", stats.linesIn),
            ("chat_deliveries", "Events queued for members (a line to a room of n counts n).",
             stats.deliveries),
            ("chat_bytes_out", "Bytes written to clients.", stats.bytesOut),
            ("chat_flood_holds", "Times flood control held a client's input back.",
             stats.floodHolds),
            ("chat_sendq_aborts", "Connections cut off for not reading their output.",
             stats.sendQAborts),
        ):
            yield CounterMetricFamily(name, documentation, value=value)
        yield _labelled(
            CounterMetricFamily,
            "chat_refused_connections",
            "Connections refused, by reason.",
            "reason",
            {**dict.fromkeys(("full", "per-ip", "shutting-down", "tls", "http"), 0),
             **stats.refusedConnections},
        )
        yield _labelled(
            CounterMetricFamily,
            "chat_refused_lines",
            "Lines refused, by reason.",
            "reason",
            {"too-long": 0, "invalid-utf8": 0, **stats.refusedLines},
        )
        if self.cluster is not None:
            yield GaugeMetricFamily(
                "chat_cluster_link_up",
                "Whether this server is linked to the cluster's Redis.",
                value=float(bool(self.cluster.linked)),
            )
            roundTrip = self.cluster.roundTrip
            if roundTrip is not None:
                yield GaugeMetricFamily(
                    "chat_redis_round_trip_seconds",
                    "How long the last heartbeat to Redis took to be answered.",
                    value=roundTrip,
                )
        if self.lag is not None:
            yield GaugeMetricFamily(
                "chat_reactor_lag_seconds",
                "The worst delay of a reactor timer since the previous scrape.",
                value=self.lag.takeWorst(),
            )


def _labelled(
    family: Callable[..., Metric], name: str, documentation: str, label: str, values: dict
) -> Metric:
    metric = family(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        metric.add_metric([key], value)
    return metric


class MetricsPage(Resource):
    """
    C{/metrics}: the registry in Prometheus's text format, rendered on the reactor thread.
    """

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode("ascii"))
        return generate_latest(self.registry)


class HealthPage(Resource):
    """
    C{/health}: whether the daemon serves, and whether its cluster link (if any) is up; 200
    when all is well, 503 otherwise, so that a load balancer's probe needs only the status.
    """

    isLeaf = True

    def __init__(self, serving: Callable[[], bool], cluster: LinkState | None = None) -> None:
        super().__init__()
        self.serving = serving
        self.cluster = cluster

    def render_GET(self, request: Request) -> bytes:
        state = {"status": "up" if self.serving() else "stopping"}
        healthy = state["status"] == "up"
        if self.cluster is not None:
            state["cluster"] = "linked" if self.cluster.linked else "down"
            healthy = healthy and bool(self.cluster.linked)
        request.setResponseCode(200 if healthy else 503)
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(state).encode("utf-8") + b"\n"


class QuietSite(Site):
    """
    A L{Site} that logs no line per request: Prometheus scrapes every few seconds.
    """

    noisy = False

    def log(self, request: Request) -> None:
        pass


class MetricsService(service.Service):
    """
    Measures the reactor's lag while the daemon runs; L{site} serves the metrics.
    """

    def __init__(
        self,
        clock: IReactorTime,
        gate: Gate,
        hub: Hub,
        serving: Callable[[], bool],
        frontEnds: Iterable[str] = (),
        cluster: LinkState | None = None,
    ) -> None:
        self.lag = LagMeter(clock)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ChatCollector(gate, hub, frontEnds, cluster, self.lag))
        root = Resource()
        root.putChild(b"metrics", MetricsPage(self.registry))
        root.putChild(b"health", HealthPage(serving, cluster))
        self.site = QuietSite(root)

    def startService(self) -> None:
        super().startService()
        self.lag.start()

    def stopService(self) -> None:
        super().stopService()
        self.lag.stop()

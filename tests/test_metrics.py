"""
C{--metrics}: every family moves when its event happens, in memory (a L{FakeServer} on a fake
clock, the metrics read from the daemon's own registry), and C{/health} says what it should.
"""

from __future__ import annotations

import json

from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from chat.limits import Limits
from chat.metrics import HealthPage, LagMeter, MetricsService, frontEndOf
from helpers import NO_FLOOD, MixedServer
from test_cluster_memory import MemoryCluster
from test_fanout import withSockets


class Metered:
    """
    A L{MixedServer} (line and IRC clients on one hub and gate) with its metrics.
    """

    def __init__(self, limits: Limits = NO_FLOOD, cluster: object | None = None) -> None:
        self.server = MixedServer(limits=limits)
        self.metrics = MetricsService(
            self.server.clock,
            self.server.gate,
            self.server.hub,
            serving=lambda: True,
            frontEnds=["line", "irc"],
            cluster=cluster,
        )

    def value(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


def test_connectionsByFrontEnd() -> None:
    m = Metered()
    assert m.value("chat_connections", frontend="line") == 0
    assert m.value("chat_connections", frontend="irc") == 0
    line = m.server.connect("alice")
    m.server.connectIRC("bob")
    assert m.value("chat_connections", frontend="line") == 1
    assert m.value("chat_connections", frontend="irc") == 1
    line.disconnect()
    assert m.value("chat_connections", frontend="line") == 0
    assert frontEndOf(line.protocol) == "line"


def test_membersAndRooms() -> None:
    m = Metered()
    assert (m.value("chat_members", where="local"), m.value("chat_rooms")) == (0, 1)
    alice = m.server.connect("alice")
    alice.send("/join #dev")
    m.server.hub.addRemote("carol", "elsewhere")
    assert m.value("chat_members", where="local") == 1
    assert m.value("chat_members", where="remote") == 1
    assert m.value("chat_rooms") == 2  # #lobby stays: it is the default room


def test_linesInDeliveriesAndBytesOut() -> None:
    m = Metered()
    alice, bob = m.server.connectMany("alice", "bob")
    before = {name: m.value(name) for name in ("chat_lines_in_total", "chat_deliveries_total", "chat_bytes_out_total")}
    alice.send("hello")
    alice.received(), bob.received()  # the end of the reactor turn: written
    assert m.value("chat_lines_in_total") == before["chat_lines_in_total"] + 1
    assert m.value("chat_deliveries_total") == before["chat_deliveries_total"] + 2  # alice's echo, bob
    assert m.value("chat_bytes_out_total") == before["chat_bytes_out_total"] + 2 * len(b"<alice> hello\r\n")


def test_floodHolds() -> None:
    m = Metered(limits=Limits(floodBurst=1, floodRate=1))
    (alice,) = m.server.connectMany("alice")
    assert m.value("chat_flood_holds_total") == 0
    alice.send("one")
    alice.send("two")
    assert m.value("chat_flood_holds_total") == 1


def test_sendQAborts() -> None:
    m = Metered(limits=Limits(floodRate=0, maxSendQ=100))
    alice, stalled = m.server.connectMany("alice", "stalled")
    stalled.transport.producer.pauseProducing()  # its socket buffer is full
    alice.send("x" * 200)
    m.server.clock.advance(0)
    assert stalled.protocol.closeReason == "SendQ exceeded"
    assert m.value("chat_sendq_aborts_total") == 1


def test_refusedConnectionsByReason() -> None:
    m = Metered(limits=Limits(floodRate=0, maxClients=1))
    m.server.connect()
    assert m.value("chat_refused_connections_total", reason="full") == 0
    m.server.connect()
    assert m.value("chat_refused_connections_total", reason="full") == 1
    m = Metered()
    browser = m.server.connect()
    browser.protocol.dataReceived(b"GET / HTTP/1.1\r\n")
    tls = m.server.connect()
    tls.protocol.dataReceived(b"\x16\x03\x01\x02\x00")
    assert m.value("chat_refused_connections_total", reason="http") == 1
    assert m.value("chat_refused_connections_total", reason="tls") == 1


def test_refusedLinesByReason() -> None:
    m = Metered()
    (alice,) = m.server.connectMany("alice")
    alice.send(b"caf\xe9")
    alice.send(b"x" * 5000)
    assert m.value("chat_refused_lines_total", reason="invalid-utf8") == 1
    assert m.value("chat_refused_lines_total", reason="too-long") == 1


def test_clusterLinkAndRedisRoundTrip() -> None:
    cluster = MemoryCluster("a")
    link = cluster.nodes["a"].link
    m = Metered(cluster=link)
    assert m.value("chat_cluster_link_up") == 1
    assert m.value("chat_redis_round_trip_seconds") is None  # no heartbeat yet
    cluster.run(link.ttl)
    assert m.value("chat_redis_round_trip_seconds") == 0  # the in-memory Redis answers at once
    cluster.nodes["a"].connections.stop()
    assert m.value("chat_cluster_link_up") == 0
    assert Metered().value("chat_cluster_link_up") is None  # no cluster, no such metric


def test_reactorLag() -> None:
    clock = Clock()
    lag = LagMeter(clock, interval=1.0)
    lag.start()
    clock.advance(1.0)
    assert lag.takeWorst() == 0
    clock.advance(3.5)  # a turn that blocked the reactor 2.5 s past the next tick
    assert lag.takeWorst() == 2.5
    assert lag.takeWorst() == 0  # the worst since the last scrape
    lag.stop()
    assert not clock.getDelayedCalls()
    m = Metered()
    m.metrics.startService()
    m.server.clock.advance(1.5)
    m.server.clock.advance(1.5)
    assert m.value("chat_reactor_lag_seconds") == 0.5  # each tick ran 0.5 s late
    m.metrics.stopService()


def test_metricsPageIsPrometheusText() -> None:
    m = Metered()
    m.server.connect("alice")
    request = DummyRequest([b"metrics"])
    page = m.metrics.site.getResourceFor(request)
    body = page.render(request)
    assert request.responseHeaders.getRawHeaders(b"content-type")[0].startswith(b"text/plain")
    assert b'chat_connections{frontend="line"} 1.0' in body
    assert b"# TYPE chat_lines_in_total counter" in body


def render(page: HealthPage) -> tuple[int, dict]:
    request = DummyRequest([b"health"])
    body = page.render(request)
    return request.responseCode or 200, json.loads(body)


class Link:
    linked = True


def test_health() -> None:
    serving = [True]
    assert render(HealthPage(lambda: serving[0])) == (200, {"status": "up"})
    link = Link()
    page = HealthPage(lambda: serving[0], link)
    assert render(page) == (200, {"status": "up", "cluster": "linked"})
    link.linked = False
    assert render(page) == (503, {"status": "up", "cluster": "down"})
    serving[0] = False
    assert render(page) == (503, {"status": "stopping", "cluster": "down"})


def test_twoDaemonsInOneProcessCountApart() -> None:
    """
    No global registry: a second daemon (here, a second test's) starts from zero.
    """
    first, second = Metered(), Metered()
    first.server.connect("alice").send("hi")
    assert first.value("chat_lines_in_total") == 2
    assert second.value("chat_lines_in_total") == 0


def test_bytesOutCountsWhatGoesStraightToTheSocket(monkeypatch) -> None:
    """
    Most turns the fan-out hands a room's lines straight to each socket; those bytes count
    too, once each, however much of them the socket took at once.
    """
    m = Metered()
    alice, bob = m.server.connectMany("alice", "bob")
    sockets = withSockets(monkeypatch, [alice, bob])
    alice.send("zero")  # the first write finds each socket idle; the next go straight to it
    m.server.clock.advance(0)
    sockets["alice"].sent.clear(), sockets["bob"].sent.clear()
    sockets["bob"].room = 5
    before = m.value("chat_bytes_out_total")
    alice.send("hello")
    m.server.clock.advance(0)
    assert sockets["bob"].sent == [b"<alic"]  # the rest went through the transport
    written = b"".join(sockets["alice"].sent + sockets["bob"].sent) + bob.transport.value()
    assert written == b"<alice> hello\r\n" * 2
    assert m.value("chat_bytes_out_total") == before + len(written)


def test_ircLinesTooLongAreCountedToo() -> None:
    m = Metered()
    irc = m.server.connectIRC("dave")
    irc.send("PRIVMSG #lobby :" + "x" * 10000)
    assert m.value("chat_refused_lines_total", reason="too-long") == 1
    assert m.value("chat_lines_in_total") > 0

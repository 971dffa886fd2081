"""
SIGHUP's reload, in memory: what changes at once, what waits for a restart, and a reload that
cannot read its files changes nothing.  (tests/test_service.py sends the real signal.)
"""

from __future__ import annotations

import os
import socket

from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import formatEvent, globalLogPublisher

from chat.systemd import Notifier, notify, watchdogInterval
from chat.tap import Options, makeService
from helpers import FakeClient


def start(tmp_path, text: str):
    config = tmp_path / "chat.toml"
    config.write_text(text)
    options = Options()
    options.parseOptions(["--config", str(config), "--port", "tcp:1234"])
    reactor = MemoryReactorClock()
    service = makeService(options, reactor)
    service.privilegedStartService()
    service.startService()
    factory = reactor.tcpServers[0][1]
    transport = StringTransport()
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(transport)
    return config, reactor, service, FakeClient(protocol, transport)


def test_limitsChangeAtOnceAndNobodyIsDropped(tmp_path) -> None:
    config, reactor, service, client = start(tmp_path, "idle-timeout = 60\nmax-clients = 5\n")
    config.write_text("idle-timeout = 0\nmax-clients = 1\nhistory = 5\n")
    lines: list[str] = []

    def observe(event: dict) -> None:
        lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    try:
        service.reload()
    finally:
        globalLogPublisher.removeObserver(observe)
    assert service.gate.limits.maxClients == 1
    assert service.gate.limits.idleTimeout == 0
    reactor.advance(120)  # the old idle timeout, twice: the sweep is off now
    assert not client.transport.disconnecting
    assert "Reloaded: idle-timeout 60.0 -> 0.0, max-clients 5 -> 1" in lines
    assert "Changed, but only a restart applies it: history" in lines


def test_aBrokenFileChangesNothing(tmp_path) -> None:
    config, reactor, service, client = start(tmp_path, "max-clients = 5\n")
    config.write_text("max-clients = [")
    service.reload()
    assert service.gate.limits.maxClients == 5
    assert service.options["max-clients"] == 5


def test_notifyWithoutSystemdDoesNothing() -> None:
    assert not notify("READY=1", {})
    assert watchdogInterval({}) is None
    assert watchdogInterval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdogInterval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None


def test_notifyAnAbstractSocketAndTheWatchdog() -> None:
    name = f"chat-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        environ = {"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "2000000"}
        reactor = MemoryReactorClock()
        notifier = Notifier(reactor, environ)
        notifier.startService()
        notifier.ready()
        assert [sock.recv(100), sock.recv(100)] == [b"READY=1", b"WATCHDOG=1"]
        reactor.advance(1.0)
        assert sock.recv(100) == b"WATCHDOG=1"
        notifier.stopService()
        assert sock.recv(100) == b"STOPPING=1"
        assert not reactor.getDelayedCalls()

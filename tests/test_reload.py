"""
SIGHUP's reload, in memory: what changes at once, what waits for a restart, and a reload that
cannot read its files changes nothing.  (tests/test_service.py sends the real signal.)
"""

from __future__ import annotations

import os
import socket

from twisted.internet.testing import MemoryReactorClock

from chat.systemd import Notifier, notify, watchdogInterval
from chat.tap import Options
from helpers import startService


def start(tmp_path, text: str):
    config = tmp_path / "chat.toml"
    config.write_text(text)
    options = Options()
    options.parseOptions(["--config", str(config), "--port", "tcp:1234"])
    return (config, *startService(options))


def test_limitsChangeAtOnceAndNobodyIsDropped(tmp_path, logged) -> None:
    config, reactor, service, client = start(tmp_path, "idle-timeout = 60\nmax-clients = 5\n")
    config.write_text("idle-timeout = 0\nmax-clients = 1\nhistory = 5\n")
    service.reload()
    assert service.gate.limits.maxClients == 1
    assert service.gate.limits.idleTimeout == 0
    reactor.advance(120)  # the old idle timeout, twice: the sweep is off now
    assert not client.transport.disconnecting
    assert "Reloaded: idle-timeout 60.0 -> 0.0, max-clients 5 -> 1" in logged
    assert "Changed, but only a restart applies it: history" in logged


def test_operatorsChange(tmp_path, logged) -> None:
    config, reactor, service, client = start(tmp_path, 'oper = ["alice"]\n')
    assert service.hub.moderation.opers == {"alice"}
    config.write_text('oper = ["bob", "Carol"]\n')
    service.reload()
    assert service.hub.moderation.opers == {"bob", "carol"}
    assert "Reloaded: opers ['alice'] -> ['bob', 'Carol']" in logged


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

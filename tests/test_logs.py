"""
The log, as an operator reads it: one line per connection event, plain reasons, refused
lines and flood holds at most once every few seconds per connection; and C{--log-format json}.
"""

from __future__ import annotations

import json

from twisted.internet.error import ConnectionLost
from twisted.logger import Logger

from chat.connection import NOTE_INTERVAL
from chat.limits import Limits
from chat.logs import LogTarget, logTarget
from helpers import FakeServer, MixedServer
from test_cluster_memory import MemoryCluster


def test_refusedLinesAreLoggedAtMostOnceAnInterval(logged) -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    for _ in range(5):
        alice.send(b"caf\xe9")
    assert [line for line in logged if "(alice)" in line] == [
        "127.0.0.1:40001 (alice): refused a line that was not valid UTF-8"
    ]
    server.clock.advance(NOTE_INTERVAL)
    alice.send(b"x" * 3000)
    assert [line for line in logged if "(alice)" in line][1:] == [
        "127.0.0.1:40001 (alice): refused a line over 2048 bytes (and 4 more since)"
    ]


def test_floodHoldsAreLogged(logged) -> None:
    server = FakeServer(limits=Limits(floodBurst=1, floodRate=1))
    (alice,) = server.connectMany("alice")
    alice.send("one")
    alice.send("two")
    assert [line for line in logged if "(alice)" in line] == [
        "127.0.0.1:40001 (alice): flood control holds its input for 1.0 s"
    ]


def test_oneLinePerDisconnectInPlainWords(logged) -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    bob.disconnect(ConnectionLost())
    assert alice.received() == ["*** bob has quit (Connection reset)"]
    alice.send("/quit bye")
    alice.disconnect()
    assert [line for line in logged if "disconnected" in line or "dropped" in line] == [
        "127.0.0.1:40002 (bob) disconnected: Connection reset",
        "127.0.0.1:40001 (alice) disconnected: bye",
    ]


def test_jsonLogLeavesOutDebug(tmp_path) -> None:
    target = LogTarget("json", str(tmp_path / "chat.log"))
    observer = target.observer()
    log = Logger(observer=observer, namespace="chat.test")
    log.debug("for developers")
    log.info("listening on {address}", address="tcp 0.0.0.0:30000")
    # One record a line, each after an RS (RFC 7464), which str.splitlines takes for a line end.
    (line,) = (tmp_path / "chat.log").read_text().rstrip("\n").split("\n")
    event = json.loads(line.lstrip("\x1e"))
    assert event["address"] == "tcp 0.0.0.0:30000"
    assert event["log_format"] == "listening on {address}"


def test_reopenAfterTheFileWasMoved(tmp_path) -> None:
    """
    logrotate moves the file away and sends SIGHUP: the log goes on in a new file by the name.
    """
    target = LogTarget("text", str(tmp_path / "chat.log"))
    log = Logger(observer=target.observer())
    log.info("before")
    (tmp_path / "chat.log").rename(tmp_path / "chat.log.1")
    assert target.reopen()
    log.info("after")
    assert "before" in (tmp_path / "chat.log.1").read_text()
    assert "after" in (tmp_path / "chat.log").read_text()
    assert not LogTarget("text", None).reopen()  # standard output: nothing to reopen


def test_whereTheLogGoes() -> None:
    assert logTarget("text", None) is None  # twistd -y chat.tac: twistd's own observer
    assert logTarget("json", None).path is None
    assert logTarget("text", {"logfile": "-", "nodaemon": True}).path is None
    assert logTarget("text", {"logfile": None, "nodaemon": True}).path is None
    assert logTarget("json", {"logfile": "/var/log/chat.log"}).path == "/var/log/chat.log"
    assert logTarget("text", {"logfile": None, "nodaemon": False}).path == "twistd.log"
    assert logTarget("json", {"syslog": True}) is None


def test_aNormalStopWarnsNobody(logged) -> None:
    """
    A node that stops drops its link to Redis on purpose: no warning in the log, and no
    "link is down" notice to its clients, who are being told the server shuts down.
    """
    cluster = MemoryCluster("a")
    node = cluster.nodes["a"]
    alice = node.person("alice")
    node.link.stopService()
    cluster.clock.advance(0)
    assert not node.link.linked
    assert alice.take() == []
    assert [line for line in logged if "down" in line] == []


def test_anIrcConnectionIsLoggedOnceWhenItEnds(logged) -> None:
    """
    As for line clients: no line for a connect, one for the end, even when the server drops
    it (which IRC answers with ERROR).
    """
    server = MixedServer(limits=Limits(idleTimeout=60))
    iris = server.connectIRC("iris")
    server.clock.advance(70)
    assert iris.transport.disconnecting
    iris.disconnect()
    assert [line for line in logged if "iris" in line] == [
        "127.0.0.1:40001 (iris) disconnected: Idle timeout: no line for 60 seconds"
    ]

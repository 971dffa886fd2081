"""
The daemon as an operator runs it, for real (C{twistd}, loopback sockets): SIGHUP reloads
without dropping anyone, systemd hears READY and STOPPING and can hand over the listening
socket, the metrics and health are served over HTTP, and the log says what an operator needs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import urllib.error
import urllib.request

import pytest

from daemon import TIMEOUT, TWISTD, Daemon, LineSocket, joinAs, startDaemon, waitUntil

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")


def test_sighupReloadsWhileClientsKeepChatting(tmp_path) -> None:
    motd = tmp_path / "motd"
    motd.write_text("old news\n")
    config = tmp_path / "chat.toml"
    config.write_text(f'motd = "{motd}"\nmax-clients = 10\nname = "chat"\n')
    daemon = startDaemon(tmp_path, "--config", str(config))
    try:
        port = daemon.ports[0]
        alice, bob = joinAs(port, "alice"), joinAs(port, "bob")
        alice.readUntil("is now known as bob")
        motd.write_text("new news\n")
        config.write_text(f'motd = "{motd}"\nmax-clients = 20\nname = "renamed"\n')
        daemon.process.send_signal(signal.SIGHUP)
        daemon.waitForLog(r"Reloaded: max-clients 10 -> 20, MOTD$")
        daemon.waitForLog(r"Changed, but only a restart applies it: name$")
        alice.send("still here")
        assert bob.readLine() == "<alice> still here"
        carol = LineSocket(port)
        assert carol.readUntil("MOTD")[-2:] == [
            "*** Welcome to chat, guest3! Type /help for the commands.",
            "*** MOTD: new news",
        ]
        config.write_text('max-clients = "many"\n')  # a mistake: nothing changes
        daemon.process.send_signal(signal.SIGHUP)
        daemon.waitForLog(r"Reload failed; nothing changed: .*max-clients")
        bob.send("and me")
        assert alice.readUntil("<bob>")[-1] == "<bob> and me"
        assert daemon.terminate() == 0
    finally:
        daemon.stop()


@pytest.fixture
def notifySocket(tmp_path):
    """
    A UNIX datagram socket standing in for systemd's NOTIFY_SOCKET.
    """
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(TIMEOUT)
    yield str(path), sock
    sock.close()


def test_readyAndStoppingAreNotified(tmp_path, notifySocket) -> None:
    path, sock = notifySocket
    daemon = startDaemon(tmp_path, env={"NOTIFY_SOCKET": path})
    try:
        assert sock.recv(4096) == b"READY=1"
        joinAs(daemon.ports[0], "alice")  # ready means serving
        daemon.process.send_signal(signal.SIGHUP)
        assert [sock.recv(4096), sock.recv(4096)] == [b"RELOADING=1", b"READY=1"]
        assert daemon.terminate() == 0
        assert sock.recv(4096) == b"STOPPING=1"
    finally:
        daemon.stop()


@pytest.mark.skipif(
    SOCKET_ACTIVATE is None and not os.environ.get("CI"),
    reason="needs systemd-socket-activate (Debian's systemd package)",
)
def test_socketActivation(tmp_path) -> None:
    """
    systemd listens and starts the daemon on the first connection; the daemon adopts the
    socket (C{--port systemd:domain=INET:index=0}) and serves the connection that woke it.
    """
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    daemon = Daemon(
        [
            SOCKET_ACTIVATE or "systemd-socket-activate",
            # systemd always names the sockets it passes; Twisted needs the names.
            "--fdname=chat",
            "-E", "PYTHONPATH",
            "-l", f"127.0.0.1:{port}",
            TWISTD, "-n", "--pidfile=", "chat", "--port", "systemd:domain=INET:index=0",
        ],
        tmp_path,
    )
    try:
        daemon.waitForLog(r"Listening on 127\.0\.0\.1:\d+")
        first = LineSocket(port)  # waits in systemd's socket until the daemon takes it
        assert first.readLine().startswith("*** Welcome to chat")
        daemon.waitForLog(rf"line listening on tcp 127\.0\.0\.1:{port}$")
        assert joinAs(port, "second")
        assert daemon.terminate() == 0
    finally:
        daemon.stop()


def fetch(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_metricsAndHealthOverHTTP(daemons) -> None:
    daemon = daemons("--metrics", "tcp:0:interface=127.0.0.1")
    (metrics,) = [int(m.group(1)) for m in daemon.waitForLog(r"metrics listening on tcp 127\.0\.0\.1:(\d+)$")]
    port = int(daemon.waitForLog(r"line listening on tcp 127\.0\.0\.1:(\d+)$")[0].group(1))
    alice = joinAs(port, "alice")
    alice.send("hello")
    alice.readUntil("<alice> hello")
    status, body = fetch(metrics, "/metrics")
    assert status == 200
    assert 'chat_connections{frontend="line"} 1.0' in body.decode()
    assert "chat_lines_in_total 2.0" in body.decode()  # /nick alice, hello
    assert fetch(metrics, "/health") == (200, b'{"status": "up"}\n')
    assert fetch(metrics, "/nothing")[0] == 404
    assert "GET /metrics" not in daemon.log()  # no line per scrape


def test_whatTheLogSays(daemons) -> None:
    daemon = daemons()
    port = int(daemon.waitForLog(r"line listening on tcp 127\.0\.0\.1:(\d+)$")[0].group(1))
    alice = joinAs(port, "alice")
    browser = LineSocket(port)
    browser.readLine()
    browser.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert browser.readAll()[-1] == "!!! This is a chat server, not a web server"
    daemon.waitForLog(r"\(guest2\) disconnected: This is a chat server, not a web server$")
    bob = joinAs(port, "bob")
    bob.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    bob.close()  # a reset, not a close
    assert alice.readUntil("bob has quit")[-1] == "*** bob has quit (Connection reset)"
    daemon.waitForLog(r"\(bob\) disconnected: Connection reset$")
    assert daemon.terminate() == 0
    log = daemon.log()
    assert "guest2 has joined" not in "".join(alice.readAll())  # the browser never joined
    assert "#warn" not in log and "#debug" not in log and "#error" not in log, log
    assert len([line for line in log.splitlines() if "(bob)" in line]) == 1  # one per event


def test_jsonLog(daemons) -> None:
    daemon = daemons("--log-format", "json")
    (match,) = daemon.waitForLog(r'"log_format": "\{what\} listening on \{address\}\{tls\}"')
    record = json.loads(match.string.lstrip("\x1e"))
    assert record["address"].startswith("tcp 127.0.0.1:")
    assert record["log_level"]["name"] == "info"


def test_logFileRotationAndReopening(tmp_path) -> None:
    """
    With C{--logfile}: SIGUSR1 rotates the file as twistd does; SIGHUP reopens it by name
    after logrotate moved it away.
    """
    log = tmp_path / "chat.log"
    daemon = Daemon(
        [TWISTD, "-n", "--pidfile=", f"--logfile={log}", "chat", "--port", "tcp:0:interface=127.0.0.1"],
        tmp_path,
    )
    try:
        waitUntil(lambda: log.exists() and "line listening on" in log.read_text(), "listening")
        daemon.process.send_signal(signal.SIGUSR1)
        waitUntil(lambda: (tmp_path / "chat.log.1").exists(), "chat.log.1")
        assert "line listening on" in (tmp_path / "chat.log.1").read_text()
        log.rename(tmp_path / "moved.log")
        daemon.process.send_signal(signal.SIGHUP)
        waitUntil(lambda: log.exists() and "Reloaded" in log.read_text(), "a new chat.log")
        assert "Reopened the log file" in (tmp_path / "moved.log").read_text() + log.read_text()
        assert daemon.terminate() == 0
    finally:
        daemon.stop()

"""
The real C{twistd chat} over real loopback sockets, with raw sockets and the real client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from daemon import ROOT, TIMEOUT, TWISTD, LineSocket, connect, runClient, startDaemon


@pytest.fixture
def daemon(daemons):
    return daemons()



def test_broadcastReachesEveryoneIncludingTheSender(daemon) -> None:
    alice, bob, carol = (connect(daemon, nick) for nick in ("alice", "bob", "carol"))
    alice.send("hello, world")
    for client in (alice, bob, carol):
        assert client.readUntil("hello")[-1] == "<alice> hello, world"


def test_welcomeLine(daemon) -> None:
    client = LineSocket(daemon.ports[0])
    assert client.readLine().startswith("*** Welcome to chat, guest")


def test_nickChangeAndPrivateMessage(daemon) -> None:
    alice, bob = connect(daemon, "alice"), connect(daemon, "bob")
    alice.readUntil("is now known as bob")
    bob.send("/nick robert")
    assert alice.readUntil("robert")[-1] == "*** bob is now known as robert"
    alice.send("/msg robert psst")
    assert bob.readUntil("psst")[-1] == "*alice* psst"
    assert alice.readUntil("psst")[-1] == "-> *robert* psst"


def test_roomIsolation(daemon) -> None:
    alice, bob = connect(daemon, "alice"), connect(daemon, "bob")
    bob.send("/join dev")
    bob.readUntil("bob has left #lobby")
    alice.send("lobby only")
    bob.send("dev only")
    alice.send("/who")
    assert alice.readUntil("In #lobby")[-2:] == ["<alice> lobby only", "*** In #lobby (1): alice"]
    bob.send("/who")
    assert bob.readUntil("In #dev")[-2:] == ["<bob> dev only", "*** In #dev (1): bob"]


def test_historyReplay(daemon) -> None:
    alice = connect(daemon, "alice")
    alice.send("remember me")
    alice.readUntil("remember me")
    late = LineSocket(daemon.ports[0])
    replay = late.readUntil("remember me")[-1]
    assert replay.startswith("[history 20") and replay.endswith("] <alice> remember me")


def test_pipedClientDeliversAndExits(daemon) -> None:
    observer = connect(daemon, "observer")
    result = runClient("127.0.0.1", str(daemon.ports[0]), "--nick", "piper", input=b"hello\n")
    assert result.returncode == 0, result.stderr
    assert "<piper> hello" in result.stdout.decode()
    assert observer.readUntil("hello")[-1] == "<piper> hello"
    assert observer.readUntil("piper has quit")[-1] == "*** piper has quit (Quit)"


def test_clientMakesControlCharactersVisible(daemon) -> None:
    sender = connect(daemon, "sender")
    sender.send("/topic ok")
    sender.send(b"\x1b]0;pwned\x07 and \x1b[2J\n")
    result = runClient("127.0.0.1", str(daemon.ports[0]), input=b"")
    assert result.returncode == 0, result.stderr
    assert b"\x1b" not in result.stdout and b"\x07" not in result.stdout
    assert "^[]0;pwned^G and ^[[2J" in result.stdout.decode()


def test_clientConnectionRefused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = runClient("127.0.0.1", str(port))
    assert result.returncode == 1
    assert result.stderr.decode().count("\n") == 1
    assert "cannot connect to 127.0.0.1" in result.stderr.decode()


def test_clientSeesTheServerGo(tmp_path) -> None:
    daemon = startDaemon(tmp_path)
    client = subprocess.Popen(
        [sys.executable, "-m", "chat.client", "127.0.0.1", str(daemon.ports[0]), "--no-reconnect"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    try:
        assert client.stdout.readline().startswith(b"*** Welcome")
        assert daemon.terminate() == 0
        out, err = client.communicate(timeout=10)
    finally:
        client.kill()
    assert client.returncode == 1
    assert b"*** Server shutting down" in out
    assert b"closed the connection" in err


def test_sigtermSendsNoticeAndExitsZero(tmp_path) -> None:
    daemon = startDaemon(tmp_path)
    clients = [connect(daemon, f"user{n}") for n in range(3)]
    assert daemon.terminate() == 0
    for client in clients:
        assert "*** Server shutting down" in client.readAll()
    assert "Traceback" not in daemon.log()


def test_severalPortsAtOnce(tmp_path) -> None:
    sock = str(tmp_path / "chat.sock")
    options = ["--port", "tcp:0:interface=127.0.0.1", "--port", f"unix:{sock}"]
    if socket.has_ipv6:
        options += ["--port", "tcp6:0:interface=\\:\\:1"]
    daemon = startDaemon(tmp_path, *options, ports=len(options) // 2)
    try:
        viaUnix = LineSocket.unix(sock)
        viaUnix.readUntil("has joined")
        viaTcp = LineSocket(daemon.ports[0])
        viaTcp.readUntil("has joined")
        viaTcp.send("over tcp")
        assert viaUnix.readUntil("over tcp")[-1].endswith("> over tcp")
        if socket.has_ipv6:
            viaTcp6 = LineSocket(daemon.ports[1], "::1", socket.AF_INET6)
            viaTcp6.readUntil("has joined")
            viaTcp6.send("over tcp6")
            assert viaUnix.readUntil("over tcp6")[-1].endswith("> over tcp6")
    finally:
        daemon.stop()


def test_tlsWithTheClient(tmp_path) -> None:
    from certs import writeCertificate

    key, cert = writeCertificate(tmp_path)
    daemon = startDaemon(
        tmp_path, "--port", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
    )
    try:
        port = str(daemon.ports[0])
        result = runClient("127.0.0.1", port, "--tls", "--cafile", str(cert), input=b"secure\n")
        assert result.returncode == 0, result.stderr
        assert "> secure" in result.stdout.decode()
        untrusted = subprocess.Popen(  # input stays open: the client must give up by itself
            [sys.executable, "-m", "chat.client", "127.0.0.1", port, "--tls"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        )
        try:
            assert untrusted.wait(20) == 1
            assert "TLS with 127.0.0.1" in untrusted.stderr.read().decode()
        finally:
            untrusted.kill()
        insecure = runClient("127.0.0.1", port, "--tls", "--insecure", input=b"anyway\n")
        assert insecure.returncode == 0, insecure.stderr
        assert "> anyway" in insecure.stdout.decode()
        assert "certificate is not checked" in insecure.stderr.decode()
    finally:
        daemon.stop()


def test_motdAndName(tmp_path) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_text("Welcome aboard\n", encoding="utf-8")
    daemon = startDaemon(tmp_path, "--motd", str(motd), "--name", "Testnet")
    try:
        client = LineSocket(daemon.ports[0])
        assert client.readLine().startswith("*** Welcome to Testnet, guest")
        assert client.readLine() == "*** MOTD: Welcome aboard"
    finally:
        daemon.stop()


def test_twistdListsThePlugin() -> None:
    result = subprocess.run([TWISTD, "--help"], capture_output=True, timeout=30)
    assert b"chat " in result.stdout and b"A line-based chat server" in result.stdout
    help = subprocess.run([TWISTD, "chat", "--help"], capture_output=True, timeout=30)
    for option in [b"--port", b"--motd", b"--history", b"--name", b"--default-room"]:
        assert option in help.stdout


def test_tacServesOnTheDefaultPort(tmp_path) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 30000)) == 0:
            pytest.skip("something already listens on 127.0.0.1:30000")
    from daemon import Daemon

    daemon = Daemon([TWISTD, "-n", "--pidfile=", "-y", str(ROOT / "chat.tac")], tmp_path)
    try:
        assert daemon.ports == [30000]
        client = LineSocket(30000)
        assert client.readLine().startswith("*** Welcome to chat, guest")
        assert daemon.terminate() == 0
    finally:
        daemon.stop()


def test_clientReconnectsWithItsNickAndRoom(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    where = ("--port", f"tcp:{port}:interface=127.0.0.1")
    daemon = startDaemon(tmp_path, *where)
    client = subprocess.Popen(
        [sys.executable, "-m", "chat.client", "127.0.0.1", str(port), "--nick", "alice"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    try:
        client.stdin.write(b"/join dev\n")
        client.stdin.flush()
        while b"alice has joined #dev" not in client.stdout.readline():
            pass
        assert daemon.terminate() == 0
        daemon = startDaemon(tmp_path, *where)
        while b"alice has joined #dev" not in client.stdout.readline():
            pass
        watcher = LineSocket(port)
        watcher.send("/who #dev")
        assert watcher.readUntil("In #dev")[-1] == "*** In #dev (1): alice"
        client.stdin.close()
        assert client.wait(10) == 0
        errors = client.stderr.read().decode()
        assert "reconnecting" in errors and "reconnected to" in errors
    finally:
        client.kill()
        daemon.stop()


def test_theInstalledPackageHasEverySubpackage(tmp_path) -> None:
    # From outside the checkout, so that only the installed package can answer.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "chat.client", "--help"],
        capture_output=True, cwd=tmp_path, env=env, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert b"--no-reconnect" in result.stdout
    cluster = subprocess.run(
        [sys.executable, "-c", "import chat.cluster.link"],
        capture_output=True, cwd=tmp_path, env=env, timeout=TIMEOUT,
    )
    assert cluster.returncode == 0, cluster.stderr


@pytest.mark.parametrize("kind", ["unix", "tcp"])
def test_clientConnectsToAnEndpoint(tmp_path, kind) -> None:
    sock = tmp_path / "chat.sock"
    daemon = startDaemon(
        tmp_path, "--port", "tcp:0:interface=127.0.0.1", "--port", f"unix:{sock}", ports=2
    )
    try:
        observer = connect(daemon, "observer")
        endpoint = f"unix:{sock}" if kind == "unix" else f"tcp:127.0.0.1:{daemon.ports[0]}"
        result = runClient("--connect", endpoint, "--nick", f"via{kind}", input=b"hello\n")
        assert result.returncode == 0, result.stderr
        assert f"<via{kind}> hello" in result.stdout.decode()
        assert observer.readUntil("hello")[-1] == f"<via{kind}> hello"
    finally:
        daemon.stop()


def test_clientHintsWhenTheServerNeverWelcomesIt() -> None:
    with socket.socket() as silent:  # accepts (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        result = runClient("127.0.0.1", str(port), "--welcome-timeout", "0.2")
    assert result.returncode == 1
    assert result.stderr.decode() == (
        f"chat: no answer from 127.0.0.1:{port} in 0.2 s: is this a TLS port? try --tls\n"
    )


def test_clientConnectsToATLSEndpointAndHintsOnItsPort(tmp_path) -> None:
    from certs import writeCertificate

    key, cert = writeCertificate(tmp_path)
    (tmp_path / "ca").mkdir()  # trustRoots= is a directory of certificates, nothing else
    (tmp_path / "ca" / "cert.pem").write_bytes(cert.read_bytes())
    daemon = startDaemon(
        tmp_path, "--port", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
    )
    try:
        port = daemon.ports[0]
        endpoint = f"tls:127.0.0.1:{port}:trustRoots={tmp_path / 'ca'}"
        result = runClient("--connect", endpoint, input=b"secure\n")
        assert result.returncode == 0, result.stderr
        assert "> secure" in result.stdout.decode()
        for argv in ([], ["--nick", "plain"]):  # nothing sent, or a line the server cannot take
            plain = runClient("127.0.0.1", str(port), "--welcome-timeout", "1", *argv)
            assert plain.returncode == 1
            assert plain.stderr.decode().endswith(": is this a TLS port? try --tls\n")
    finally:
        daemon.stop()


def test_clientRefusesAnEndpointItCannotUse() -> None:
    result = runClient("--connect", "carrier-pigeon:coop")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("chat: cannot use the endpoint carrier-pigeon:coop: ")

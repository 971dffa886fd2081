"""
The web front end of the real daemon over real sockets: C{twistd chat --web}, spoken to with
the C{websockets} client (in this thread: it blocks, and the daemon is another process) and
plain HTTP, next to a raw line client.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from daemon import TIMEOUT, Daemon, joinAs

WEB = ("--web", "tcp:0:interface=127.0.0.1")


def webPort(daemon: Daemon) -> int:
    return int(daemon.waitForLog(r"ChatSite.* starting on (\d+)")[0].group(1))


def linePort(daemon: Daemon) -> int:
    return int(daemon.waitForLog(r"LineFactory starting on (\d+)")[0].group(1))


def receive(socket, wanted: str) -> list[dict]:
    """
    Messages up to and including the first of type C{wanted}.
    """
    messages: list[dict] = []
    while not messages or messages[-1]["type"] != wanted:
        messages.append(json.loads(socket.recv(timeout=TIMEOUT)))
    return messages


def test_chatOverARealSocket(daemons) -> None:
    daemon = daemons(*WEB)
    url = f"ws://127.0.0.1:{webPort(daemon)}/ws"
    line = joinAs(linePort(daemon), "bob")
    with connect(url, origin=f"http://127.0.0.1:{webPort(daemon)}") as alice:
        [welcome] = receive(alice, "welcome")
        assert welcome["nick"].startswith("guest") and welcome["defaultRoom"] == "#lobby"
        alice.send(json.dumps({"type": "nick", "nick": "alice"}))
        alice.send(json.dumps({"type": "join", "room": "#lobby"}))
        members = receive(alice, "members")[-1]
        assert members["nicks"] == ["alice", "bob"]
        alice.send(json.dumps({"type": "say", "room": "#lobby", "text": "héllo <b>bob</b>"}))
        assert line.readUntil("héllo")[-1] == "<alice> héllo <b>bob</b>"
        line.send("hi alice")
        said = receive(alice, "said")
        assert said[-1]["nick"] == "alice"
        said = receive(alice, "said")[-1]
        assert said["text"] == "hi alice" and said["nick"] == "bob"
        alice.send("{broken")
        assert "not JSON" in receive(alice, "error")[-1]["text"]
    assert line.readUntil("alice has quit")[-1].endswith("alice has quit (Connection closed)")
    line.close()


def test_otherOriginRefused(daemons) -> None:
    daemon = daemons(*WEB)
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{webPort(daemon)}/ws", origin="http://evil.example")
    assert refused.value.response.status_code == 403
    daemon.waitForLog(r"Refused a WebSocket from http://evil\.example")


def test_allowedOrigins(daemons) -> None:
    daemon = daemons(*WEB, "--web-origin", "https://chat.example.org")
    url = f"ws://127.0.0.1:{webPort(daemon)}/ws"
    with connect(url, origin="https://chat.example.org") as socket:
        assert receive(socket, "welcome")
    with pytest.raises(InvalidStatus):
        connect(url, origin=f"http://127.0.0.1:{webPort(daemon)}")


def test_pageOverHTTPS(daemons, tmp_path) -> None:
    """
    C{ssl:} serves the page over https and the WebSocket over wss, with the same headers.
    """
    from certs import writeCertificate

    key, cert = writeCertificate(tmp_path)
    daemon = daemons("--web", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
    port = webPort(daemon)
    context = ssl.create_default_context(cafile=str(cert))
    page = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=TIMEOUT)
    page.request("GET", "/")
    response = page.getresponse()
    assert response.status == 200 and b"chat.js" in response.read()
    assert "wss://127.0.0.1" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    page.close()
    with connect(f"wss://127.0.0.1:{port}/ws", ssl=context, origin=f"https://127.0.0.1:{port}") as socket:
        assert receive(socket, "welcome")
        started = time.monotonic()
    # The server closes the stream as soon as the client closes the WebSocket, and does not
    # leave it to give up waiting (ten seconds).
    assert time.monotonic() - started < 2


def test_shutdownTellsTheBrowser(daemons) -> None:
    daemon = daemons(*WEB)
    with connect(f"ws://127.0.0.1:{webPort(daemon)}/ws") as socket:
        receive(socket, "welcome")
        assert daemon.terminate() == 0
        assert receive(socket, "notice")[-1]["text"] == "Server shutting down"


def test_logInOverARealSocket(daemons) -> None:
    """
    The login form's C{identify}, over a real WebSocket to the real daemon (which keeps
    accounts in its state file): a nick registered from a line client is taken by logging
    in; the member list showed its owner away; the password is in no log line.
    """
    daemon = daemons(*WEB)
    line = joinAs(linePort(daemon), "alice")
    line.send("/register secret123")
    line.readUntil("alice is registered")
    line.send("/away back at five")
    line.readUntil("You are marked as away")
    with connect(f"ws://127.0.0.1:{webPort(daemon)}/ws") as web:
        receive(web, "welcome")
        web.send(json.dumps({"type": "join", "room": "#lobby"}))
        assert receive(web, "members")[-1]["away"] == {"alice": "back at five"}
        line.send("/quit")
        receive(web, "quit")
        web.send(json.dumps({"type": "identify", "nick": "alice", "password": "secret123"}))
        assert receive(web, "notice")[-1]["text"] == "You are identified as alice"
        assert receive(web, "nick")[-1]["new"] == "alice"
    assert "secret123" not in daemon.log()

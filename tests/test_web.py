"""
The web front end in memory: the page, its headers and the WebSocket at C{/ws} over a
L{StringTransport}, spoken to with C{wsproto}'s client side, on the same hub and gate as a line
client, on a fake clock.
"""

from __future__ import annotations

import json

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from chat import connection, events
from chat.gate import Gate
from chat.hub import Hub
from chat.limits import Limits
from chat.line.protocol import ENTRY_DELAY, LineFactory
from chat.web.protocol import WebFactory
from chat.web.site import ChatSite
from chat.accounts import Accounts
from chat.store import MemoryStore
from helpers import CHEAP_HASHER, NO_FLOOD, FakeClient, runNow
from test_fanout import FakeSocket

HOST = "chat.test"
ORIGIN = f"http://{HOST}"


class Server:
    """
    A hub and gate with a web site and a line factory on them, on a fake clock.
    """

    def __init__(
        self, limits: Limits = NO_FLOOD, origins: tuple[str, ...] = (), accounts: bool = False
    ) -> None:
        self.clock = MemoryReactorClock()
        store = MemoryStore() if accounts else None
        self.hub = Hub(
            self.clock,
            store=store,
            accounts=Accounts(self.clock, store, CHEAP_HASHER, runInThread=runNow) if store else None,
        )
        self.gate = Gate(self.clock, limits)
        self.site = ChatSite(WebFactory(self.hub, self.gate, name="testchat"), origins)
        self.line = LineFactory(self.hub, self.gate)
        self._peers = 0

    def transport(self, peer: str) -> StringTransport:
        self._peers += 1
        return StringTransport(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
            peerAddress=IPv4Address("TCP", peer, 40000 + self._peers),
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """
        The status, headers (lower-cased names) and body of C{GET path}.
        """
        transport = self.transport("10.0.0.1")
        channel = self.site.buildProtocol(transport.getPeer())
        channel.makeConnection(transport)
        lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.clock.advance(0)
        head, _, body = transport.value().partition(b"\r\n\r\n")
        status, *fields = head.decode().split("\r\n")
        parsed = {}
        for field in fields:
            name, _, value = field.partition(": ")
            parsed[name.lower()] = value
        return int(status.split()[1]), parsed, body

    def browser(self, origin: str | None = ORIGIN, peer: str = "10.0.0.1") -> Browser:
        return Browser(self, origin, peer)

    def lineClient(self) -> FakeClient:
        transport = self.transport("10.0.0.9")
        protocol = self.line.buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        self.clock.advance(0)  # in and welcomed
        self.clock.advance(ENTRY_DELAY)  # and in the default room
        client = FakeClient(protocol, transport)
        client.received()
        return client


class Browser:
    """
    A WebSocket client of the in-memory server.
    """

    def __init__(self, server: Server, origin: str | None, peer: str) -> None:
        self.server = server
        self.transport = server.transport(peer)
        self.channel = server.site.buildProtocol(self.transport.getPeer())
        self.channel.makeConnection(self.transport)
        self.ws = WSConnection(ConnectionType.CLIENT)
        headers = [("Origin", origin)] if origin is not None else []
        self.accepted = False
        self.rejected: int | None = None
        self.closed: int | None = None
        self._messages: list[dict] = []
        self._text = ""
        self.channel.dataReceived(self.ws.send(Request(host=HOST, target="/ws", extra_headers=headers)))
        self._pump()

    def _pump(self) -> None:
        self.server.clock.advance(0)
        data = self.transport.value()
        self.transport.clear()
        self.receiveData(data)

    def receiveData(self, data: bytes) -> None:
        """
        Read C{data} as what the server sent: through the transport, or straight to a socket.
        """
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self.accepted = True
            elif isinstance(event, RejectConnection):
                self.rejected = event.status_code
            elif isinstance(event, RejectData):
                pass
            elif isinstance(event, TextMessage):
                self._text += event.data
                if event.message_finished:
                    self._messages.append(json.loads(self._text))
                    self._text = ""
            elif isinstance(event, CloseConnection):
                self.closed = event.code

    def sendRaw(self, text: str | bytes) -> None:
        message = BytesMessage(text) if isinstance(text, bytes) else TextMessage(text)
        self.channel.dataReceived(self.ws.send(message))

    def send(self, **command: object) -> None:
        self.sendRaw(json.dumps(command))

    def received(self) -> list[dict]:
        """
        The messages received since the last call.
        """
        self._pump()
        messages, self._messages = self._messages, []
        return messages

    def types(self) -> list[str]:
        return [message["type"] for message in self.received()]

    def join(self, nick: str, room: str = "#lobby") -> Browser:
        self.send(type="nick", nick=nick)
        self.send(type="join", room=room)
        self.received()
        return self

    def disconnect(self) -> None:
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        self.channel.connectionLost(Failure(ConnectionDone()))


@pytest.fixture
def server() -> Server:
    return Server()


def withoutTimes(messages: list[dict]) -> list[dict]:
    for message in messages:
        assert isinstance(message.pop("time"), float)
    return messages


# The page


def test_pageHeaders(server: Server) -> None:
    """
    The page comes with a policy that allows no inline script and nothing from elsewhere.
    """
    status, headers, body = server.get("/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b'<script src="/static/chat.js"' in body
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy and "http:" not in policy and "https:" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "path, kind", [("/static/chat.js", "text/javascript"), ("/static/chat.css", "text/css"), ("/static/icon.svg", "image/svg+xml")]
)
def test_staticFiles(server: Server, path: str, kind: str) -> None:
    status, headers, body = server.get(path)
    assert status == 200 and headers["content-type"].startswith(kind) and body
    assert headers["x-content-type-options"] == "nosniff"


def test_noOtherFiles(server: Server) -> None:
    """
    Only the page's own files are served: no directory listing, no way out of the directory.
    """
    for path in ("/static/", "/static/../protocol.py", "/static/%2e%2e/protocol.py", "/nothing"):
        status, headers, body = server.get(path)
        assert status == 404, path
        assert b"import" not in body
        assert "content-security-policy" in headers


def test_scriptIsNotInline() -> None:
    """
    The page has no inline script, style or event handler, which the policy would refuse.
    """
    from importlib import resources

    page = resources.files("chat.web").joinpath("static/index.html").read_text()
    assert "<script>" not in page and "<style" not in page and " on" not in page.replace("\n", " ").lower().split("<body")[1].split("lang")[0]
    script = resources.files("chat.web").joinpath("static/chat.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script


# Origins


def test_sameOrigin(server: Server) -> None:
    browser = server.browser()
    assert browser.accepted
    [welcome] = withoutTimes(browser.received())
    assert welcome == {"type": "welcome", "nick": "guest1", "server": "testchat", "defaultRoom": "#lobby"}


def test_otherOriginRefused(server: Server) -> None:
    """
    A page of another site cannot open a socket with its visitor's browser.
    """
    for origin in ("http://evil.test", "https://chat.test", "http://chat.test.evil.test", "null"):
        browser = server.browser(origin=origin)
        assert browser.rejected == 403 and not browser.accepted, origin
    assert not server.gate.connections


def test_noOriginAccepted(server: Server) -> None:
    """
    A client that is not a browser sends no Origin, and could send any: it is let in.
    """
    assert server.browser(origin=None).accepted


def test_configuredOrigins() -> None:
    server = Server(origins=("https://chat.example.org", "http://other.test/"))
    assert server.browser(origin="https://chat.example.org").accepted
    assert server.browser(origin="http://other.test").accepted
    assert server.browser(origin=ORIGIN).rejected == 403


# Chat


def test_chatWithLineClient(server: Server) -> None:
    """
    A web user and a line user meet in the same room, through the same hub.
    """
    line = server.lineClient()
    line.send("/nick bob")
    browser = server.browser()
    browser.received()
    browser.send(type="nick", nick="alice")
    browser.send(type="join", room="#lobby")
    messages = withoutTimes(browser.received())
    assert messages == [
        {"type": "nick", "old": "guest2", "new": "alice"},
        {"type": "joined", "room": "#lobby", "nick": "alice"},
        {"type": "members", "room": "#lobby", "nicks": ["alice", "bob"], "topic": "", "away": {}},
    ]
    assert "*** alice has joined #lobby" in line.received()
    browser.send(type="say", room="#lobby", text="<img src=x onerror=alert(1)>")
    assert "<alice> <img src=x onerror=alert(1)>" in line.received()
    [said] = browser.received()
    assert said["type"] == "said" and said["text"] == "<img src=x onerror=alert(1)>"
    assert said["time"] == server.clock.seconds()
    line.send("hi alice")
    line.send("/me waves")
    assert withoutTimes(browser.received()) == [
        {"type": "said", "room": "#lobby", "nick": "bob", "text": "hi alice"},
        {"type": "action", "room": "#lobby", "nick": "bob", "text": "waves"},
    ]
    browser.send(type="msg", to="bob", text="psst")
    assert "*alice* psst" in line.received()
    line.send("/msg alice yes?")
    assert withoutTimes(browser.received()) == [
        {"type": "private", "from": "alice", "to": "bob", "text": "psst", "echo": True},
        {"type": "private", "from": "bob", "to": "alice", "text": "yes?", "echo": False},
    ]
    browser.send(type="me", room="#lobby", text="nods")
    assert "* alice nods" in line.received()
    line.send("/nick robert")
    line.send("/topic plans")
    line.disconnect()
    assert withoutTimes(browser.received()) == [
        {"type": "action", "room": "#lobby", "nick": "alice", "text": "nods"},
        {"type": "nick", "old": "bob", "new": "robert"},
        {"type": "topic", "room": "#lobby", "nick": "robert", "topic": "plans"},
        {"type": "quit", "nick": "robert", "reason": "Connection closed"},
    ]


def test_historyAndTopicOnJoining(server: Server) -> None:
    line = server.lineClient()
    line.send("/topic the lobby")
    line.send("earlier")
    browser = server.browser()
    browser.received()
    browser.send(type="join", room="lobby")
    messages = withoutTimes(browser.received())
    assert [m["type"] for m in messages] == ["joined", "topic", "history", "members"]
    assert messages[1] == {"type": "topic", "room": "#lobby", "nick": None, "topic": "the lobby"}
    assert messages[2] == {"type": "history", "room": "#lobby", "nick": "guest1", "text": "earlier", "action": False}
    assert messages[3]["topic"] == "the lobby"


def test_commands(server: Server) -> None:
    browser = server.browser().join("alice")
    browser.send(type="join", room="#dev")
    browser.send(type="topic", room="#dev", topic="building")
    browser.send(type="rooms")
    browser.send(type="who", room="#lobby")
    browser.send(type="topic", room="#dev")
    browser.send(type="part", room="#dev")
    messages = withoutTimes(browser.received())
    assert [m["type"] for m in messages] == ["joined", "members", "topic", "rooms", "members", "topic", "left"]
    assert messages[3]["rooms"] == [
        {"name": "#dev", "members": 1, "topic": "building"},
        {"name": "#lobby", "members": 1, "topic": ""},
    ]
    browser.send(type="quit", reason="bye")
    assert browser.types() == ["notice"]
    assert browser.closed == 1000 and browser.transport.disconnecting


@pytest.mark.parametrize(
    "raw, error",
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": 3}', "JSON object"),
        ('{"type": "dance"}', "Unknown command type"),
        ('{"type": "say", "room": "#lobby"}', "say needs room and text"),
        ('{"type": "say", "room": "#lobby", "text": 5}', "say needs room and text"),
        ('{"type": "join", "room": "#lobby", "extra": {}}', "must be a string"),
        ('{"type": "say", "room": "#nowhere", "text": "hi"}', "No such room: #nowhere"),
        ('{"type": "nick", "nick": "1bad"}', "nick"),
        ('{"type": "msg", "to": "nobody", "text": "hi"}', "No such nick"),
        ('{"type": "say", "room": "#lobby", "text": "a\\u0000b"}', "U+0000"),
        ("[" * 100000 + "]" * 100000, "too long"),
        ("[" * 1400 + "]" * 1400, "not JSON"),
        ('{"type": "say", "room": "#lobby", "text": "\\ud800"}', "surrogate"),
    ],
)
def test_badMessages(server: Server, raw: str, error: str) -> None:
    """
    A bad message gets an error event, never a traceback, and the connection goes on.
    """
    browser = server.browser().join("alice")
    browser.sendRaw(raw)
    [message] = browser.received()
    assert message["type"] == "error" and error in message["text"], message
    browser.send(type="say", room="#lobby", text="still here")
    assert browser.types() == ["said"]


def test_binaryMessage(server: Server) -> None:
    browser = server.browser().join("alice")
    browser.sendRaw(b"\x00\x01")
    [message] = browser.received()
    assert message["type"] == "error" and "binary" in message["text"]


def test_textTooLong(server: Server) -> None:
    browser = server.browser().join("alice")
    browser.send(type="say", room="#lobby", text="x" * 2049)
    [message] = browser.received()
    assert message["type"] == "error" and "Text too long" in message["text"]
    browser.send(type="say", room="#lobby", text="x" * 2048)
    assert browser.types() == ["said"]


def test_endlessMessage() -> None:
    """
    A message that never ends is not gathered for ever: past --max-recvq bytes the
    connection is closed.
    """
    server = Server(Limits(floodRate=0, maxRecvQ=10000))
    browser = server.browser().join("alice")
    for _ in range(12):
        browser.channel.dataReceived(browser.ws.send(TextMessage("x" * 1000, message_finished=False)))
    messages = browser.received()
    assert messages[-1]["type"] == "error" and "no end of message" in messages[-1]["text"]
    assert browser.closed == 1000


def test_flood() -> None:
    """
    Past its burst, a client's messages wait, and the socket is not read meanwhile.
    """
    server = Server(Limits(floodBurst=3, floodRate=1.0))
    browser = server.browser().join("alice")  # two messages of the burst
    for n in range(3):
        browser.send(type="say", room="#lobby", text=f"line {n}")
    assert [m["text"] for m in browser.received()] == ["line 0"]
    assert browser.transport.producerState == "paused"
    server.clock.advance(1)
    assert [m["text"] for m in browser.received()] == ["line 1"]
    server.clock.advance(1)
    assert [m["text"] for m in browser.received()] == ["line 2"]
    assert browser.transport.producerState == "producing"


def test_gateLimits() -> None:
    """
    The gate counts web connections with the others, and closes idle ones.
    """
    server = Server(Limits(maxClients=1, idleTimeout=60))
    first = server.browser()
    assert first.types() == ["welcome"]
    second = server.browser()
    [refusal] = second.received()
    assert refusal["type"] == "error" and "full" in refusal["text"] and second.closed == 1000
    server.clock.advance(61)
    server.clock.advance(10)
    messages = first.received()
    assert messages[-1]["type"] == "error" and "Idle timeout" in messages[-1]["text"]
    assert first.closed == 1000


def test_sendQ() -> None:
    """
    A browser that stops reading is cut off past --max-sendq, like any client.
    """
    server = Server(Limits(floodRate=0, maxSendQ=5000))
    reader = server.browser().join("reader")
    talker = server.browser().join("talker")
    reader.transport.producer.pauseProducing()  # as a full socket buffer would
    for n in range(100):
        talker.send(type="say", room="#lobby", text=f"line {n} " + "x" * 100)
    server.clock.advance(0)
    [protocol] = [c for c in server.gate.connections if c.nick == "reader"]
    assert protocol.closeReason == "SendQ exceeded"
    assert reader.transport.disconnecting


def test_disconnectTellsTheRoom(server: Server) -> None:
    line = server.lineClient()
    browser = server.browser().join("alice")
    line.received()
    browser.disconnect()
    assert "*** alice has quit (Connection closed)" in line.received()
    assert not [c for c in server.gate.connections if c is not line.protocol]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_textFrame(size: int) -> None:
    """
    A frame made once for every recipient is the frame C{wsproto} would make for each.
    """
    from wsproto.frame_protocol import FrameProtocol

    from chat.web.render import textFrame

    text = ("é" * size)[: size // 2] + "x" * (size - size // 2)
    assert textFrame(text) == FrameProtocol(client=False, extensions=[]).send_data(text, fin=True)


# Frames straight to the socket


def withSockets(monkeypatch: pytest.MonkeyPatch, *browsers: Browser) -> dict[Browser, FakeSocket]:
    """
    Give each browser a L{FakeSocket} under its WebSocket, open to a direct send while nothing
    is buffered in its stream, as a real connection's socket is.
    """
    for browser in browsers:
        browser.received()  # nothing buffered
    sockets = {browser.transport: FakeSocket() for browser in browsers}

    def idleSocket(transport: object) -> FakeSocket | None:
        if transport not in sockets or transport.value() or transport.disconnecting:
            return None
        return sockets[transport]

    monkeypatch.setattr(connection, "idleSocket", idleSocket)
    return {browser: sockets[browser.transport] for browser in browsers}


def test_framesGoStraightToTheSocket(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Once nothing is buffered in its stream, a browser's frames go straight to its socket, as a
    line client's lines do: the same frames, with no write through the stream.
    """
    alice, bob = server.browser().join("alice"), server.browser().join("bob")
    sockets = withSockets(monkeypatch, alice, bob)
    bob.send(type="say", room="#lobby", text="hi")
    server.clock.advance(0)
    for browser in alice, bob:
        assert browser.transport.value() == b""
        browser.receiveData(b"".join(sockets[browser].sent))
        [said] = browser.received()
        assert (said["type"], said["nick"], said["text"]) == ("said", "bob", "hi")


def test_twistedsOwnFramesGoFirst(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    A pong that Twisted's WebSocket wrote to the stream is sent before the frames that follow
    it, which go through the stream until it is empty: a frame sent straight to the socket
    could overtake it, and, sent in part, be split by it.
    """
    from wsproto.events import Ping

    alice, bob = server.browser().join("alice"), server.browser().join("bob")
    sockets = withSockets(monkeypatch, alice, bob)
    bob.send(type="say", room="#lobby", text="one")
    server.clock.advance(0)
    assert len(sockets[alice].sent) == 1  # straight to the socket, from now on
    alice.channel.dataReceived(alice.ws.send(Ping(b"x")))
    bob.send(type="say", room="#lobby", text="two")
    server.clock.advance(0)
    assert len(sockets[alice].sent) == 1
    pong, _, said = alice.transport.value().partition(b"\x81")
    assert pong == b"\x8a\x01x" and b'"text":"two"' in said
    alice.received()  # the stream is empty again: straight to the socket
    bob.send(type="say", room="#lobby", text="three")
    server.clock.advance(0)
    assert len(sockets[alice].sent) == 2 and b'"text":"three"' in sockets[alice].sent[-1]


def test_nothingAfterTheClientsClose(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Once the client closed the WebSocket, and Twisted's answered with its close frame, the
    room's next frames go nowhere: none after a close frame, as RFC 6455 says.
    """
    alice, bob = server.browser().join("alice"), server.browser().join("bob")
    sockets = withSockets(monkeypatch, alice, bob)
    bob.send(type="say", room="#lobby", text="before")
    server.clock.advance(0)
    alice.channel.dataReceived(alice.ws.send(CloseConnection(1000)))
    bob.send(type="say", room="#lobby", text="after")
    server.clock.advance(0)
    assert len(sockets[alice].sent) == 1
    assert alice.transport.disconnecting and alice.transport.value() == b"\x88\x02\x03\xe8"


# The options


def test_webOptions() -> None:
    from twisted.python import usage

    from chat.tap import Options, makeService

    options = Options()
    options.parseOptions(["--web", "tcp:8080", "--web", "unix:/tmp/web.sock", "--web-origin", "https://a.test"])
    assert options["webPorts"] == ["tcp:8080", "unix:/tmp/web.sock"]
    assert options["webOrigins"] == ["https://a.test"]
    with pytest.raises(usage.UsageError, match="--web bogus:1"):
        Options().parseOptions(["--web", "bogus:1"])
    reactor = MemoryReactorClock()
    options = Options()
    options.parseOptions(["-p", "tcp:1234", "--web", "tcp:8080", "--web-origin", "https://a.test", "--name", "net"])
    service = makeService(options, reactor)
    service.privilegedStartService()
    service.startService()
    (_, line, _, _), (port, site, _, _) = reactor.tcpServers
    assert isinstance(site, ChatSite) and port == 8080
    assert site.factory.hub is line.hub and site.factory.gate is line.gate and site.factory.name == "net"
    assert site.resource.children[b"ws"].origins == {"https://a.test"}


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\x81\x02hi", 1002),  # not masked
        (b"\x81\x82\x00\x00\x00\x00\xff\xfe", 1007),  # not UTF-8
        (b"\x83\x80\x00\x00\x00\x00", 1002),  # a reserved opcode
        (b"\x89\xfe\x01\x00\x00\x00\x00\x00" + b"x" * 256, 1002),  # a control frame too long
    ],
)
def test_badFrames(server: Server, frame: bytes, code: int) -> None:
    """
    A frame that breaks the WebSocket protocol fails the connection, as RFC 6455 says, with
    the close code that says why, and nothing raised.
    """
    browser = server.browser().join("alice")
    browser.channel.dataReceived(frame)
    assert browser.received() == []
    assert browser.closed == code and browser.transport.disconnecting


def test_idleHTTPConnectionsClose(server: Server) -> None:
    """
    An HTTP connection that sends no request is closed after a minute; a WebSocket is the
    gate's to time out, not HTTP's.
    """
    from chat.web.site import HTTP_TIMEOUT

    transport = server.transport("10.0.0.1")
    channel = server.site.buildProtocol(transport.getPeer())
    channel.makeConnection(transport)
    browser = server.browser().join("alice")
    server.clock.advance(HTTP_TIMEOUT + 1)
    assert transport.disconnecting
    assert not browser.transport.disconnecting


def test_moderation(server: Server) -> None:
    """
    A web user sees moderation as events with their text, and types the moderation commands
    as a line user does: refused when not an operator, obeyed for an ignore.
    """
    server.hub.accounts = Accounts(server.clock, MemoryStore(), CHEAP_HASHER, runInThread=runNow)
    line = server.lineClient()
    line.send("/nick alice")
    line.send("/register secret123")
    line.send("/claim")
    browser = server.browser().join("mallory")
    line.received()
    browser.send(type="command", room="#lobby", text="/kick alice")
    assert withoutTimes(browser.received()) == [
        {"type": "error", "text": "You are not an operator of #lobby"}
    ]
    browser.send(type="command", room="#lobby", text="/ignore alice")
    line.send("can you hear me?")
    assert withoutTimes(browser.received()) == [
        {"type": "notice", "text": "You ignore account:alice now"}
    ]
    browser.send(type="command", room="#lobby", text="/nick x")
    assert browser.received()[0]["text"] == "Unknown command /nick"
    line.send("/kick mallory spam")
    assert withoutTimes(browser.received()) == [
        {
            "type": "moderated",
            "room": "#lobby",
            "by": "alice",
            "action": "kick",
            "target": "mallory",
            "reason": "spam",
            "until": None,
            "text": "alice kicked mallory from #lobby (spam)",
        }
    ]
    assert server.hub.roomsOf(server.hub.find("mallory")) == []


def test_serverBanRefusedAtConnect(server: Server) -> None:
    server.hub.moderation.apply(events.Moderated("", "root", "gban", "ip:10.6.6.0/24", "abuse"))
    browser = server.browser(peer="10.6.6.6")
    assert withoutTimes(browser.received()) == [
        {"type": "error", "text": "You are banned from this server (abuse)"}
    ]
    assert browser.transport.disconnecting
# Away and accounts


def test_away() -> None:
    """
    A web user goes away with C{away} and comes back with it empty; the others in its rooms
    see it (line users do not hear of it); the member list says who is away, and a private
    message to someone away tells so.
    """
    server = Server()
    line = server.lineClient()
    line.send("/nick bob")
    alice, carol = server.browser(), server.browser()
    for browser, nick in ((alice, "alice"), (carol, "carol")):
        browser.send(type="nick", nick=nick)
        browser.send(type="join", room="#lobby")
    for browser in (alice, carol):
        browser.received()
    line.received()
    alice.send(type="away", text="brb")
    assert withoutTimes(alice.received()) == [{"type": "away", "nick": "alice", "away": "brb"}]
    assert withoutTimes(carol.received()) == [{"type": "away", "nick": "alice", "away": "brb"}]
    assert line.received() == []
    carol.send(type="members", room="#lobby")
    carol.send(type="msg", to="alice", text="hello?")
    assert withoutTimes(carol.received()) == [
        {"type": "members", "room": "#lobby", "nicks": ["alice", "bob", "carol"], "topic": "", "away": {"alice": "brb"}},
        {"type": "private", "from": "carol", "to": "alice", "text": "hello?", "echo": True},
        {"type": "away", "nick": "alice", "away": "brb"},
    ]
    line.send("/away lunch")
    assert withoutTimes(alice.received())[-1] == {"type": "away", "nick": "bob", "away": "lunch"}
    alice.send(type="away")
    assert withoutTimes(carol.received()) == [
        {"type": "away", "nick": "bob", "away": "lunch"},
        {"type": "away", "nick": "alice", "away": ""},
    ]


def test_identifyAndRegister() -> None:
    """
    The login form's commands: C{register} a nick, then, connected again, C{identify} as its
    owner, which takes the nick; a wrong password is an error, and never echoed.
    """
    server = Server(accounts=True)
    alice = server.browser()
    alice.send(type="nick", nick="alice")
    alice.send(type="register", password="secret123")
    assert withoutTimes(alice.received())[-1] == {
        "type": "notice",
        "text": "alice is registered; log in as alice next time",
    }
    alice.send(type="quit")
    again = server.browser()
    again.received()
    again.send(type="nick", nick="alice")
    again.send(type="identify", nick="alice", password="wrong-password")
    again.send(type="identify", nick="Alice", password="secret123")
    messages = withoutTimes(again.received())
    assert messages[0]["type"] == "error" and "registered" in messages[0]["text"]
    assert messages[1:] == [
        {"type": "error", "text": "Wrong password for alice"},
        {"type": "notice", "text": "You are identified as alice"},
        {"type": "nick", "old": messages[3]["old"], "new": "alice"},
    ]
    assert "secret123" not in json.dumps(messages)
    again.send(type="identify", nick="alice")
    assert withoutTimes(again.received()) == [
        {"type": "error", "text": "identify needs nick and password (non-empty strings)"}
    ]

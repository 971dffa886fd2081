"""
Drive the server in memory: a hub and factory on a fake clock, clients on StringTransports;
or the hub alone, with L{Recorder}s for members.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from chat import events
from chat.hub import Hub
from chat.limits import Limits
from chat.protocol import ChatFactory, ChatProtocol


class Recorder:
    """
    A member of a hub that keeps what it is told.
    """

    def __init__(self) -> None:
        self.nick = ""
        self.events: list[events.Event] = []

    def deliver(self, event: events.Event) -> None:
        self.events.append(event)

    def take(self) -> list[events.Event]:
        taken, self.events = self.events, []
        return taken


class FakeClient:
    """
    One connection to an in-memory server, read and written a line at a time.
    """

    def __init__(self, protocol: ChatProtocol, transport: StringTransport) -> None:
        self.protocol = protocol
        self.transport = transport

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        self.protocol.dataReceived(data + b"\r\n")

    def received(self) -> list[str]:
        """
        The lines received since the last call, without their CRLF.
        """
        self.protocol.factory.clock.advance(0)  # the end of the reactor turn: output is written
        data = self.transport.value()
        self.transport.clear()
        assert data == b"" or data.endswith(b"\r\n"), data
        return [line.decode("utf-8") for line in data.split(b"\r\n")[:-1]]

    def disconnect(self, reason: Exception = ConnectionDone()) -> None:
        self.protocol.connectionLost(Failure(reason))


class FakeServer:
    def __init__(
        self, history: int = 20, motd: tuple[str, ...] = (), limits: Limits = Limits()
    ) -> None:
        self.clock = MemoryReactorClock()
        self.hub = Hub(self.clock, historySize=history)
        self.factory = ChatFactory(self.hub, self.clock, name="testchat", motd=motd, limits=limits)
        self._ports = 40000

    def connect(self, nick: str | None = None, host: str = "127.0.0.1") -> FakeClient:
        """
        Connect a client; with C{nick}, take that nick and forget what it was told so far.
        """
        self._ports += 1
        peer = IPv4Address("TCP", host, self._ports)
        protocol = self.factory.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        protocol.makeConnection(transport)
        client = FakeClient(protocol, transport)
        if nick is not None:
            client.send(f"/nick {nick}")
            client.received()
        return client

    def connectMany(self, *nicks: str) -> list[FakeClient]:
        clients = [self.connect(nick) for nick in nicks]
        for client in clients:
            client.received()
        return clients

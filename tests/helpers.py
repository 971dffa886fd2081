"""
Drive the server in memory: a hub and factory on a fake clock, clients on StringTransports;
or the hub alone, with L{Recorder}s for members.
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from chat import events
from chat.accounts import Accounts
from chat.gate import Gate
from chat.hub import Hub
from chat.irc.protocol import IRCFactory, IRCProtocol
from chat.limits import Limits
from chat.moderation import Moderation
from chat.line.protocol import LineFactory, LineProtocol
from chat.store.interface import Store
from chat.tap import ChatService, Options, makeService


# The server's answers to telnet options in the input: not lines (test_telnet checks them).
_TELNET_ANSWER = re.compile(rb"\xff[\xfb-\xfe].", re.DOTALL)

NO_FLOOD = Limits(floodRate=0)

# argon2id at its cheapest: the tests check the logic, not the cost.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def runNow(f, *args, **kwargs) -> defer.Deferred:
    """
    Run C{f} at once, in place of L{twisted.internet.threads.deferToThread}: tests in memory
    use no threads.
    """
    return defer.maybeDeferred(f, *args, **kwargs)


class Recorder:
    """
    A member of a hub that keeps what it is told.
    """

    def __init__(self, echo: bool = True) -> None:
        self.nick = ""
        self.echo = echo
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

    def __init__(self, protocol: LineProtocol | IRCProtocol, transport: StringTransport) -> None:
        self.protocol = protocol
        self.transport = transport

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        self.protocol.dataReceived(data + b"\r\n")

    def sent(self) -> bytes:
        """
        What the server sent since the last call, as bytes: for what is not lines, such as
        telnet's answers or a packet client's output.
        """
        self.protocol.factory.gate.clock.advance(0)  # the end of the reactor turn: output is written
        data = self.transport.value()
        self.transport.clear()
        return data

    def received(self) -> list[str]:
        """
        The lines received since the last call, without their CRLF.
        """
        data = _TELNET_ANSWER.sub(b"", self.sent())
        assert data == b"" or data.endswith(b"\r\n"), data
        return [line.decode("utf-8") for line in data.split(b"\r\n")[:-1]]

    def disconnect(self, reason: Exception = ConnectionDone()) -> None:
        self.protocol.connectionLost(Failure(reason))


def countWrites(client: FakeClient) -> list[bytes]:
    """
    Every C{write} to C{client}'s transport from now on (each still written).
    """
    writes: list[bytes] = []
    write = client.transport.write

    def counted(data: bytes) -> None:
        writes.append(data)
        write(data)

    client.transport.write = counted
    return writes


def startService(options: Options) -> tuple[MemoryReactorClock, ChatService, FakeClient]:
    """
    The daemon's whole service for C{options} on a memory reactor, started, with a client
    connected to its first line port.
    """
    reactor = MemoryReactorClock()
    service = makeService(options, reactor)
    service.privilegedStartService()
    service.startService()
    factory = reactor.tcpServers[0][1]
    transport = StringTransport()
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(transport)
    return reactor, service, FakeClient(protocol, transport)


class FakeServer:
    def __init__(
        self,
        history: int = 20,
        motd: tuple[str, ...] = (),
        limits: Limits = Limits(),
        store: Store | None = None,
        hub: Hub | None = None,
        clock: Clock | None = None,
        opers: tuple[str, ...] = (),
    ) -> None:
        """
        @param store: a state store, for history and accounts (hashing at once, in memory).
        @param hub: the hub to serve, on C{clock}, in place of a new one: a node of a cluster
            in memory.
        @param opers: the accounts that are server operators once identified.
        """
        if hub is not None and clock is not None:
            self.clock = clock
            self.hub = hub
        else:
            self.clock = MemoryReactorClock()
            accounts = None
            if store is not None:
                accounts = Accounts(self.clock, store, CHEAP_HASHER, runInThread=runNow)
            self.hub = Hub(
                self.clock,
                historySize=history,
                store=store,
                accounts=accounts,
                moderation=Moderation(self.clock, opers),
            )
            if store is not None:
                self.hub.load()
        self.gate = Gate(self.clock, limits)
        self.factory = LineFactory(self.hub, self.gate, name="testchat", motd=motd)
        self._ports = 40000

    def connect(self, nick: str | None = None, host: str = "127.0.0.1") -> FakeClient:
        """
        Connect a client; with C{nick}, take that nick and forget what it was told so far.
        """
        client = self._connectTo(self.factory, host)
        if nick is not None:
            client.send(f"/nick {nick}")
            client.received()
        return client

    def _connectTo(
        self, factory: LineFactory | IRCFactory, host: str, wait: bool = True
    ) -> FakeClient:
        """
        Connect to C{factory}; unless told not to C{wait}, let a line client in as its first
        input would (see L{chat.line.protocol}), with no time passing.
        """
        self._ports += 1
        peer = IPv4Address("TCP", host, self._ports)
        protocol = factory.buildProtocol(peer)
        transport = StringTransport(peerAddress=peer)
        protocol.makeConnection(transport)
        if wait and isinstance(protocol, LineProtocol):
            protocol.enterNow()
        self.clock.advance(0)
        return FakeClient(protocol, transport)

    def connectMany(self, *nicks: str) -> list[FakeClient]:
        clients = [self.connect(nick) for nick in nicks]
        for client in clients:
            client.received()
        return clients


class MixedServer(FakeServer):
    """
    A L{FakeServer} with an IRC front end too, on the same hub and gate, so that IRC and line
    clients meet in the same rooms.
    """

    def __init__(
        self,
        history: int = 20,
        motd: tuple[str, ...] = (),
        limits: Limits = NO_FLOOD,
        store: Store | None = None,
        hub: Hub | None = None,
        clock: Clock | None = None,
        opers: tuple[str, ...] = (),
    ) -> None:
        super().__init__(history, motd, limits, store, hub, clock, opers)
        self.ircFactory = IRCFactory(self.hub, self.gate, name="testchat", motd=motd)

    def connectIRC(
        self,
        nick: str | None = None,
        caps: str = "",
        host: str = "127.0.0.1",
        user: str | None = None,
        realName: str | None = None,
    ) -> FakeClient:
        """
        Connect an IRC client; with C{nick}, register it (asking for C{caps}, if any; with
        the C{user} name and C{realName} given, else the nick for both) and forget what it
        was told so far.
        """
        client = self._connectTo(self.ircFactory, host)
        if nick is not None:
            if caps:
                client.send("CAP LS 302")
                client.send(f"CAP REQ :{caps}")
            client.send(f"NICK {nick}")
            client.send(f"USER {user or nick} 0 * :{realName or nick}")
            if caps:
                client.send("CAP END")
            assert any(" 001 " in line for line in client.received())
        return client

"""
The gate and the line front end in the test's own reactor, over real loopback sockets of
every kind the daemon listens on: what only a real transport shows.
"""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet import defer, protocol, reactor, ssl
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    clientFromString,
    connectProtocol,
    serverFromString,
)

from chat import events
from chat.connection import idleSocket
from chat.gate import Gate
from chat.hub import Hub
from chat.limits import Limits
from chat.line.protocol import LineFactory, LineProtocol
from certs import writeCertificate
from daemon import TIMEOUT


class Server:
    """
    A hub, a gate and a line factory listening on C{description}, in the running reactor.
    """

    def __init__(self, limits: Limits = Limits()) -> None:
        self.hub = Hub(reactor)
        self.gate = Gate(reactor, limits)
        self.factory = LineFactory(self.hub, self.gate)
        self.connected: list[defer.Deferred[LineProtocol]] = []
        self.ports: list = []
        build = self.factory.buildProtocol

        def buildProtocol(addr):
            built = build(addr)
            waiting = self.connected.pop(0) if self.connected else None
            if waiting is not None:
                reactor.callLater(0, waiting.callback, built)
            return built

        self.factory.buildProtocol = buildProtocol

    async def listen(self, description: str):
        port = await serverFromString(reactor, description).listen(self.factory)
        self.ports.append(port)
        return port

    def nextConnection(self) -> defer.Deferred[LineProtocol]:
        d: defer.Deferred[LineProtocol] = defer.Deferred()
        self.connected.append(d)
        return d

    async def stop(self) -> None:
        for port in self.ports:
            await port.stopListening()
        await self.gate.shutdown(1)


class Peer(protocol.Protocol):
    """
    A client that reads only when told to, and says when it is gone.
    """

    def __init__(self, reading: bool = True) -> None:
        self.reading = reading
        self.received = b""
        self.gone: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        if not self.reading:
            self.transport.pauseProducing()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason) -> None:
        self.gone.callback(None)


@pytest.fixture
def certificate(tmp_path):
    """
    A key and certificate for 127.0.0.1, and a folder of trusted CAs holding the certificate.
    """
    (tmp_path / "key").mkdir()
    key, cert = writeCertificate(tmp_path / "key")
    (tmp_path / "trusted").mkdir()
    (tmp_path / "trusted" / "cert.pem").write_bytes(cert.read_bytes())
    return key, cert, tmp_path / "trusted"


@pytest_twisted.ensureDeferred
async def test_theSocketIsWrittenDirectlyOnlyOnPlainTcpAndUnix(tmp_path, certificate) -> None:
    key, cert, trusted = certificate
    server = Server()
    tcp = await server.listen("tcp:0:interface=127.0.0.1")
    await server.listen(f"unix:{tmp_path}/chat.sock")
    tls = await server.listen(f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
    try:
        kinds = {}
        for name, endpoint in [
            ("tcp", TCP4ClientEndpoint(reactor, "127.0.0.1", tcp.getHost().port)),
            ("unix", clientFromString(reactor, f"unix:{tmp_path}/chat.sock")),
            ("tls", clientFromString(reactor, f"tls:127.0.0.1:{tls.getHost().port}:trustRoots={trusted}")),
        ]:
            accepted = server.nextConnection()
            await connectProtocol(endpoint, Peer())
            kinds[name] = await accepted
        assert idleSocket(kinds["tcp"].transport) is kinds["tcp"].transport.socket
        assert idleSocket(kinds["unix"].transport) is kinds["unix"].transport.socket
        assert idleSocket(kinds["tls"].transport) is None

        plain = kinds["tcp"].transport
        options = ssl.PrivateCertificate.loadPEM(key.read_text() + cert.read_text()).options()
        plain.startTLS(options)
        assert plain.TLS and idleSocket(plain) is None  # still a tcp.Connection, but TLS now

        aborting = kinds["unix"].transport
        aborting.abortConnection()
        assert idleSocket(aborting) is None
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_closesEndEvenWhenThePeerNeverReadsOrNeverFinishesTls(certificate) -> None:
    """
    An idle connection whose graceful close cannot finish is aborted: a client that stopped
    reading with megabytes owed, and one that stopped halfway through its TLS handshake.
    """
    key, cert, _ = certificate
    server = Server(Limits(idleTimeout=0.5, closeTimeout=0.5, maxSendQ=1 << 26))
    tcp = await server.listen("tcp:0:interface=127.0.0.1")
    tls = await server.listen(f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}")
    try:
        accepted = server.nextConnection()
        stalled = Peer(reading=False)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", tcp.getHost().port), stalled)
        owed = await accepted
        for n in range(5000):  # 10 MB: more than the kernel's buffers on both sides hold
            owed.deliver(events.Notice(f"{n} " + "." * 2000))

        halfway = Peer()
        accepted = server.nextConnection()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", tls.getHost().port), halfway)
        handshaking = await accepted
        halfway.transport.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # and no more

        await server.gate.whenEmpty().addTimeout(TIMEOUT, reactor)
        stalled.transport.resumeProducing()  # and it finds the connection gone
        await defer.gatherResults([stalled.gone, halfway.gone]).addTimeout(TIMEOUT, reactor)
        assert owed.closeReason.startswith("Idle timeout") and owed.closeReason.endswith("0.5 s later")
        assert handshaking.closeReason.endswith("0.5 s later")
        assert server.gate.connections == set()
    finally:
        await server.stop()


def test_anEagerPortAcceptsEveryPendingConnectionAtOnce() -> None:
    """
    Twisted's port accepts as many as it found at its last read, one after a quiet moment;
    an eager one takes all that wait in the kernel's queue.
    """
    import socket

    from twisted.internet.protocol import Factory

    from chat.accepting import acceptEagerly

    accepted: list[object] = []
    taken: list[int] = []
    factory = Factory.forProtocol(protocol.Protocol)
    factory.buildProtocol = lambda addr: accepted.append(addr) or protocol.Protocol()
    ports = [reactor.listenTCP(0, factory, interface="127.0.0.1") for _ in range(2)]
    clients = []
    try:
        for port in ports:
            port.numberAccepts = 1  # as after a quiet moment
        acceptEagerly(ports[1])
        for port in ports:
            for _ in range(5):  # the kernel completes each handshake; nobody accepts yet
                clients.append(socket.create_connection(("127.0.0.1", port.getHost().port)))
            before = len(accepted)
            port.doRead()
            taken.append(len(accepted) - before)
        assert taken == [1, 5]  # the plain port took one, the eager one all five
    finally:
        for client in clients:
            client.close()
        for port in ports:
            port.stopListening()

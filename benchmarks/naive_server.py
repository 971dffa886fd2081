"""
The baseline: the tutorial's broadcast server done the plain Twisted way, a LineReceiver that
sends every line to every client with sendLine in a loop.  No rooms, limits or sanitising.

    python benchmarks/naive_server.py PORT
"""

from __future__ import annotations

import sys

from twisted.internet import endpoints, protocol, reactor
from twisted.protocols.basic import LineReceiver


class Broadcast(LineReceiver):
    delimiter = b"\n"

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)
        self.factory.clients.add(self)

    def connectionLost(self, reason: object = None) -> None:
        self.factory.clients.discard(self)

    def lineReceived(self, line: bytes) -> None:
        for client in self.factory.clients:
            client.sendLine(line)


class BroadcastFactory(protocol.ServerFactory):
    protocol = Broadcast

    def __init__(self) -> None:
        self.clients: set[Broadcast] = set()


if __name__ == "__main__":
    endpoint = endpoints.TCP4ServerEndpoint(reactor, int(sys.argv[1]), backlog=1024, interface="127.0.0.1")
    endpoint.listen(BroadcastFactory())
    reactor.run()

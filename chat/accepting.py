"""
Listening so that a connect storm never overflows the kernel's accept queue.

Twisted's TCP port accepts at most C{numberAccepts} connections each time its socket is
readable, and after a read that ran out of connections it lowers that number to how many it
found: after a quiet moment it accepts one or two a reactor turn.  When ten thousand clients
connect at once, the kernel's queue (C{somaxconn}, 4096 on Linux) then fills faster than the
reactor takes from it, and every connection it drops costs its client a one-second SYN
retransmit.  L{EagerAccepts} makes a port take every pending connection each time, as C
servers do (nginx's C{multi_accept}); the L{chat.gate.Gate} then lets the connections in a few
hundred a turn, so that accepting is never starved.
"""

from __future__ import annotations

from twisted.internet import defer, tcp
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import Factory
from zope.interface import implementer

# Connections accepted in one go at most: the queue's size on a default Linux.
ACCEPT_AT_ONCE = 4096


@implementer(IStreamServerEndpoint)
class EagerAccepts:
    """
    An endpoint whose TCP and UNIX ports accept every pending connection when readable.
    """

    def __init__(self, endpoint: IStreamServerEndpoint) -> None:
        self._endpoint = endpoint

    def listen(self, factory: Factory) -> defer.Deferred[IListeningPort]:
        return self._endpoint.listen(factory).addCallback(acceptEagerly)


def acceptEagerly(port: IListeningPort) -> IListeningPort:
    """
    Make C{port}, if it is a TCP or UNIX port, accept every pending connection at each read.
    """
    if isinstance(port, tcp.Port):
        doRead = port.doRead

        def readEagerly() -> None:
            port.numberAccepts = ACCEPT_AT_ONCE
            doRead()

        port.doRead = readEagerly  # type: ignore[method-assign]
    return port

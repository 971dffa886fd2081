"""
Writing to one connection: at once when the socket takes it, and with a count of what piles
up for a client that does not read, so that it can be cut off (C{--max-sendq}).
"""

from __future__ import annotations

from twisted.internet import tcp
from twisted.internet.interfaces import IPushProducer, ITransport
from zope.interface import implementer

from chat.fanout import Outlet


def idleSocket(transport: ITransport) -> Outlet | None:
    """
    The socket of C{transport} if bytes may go straight to it now: a TCP or UNIX connection,
    open, with nothing buffered.

    C{FileDescriptor.write} always buffers and waits for the reactor to report the socket
    writable: two C{epoll_ctl} calls and a trip through the reactor per write, which cost more
    than the C{send} itself when each client gets one write a turn.
    """
    if (
        isinstance(transport, tcp.Connection)
        and transport.connected
        and not transport.disconnecting
        and not transport.dataBuffer
        and not transport._tempDataLen
    ):
        return transport.socket
    return None


@implementer(IPushProducer)
class SendQueue:
    """
    Registered as the producer of a connection's transport, which pauses it when its write
    buffer fills: from then until the buffer drains, C{queued} counts what else is written.
    """

    __slots__ = ("blocked", "queued")

    def __init__(self) -> None:
        self.blocked = False
        self.queued = 0

    def pauseProducing(self) -> None:
        self.blocked = True

    def resumeProducing(self) -> None:
        self.blocked = False
        self.queued = 0

    def stopProducing(self) -> None:
        pass

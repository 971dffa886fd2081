"""
Writing to one connection: at once when the socket takes it, and with a count of what piles
up for a client that does not read, so that it can be cut off (C{--max-sendq}).
"""

from __future__ import annotations

from twisted.internet import tcp
from twisted.internet.interfaces import IPushProducer, ITransport
from zope.interface import implementer


def writeNow(transport: ITransport, data: bytes) -> None:
    """
    C{transport.write(data)}, but on a TCP or UNIX connection with nothing buffered, send at
    once and buffer only what the socket did not take.

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
        try:
            sent = transport.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # the connection is going; the reactor will see it on its next read
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


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

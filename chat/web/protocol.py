"""
The web front end's connections: L{WebProtocol} turns a browser's JSON commands into hub calls
and the hub's events into JSON messages; L{WebFactory} wires each WebSocket to the hub and the
gate, as L{chat.line.protocol.LineFactory} does for the line protocol.

The WebSocket itself is Twisted's own (L{twisted.web.websocket}, over C{wsproto}).  Each
connection is a L{chat.connection.Connection} like any other, over a L{MessageTransport}: an
C{ITransport} whose C{write} takes text frames made once per event by L{chat.web.render}, so
that the shared fan-out, send-queue count, close bound and gate work unchanged.
Input goes through the same L{chat.reader.LineReader} as the line and IRC front ends, one
message to a line: message size, flood hold and waiting for a command are theirs.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.interfaces import IAddress, IConsumer, IPushProducer, ITransport
from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web.server import Request
from twisted.web.websocket import WebSocketTransport
from wsproto.utilities import LocalProtocolError
from zope.interface import implementer

from chat import connection, events
from chat.connection import Connection
from chat.fanout import BatchFanout
from chat.gate import Gate
from chat.hub import Hub
from chat.reader import LineReader
from chat.web.commands import execute
from chat.web.render import Welcome, encoder

JSON_OVERHEAD = 1024
"""
Bytes a command may take beyond the longest text (C{--max-line}): its JSON keys, the room or
nick, and escapes.
"""


@implementer(ITransport)
class MessageTransport:
    """
    A WebSocket as the C{ITransport} that L{Connection} writes to: what is written is WebSocket
    frames (L{chat.web.render.textFrame}), which go to the stream as they are; closing sends
    Twisted's WebSocket's close frame.  Pausing, the producer and the peer's address are those
    of the stream under the WebSocket.

    @ivar stream: the TCP or TLS transport the WebSocket runs over.
    """

    def __init__(self, socket: WebSocketTransport, stream: ITransport) -> None:
        self.socket = socket
        self.stream = stream
        self.disconnecting = False

    def write(self, data: bytes) -> None:
        # Nothing after a close frame, ours or (the stream closing) the answer to the peer's.
        if not self.disconnecting and not getattr(self.stream, "disconnecting", False):
            self.stream.write(data)

    def writeSequence(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        if self.disconnecting:
            self.stream.loseConnection()
            return
        self.disconnecting = True
        try:
            self.socket.loseConnection()
        except LocalProtocolError:
            self.stream.loseConnection()

    def abortConnection(self) -> None:
        self.disconnecting = True
        getattr(self.stream, "abortConnection", self.stream.loseConnection)()

    def getPeer(self) -> IAddress:
        return self.stream.getPeer()

    def getHost(self) -> IAddress:
        return self.stream.getHost()

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None:
        IConsumer(self.stream).registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        IConsumer(self.stream).unregisterProducer()

    def pauseProducing(self) -> None:
        self.stream.pauseProducing()  # type: ignore[attr-defined]

    def resumeProducing(self) -> None:
        self.stream.resumeProducing()  # type: ignore[attr-defined]


class WebProtocol(Connection):
    """
    One browser (or any WebSocket client), in any number of rooms.

    @ivar maxText: the longest text a command may carry, in bytes of UTF-8.
    @ivar hearsAway: always: the page shows who is away in its member list.
    """

    hearsAway = True
    _reader: LineReader | None = None
    _socket: WebSocketTransport | None = None
    _unfinished = 0

    def __init__(self, factory: WebFactory, request: Request) -> None:
        Connection.__init__(self)
        self.factory = factory
        self.request = request
        self.maxText = factory.gate.limits.maxLine

    # WebSocket

    def negotiationStarted(self, transport: WebSocketTransport) -> None:
        self._socket = transport

    def negotiationFinished(self) -> None:
        factory = self.factory
        channel = self.request.channel
        assert self._socket is not None and channel.transport is not None
        stream = channel.transport
        # The HTTP channel is the stream's producer, and is no use once it is a WebSocket: the
        # connection's own send queue takes its place.  (TLS will not close while a producer
        # is registered, and Twisted's WebSocket closes the stream without unregistering it.)
        IConsumer(stream).unregisterProducer()
        self.transport = MessageTransport(self._socket, stream)
        self._guardUnfinished(channel, stream)
        if not self.startConnection(factory.gate, factory.fanout):
            return
        limits = factory.gate.limits
        self._reader = LineReader(self, factory.gate.clock, limits, limits.maxLine + JSON_OVERHEAD)
        self._reader.waitFor(factory.hub.connect(self).addCallbacks(self._registered, self.notRegistered))

    def _guardUnfinished(self, channel: Any, stream: ITransport) -> None:
        """
        Close a connection whose message does not end within C{--max-recvq} bytes.  Twisted's
        WebSocket gathers a message's frames until the last without a bound, so the bytes the
        upgraded HTTP channel reads are counted here, and the count starts again with each
        whole message.

        And when the client closed the WebSocket, let go of the stream's producer, which
        Twisted's WebSocket does not do: a TLS stream would wait for that to close, and the
        client for the stream to close, ten seconds in Python's C{websockets}.
        """
        received = getattr(channel, "dataReceived", None)
        if received is None:
            return
        maxRecvQ = self.factory.gate.limits.maxRecvQ

        def counted(data: bytes) -> None:
            self._unfinished += len(data)
            received(data)
            if self.outlet is not None and connection.idleSocket(stream) is None:
                # Twisted's WebSocket wrote to the stream (a pong, the answer to a close):
                # until that is out, frames go after it, through the stream (see writePending).
                self.outlet = None
            if getattr(stream, "disconnecting", False) and self._sendQueue is not None:
                self._sendQueue = None
                IConsumer(stream).unregisterProducer()
            if self._unfinished > maxRecvQ and not self.closing:
                self.drop(f"Message too long: no end of message in {maxRecvQ} bytes")

        channel.dataReceived = counted

    def _registered(self, nick: str) -> None:
        factory = self.factory
        self.deliver(Welcome(nick, factory.name, factory.hub.defaultRoom))  # type: ignore[arg-type]
        for line in factory.motd:
            self.deliver(events.Notice(f"MOTD: {line}"))

    def textMessageReceived(self, message: str) -> None:
        self._unfinished = 0
        if self._reader is not None:
            # A message is a line to the reader: JSON keeps line breaks out of its strings,
            # so any in a message are whitespace between tokens.
            data = message.encode("utf-8", "surrogatepass")
            self._reader.dataReceived(data.replace(b"\r", b" ").replace(b"\n", b" ") + b"\n")

    def bytesMessageReceived(self, data: bytes | bytearray) -> None:
        self._unfinished = 0
        self.deliver(events.Error("Send commands as JSON text messages, not binary ones"))

    def pongReceived(self, payload: bytes) -> None:
        pass

    def connectionLost(self, reason: Failure) -> None:
        if self._reader is not None:
            self._reader.stop()
        transport = getattr(self, "transport", None)
        if isinstance(transport, MessageTransport):
            transport.disconnecting = True
        self.leave(self.factory.hub, reason, admitted=self._reader is not None)

    # Output

    def writePending(self) -> None:
        """
        Write what the fanout queued, straight to the socket under the WebSocket when nothing
        is buffered in the stream, as for a line client: a frame is the same bytes on the
        socket as through the stream, and going through the stream costs two C{epoll_ctl}
        calls and a reactor turn per write, more than the C{send} itself.  Twisted's
        WebSocket writes its own frames (pongs, the close) to the stream only while it reads
        (see L{_guardUnfinished}), and L{close} writes what is queued before the close frame.
        """
        if self.outlet is None and not self.closing:
            transport = self.transport
            if isinstance(transport, MessageTransport) and not transport.disconnecting:
                self.outlet = connection.idleSocket(transport.stream)
        Connection.writePending(self)

    # Input, from the reader

    def lineTooLong(self) -> None:
        limit = self.factory.gate.limits.maxLine + JSON_OVERHEAD
        self.deliver(events.Error(f"Message too long (over {limit} bytes); it was discarded"))

    def lineReceived(self, line: bytes) -> defer.Deferred[None] | None:
        try:
            command = json.loads(line)
        except (ValueError, RecursionError):
            self.deliver(events.Error("That message was not JSON and was discarded"))
            return None
        return self.runCommand(lambda: execute(self.factory.hub, self, command), "message")


class WebFactory:
    """
    Builds a L{WebProtocol} for each WebSocket, on one hub, behind one gate: the
    C{WebSocketServerFactory} of the C{/ws} resource.

    @ivar name: the server's name, told in the welcome.
    @ivar motd: lines of the message of the day, sent after the welcome.
    """

    def __init__(
        self, hub: Hub, gate: Gate, name: str = "chat", motd: tuple[str, ...] = ()
    ) -> None:
        self.hub = hub
        self.gate = gate
        self.fanout = BatchFanout(gate.clock, encoder(gate.clock))  # type: ignore[arg-type]
        self.name = name
        self.motd = motd

    def buildProtocol(self, request: Request) -> WebProtocol:
        return WebProtocol(self, request)

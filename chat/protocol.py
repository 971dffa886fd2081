"""
The line protocol: UTF-8 lines in, over any stream transport; lines out, ending in CRLF.

L{ChatProtocol} turns bytes into calls and events into bytes, and enforces the limits that
keep one connection from hurting the others (L{chat.limits}).  L{ChatFactory} holds the set
of connected clients and wires each one to the L{Hub}, which does the rest.
"""

from __future__ import annotations

import re
from collections import Counter

from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat import events
from chat.commands import execute
from chat.fanout import Batch, LineFanout, Outlet, takeOutput
from chat.hub import Hub
from chat.limits import Limits, TokenBucket
from chat.sending import SendQueue, idleSocket
from chat.wire import encode

_HTTP_REQUEST = re.compile(rb"[A-Z]{3,7} \S+ HTTP/\d\.\d\Z")
_TLS_HANDSHAKE = b"\x16\x03"


def describePeer(address: IAddress) -> str:
    """
    A short form of a peer's address for the log: C{127.0.0.1:5000}, C{[::1]:5000}, C{unix}.
    """
    host = getattr(address, "host", None)
    if host is None:
        return "unix"
    return f"[{host}]:{address.port}" if ":" in host else f"{host}:{address.port}"


def _rejoin(lines: list[bytes], partial: bytes) -> bytes:
    """
    The input not handled yet, as it came: whole C{lines}, then the C{partial} one.
    """
    return b"".join(line + b"\n" for line in lines) + partial


class ChatProtocol(LineReceiver):
    """
    One connected user.  Lines end in C{\\n} or C{\\r\\n}, so that a bare C{nc} works.

    The input side splits each chunk once, holds lines back (and stops reading the socket)
    while the connection is over its flood limit or a command waits for the cluster, and
    discards overlong lines whole.  The output side is the factory's L{LineFanout}: what the
    client is owed is written once a reactor turn, by L{writePending}.
    """

    # Slots, not instance dict entries: the fan-out reads and sets these once per delivery.
    __slots__ = ("pendingOutput", "outlet")

    delimiter = b"\n"
    factory: ChatFactory
    fanout: LineFanout
    _nick = ""
    room = ""
    peer = ""
    closeReason = ""

    _pending = b""
    _discarding = 0
    _sawLine = False
    _bucket: TokenBucket | None = None
    _floodWait: IDelayedCall | None = None
    _commandWait: defer.Deferred[None] | None = None
    _sendQueue: SendQueue | None = None
    _aborted = False

    def __init__(self) -> None:
        self.pendingOutput: Batch | list[bytes | Batch] | None = None
        self.outlet: Outlet | None = None

    # Connection

    def connectionMade(self) -> None:
        self.peer = describePeer(self.transport.getPeer())
        self.limits = self.factory.limits
        self.fanout = self.factory.fanout
        refusal = self.factory.refusal(self)
        if refusal is not None:
            self.factory.log.info("{peer} refused: {why}", peer=self.peer, why=refusal)
            self.transport.write(encode(events.Error(refusal)))
            self.transport.loseConnection()
            return
        for option in ("setTcpNoDelay", "setTcpKeepAlive"):
            setter = getattr(self.transport, option, None)
            if setter is not None:
                setter(True)
        self._sendQueue = SendQueue()
        self.transport.registerProducer(self._sendQueue, True)
        if self.limits.floodRate:
            self._bucket = TokenBucket(
                self.limits.floodBurst, self.limits.floodRate, self.factory.clock.seconds()
            )
        self.lastLine = self.factory.clock.seconds()
        self.factory.clientConnected(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.outlet = None
        self._pending = b""  # nothing more to do for this client, even if a command was waiting
        if self._floodWait is not None and self._floodWait.active():
            self._floodWait.cancel()
        self.factory.clientDisconnected(self, reason)

    def closeIdle(self) -> None:
        self.drop(f"Idle timeout: no line for {self.limits.idleTimeout:g} seconds")

    def close(self) -> None:
        """
        Close once what was delivered so far has been sent.
        """
        self.writePending()
        self.outlet = None
        if self._sendQueue is not None:
            self.transport.unregisterProducer()
            self._sendQueue = None
        self.transport.loseConnection()

    def drop(self, reason: str) -> None:
        """
        Tell the client why, and close the connection.
        """
        self.closeReason = reason
        self.factory.log.info("{peer} ({nick}) dropped: {why}", peer=self.peer, nick=self.nick, why=reason)
        self.deliver(events.Error(reason))
        self.close()

    def abort(self, reason: str) -> None:
        """
        Close at once, throwing away whatever is queued for the client.
        """
        if self._aborted:
            return
        self._aborted = True
        self.outlet = None
        self.closeReason = reason
        self.factory.log.warn("{peer} ({nick}) aborted: {why}", peer=self.peer, nick=self.nick, why=reason)
        self.transport.abortConnection()

    # Input

    def dataReceived(self, data: bytes) -> None:
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                self._discard(len(data))
                return
            data = data[end + 1 :]
            self._discarding = 0
        elif not self._sawLine and not self._pending and data.startswith(_TLS_HANDSHAKE):
            self.drop("This port speaks plain text, not TLS")
            return
        self._pending += data
        if not self._held():
            self._processPending()

    def _processPending(self) -> None:
        lines = self._pending.split(b"\n")
        partial = lines.pop()
        if lines:
            self.lastLine = now = self.factory.clock.seconds()
        for index, line in enumerate(lines):
            if self.transport.disconnecting or self.closeReason:
                self._pending = b""
                return
            if self._bucket is not None:
                wait = self._bucket.take(now)
                if wait:
                    self._pending = _rejoin(lines[index:], partial)
                    self._holdInput(wait)
                    return
            self._lineDelimited(line)
            if self._commandWait is not None:  # the next line waits for this one's command
                self._pending = _rejoin(lines[index + 1 :], partial)
                self.transport.pauseProducing()
                return
        self._pending = partial
        if len(partial) > self.limits.maxLine:
            self._pending = b""
            self.lineLengthExceeded(partial)
            self._discard(len(partial))

    def _discard(self, count: int) -> None:
        """
        Throw away C{count} more bytes of an overlong line; past the receive limit, give up on
        the connection.
        """
        self._discarding += count
        if self._discarding > self.limits.maxRecvQ:
            self.drop(f"Line too long: no end of line in {self.limits.maxRecvQ} bytes")

    def _holdInput(self, seconds: float) -> None:
        """
        Over the flood limit: read nothing more until a line may be handled again.
        """
        self.transport.pauseProducing()
        self._floodWait = self.factory.clock.callLater(seconds, self._releaseInput)

    def _releaseInput(self) -> None:
        self._floodWait = None
        if self._commandWait is None:
            self._processPending()
        if not self._held() and not self.transport.disconnecting:
            self.transport.resumeProducing()

    def _held(self) -> bool:
        """
        Whether input waits: for the flood limit, or for a command to finish.
        """
        return self._floodWait is not None or self._commandWait is not None

    def _commandDone(self, result: object) -> None:
        if isinstance(result, Failure):
            self.factory.log.failure(
                "Finishing a command from {peer} ({nick})", result, peer=self.peer, nick=self.nick
            )
            self.deliver(events.Error("Internal error: that line was dropped"))
        self._commandWait = None
        if self._floodWait is None:
            self._releaseInput()

    def _lineDelimited(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.limits.maxLine:
            self.lineLengthExceeded(line)
        else:
            self.lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.deliver(
            events.Error(f"Line too long (over {self.limits.maxLine} bytes); it was discarded")
        )

    def lineReceived(self, line: bytes) -> None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.deliver(events.Error("That line was not valid UTF-8 and was discarded"))
            return
        if not self._sawLine:
            self._sawLine = True
            if _HTTP_REQUEST.match(line):
                self.drop("This is a chat server, not a web server")
                return
        try:
            waiting = execute(self.factory.hub, self, text)
            if waiting is not None and not waiting.called:
                self._commandWait = waiting
                waiting.addBoth(self._commandDone)
        except Exception:
            self.factory.log.failure("Handling a line from {peer} ({nick})", peer=self.peer, nick=self.nick)
            self.deliver(events.Error("Internal error: that line was dropped"))

    # Output

    @property
    def nick(self) -> str:
        return self._nick

    @nick.setter
    def nick(self, nick: str) -> None:
        if self._nick:
            self.factory.log.info(
                "{peer} changed nick from {old} to {new}", peer=self.peer, old=self._nick, new=nick
            )
        self._nick = nick

    def deliver(self, event: events.Event) -> None:
        if not self._aborted:
            self.fanout.toOne(self, event)

    def writePending(self) -> None:
        """
        Write what the fanout queued for this connection: called once a reactor turn, and
        before the connection closes.
        """
        data = takeOutput(self)
        if self._aborted or not data:
            return
        try:
            queue = self._sendQueue
            if queue is not None and queue.blocked:
                queue.queued += len(data)
                if queue.queued > self.limits.maxSendQ:
                    self.abort("SendQ exceeded")
                    return
            outlet = self.outlet
            if outlet is None:
                outlet = self.outlet = idleSocket(self.transport)
            if outlet is None:
                self.transport.write(data)
                return
            try:
                sent = outlet.send(data)
            except OSError:  # none taken; if the connection is going, the reactor will see
                sent = 0
            if sent != len(data):
                self.sendRest(data[sent:])
        except Exception:
            self.factory.log.failure("Writing to {peer}", peer=self.peer)
            self.abort("Internal error")

    def sendRest(self, data: bytes) -> None:
        """
        Buffer what the socket did not take; until that drains, write through the transport.
        """
        self.outlet = None
        self.transport.write(data)


class ChatFactory(ServerFactory):
    """
    Holds the connected clients and seats each in the L{Hub}.

    @ivar name: the server's name, shown in the welcome line.
    @ivar motd: lines of the message of the day, sent after the welcome.
    @ivar clock: the reactor's clock, for timeouts and the flood limit.
    """

    protocol = ChatProtocol
    log = Logger()
    noisy = False

    def __init__(
        self,
        hub: Hub,
        clock: IReactorTime,
        name: str = "chat",
        motd: tuple[str, ...] = (),
        limits: Limits = Limits(),
    ) -> None:
        self.hub = hub
        self.clock = clock
        self.fanout = LineFanout(clock)
        self.name = name
        self.motd = motd
        self.limits = limits
        self.clients: set[ChatProtocol] = set()
        # One timer for every connection's idle timeout: a DelayedCall each would cost 440
        # bytes of memory a connection and a heap operation per line.
        self._idleCheck = LoopingCall(self._closeIdle)
        self._idleCheck.clock = clock
        self._perHost: Counter[str] = Counter()
        self._whenEmpty: list[defer.Deferred[None]] = []

    def refusal(self, client: ChatProtocol) -> str | None:
        """
        Why C{client} may not connect now, or L{None} if it may.
        """
        if len(self.clients) >= self.limits.maxClients:
            return "The server is full; try again later"
        host = self._countedHost(client)
        if host is not None and self._perHost[host] >= self.limits.maxPerIP:
            return f"Too many connections from {host}"
        return None

    def clientConnected(self, client: ChatProtocol) -> None:
        self.clients.add(client)
        if self.limits.idleTimeout and not self._idleCheck.running:
            self._idleCheck.start(self.limits.idleCheckInterval, now=False)
        host = self._countedHost(client)
        if host is not None:
            self._perHost[host] += 1
        nick = self.hub.connect(client)
        self.log.info("{peer} connected as {nick}", peer=client.peer, nick=nick)
        client.deliver(
            events.Notice(f"Welcome to {self.name}, {nick}! Type /help for the commands.")
        )
        for line in self.motd:
            client.deliver(events.Notice(f"MOTD: {line}"))
        client.room = self.hub.join(client, self.hub.defaultRoom).name

    def clientDisconnected(self, client: ChatProtocol, reason: Failure) -> None:
        if client not in self.clients:
            return
        self.clients.remove(client)
        host = self._countedHost(client)
        if host is not None:
            self._perHost[host] -= 1
            if not self._perHost[host]:
                del self._perHost[host]
        why = client.closeReason or (
            "Connection closed" if reason.check(ConnectionDone) else reason.getErrorMessage()
        )
        self.hub.disconnect(client, why)
        self.log.info(
            "{peer} ({nick}) disconnected: {why}", peer=client.peer, nick=client.nick, why=why
        )
        if not self.clients:
            if self._idleCheck.running:
                self._idleCheck.stop()
            waiting, self._whenEmpty = self._whenEmpty, []
            for d in waiting:
                d.callback(None)

    def _closeIdle(self) -> None:
        """
        Close the connections that sent no complete line for the idle timeout.
        """
        deadline = self.clock.seconds() - self.limits.idleTimeout
        for client in [client for client in self.clients if client.lastLine <= deadline]:
            client.closeIdle()

    def _countedHost(self, client: ChatProtocol) -> str | None:
        host = getattr(client.transport.getPeer(), "host", None)
        return host if self.limits.countsPerIP(host) else None

    def shutdown(self, grace: float) -> defer.Deferred[None]:
        """
        Tell every client the server is going away and close its connection.  The result
        fires once all are gone; any still open after C{grace} seconds (a client that does
        not read) are aborted.
        """
        if not self.clients:
            return defer.succeed(None)
        self.log.info("Shutting down; closing {count} connections", count=len(self.clients))
        for client in list(self.clients):
            client.closeReason = "Server shutting down"
            client.deliver(events.Notice("Server shutting down"))
            client.close()
        done: defer.Deferred[None] = defer.Deferred()
        self._whenEmpty.append(done)
        straggle = self.clock.callLater(grace, self._abortAll)

        def stopWaiting(result: None) -> None:
            if straggle.active():
                straggle.cancel()
            return result

        return done.addBoth(stopWaiting)

    def _abortAll(self) -> None:
        for client in list(self.clients):
            client.transport.abortConnection()

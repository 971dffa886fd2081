"""
The line protocol: UTF-8 lines in, over any stream transport; lines out, ending in CRLF.

L{ChatProtocol} only turns bytes into calls and events into bytes.  L{ChatFactory} holds the
set of connected clients and wires each one to the L{Hub}, which does the rest.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat import events
from chat.commands import execute
from chat.hub import Hub
from chat.wire import encode


def describePeer(address: IAddress) -> str:
    """
    A short form of a peer's address for the log: C{127.0.0.1:5000}, C{[::1]:5000}, C{unix}.
    """
    host = getattr(address, "host", None)
    if host is None:
        return "unix"
    return f"[{host}]:{address.port}" if ":" in host else f"{host}:{address.port}"


class ChatProtocol(LineReceiver):
    """
    One connected user.  Lines end in C{\\n} or C{\\r\\n}, so that a bare C{nc} works.
    """

    delimiter = b"\n"
    factory: ChatFactory
    nick = ""
    room = ""
    peer = ""

    def connectionMade(self) -> None:
        self.peer = describePeer(self.transport.getPeer())
        self.factory.clientConnected(self)

    def lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.deliver(events.Error("That line was not valid UTF-8 and was discarded"))
            return
        execute(self.factory.hub, self, text)

    def deliver(self, event: events.Event) -> None:
        if isinstance(event, events.NickChanged) and event.new == self.nick:
            self.factory.log.info(
                "{peer} changed nick from {old} to {new}", peer=self.peer, old=event.old, new=event.new
            )
        self.transport.write(encode(event))

    def close(self) -> None:
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.factory.clientDisconnected(self, reason)


class ChatFactory(ServerFactory):
    """
    Holds the connected clients and seats each in the L{Hub}.

    @ivar name: the server's name, shown in the welcome line.
    @ivar motd: lines of the message of the day, sent after the welcome.
    """

    protocol = ChatProtocol
    log = Logger()
    noisy = False

    def __init__(
        self, hub: Hub, clock: IReactorTime, name: str = "chat", motd: tuple[str, ...] = ()
    ) -> None:
        self.hub = hub
        self.name = name
        self.motd = motd
        self.clients: set[ChatProtocol] = set()
        self._clock = clock
        self._whenEmpty: list[defer.Deferred[None]] = []

    def clientConnected(self, client: ChatProtocol) -> None:
        self.clients.add(client)
        nick = self.hub.connect(client)
        self.log.info("{peer} connected as {nick}", peer=client.peer, nick=nick)
        client.deliver(
            events.Notice(f"Welcome to {self.name}, {nick}! Type /help for the commands.")
        )
        for line in self.motd:
            client.deliver(events.Notice(f"MOTD: {line}"))
        client.room = self.hub.join(client, self.hub.defaultRoom).name

    def clientDisconnected(self, client: ChatProtocol, reason: Failure) -> None:
        self.clients.discard(client)
        why = "Connection closed" if reason.check(ConnectionDone) else reason.getErrorMessage()
        self.hub.disconnect(client, why)
        self.log.info(
            "{peer} ({nick}) disconnected: {why}", peer=client.peer, nick=client.nick, why=why
        )
        if not self.clients:
            waiting, self._whenEmpty = self._whenEmpty, []
            for d in waiting:
                d.callback(None)

    def shutdown(self, grace: float) -> defer.Deferred[None]:
        """
        Tell every client the server is going away and close its connection.  The result
        fires once all are gone; any still open after C{grace} seconds are aborted.
        """
        if not self.clients:
            return defer.succeed(None)
        self.log.info("Shutting down; closing {count} connections", count=len(self.clients))
        for client in list(self.clients):
            client.deliver(events.Notice("Server shutting down"))
            client.close()
        done: defer.Deferred[None] = defer.Deferred()
        self._whenEmpty.append(done)
        straggle = self._clock.callLater(grace, self._abortAll)

        def stopWaiting(result: None) -> None:
            if straggle.active():
                straggle.cancel()
            return result

        return done.addBoth(stopWaiting)

    def _abortAll(self) -> None:
        for client in list(self.clients):
            client.transport.abortConnection()

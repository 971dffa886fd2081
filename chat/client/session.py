"""
The connection to the server, kept up across drops, and what the client knows of itself.

L{Session} owns a L{ClientService}, which reconnects with backoff when the connection
drops; after a reconnection the session takes back its nick and room.  It talks to its
front end (a terminal screen or plain lines) through the L{View} interface.
"""

from __future__ import annotations

import re
from typing import Protocol as Interface

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat.line.render import visible

_WELCOME = re.compile(r"\*\*\* Welcome to .*, (\S+)! ")
_RENAMED = re.compile(r"\*\*\* (\S+) is now known as (\S+)\Z")
_JOINED = re.compile(r"\*\*\* (\S+) has joined (\S+)\Z")


class View(Interface):
    """
    A front end: where server lines and the client's own messages are shown.
    """

    def show(self, text: str) -> None:
        """
        Show a line from the server, already made safe with L{visible}.
        """

    def notify(self, text: str) -> None:
        """
        Show a message from the client itself (the connection dropped, came back...).
        """

    def following(self, nick: str, room: str) -> None:
        """
        The client's nick or room changed.
        """


class ServerConnection(LineReceiver):
    """
    One connection to the server: lines in go to the session, lines out come from it.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, session: Session) -> None:
        self.session = session

    def connectionMade(self) -> None:
        self.session.connected(self)

    def lineReceived(self, line: bytes) -> None:
        self.session.received(visible(line.rstrip(b"\r").decode("utf-8", "replace")))

    def lineLengthExceeded(self, line: bytes) -> None:
        self.session.view.notify("the server sent a line over 1 MiB; it was cut")
        self.clearLineBuffer()

    def send(self, line: bytes) -> None:
        self.transport.write(line + b"\r\n")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.session.disconnected(self, reason)


class Session:
    """
    The client's side of the chat: sends what the user types, follows its own nick and room,
    and comes back after a drop.

    @ivar finished: fires with L{None} once the client has quit and the server has closed the
        connection, or fails with a message for the user when the client cannot go on.
    """

    def __init__(
        self,
        clock: IReactorTime,
        endpoint: IStreamClientEndpoint,
        view: View,
        where: str,
        nick: str | None = None,
        reconnect: bool = True,
    ) -> None:
        self.view = view
        self.where = where
        self.nick = ""
        self.room = ""
        self.reconnect = reconnect
        self.quitting = False
        self.finished: defer.Deferred[None] = defer.Deferred()
        self._connection: ServerConnection | None = None
        self._wantedNick = nick
        self._wantedRoom: str | None = None
        self._everConnected = False
        self._service = ClientService(
            endpoint,
            Factory.forProtocol(lambda: ServerConnection(self)),
            retryPolicy=backoffPolicy(initialDelay=0.5, maxDelay=30.0),
            clock=clock,
        )

    def start(self) -> defer.Deferred[None]:
        """
        Connect; the result fails if the first attempt does.
        """
        self._service.startService()
        connecting = self._service.whenConnected(failAfterFailures=1)
        return connecting.addCallback(lambda _: None)

    def stop(self) -> defer.Deferred[None]:
        return defer.maybeDeferred(self._service.stopService)

    # From the connection

    def connected(self, connection: ServerConnection) -> None:
        self._connection = connection
        if self._everConnected:
            self.view.notify(f"reconnected to {self.where}")
        self._everConnected = True
        if self._wantedNick:
            connection.send(f"/nick {self._wantedNick}".encode("utf-8"))

    def received(self, line: str) -> None:
        self.view.show(line)
        self._follow(line)

    def disconnected(self, connection: ServerConnection, reason: Failure) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        if self.quitting and reason.check(ConnectionDone):
            self._finish(None)
        elif self.quitting or not self.reconnect or _isTLSError(reason):
            # A certificate that does not check out will not check out next time either.
            self._finish(self._describe(reason))
        else:
            self.view.notify(f"lost the connection to {self.where}; reconnecting")
            self._wantedNick = self.nick or self._wantedNick
            self._wantedRoom = self.room or None

    # From the user

    def send(self, line: bytes) -> None:
        if line.split(b" ", 1)[0].lower() == b"/quit":
            self.quitting = True
        if self._connection is None:
            if self.quitting:
                self._finish(None)
            else:
                self.view.notify("not connected: that line was not sent")
            return
        self._connection.send(line)

    def quit(self) -> None:
        """
        Ask the server to close the connection; L{finished} fires when it has.
        """
        if not self.quitting:
            self.send(b"/quit")

    # Helpers

    def _follow(self, line: str) -> None:
        """
        Keep track of the client's own nick and room from the server's notices.
        """
        nick, room = self.nick, self.room
        if match := _WELCOME.match(line):
            self.nick = match.group(1)
        elif (match := _RENAMED.match(line)) and match.group(1) == self.nick:
            self.nick = match.group(2)
        elif (match := _JOINED.match(line)) and match.group(1) == self.nick:
            self.room = match.group(2)
            wanted, self._wantedRoom = self._wantedRoom, None
            if wanted and wanted.lower() != self.room.lower() and self._connection:
                self._connection.send(f"/join {wanted}".encode("utf-8"))
        if (nick, room) != (self.nick, self.room):
            self.view.following(self.nick, self.room)

    def _describe(self, reason: Failure) -> str:
        if _isTLSError(reason):
            return f"TLS with {self.where} failed: {reason.getErrorMessage()}"
        if reason.check(ConnectionDone):
            return f"the server at {self.where} closed the connection"
        return f"lost the connection to {self.where}: {reason.getErrorMessage()}"

    def _finish(self, problem: str | None) -> None:
        if self.finished.called:
            return
        self._service.stopService()
        if problem is None:
            self.finished.callback(None)
        else:
            self.finished.errback(SessionEnded(problem))


def _isTLSError(reason: Failure) -> bool:
    return any(name.startswith("OpenSSL.") for name in reason.parents)


class SessionEnded(Exception):
    """
    The client cannot go on; the message says why, for the user.
    """

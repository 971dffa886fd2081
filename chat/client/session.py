"""
The connection to the server, kept up across drops, and what the client knows of itself.

L{Session} owns a L{ClientService}, which reconnects with backoff when the connection
drops; after a reconnection the session takes back its nick and room.  It talks to its
front end (a terminal screen or plain lines) through the L{View} interface.

A server that accepts the connection but never welcomes the client is most likely not
speaking plain chat lines (a TLS port reached without TLS waits for a handshake that never
comes): the session gives up on it with a hint, instead of waiting or reconnecting in silence.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Protocol as Interface

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory, connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat.client.members import WHO_REPLY, RoomMembers
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
    @ivar members: the nicks in the client's room, for completion.
    """

    def __init__(
        self,
        clock: IReactorTime,
        endpoint: IStreamClientEndpoint,
        view: View,
        where: str,
        nick: str | None = None,
        reconnect: bool = True,
        welcomeTimeout: float = 5.0,
        hint: str = "is it a chat server?",
    ) -> None:
        """
        @param welcomeTimeout: seconds to wait for the server's welcome line on a new
            connection before giving up on the server (or, once it has welcomed the client
            before, on the connection).
        @param hint: what is likely wrong when a server never welcomes the client, for the
            user: it depends on how the client connects.
        """
        self.view = view
        self.where = where
        self.nick = ""
        self.room = ""
        self.reconnect = reconnect
        self.quitting = False
        self.finished: defer.Deferred[None] = defer.Deferred()
        self.members = RoomMembers()
        self._clock = clock
        self._connection: ServerConnection | None = None
        self._wantedNick = nick
        self._wantedRoom: str | None = None
        self._everConnected = False
        self._chatServer = False  # the server has said something only a chat server says
        self._welcomeTimeout = welcomeTimeout
        self._hint = hint
        self._waiting: IDelayedCall | None = None
        self._silentWho: Counter[str] = Counter()  # rooms asked about for completion
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
        self._waiting = self._clock.callLater(self._welcomeTimeout, self._noWelcome, connection)
        if self._everConnected:
            self.view.notify(f"reconnected to {self.where}")
        self._everConnected = True
        if self._wantedNick:
            connection.send(f"/nick {self._wantedNick}".encode("utf-8"))

    def received(self, line: str) -> None:
        if line.startswith(("*** ", "!!! ")):
            self._chatServer = True  # even one that refuses the client ("!!! Too many...")
        if _WELCOME.match(line):
            self._stopWaiting()
        self.members.absorb(line)
        if self._askedSilently(line):
            return
        self.view.show(line)
        self._follow(line)

    def disconnected(self, connection: ServerConnection, reason: Failure) -> None:
        if connection is not self._connection or self.finished.called:
            return
        self._connection = None
        self._silentWho.clear()  # a new connection will not answer the old one's questions
        self._stopWaiting()
        if not (self._chatServer or _isTLSError(reason)):
            # Even after /quit: a chat server speaks before it says goodbye.
            self._finish(f"{self._describe(reason)} before any welcome: {self._hint}")
        elif self.quitting and reason.check(ConnectionDone):
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

    def _stopWaiting(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting.active():
            waiting.cancel()

    def _noWelcome(self, connection: ServerConnection) -> None:
        """
        The server accepted the connection and sent no welcome in time.  A server that never
        said anything a chat server says is probably not a plain chat port: give up on it,
        saying so.  One that did before is only slow or stuck: try again, as after a drop.
        """
        self._waiting = None
        silence = f"no answer from {self.where} in {self._welcomeTimeout:g} s"
        if not self._chatServer:
            self._finish(f"{silence}: {self._hint}")
            return
        self.view.notify(silence)
        connection.transport.abortConnection()

    def _askedSilently(self, line: str) -> bool:
        """
        Whether C{line} answers a C{/who} that the session sent for completion, not the user.
        """
        match = WHO_REPLY.match(line)
        if match is None:
            return False
        room = match.group(1).lower()
        if not self._silentWho[room]:
            return False
        self._silentWho[room] -= 1
        return True

    def _entered(self, room: str) -> None:
        """
        The client joined C{room}: ask who is there, for completion, without showing it.
        """
        self.members.enter(room, self.nick)
        # Not after /quit: the server may have closed by the time it arrives, and a line sent
        # to a closed socket turns a clean close into a reset.
        if self._connection is not None and not self.quitting:
            self._silentWho[room.lower()] += 1
            self._connection.send(f"/who {room}".encode("utf-8"))

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
            else:
                self._entered(self.room)
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
        self._stopWaiting()
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

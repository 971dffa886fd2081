"""
The line protocol: UTF-8 lines in, over any stream transport; lines out, ending in CRLF.

L{LineProtocol} turns bytes into hub calls (through L{chat.line.commands}) and events into
lines (through L{chat.line.render}); the input rules are L{chat.reader.LineReader}'s, the output
and the connection's lifetime L{chat.connection.Connection}'s, the limits the
L{chat.gate.Gate}'s.  L{LineFactory} wires each connection to the hub and the gate.
"""

from __future__ import annotations

import re

from twisted.internet import defer
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat import events
from chat.connection import Connection
from chat.fanout import BatchFanout
from chat.gate import Gate
from chat.hub import Hub
from chat.line.commands import execute
from chat.line.render import encode
from chat.reader import LineReader

_HTTP_REQUEST = re.compile(rb"[A-Z]{3,7} \S+ HTTP/\d\.\d\Z")
_TLS_HANDSHAKE = b"\x16\x03"


class LineProtocol(Connection, LineReceiver):
    """
    One connected user of the line protocol, always in one room, its current C{room}.
    """

    factory: LineFactory
    room = ""
    _nick = ""
    _reader: LineReader | None = None
    _sawInput = False

    def __init__(self) -> None:
        Connection.__init__(self)

    # Connection

    def connectionMade(self) -> None:
        factory = self.factory
        if not self.startConnection(factory.gate, factory.fanout):
            return
        self._reader = LineReader(self, factory.gate.clock, factory.gate.limits, factory.maxLine)
        self._reader.waitFor(factory.hub.connect(self).addCallbacks(self._registered, self._notRegistered))

    def _registered(self, nick: str) -> None:
        factory = self.factory
        self.log.info("{peer} connected as {nick}", peer=self.peer, nick=nick)
        self.deliver(events.Notice(f"Welcome to {factory.name}, {nick}! Type /help for the commands."))
        for line in factory.motd:
            self.deliver(events.Notice(f"MOTD: {line}"))
        self.room = factory.hub.join(self, factory.hub.defaultRoom).name

    def _notRegistered(self, failure: Failure) -> None:
        if not self.closing:
            self.log.failure("Registering {peer}", failure, peer=self.peer)
            self.drop("Internal error: could not register a nick")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._reader is None:  # refused by the gate
            self.endConnection(reason)
            return
        self._reader.stop()
        why = self.endConnection(reason)
        self.factory.hub.disconnect(self, why)
        self.log.info("{peer} ({nick}) disconnected: {why}", peer=self.peer, nick=self.nick, why=why)

    # Input

    def dataReceived(self, data: bytes) -> None:
        if self._reader is None:
            return
        if not self._sawInput:
            self._sawInput = True
            if data.startswith(_TLS_HANDSHAKE):
                self.drop("This port speaks plain text, not TLS")
                return
            first = data.split(b"\n", 1)[0].rstrip(b"\r")
            if _HTTP_REQUEST.match(first):
                self.drop("This is a chat server, not a web server")
                return
        self._reader.dataReceived(data)

    def lineTooLong(self) -> None:
        self.deliver(
            events.Error(f"Line too long (over {self.factory.maxLine} bytes); it was discarded")
        )

    def lineReceived(self, line: bytes) -> defer.Deferred[None] | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.deliver(events.Error("That line was not valid UTF-8 and was discarded"))
            return None
        try:
            waiting = execute(self.factory.hub, self, text)
        except Exception:
            self.log.failure("Handling a line from {peer} ({nick})", peer=self.peer, nick=self.nick)
            self.deliver(events.Error("Internal error: that line was dropped"))
            return None
        if waiting is not None:
            waiting.addErrback(self._commandFailed)
        return waiting

    def _commandFailed(self, failure: Failure) -> None:
        self.log.failure("Finishing a command from {peer} ({nick})", failure, peer=self.peer, nick=self.nick)
        self.deliver(events.Error("Internal error: that line was dropped"))

    # Output

    @property
    def nick(self) -> str:
        return self._nick

    @nick.setter
    def nick(self, nick: str) -> None:
        if self._nick:
            self.log.info("{peer} changed nick from {old} to {new}", peer=self.peer, old=self._nick, new=nick)
        self._nick = nick


class LineFactory(ServerFactory):
    """
    Builds a L{LineProtocol} for each connection, on one hub, behind one gate.

    @ivar name: the server's name, shown in the welcome line.
    @ivar motd: lines of the message of the day, sent after the welcome.
    """

    protocol = LineProtocol
    noisy = False

    def __init__(
        self, hub: Hub, gate: Gate, name: str = "chat", motd: tuple[str, ...] = ()
    ) -> None:
        self.hub = hub
        self.gate = gate
        self.fanout = BatchFanout(gate.clock, encode)
        self.name = name
        self.motd = motd

    @property
    def maxLine(self) -> int:
        return self.gate.limits.maxLine


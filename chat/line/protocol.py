"""
The line protocol: UTF-8 lines in, over any stream transport; lines out, ending in CRLF.

L{LineProtocol} turns bytes into hub calls (through L{chat.line.commands}) and events into
lines (through L{chat.line.render}); the input rules are L{chat.reader.LineReader}'s, the output
and the connection's lifetime L{chat.connection.Connection}'s, the limits the
L{chat.gate.Gate}'s.  L{LineFactory} wires each connection to the hub and the gate.

Two kinds of client that do not quite send lines are met on the same port, with no option:
telnet's commands are answered and taken out of the input (L{chat.line.telnet}), and a client
that sends one message per packet, with no line ending, is told by its first message and
spoken to as it expects (L{chat.line.packets}).

A client is let in (given a nick, welcomed and seated in the default room) once it shows it
is a chat client: on its first input, or L{ENTRY_DELAY} seconds after it connected, whichever
comes first (C{nc} users wait for a first line; they wait a tenth of a second).  A web
browser, a TLS client or a scanner that met the port by mistake sends its request at once and
is refused before that: it never has a nick, the room never hears of it joining and leaving,
and it never sees the room's history.
"""

from __future__ import annotations

import re

from twisted.internet import defer
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat import events
from chat.connection import Connection
from chat.errors import ChatError
from chat.fanout import BatchFanout, takeOutput
from chat.gate import Gate
from chat.hub import Hub
from chat.line.commands import execute
from chat.line.packets import FirstInput, asLine, asPacket
from chat.line.render import encode
from chat.line.telnet import IAC, TelnetInput
from chat.reader import LineReader

_HTTP_REQUEST = re.compile(rb"[A-Z]{3,7} \S+ HTTP/\d\.\d\Z")
_TLS_HANDSHAKE = b"\x16\x03"
_IAC = bytes([IAC])

# Seconds after connecting before a client that has sent nothing is let in: more than a probe
# takes to send its request (it sends it with the handshake's last packet, so it is read
# within a turn or two of the accept), little enough that no person notices.
ENTRY_DELAY = 0.1


class LineProtocol(Connection, LineReceiver):
    """
    One connected user of the line protocol, always in one room, its current C{room}.

    @ivar packets: whether the client sends one message per packet, not lines (see
        L{chat.line.packets}); known from its first message.
    """

    # Slots (see L{Connection}): ten thousand idle connections each save a dict.  The few
    # clients that send packets or speak telnet set the class defaults below.
    __slots__ = (
        "factory",
        "connected",
        "transport",
        "room",
        "_reader",
        "_entered",
        "_nick",
        "_sawInput",
        "_firstInput",
        "_decided",
    )

    packets = False
    _telnet: TelnetInput | None = None
    _hinted = False

    def __init__(self) -> None:
        Connection.__init__(self)
        self.factory: LineFactory | None = None
        self.connected = 0
        self.transport = None
        self.room = ""
        self._reader: LineReader | None = None
        self._entered = False
        self._nick = ""
        self._sawInput = False
        self._firstInput: FirstInput | None = None
        self._decided = False
        self._telnet: TelnetInput | None = None
        self._hinted = False

    # Connection

    def connectionMade(self) -> None:
        factory = self.factory
        if not self.startConnection(factory.gate, factory.fanout, prepare=False):
            return
        self._reader = LineReader(self, factory.gate.clock, factory.gate.limits, factory.maxLine)
        # Until the client is in, its input waits, still read (its first bytes let it in).
        self._reader.hold()
        factory.gate.enter(self._enter, ENTRY_DELAY)

    def enterNow(self) -> None:
        """
        The client sent something that is not a probe: let it in without waiting, unless the
        gate lets nobody in yet (its input waits for it).
        """
        if not self.gate.holding:
            self._enter()

    def _enter(self) -> None:
        """
        Register, welcome and seat the client (see the module docstring), unless it is in
        already or gone; its input waits until then.
        """
        if self._entered or self.closing:
            return
        self._entered = True
        self.prepareConnection()
        registering = self.factory.hub.connect(self)
        self._reader.release(registering.addCallbacks(self._registered, self.notRegistered))

    def _registered(self, nick: str) -> None:
        # No log line for a connect: it would cost a third of the CPU of a connect storm.  The
        # disconnect line names the peer and nick, and why it went.
        factory = self.factory
        self.deliver(events.Notice(f"Welcome to {factory.name}, {nick}! Type /help for the commands."))
        for line in factory.motd:
            self.deliver(events.Notice(f"MOTD: {line}"))
        self.room = factory.hub.defaultRoom
        try:
            factory.hub.join(self, self.room)
        except ChatError as e:  # banned from it: /join another
            self.deliver(events.Error(f"{e}; /join another room"))

    def kickedOutOf(self, room: str) -> None:
        """
        A kick took the client out of C{room}.  If that was its room, it goes back to the
        default room, as a line client is always in one, unless the kick was from there (or
        it may not go back): then it is in no room until it joins one.
        """
        if room != self.room:
            return
        hub = self.factory.hub
        self.room = ""
        if room == hub.defaultRoom:
            self.deliver(events.Notice("You are in no room; /join one"))
            return
        try:
            self.room = hub.join(self, hub.defaultRoom).name
        except ChatError as e:
            self.deliver(events.Error(f"{e}; you are in no room; /join one"))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._reader is not None:
            self._reader.stop()
        if self._firstInput is not None:
            self._firstInput.stop()
        self.leave(self.factory.hub, reason, admitted=self._reader is not None)

    # Input

    def dataReceived(self, data: bytes) -> None:
        if self._reader is None:
            return
        if not self._sawInput:
            self._sawInput = True
            if data.startswith(_TLS_HANDSHAKE):
                self.gate.stats.refusedConnections["tls"] += 1
                self.drop("This port speaks plain text, not TLS")
                return
            first = data.split(b"\n", 1)[0].rstrip(b"\r")
            if _HTTP_REQUEST.match(first):
                self.gate.stats.refusedConnections["http"] += 1
                self.drop("This is a chat server, not a web server")
                return
            self.enterNow()
        if self._telnet is not None or _IAC in data:
            if self._telnet is None:
                self._telnet = TelnetInput(self)
            data = self._telnet.feed(data)
            if not data or self.closing:
                return
        if self.packets:
            self._reader.dataReceived(asLine(data))
        elif self._decided:
            self._reader.dataReceived(data)
        else:
            if self._firstInput is None:
                self._firstInput = FirstInput(
                    self.factory.gate.clock, self._framingDecided, self.factory.gate.limits.maxRecvQ
                )
            self._firstInput.dataReceived(data)

    def _framingDecided(self, packets: bool, data: bytes) -> None:
        """
        The first input showed whether the client sends C{packets} or lines: from now on it
        is read so, starting with C{data}, that input as lines.
        """
        self._decided = True
        self._firstInput = None
        self.packets = packets
        if packets:
            self.log.info(
                "{peer} ({nick}) sends a message per packet, with no line ending",
                peer=self.peer,
                nick=self.nick,
            )
        if self._reader is not None and not self.closing:
            self._reader.dataReceived(data)

    def telnetReply(self, reply: bytes) -> None:
        """
        Write C{reply} after what is queued (telnet discards what came before its timing
        mark's answer, not after), through the output queue, so that a client that asks and
        never reads meets the SendQ limit.
        """
        self.writePending()
        self.pendingOutput = [reply]
        Connection.writePending(self)
        if self.packets:
            self.outlet = None

    def telnetInterrupted(self) -> None:
        """
        Ctrl-C in telnet is ignored: a chat has no process to interrupt, and a stray one
        should not throw anyone out.  The first one is met with a hint.
        """
        if not self._hinted:
            self._hinted = True
            self.deliver(events.Notice("Ctrl-C does not leave the chat; type /quit to leave"))

    def lineTooLong(self) -> None:
        self.deliver(
            events.Error(f"Line too long (over {self.factory.maxLine} bytes); it was discarded")
        )

    def lineReceived(self, line: bytes) -> defer.Deferred[None] | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.refusedLine("invalid-utf8", "refused a line that was not valid UTF-8")
            self.deliver(events.Error("That line was not valid UTF-8 and was discarded"))
            return None
        return self.runCommand(execute, "line", self.factory.hub, self, text)

    # Output

    def writePending(self) -> None:
        """
        Write what is queued, as the client shows it: see L{asPacket}.
        """
        if not self.packets:
            Connection.writePending(self)
            return
        data = takeOutput(self)
        if data:
            self.pendingOutput = [asPacket(data)]
            Connection.writePending(self)
        # Never straight to the socket from the fan-out: every write goes through here.
        self.outlet = None

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


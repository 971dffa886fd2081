"""
One client of any front end, as the core sees it: L{Connection}.

A front end's protocol inherits from it.  The connection is the hub L{chat.hub.Member} for
its user; the front end's L{chat.fanout.BatchFanout} queues its output, which
L{Connection.writePending} writes once a turn (straight to the socket when it can take it),
counting what piles up for a client that does not read; the L{chat.gate.Gate} admits it,
closes it when idle, and tells it of a shutdown; and every close ends within a bound, by an
abort if the graceful close does not finish (a peer that never reads would otherwise hold the
connection open, and its place in C{--max-clients}, for ever).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet import defer, tcp
from twisted.internet.error import ConnectionDone, ConnectionLost, TimeoutError
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IPushProducer,
    ITransport,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from chat import events
from chat.errors import ServerBanned
from chat.fanout import Batch, BatchFanout, Outlet, takeOutput

if TYPE_CHECKING:
    from chat.gate import Gate
    from chat.hub import Hub


def describePeer(address: IAddress) -> str:
    """
    A short form of a peer's address for the log: C{127.0.0.1:5000}, C{[::1]:5000}, C{unix}.
    """
    host = getattr(address, "host", None)
    if host is None:
        return "unix"
    return f"[{host}]:{address.port}" if ":" in host else f"{host}:{address.port}"


def plainReason(reason: Failure) -> str:
    """
    Why a connection went, in the words a user would use: Twisted's messages
    (C{Connection to the other side was lost in a non-clean fashion: Connection lost.}) are
    written for programmers, and every member of the room reads this one.
    """
    if reason.check(ConnectionDone):
        return "Connection closed"
    if reason.check(ConnectionLost):
        return "Connection reset"
    if reason.check(TimeoutError):
        return "Connection timed out"
    return reason.getErrorMessage()


# At most one log line in this many seconds per connection for refused lines and flood holds:
# a client that floods must not flood the log too.
NOTE_INTERVAL = 10.0


def idleSocket(transport: ITransport) -> Outlet | None:
    """
    The socket of C{transport} if bytes may go straight to it now: a plain TCP or UNIX
    connection, open, not aborting, with no TLS started on it and nothing buffered.  Any other
    transport (TLS, a WebSocket, an SSH channel) is written through C{ITransport.write}.

    C{FileDescriptor.write} always buffers and waits for the reactor to report the socket
    writable: two C{epoll_ctl} calls and a trip through the reactor per write, which cost more
    than the C{send} itself when each client gets one write a turn.
    """
    if (
        isinstance(transport, tcp.Connection)
        and transport.connected
        and not transport.disconnecting
        and not transport._aborting
        and not transport.TLS
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


class Connection:
    """
    A client connection of any front end: see the module docstring.

    A front end's protocol calls L{startConnection} from C{connectionMade} and
    L{endConnection} from C{connectionLost}, and L{touch} whenever the client sends something
    that counts as activity.

    @ivar closeReason: why the server closed the connection, once it has begun to.
    """

    # Slots, not instance dict entries: the fan-out reads and sets the first two once per
    # delivery, and ten thousand idle connections each save the dict the others would fill.
    # What only some connections ever set (below) stays out of the slots, as a class default
    # that the instance dict (every front end's protocol has one, from Twisted's) overrides:
    # each slot costs every idle connection.
    __slots__ = (
        "pendingOutput",
        "outlet",
        "gate",
        "fanout",
        "host",
        "countedHost",
        "lastActive",
        "_sendQueue",
        "_aborted",
        "_ended",
    )

    log = Logger()
    transport: ITransport
    nick = ""
    echo = True
    # Set by the hub (Hub.setAway, Hub.setAccount) on the few that go away or identify.
    away = ""
    account: str | None = None
    # Set on a connection that is closing.
    closeReason = ""
    _closeTimer: IDelayedCall | None = None
    # Set on a connection whose refused lines or flood holds are logged (see L{_note}).
    _notedAt = float("-inf")
    _unnoted = 0

    def __init__(self) -> None:
        self.pendingOutput: Batch | list[bytes | Batch] | None = None
        self.outlet: Outlet | None = None
        self.gate: Gate | None = None
        self.fanout: BatchFanout | None = None
        self.host: str | None = None
        self.countedHost: str | None = None
        self.lastActive = 0.0
        self._sendQueue: SendQueue | None = None
        self._aborted = False
        self._ended = False

    # Lifetime

    def startConnection(self, gate: Gate, fanout: BatchFanout, prepare: bool = True) -> bool:
        """
        Ask C{gate} to admit this connection; return whether it did.  A refused connection is
        told why and closed.  Unless told not to C{prepare} it now (a front end that lets
        its connections in later: see L{prepareConnection}), set it up for output.
        """
        self.gate = gate
        self.fanout = fanout
        # A front end's fanout counts into the gate's stats, whichever front end built it.
        fanout.stats = gate.stats
        address = self.transport.getPeer()
        self.host = getattr(address, "host", None)
        self.lastActive = gate.clock.seconds()
        refusal = gate.admit(self)
        if refusal is not None:
            self.log.info("{peer} refused: {why}", peer=self.peer, why=refusal)
            self.drop(refusal)
            return False
        # Not IConsumer.providedBy: TLS and other wrapping transports consume without saying so.
        # At once, as every connection's first change to its transport: transports whose
        # attributes come in one order share their keys (PEP 412), and a late one costs each
        # idle connection most of a kilobyte.
        if hasattr(self.transport, "registerProducer"):
            self._sendQueue = SendQueue()
            self.transport.registerProducer(self._sendQueue, True)
        if prepare:
            self.prepareConnection()
        return True

    def prepareConnection(self) -> None:
        """
        Set the connection's socket up for the output to come: no Nagle delay, keepalive.  A
        front end may leave this until it lets the connection in, so that the reactor's
        accept loop does as little as it can in a connect storm.
        """
        for option in ("setTcpNoDelay", "setTcpKeepAlive"):
            setter = getattr(self.transport, option, None)
            if setter is not None:
                setter(True)

    def notRegistered(self, failure: Failure) -> None:
        """
        The hub did not register this connection under a guest nick: a server ban closes it
        with its reason; anything else is a bug, logged, and the connection is closed.
        """
        if failure.check(ServerBanned):
            self.drop(str(failure.value))
            return
        if not self.closing:
            self.log.failure("Registering {peer}", failure, peer=self.peer)
            self.drop("Internal error: could not register a nick")

    def endConnection(self, reason: Failure) -> str:
        """
        The connection is gone: forget it, and return why it went, for the others to hear.
        """
        self._ended = True
        self.outlet = None
        if self._closeTimer is not None and self._closeTimer.active():
            self._closeTimer.cancel()
        self.gate.release(self)
        return self.closeReason or plainReason(reason)

    def leave(self, hub: Hub, reason: Failure, admitted: bool) -> None:
        """
        The connection is gone: forget it and, if the gate had C{admitted} it, take its
        member out of C{hub}, telling its rooms why.  This is the one log line of a
        connection's end, whoever ended it (the client, a drop, an abort): one line per event
        is what an operator can read, and count.
        """
        why = self.endConnection(reason)
        if admitted:
            hub.disconnect(self, why)
            self.log.info("{peer} ({nick}) disconnected: {why}", peer=self.peer, nick=self.nick, why=why)

    def touch(self, lines: int = 0) -> None:
        """
        The client did something (sent C{lines} lines, say): it is not idle.
        """
        self.lastActive = self.gate.clock.seconds()
        self.gate.stats.linesIn += lines

    def refusedLine(self, reason: str, why: str) -> None:
        """
        A line of this client's was refused (C{reason}: C{too-long}, C{invalid-utf8}): count
        it, and log C{why}, at most every L{NOTE_INTERVAL} seconds.
        """
        self.gate.stats.refusedLines[reason] += 1
        self._note(why)

    def floodHeld(self, seconds: float) -> None:
        """
        Flood control holds this client's input back for C{seconds}: count it, and log it at
        most every L{NOTE_INTERVAL} seconds.
        """
        self.gate.stats.floodHolds += 1
        self._note(f"flood control holds its input for {seconds:.1f} s")

    def _note(self, what: str) -> None:
        now = self.gate.clock.seconds()
        if now - self._notedAt < NOTE_INTERVAL:
            self._unnoted += 1
            return
        more = f" (and {self._unnoted} more since)" if self._unnoted else ""
        self._notedAt, self._unnoted = now, 0
        self.log.info("{peer} ({nick}): {what}{more}", peer=self.peer, nick=self.nick, what=what, more=more)

    @property
    def peer(self) -> str:
        """
        The client's address, for the log: worked out when a line is logged, not kept by
        every idle connection.
        """
        return describePeer(self.transport.getPeer())

    @property
    def closing(self) -> bool:
        """
        Whether the server has begun to close this connection, or it is gone.
        """
        return bool(self.closeReason) or self._ended or self._aborted

    def close(self, reason: str, within: float | None = None) -> None:
        """
        Close once what was delivered so far has been sent, and abort if that takes more than
        C{within} seconds (the gate's close timeout by default).  Only the first call counts.
        """
        if self.closing:
            return
        self.closeReason = reason
        self.writePending()
        self.outlet = None
        if self._sendQueue is not None:
            self.transport.unregisterProducer()
            self._sendQueue = None
        if within is None:
            within = self.gate.limits.closeTimeout
        self._closeTimer = self.gate.clock.callLater(within, self._closeTimedOut, within)
        self.transport.loseConnection()

    def _closeTimedOut(self, within: float) -> None:
        self._closeTimer = None
        self.abort(f"{self.closeReason}; still open {within:g} s later")

    def drop(self, reason: str) -> None:
        """
        Tell the client why, and close the connection.  Nothing is logged here: the
        disconnect line (L{leave}) says why the connection ended.
        """
        if self.closing:
            return
        self.deliver(events.Error(reason))
        self.close(reason)

    def closeIdle(self) -> None:
        self.drop(f"Idle timeout: no line for {self.gate.limits.idleTimeout:g} seconds")

    def shutdown(self, grace: float) -> None:
        """
        The server is stopping: say so, and close within C{grace} seconds.
        """
        if self.closing:
            return
        self.deliver(events.Notice("Server shutting down"))
        self.close("Server shutting down", within=grace)

    def abort(self, reason: str) -> None:
        """
        Close at once, throwing away whatever is queued for the client.
        """
        if self._aborted or self._ended:
            return
        self._aborted = True
        self.outlet = None
        self.pendingOutput = None
        self.closeReason = reason  # logged by leave, once the connection is gone
        # ITransport has no abort; a transport without one (a WebSocket, an SSH channel)
        # closes its own way, and its carrier enforces its own bounds.
        getattr(self.transport, "abortConnection", self.transport.loseConnection)()

    # Input

    def runCommand(
        self, run: Callable[..., defer.Deferred[None] | None], what: str, *args: object
    ) -> defer.Deferred[None] | None:
        """
        Run a command of the client's, C{run(*args)}, for C{what} it sent (a line, a
        message): a bug in one costs the client that command, told so, never the connection or
        a traceback to it.  Return what C{run} returns: a L{defer.Deferred} holds the client's
        next commands until it fires.
        """
        try:
            waiting = run(*args)
        except Exception:
            self.log.failure("Handling a {what} from {peer} ({nick})", what=what, peer=self.peer, nick=self.nick)
            self.deliver(events.Error(f"Internal error: that {what} was dropped"))
            return None
        if waiting is not None:
            waiting.addErrback(self._commandBroke, what)
        return waiting

    def _commandBroke(self, failure: Failure, what: str) -> None:
        self.log.failure("Finishing a command from {peer} ({nick})", failure, peer=self.peer, nick=self.nick)
        self.deliver(events.Error(f"Internal error: that {what} was dropped"))

    # Output

    def deliver(self, event: events.Event) -> None:
        if not self._aborted and not self._ended:
            self.fanout.toOne(self, event)

    def writePending(self) -> None:
        """
        Write what the fanout queued for this connection: called once a reactor turn, and
        before the connection closes.
        """
        data = takeOutput(self)
        if self._aborted or self._ended or not data:
            return
        try:
            queue = self._sendQueue
            if queue is not None and queue.blocked:
                queue.queued += len(data)
                if queue.queued > self.gate.limits.maxSendQ:
                    self.gate.stats.sendQAborts += 1
                    self.abort("SendQ exceeded")
                    return
            self.gate.stats.bytesOut += len(data)
            outlet = self.outlet
            if outlet is None and not self.closeReason:
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
            self.log.failure("Writing to {peer}", peer=self.peer)
            self.abort("Internal error")

    def sendRest(self, data: bytes) -> None:
        """
        Buffer what the socket did not take; until that drains, write through the transport.
        """
        self.outlet = None
        self.transport.write(data)

"""
The input rules of a line-based front end (the line protocol, IRC): L{LineReader}.

It splits what a connection sends into lines, once per chunk; refuses an overlong line whole
and gives up on a connection that sends too much without a line end; holds input back (and
stops reading the socket) while the connection is over its flood limit or a line's command
waits (for the cluster to grant a nick, say), so that lines are handled one after the other,
in order, whatever the chunking.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime, ITransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.limits import Limits


class LineHandler(Protocol):
    """
    What a L{LineReader} hands lines to: a front end's protocol.
    """

    transport: ITransport

    @property
    def closing(self) -> bool: ...

    def touch(self, lines: int = 0) -> None:
        """
        The client sent something (C{lines} lines): it is not idle.
        """

    def floodHeld(self, seconds: float) -> None:
        """
        Flood control holds the input back for C{seconds}.
        """

    def lineReceived(self, line: bytes) -> defer.Deferred[object] | None:
        """
        Handle one line, without its line ending; a L{defer.Deferred} result holds the next
        lines until it fires.
        """

    def lineTooLong(self) -> None:
        """
        A line longer than the limit was discarded.
        """

    def refusedLine(self, reason: str, why: str) -> None:
        """
        A line was refused, for C{reason}: to count, and log, as the handler sees fit.
        """

    def drop(self, reason: str) -> None:
        """
        Tell the client why, and close the connection.
        """


_ROUNDING = 1e-9
_NEVER = float("-inf")


def _finished(waiting: defer.Deferred[object]) -> bool:
    """
    Whether C{waiting} has its result: one that waits for another Deferred (a callback
    returned it) is C{called} already, but paused.
    """
    return waiting.called and not waiting.paused


def _rejoin(lines: list[bytes], partial: bytes) -> bytes:
    """
    The input not handled yet, as it came: whole C{lines}, then the C{partial} one.
    """
    return b"".join(line + b"\n" for line in lines) + partial


class LineReader:
    """
    Lines end in C{\\n} or C{\\r\\n}, so that a bare C{nc} works.

    @ivar maxLine: the longest line handled, in bytes without its line ending.
    """

    # One a connection: slots keep ten thousand idle ones small.
    __slots__ = (
        "_handler",
        "_clock",
        "_limits",
        "maxLine",
        "_pending",
        "_discarding",
        "_tokens",
        "_updated",
        "_floodWait",
        "_waiting",
        "_holding",
        "_stopped",
    )

    log = Logger()

    def __init__(
        self, handler: LineHandler, clock: IReactorTime, limits: Limits, maxLine: int
    ) -> None:
        self._handler = handler
        self._clock = clock
        self._limits = limits
        self.maxLine = maxLine
        self._pending = b""
        self._discarding = 0
        # The flood limit's token bucket, kept here rather than as an object of its own:
        # ten thousand idle connections each save one.  It starts full, so when it was last
        # filled does not matter: never (and no float of its own for each idle connection).
        self._tokens: float = limits.floodBurst
        self._updated = _NEVER
        self._floodWait: IDelayedCall | None = None
        self._waiting: defer.Deferred[object] | None = None
        self._holding = False
        self._stopped = False

    def dataReceived(self, data: bytes) -> None:
        if self._stopped:
            return
        if self._discarding:
            end = data.find(b"\n")
            if end < 0:
                self._discard(len(data))
                return
            data = data[end + 1 :]
            self._discarding = 0
        self._pending += data
        if not self._held():
            self._processPending()
        elif len(self._pending) > self._limits.maxRecvQ:  # held while the socket is read
            self._pending = b""
            self._handler.drop(f"Too much input: {self._limits.maxRecvQ} bytes before a reply")

    def waitFor(self, waiting: defer.Deferred[object], pause: bool = True) -> None:
        """
        Hold the lines to come until C{waiting} fires (a connection's registration, say).
        Unless told not to C{pause}, read nothing more from the socket meanwhile; without, what
        comes is kept (up to C{--max-recvq} bytes) for then.
        """
        if _finished(waiting):
            return
        self._waiting = waiting
        if pause:
            self._pauseReading()
        waiting.addBoth(self._waitDone)

    def hold(self) -> None:
        """
        Hold the lines to come until L{release}, still reading what comes (up to
        C{--max-recvq} bytes): a connection not let into the chat yet, whose first input
        decides it.  Unlike L{waitFor} it costs no object, for a connect storm's thousands.
        """
        self._holding = True

    def release(self, until: defer.Deferred[object]) -> None:
        """
        Let the lines held since L{hold} go once C{until} fires (at once if it has).
        """
        self._holding = False
        self._waiting = until
        until.addBoth(self._waitDone)

    def stop(self) -> None:
        """
        The connection is gone: handle nothing more, and let go of the flood timer.
        """
        self._stopped = True
        self._pending = b""
        if self._floodWait is not None and self._floodWait.active():
            self._floodWait.cancel()
        self._floodWait = None

    def _processPending(self) -> None:
        handler = self._handler
        lines = self._pending.split(b"\n")
        partial = lines.pop()
        if lines:
            handler.touch(len(lines))
            now = self._clock.seconds()
        for index, line in enumerate(lines):
            if self._stopped or handler.closing:
                self._pending = b""
                return
            if self._limits.floodRate:
                wait = self._takeToken(now)
                if wait:
                    self._pending = _rejoin(lines[index:], partial)
                    self._holdInput(wait)
                    return
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.maxLine:
                self._tooLong()
                continue
            try:
                waiting = handler.lineReceived(line)
            except Exception:
                self.log.failure("Handling a line")
                waiting = None
            if waiting is not None and not _finished(waiting):
                self._pending = _rejoin(lines[index + 1 :], partial)
                self.waitFor(waiting)
                return
        self._pending = partial
        # A CR that waits for its LF in the next chunk is part of the line end, not the line.
        if len(partial) - partial.endswith(b"\r") > self.maxLine:
            self._pending = b""
            self._tooLong()
            self._discard(len(partial))

    def _takeToken(self, now: float) -> float:
        """
        The flood limit: take one of C{--flood-burst} tokens, refilled at C{--flood-rate} a
        second, and return 0; or, with none left, return the seconds until there will be one.
        """
        rate = self._limits.floodRate
        self._tokens = min(self._limits.floodBurst, self._tokens + (now - self._updated) * rate)
        self._updated = now
        # Refilling in float arithmetic can leave the bucket a rounding error short of a whole
        # token just when the wait it asked for is over; count that as a token, or the wait
        # to come would be too short for the clock to see and never end.
        if self._tokens >= 1 - _ROUNDING:
            self._tokens = max(0.0, self._tokens - 1)
            return 0.0
        return (1 - self._tokens) / rate

    def _tooLong(self) -> None:
        self._handler.refusedLine("too-long", f"refused a line over {self.maxLine} bytes")
        self._handler.lineTooLong()

    def _discard(self, count: int) -> None:
        """
        Throw away C{count} more bytes of an overlong line; past the receive limit, give up on
        the connection.
        """
        self._discarding += count
        if self._discarding > self._limits.maxRecvQ:
            self._handler.drop(f"Line too long: no end of line in {self._limits.maxRecvQ} bytes")

    def _holdInput(self, seconds: float) -> None:
        """
        Over the flood limit: read nothing more until a line may be handled again.
        """
        self._pauseReading()
        self._floodWait = self._clock.callLater(seconds, self._releaseInput)
        self._handler.floodHeld(seconds)

    def _releaseInput(self) -> None:
        self._floodWait = None
        if self._waiting is None:
            self._processPending()
        if not self._held() and not self._stopped and not self._handler.closing:
            resume = getattr(self._handler.transport, "resumeProducing", None)
            if resume is not None:
                resume()

    def _pauseReading(self) -> None:
        """
        Stop reading the socket, so that the kernel's buffers, not this process, hold what
        the client sends meanwhile (a transport that cannot pause delivers into L{_pending}).
        """
        pause = getattr(self._handler.transport, "pauseProducing", None)
        if pause is not None:
            pause()

    def _held(self) -> bool:
        """
        Whether input waits: for the flood limit, or for a command to finish.
        """
        return self._floodWait is not None or self._waiting is not None or self._holding

    def _waitDone(self, result: object) -> None:
        if isinstance(result, Failure):
            self.log.failure("Finishing a command", result)
        self._waiting = None
        if self._floodWait is None and not self._stopped:
            self._releaseInput()

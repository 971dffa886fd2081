"""
The line front end's output: every event rendered once, every connection written once per
reactor turn.

A broadcast is the daemon's hot path.  Rendering a line and calling C{transport.write} per
recipient per line costs a Python call, and later a C{send()}, per delivery.  Here a room's
lines go into a shared L{Batch}, which costs one C{list.append} per line whatever the size of
the room; each connection collects what it is owed during the turn (batches and lines of its
own, in order) and gets it in one C{write} when the turn ends, before the reactor sleeps
again, so batching adds no latency.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from chat import events
from chat.hub import Member, Room
from chat.wire import encode


class Batch:
    """
    Lines for every member of one room, in order.  It stays open, so that a room's next
    line joins it, only while it is the last thing queued for each member of the room and the
    room's membership has not changed.
    """

    __slots__ = ("lines", "generation", "closed", "_data")

    def __init__(self, generation: int) -> None:
        self.lines: list[bytes] = []
        self.generation = generation
        self.closed = False
        self._data: bytes | None = None

    def data(self) -> bytes:
        """
        The batch's lines as one string of bytes, joined once and shared by every member.
        """
        self.closed = True
        if self._data is None:
            self._data = b"".join(self.lines)
        return self._data


class Recipient(Member, Protocol):
    """
    A member with an output queue: L{LineFanout} fills C{pendingOutput} and calls
    L{writePending} when the turn ends.
    """

    pendingOutput: list[bytes | Batch] | None

    def writePending(self) -> None: ...


def takeOutput(recipient: Recipient) -> bytes:
    """
    Empty C{recipient}'s queue; return what was in it, as one string of bytes.
    """
    queued = recipient.pendingOutput
    recipient.pendingOutput = None
    if not queued:
        return b""
    if len(queued) == 1:
        (item,) = queued
        return item if type(item) is bytes else item.data()
    return b"".join(item if type(item) is bytes else item.data() for item in queued)


class LineFanout:
    """
    The L{chat.hub.Fanout} of one factory's connections.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._waiting: list[Recipient] = []
        self._batches: dict[Room, Batch] = {}
        self._flushing: IDelayedCall | None = None

    def toRoom(self, room: Room, members: Collection[Recipient], event: events.Event) -> None:
        data = encode(event)
        batch = self._batches.get(room)
        if batch is None or batch.closed or batch.generation != room.generation:
            batch = self._batches[room] = Batch(room.generation)
            queue = self._queue
            for member in members:
                queued = member.pendingOutput
                if queued:
                    queue(member, batch)
                else:  # the common case, inlined: the member's first output this turn
                    member.pendingOutput = [batch]
                    self._waiting.append(member)
            self._flushSoon()
        batch.lines.append(data)

    def toEach(self, members: Iterable[Recipient], event: events.Event) -> None:
        data = encode(event)
        for member in members:
            self._queue(member, data)

    def toOne(self, member: Recipient, event: events.Event) -> None:
        self._queue(member, encode(event))

    def _queue(self, member: Recipient, item: bytes | Batch) -> None:
        queued = member.pendingOutput
        if queued is None:
            member.pendingOutput = [item]
            self._waiting.append(member)
            self._flushSoon()
            return
        last = queued[-1]
        if type(last) is Batch:
            last.closed = True  # this member is owed something after it now
        queued.append(item)

    def _flushSoon(self) -> None:
        """
        Flush when this reactor turn ends, before the reactor sleeps again.
        """
        if self._flushing is None:
            self._flushing = self._clock.callLater(0, self.flush)

    def flush(self) -> None:
        """
        Write out everything queued; called once a turn.
        """
        self._flushing = None
        self._batches.clear()
        waiting, self._waiting = self._waiting, []
        for member in waiting:
            if member.pendingOutput is not None:
                member.writePending()

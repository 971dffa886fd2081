"""
A front end's output: every event rendered once, every connection written once per reactor
turn.  Any front end that writes a stream of bytes (the line protocol, IRC) uses it with its
own renderer.

A broadcast is the daemon's hot path.  Rendering a line and calling C{transport.write} per
recipient per line costs a Python call, and later a C{send()}, per delivery.  Here a room's
lines go into a shared L{Batch}, which costs one C{list.append} per line whatever the size of
the room; each connection collects what it is owed during the turn (batches and lines of its
own, in order) and gets it in one C{write} when the turn ends, before the reactor sleeps
again, so batching adds no latency.

Most turns, a member is owed one batch and nothing else, and its socket has room: then the
flush hands the batch's bytes straight to the member's socket, with no Python call in between.
This loop runs once per delivery, hundreds of thousands of times a second under load, and each
call or list it saves shows in the server's CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from itertools import islice
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from chat import events
from chat.hub import Member, Room
from chat.stats import Stats

Encoder = Callable[[events.Event], bytes]


class Batch:
    """
    Lines for every member of one room, in order.  It stays open, so that a room's next
    line joins it, only while it is the last thing queued for each member of the room and no
    member has left the room.  A member who joins meanwhile hears the lines from its join on
    (see L{starts}): in a connect storm, a turn's joins then make one batch, not one each that
    every member of the room is queued.
    """

    __slots__ = ("lines", "generation", "departures", "size", "closed", "firsts", "skips", "starts", "_data")

    def __init__(self, room: Room, size: int) -> None:
        self.lines: list[bytes] = []
        self.generation = room.generation
        self.departures = room.departures
        self.size = size  # how many of the room's members (of this front end) it is for
        self.closed = False
        self.firsts: list[Recipient] = []  # the members this batch is the first thing owed to
        # The lines (by index) that a member does not hear: its own, when it has no echo.
        self.skips: dict[Recipient, set[int]] | None = None
        # The line (by index) from which a member who joined after the batch began hears it.
        self.starts: dict[Recipient, int] | None = None
        self._data: bytes | None = None

    def data(self) -> bytes:
        """
        The batch's lines as one string of bytes, joined once and shared by every member.
        """
        self.closed = True
        if self._data is None:
            self._data = b"".join(self.lines)
        return self._data

    def dataFor(self, member: Recipient) -> bytes:
        """
        The batch's lines that C{member} hears.
        """
        skipped = () if self.skips is None else self.skips.get(member, ())
        start = 0 if self.starts is None else self.starts.get(member, 0)
        if not skipped and not start:
            return self.data()
        self.closed = True
        # The runs of lines between the skipped ones, each joined at once: a sender skips
        # a few lines of many.
        lines = self.lines
        runs = []
        for index in sorted(skipped):
            if index >= start:
                runs.append(b"".join(lines[start:index]))
                start = index + 1
        runs.append(b"".join(lines[start:]))
        return b"".join(runs)


class Outlet(Protocol):
    """
    Where bytes go at once: a socket.
    """

    def send(self, data: bytes) -> int: ...


class Recipient(Member, Protocol):
    """
    A member with an output queue: L{BatchFanout} fills C{pendingOutput} (a lone L{Batch}, in
    the common case, or a list) and calls L{writePending} when the turn ends.

    @ivar outlet: set only while nothing is buffered for the member: its socket, whose C{send}
        takes bytes at once and says how many it took (or raises L{OSError} for none).
        L{BatchFanout} then writes a lone batch itself, and hands what was not taken to
        L{sendRest}.
    """

    pendingOutput: Batch | list[bytes | Batch] | None
    outlet: Outlet | None

    def writePending(self) -> None: ...

    def sendRest(self, data: bytes) -> None: ...


def takeOutput(recipient: Recipient) -> bytes:
    """
    Empty C{recipient}'s queue; return what was in it, as one string of bytes.
    """
    queued = recipient.pendingOutput
    recipient.pendingOutput = None
    if not queued:
        return b""
    if type(queued) is Batch:
        return queued.dataFor(recipient)
    if len(queued) == 1:
        (item,) = queued
        return item if type(item) is bytes else item.dataFor(recipient)
    return b"".join(item if type(item) is bytes else item.dataFor(recipient) for item in queued)


class BatchFanout:
    """
    The L{chat.hub.Fanout} of one front end's connections, which C{encode} renders events for.

    @ivar stats: where deliveries and bytes written are counted: the gate's, once a
        connection of this front end is admitted (L{chat.connection.Connection.startConnection}).
    """

    def __init__(self, clock: IReactorTime, encode: Encoder) -> None:
        self.stats = Stats()
        self._clock = clock
        self._encode = encode
        self._waiting: list[Recipient] = []  # members whose first output this turn is not a batch
        self._fresh: list[Batch] = []  # this turn's batches that are someone's first output
        self._batches: dict[Room, Batch] = {}
        self._flushing: IDelayedCall | None = None

    def toRoom(
        self,
        room: Room,
        members: Collection[Recipient],
        event: events.Event,
        skip: Recipient | None = None,
    ) -> None:
        data = self._encode(event)
        # Counted once an event, not once a delivery: this is the hot path.
        self.stats.deliveries += len(members) - (skip is not None)
        batch = self._batches.get(room)
        if batch is not None and batch.generation != room.generation and not batch.closed:
            if batch.departures == room.departures:
                self._joined(batch, room, members)
        if batch is None or batch.closed or batch.generation != room.generation:
            batch = self._batches[room] = Batch(room, len(members))
            queue = self._queue
            first = batch.firsts.append
            for member in members:
                queued = member.pendingOutput
                if queued:
                    queue(member, batch)
                else:  # the common case, inlined: the member's first output this turn
                    member.pendingOutput = batch
                    first(member)
            if batch.firsts:
                self._fresh.append(batch)
            self._flushSoon()
        if skip is not None:
            if batch.skips is None:
                batch.skips = {}
            batch.skips.setdefault(skip, set()).add(len(batch.lines))
        batch.lines.append(data)

    def _joined(self, batch: Batch, room: Room, members: Collection[Recipient]) -> None:
        """
        Members joined C{room} since C{batch} began, and none left: queue the batch to each of
        them, to be heard from the next line on.  C{members} is the room's audience (a dict,
        in the order they joined), so the ones who joined are its last.
        """
        start = len(batch.lines)
        if batch.starts is None:
            batch.starts = {}
        for member in islice(reversed(members), len(members) - batch.size):  # type: ignore[call-overload]
            batch.starts[member] = start
            self._queue(member, batch)
        batch.size = len(members)
        batch.generation = room.generation

    def toRoomExcept(
        self,
        room: Room,
        members: Collection[Recipient],
        event: events.Event,
        deaf: Collection[Recipient],
    ) -> None:
        """
        L{toRoom}, but C{deaf} do not hear it (they ignore its speaker): it joins the room's
        batch as any line does, as a line the batch skips for them.  Off the hot path.
        """
        self.toRoom(room, members, event)
        batch = self._batches[room]
        index = len(batch.lines) - 1
        if batch.skips is None:
            batch.skips = {}
        for member in deaf:
            if member in members:
                batch.skips.setdefault(member, set()).add(index)
                self.stats.deliveries -= 1

    def toEach(self, members: Iterable[Recipient], event: events.Event) -> None:
        data = self._encode(event)
        count = 0
        for member in members:
            self._queue(member, data)
            count += 1
        self.stats.deliveries += count

    def toOne(self, member: Recipient, event: events.Event) -> None:
        self.stats.deliveries += 1
        self._queue(member, self._encode(event))

    def _queue(self, member: Recipient, item: bytes | Batch) -> None:
        queued = member.pendingOutput
        if queued is None:
            member.pendingOutput = [item]
            self._waiting.append(member)
            self._flushSoon()
            return
        if type(queued) is Batch:
            queued.closed = True  # this member is owed something after it now
            member.pendingOutput = [queued, item]
            return
        last = queued[-1]
        if type(last) is Batch:
            last.closed = True
        queued.append(item)

    def _flushSoon(self) -> None:
        """
        Flush when this reactor turn ends, before the reactor sleeps again.
        """
        if self._flushing is None:
            self._flushing = self._clock.callLater(0, self.flush)

    @staticmethod
    def _flushSkipping(batch: Batch) -> int:
        """
        L{flush} for a batch that some of its members do not hear all of (senders without
        echo, who get the batch less their own lines); return the bytes sent straight.
        """
        data = batch.data()
        skips = batch.skips or {}
        written = 0
        for member in batch.firsts:
            outlet = member.outlet
            if outlet is None or member.pendingOutput is not batch:
                if member.pendingOutput is not None:  # else written already, by a close
                    member.writePending()
                continue
            member.pendingOutput = None
            payload = batch.dataFor(member) if member in skips else data
            if not payload:
                continue
            written += len(payload)
            try:  # Connection.writePending, inlined
                sent = outlet.send(payload)
            except OSError:
                sent = 0
            if sent != len(payload):
                member.sendRest(payload[sent:])
        return written

    def flush(self) -> None:
        """
        Write out everything queued; called once a turn.
        """
        self._flushing = None
        self._batches.clear()
        fresh, self._fresh = self._fresh, []
        waiting, self._waiting = self._waiting, []
        written = 0  # bytes handed straight to sockets; writePending counts its own
        for batch in fresh:
            if batch.skips is not None:
                written += self._flushSkipping(batch)
                continue
            data = batch.data()
            size = len(data)
            firsts = batch.firsts
            notDirect = 0  # counted on the rare path, not on the one taken a million times
            for member in firsts:
                outlet = member.outlet
                if outlet is None or member.pendingOutput is not batch:
                    notDirect += 1
                    if member.pendingOutput is not None:  # else written already, by a close
                        member.writePending()
                    continue
                member.pendingOutput = None
                try:  # Connection.writePending, inlined
                    sent = outlet.send(data)
                except OSError:
                    sent = 0
                if sent != size:
                    member.sendRest(data[sent:])
            written += (len(firsts) - notDirect) * size
        self.stats.bytesOut += written
        for member in waiting:
            if member.pendingOutput is not None:
                member.writePending()

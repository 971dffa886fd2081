"""
L{ClusterLink}: the hub's relay through Redis (see L{chat.cluster}).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import txredisapi
from twisted.application import service
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from chat import events
from chat.cluster.connections import Commands, Connections, RedisConnections
from chat.cluster.messages import (
    MalformedEvent,
    Message,
    NodeGone,
    NodeSynced,
    OtherFormat,
    decodeBatch,
    decodeEvent,
    decodeRooms,
    decodeState,
    encodeBatch,
    encodeEvent,
    encodeOne,
    encodeRooms,
    encodeState,
    ownPrefix,
)
from chat.errors import NoSuchNick, NoSuchRoom, NotInRoom
from chat.hub import ChatError, Hub, Member
from chat.moderation import ACTIONS, ADDING, standingRule
from chat.names import foldNick, foldRoom
from chat.relay import RemoteMember, isRemote

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

# A directory of members: nicks, each with its rooms.
Directory = dict[str, list[str]]

# The most events one message carries: a turn with more sends several, in order.
MAX_BATCH = 500

# The most distinct reasons for refusing messages of another format that are logged (once each).
MAX_FORMAT_WARNINGS = 16


class ClusterLink(service.Service):
    """
    The relay of a hub in a cluster of nodes sharing one Redis.

    @ivar ttl: seconds after which a node that stopped refreshing its presence counts as dead.
        A node that Redis does not know at all (as after Redis restarted empty) counts as dead
        only once this node has been linked for that long: until then it may be on its way
        back, and its members are kept, so that they neither quit nor join again for nothing.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        hub: Hub,
        endpoint: IStreamClientEndpoint | None = None,
        where: str = "Redis",
        password: str | None = None,
        db: int = 0,
        ttl: float = 6.0,
        node: str | None = None,
        connections: Connections | None = None,
    ) -> None:
        """
        @param connections: how to reach Redis; by default txredisapi's connections to
            C{endpoint}.
        """
        self.clock = clock
        self.hub = hub
        self.where = where
        self.ttl = ttl
        self.node = node or uuid.uuid4().hex[:12]
        self.prefix = f"chat:{db}:"
        self.channel = self.prefix + "events"
        self.linked = False
        # Seconds Redis took to answer the last heartbeat, for the metrics (None: none yet).
        self.roundTrip: float | None = None
        if connections is None:
            if endpoint is None:
                raise TypeError("a ClusterLink needs an endpoint or connections")
            connections = RedisConnections(endpoint, password, db, retry=max(0.5, ttl / 3))
        self._connections = connections
        self._commands: Commands | None = None
        self._subscriber: object | None = None
        self._backlog: list[str | bytes] | None = None
        self._everLinked = False
        self._linkedAt = 0.0
        # This node's entries in its directory in Redis, as read when it last synced: those
        # of members gone since are removed when it announces its members.
        self._ownEntries: set[str] = set()
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = clock
        # This turn's writes, sent together when it ends (L{_flush}): the events for the
        # channel, the lines said in each room (by name, as the hub spells it) for its
        # history, directory entries (None: deleted), topics, and the rest (state, rules).
        self._outbox: list[str] = []
        self._lines: dict[str, list[str]] = {}
        self._entries: dict[str, str | None] = {}
        self._topics: dict[str, str] = {}
        self._writes: list[tuple[str, ...]] = []  # other writes, in order
        self._flushing: IDelayedCall | None = None
        # Lines this node pushed to each room's history (by key) since it last trimmed it:
        # it trims it once it pushed as many as a history keeps, not after every push.
        self._untrimmed: dict[str, int] = {}
        self._own = ownPrefix(self.node)
        self._ownBytes = self._own.encode("utf-8")
        self._formatWarnings: set[str] = set()
        hub.relay = self

    # Service

    def startService(self) -> None:
        super().startService()
        self.log.info("Node {node} joining the cluster at {redis}", node=self.node, redis=self.where)
        self._connections.start(self)
        self._heartbeat.start(self.ttl / 3, now=False)

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        if self._heartbeat.running:
            self._heartbeat.stop()
        self._flush()  # the quits of this node's members, first
        leaving = defer.succeed(None)
        if self.linked and self._commands is not None:
            redis = self._commands
            leaving = defer.gatherResults(
                [
                    redis.delete(self._aliveKey(self.node)),
                    redis.delete(self._directoryKey(self.node)),
                    redis.delete(self._stateKey(self.node)),
                    redis.srem(self.prefix + "nodes", self.node),
                ],
                consumeErrors=True,
            )
        leaving.addErrback(lambda failure: None)
        leaving.addCallback(lambda _: self._connections.stop())
        return leaving.addBoth(lambda _: None)

    # Relay

    def publish(self, event: events.Event) -> None:
        """
        Queue C{event} for this turn's message on the channel, with what it changes in Redis:
        a turn's events go in one C{PUBLISH}, a room's lines in one C{LPUSH}, whatever the
        load (L{_flush}).
        """
        if not self.linked or self._commands is None:
            return
        encoded = encodeOne(event)
        self._outbox.append(encoded)
        kind = type(event)
        if kind is events.Said:
            # A shared store (Redis) keeps the lines itself: no list of the link's as well.
            if self.hub.historySize and not self._storeShared():
                lines = self._lines.get(event.room)
                if lines is None:
                    lines = self._lines[event.room] = []
                lines.append(encoded)
        # The directory entry of the member concerned, as it is once C{event} is done.
        elif kind is events.Joined:
            self._entries[event.nick] = encodeRooms(self._roomsOf(event.nick))
            self._publishState(event.nick)
        elif kind is events.Left:
            # The hub tells of a part before it takes the member out of the room.
            rooms = [room for room in self._roomsOf(event.nick) if foldRoom(room) != foldRoom(event.room)]
            self._entries[event.nick] = encodeRooms(rooms)
        elif kind is events.Quit:
            self._entries[event.nick] = None
            self._write(("HDEL", self._stateKey(self.node), event.nick))
        elif kind is events.NickChanged:
            self._entries[event.old] = None
            self._entries[event.new] = encodeRooms(self._roomsOf(event.new))
            self._write(("HDEL", self._stateKey(self.node), event.old))
            self._storeState(event.new)
        elif kind is events.AwayChanged or kind is events.AccountChanged:
            self._storeState(event.nick)
        elif kind is events.TopicChanged:
            self._topics[self.prefix + f"topic:{foldRoom(event.room)}"] = event.topic
        elif kind is events.Moderated:
            # Standing rules are kept in Redis too, for the nodes that join later.
            rule = standingRule(event)
            if rule is not None:
                field = "\x00".join(rule)
                if event.action in ADDING:
                    self._write(("HSET", self.prefix + "rules", field, encodeEvent(self.node, event)))
                else:
                    self._write(("HDEL", self.prefix + "rules", field))
        if self._flushing is None:
            self._flushing = self.clock.callLater(0, self._flush)

    def _write(self, command: tuple[str, ...]) -> None:
        """
        Queue C{command} for the end of this turn, after the turn's message and in order with
        the other writes queued so.
        """
        self._writes.append(command)
        if self._flushing is None:
            self._flushing = self.clock.callLater(0, self._flush)

    def _flush(self) -> None:
        """
        Send what this turn queued: the events first, then what they change in Redis, all on
        the one command connection, so that Redis applies them in that order and before any
        command sent after.  Called when the turn ends, and before any command whose order
        with them matters.
        """
        if self._flushing is not None:
            if self._flushing.active():
                self._flushing.cancel()
            self._flushing = None
        outbox, self._outbox = self._outbox, []
        lines, self._lines = self._lines, {}
        entries, self._entries = self._entries, {}
        topics, self._topics = self._topics, {}
        writes, self._writes = self._writes, []
        redis = self._commands
        if not self.linked or redis is None or not (outbox or writes):
            return
        commands: list[tuple[str, ...]] = [
            ("PUBLISH", self.channel, encodeBatch(self.node, outbox[start : start + MAX_BATCH]))
            for start in range(0, len(outbox), MAX_BATCH)
        ]
        size = self.hub.historySize
        untrimmed = self._untrimmed
        for room, said in lines.items():
            # Only the last lines can stay in the history; LPUSH of several values pushes
            # each in turn, so that the newest ends up first.
            key = self.prefix + f"history:{foldRoom(room)}"
            pushed = said[-size:]
            commands.append(("LPUSH", key, *[encodeBatch(self.node, (line,)) for line in pushed]))
            count = untrimmed.get(key, 0) + len(pushed)
            if count >= size:
                commands.append(("LTRIM", key, "0", str(size - 1)))
                count = 0
            untrimmed[key] = count
        directory = self._directoryKey(self.node)
        gone = [nick for nick, entry in entries.items() if entry is None]
        if gone:
            commands.append(("HDEL", directory, *gone))
        for nick, entry in entries.items():
            if entry is not None:
                commands.append(("HSET", directory, nick, entry))
        for key, topic in topics.items():
            commands.append(("SET", key, topic))
        commands.extend(writes)
        # Nothing waits for these: sent with no reply asked for, they cost no reply to read
        # and no Deferred each, which was a fifth of a node's time at 1000 lines a second.
        redis.sendUnanswered(commands)

    def forget(self, room: str) -> None:
        key = foldRoom(room)
        self._untrimmed.pop(self.prefix + f"history:{key}", None)
        redis = self._commands
        if not self.linked or redis is None:
            return  # kept until the room is next emptied while linked
        self._flush()  # its last lines go before it does
        forgetting = redis.delete([self.prefix + f"history:{key}", self.prefix + f"topic:{key}"])
        forgetting.addErrback(self._commandFailed)

    def claim(self, nick: str) -> defer.Deferred[bool]:
        redis = self._commands
        if not self.linked or redis is None:
            # Cut off from the cluster: nicks are checked on this server alone until it is back.
            return defer.succeed(True)
        claiming = redis.set(self._nickKey(nick), self.node, only_if_not_exists=True)
        claiming.addCallback(lambda reply: reply == "OK")
        claiming.addErrback(lambda failure: self._commandFailed(failure) or True)
        return claiming

    def guestNumber(self) -> defer.Deferred[int | None]:
        """
        The next number of one counter for the whole cluster: two nodes never hand out the
        same guest nick, so no node can mistake one node's guest for another's while an
        event about it is still on its way.
        """
        redis = self._commands
        if not self.linked or redis is None:
            return defer.succeed(None)
        counting = redis.incr(self.prefix + "guests")
        counting.addErrback(lambda failure: self._commandFailed(failure))
        return counting

    def release(self, nick: str) -> None:
        redis = self._commands
        if self.linked and redis is not None:
            redis.eval(_RELEASE, [self._nickKey(nick)], [self.node]).addErrback(self._commandFailed)

    # The Redis connections (L{chat.cluster.connections}) call these

    def commandsUp(self, redis: Commands) -> None:
        self._commands = redis
        self._maybeLinked()

    def subscribed(self, subscriber: object) -> None:
        self._subscriber = subscriber
        self._maybeLinked()

    def commandsDown(self, redis: Commands) -> None:
        if redis is self._commands:
            self._commands = None
            self._unlinked()

    def subscriberDown(self, subscriber: object) -> None:
        if subscriber is self._subscriber:
            self._subscriber = None
            self._unlinked()

    def _maybeLinked(self) -> None:
        if self.linked or self._commands is None or self._subscriber is None:
            return
        self._backlog = []  # events that come while the snapshot loads wait for it
        d = defer.ensureDeferred(self._sync(self._commands))
        d.addCallbacks(self._synced, self._syncFailed)

    def _synced(self, _: object) -> None:
        self.linked = True
        self._linkedAt = self.clock.seconds()
        if self._commands is not None:
            self._announce(self._commands)
        backlog, self._backlog = self._backlog or [], None
        for message in backlog:
            self.received(message)
        if self._everLinked:
            self.log.info("Cluster link to {redis} is back", redis=self.where)
            self.hub.broadcastNotice("The link to the other servers is back")
        else:
            self.log.info("Node {node} is in the cluster", node=self.node)
        self._everLinked = True

    def _syncFailed(self, failure) -> None:
        self._backlog = None
        self.log.warn("Joining the cluster failed ({why}); retrying", why=failure.getErrorMessage())
        if self._commands is not None:
            self._commands.transport.loseConnection()

    def _unlinked(self) -> None:
        self._backlog = None
        if not self.linked:
            return
        self.linked = False
        if not self.running:  # stopping: the link goes down because this node leaves
            return
        self.log.warn("Cluster link to {redis} is down; serving this server's clients alone", redis=self.where)
        self.hub.broadcastNotice(
            "The link to the other servers is down: you reach only people on this server for now"
        )

    async def _sync(self, redis: Commands) -> None:
        """
        Load who is elsewhere, the topics and the histories; L{_announce} then tells the
        others who is here.

        Presence comes first, so that no node finds this one in C{nodes} without it.  Nodes
        that Redis does not know (yet) keep their members here: they are either on their way
        back, and tell their members when they are (L{NodeSynced}), or dead, which
        L{_reapDead} finds out.
        """
        prefix = self.prefix
        await self._refreshPresence(redis)
        self._ownEntries = set(await redis.hgetall(self._directoryKey(self.node)))
        await self._reapDead(redis, dropUnknown=False)
        directories: dict[str, Directory] = {}
        for node in await redis.smembers(prefix + "nodes"):
            if node != self.node:
                entries = await redis.hgetall(self._directoryKey(node))
                directories[node] = {nick: decodeRooms(rooms) for nick, rooms in entries.items()}
        self._settle(directories, "Left while the link was down")
        for field, entry in (await redis.hgetall(prefix + "rules")).items():
            try:
                rule = decodeEvent(entry)[1]
            except MalformedEvent:
                continue
            if not isinstance(rule, events.Moderated) or rule.action not in ADDING:
                continue
            if rule.until and rule.until <= self.clock.seconds():
                await redis.hdel(prefix + "rules", field)  # lapsed: nobody needs it again
            else:
                self.hub.moderation.adopt(rule)
        for node in directories:
            for nick, entry in (await redis.hgetall(self._stateKey(node))).items():
                self._applyState(node, nick, *decodeState(entry))
        for room in self.hub.rooms():
            key = foldRoom(room.name)
            topic = await redis.get(prefix + f"topic:{key}")
            if topic:
                room.topic = topic
            if self._storeShared():  # the history is the store's, which the nodes share
                history = await self.hub.store.lines(room.name, self.hub.historySize)
            else:
                lines = await redis.lrange(prefix + f"history:{key}", 0, self.hub.historySize - 1)
                history = []
                for line in reversed(lines):
                    try:
                        history.append(decodeEvent(line)[1])
                    except MalformedEvent:
                        pass
            room.history.clear()
            room.history.extend(said for said in history if isinstance(said, events.Said))

    def _announce(self, redis: Commands) -> None:
        """
        Tell the cluster who is on this node, in Redis (nicks, directory, C{nodes}) and on the
        channel (L{NodeSynced}), at once and in this order: no node reads this node's
        directory half written, and every event this node publishes after is applied after.
        """
        self._flush()
        prefix = self.prefix
        directory = self._directoryKey(self.node)
        local = {
            member.nick: [room.name for room in self.hub.roomsOf(member)] for member in self._local()
        }
        calls = [defer.ensureDeferred(self._claimAgain(redis, nick)) for nick in local]
        stale = [nick for nick in self._ownEntries if nick not in local]
        self._ownEntries = set()
        if stale:
            calls.append(redis.hdel(directory, stale))
        if local:
            entries = {nick: encodeRooms(rooms) for nick, rooms in local.items()}
            calls.append(redis.hmset(directory, entries))
        calls.append(redis.delete(self._stateKey(self.node)))
        for member in self._local():
            self._storeState(member.nick)
        self._flush()  # the state entries, before the node is announced
        calls.append(redis.sadd(prefix + "nodes", self.node))
        calls.append(redis.publish(self.channel, encodeEvent(self.node, NodeSynced(local))))
        for call in calls:
            call.addErrback(self._commandFailed)

    async def _claimAgain(self, redis: Commands, nick: str) -> None:
        if await redis.set(self._nickKey(nick), self.node, only_if_not_exists=True) != "OK":
            owner = await redis.get(self._nickKey(nick))
            if owner != self.node:
                self.log.warn("Nick {nick} is held on node {owner} too", nick=nick, owner=owner)

    def _settle(self, directories: dict[str, Directory], reason: str) -> None:
        """
        Make this hub's copies of the members of each node in C{directories} exactly what its
        directory says, announcing only real differences: members no longer there quit (with
        C{reason}), new ones join their rooms, and known ones join or leave only the rooms
        they joined or left meanwhile.  Members of other nodes are left alone.
        """
        wanted = {node: {foldNick(nick) for nick in members} for node, members in directories.items()}
        for member in self.hub.members():
            if not isRemote(member) or member.node not in wanted:
                continue  # the members of nodes not in C{directories} stay as they are
            if foldNick(member.nick) not in wanted[member.node]:
                self.hub.disconnect(member, reason)
        for node, directory in directories.items():
            for nick, rooms in directory.items():
                try:
                    member = self._remote(nick, node, lambda proxy: None)
                    if member.nick != nick:
                        self.hub.rename(member, nick)  # a change of case
                except ChatError as e:  # both sides took one nick while the link was down
                    self.log.warn("Not seating {nick} of node {node}: {why}", nick=nick, node=node, why=str(e))
                    continue
                self._seatIn(member, rooms)

    def _seatIn(self, member: RemoteMember, rooms: list[str]) -> None:
        """
        Seat C{member} in exactly C{rooms}.
        """
        wanted = {foldRoom(room): room for room in rooms}
        for room in self.hub.roomsOf(member):
            if wanted.pop(foldRoom(room.name), None) is None:
                self.hub.part(member, room.name)
        for room in wanted.values():
            try:
                self.hub.join(member, room)
            except ChatError as e:
                self.log.warn("Not seating {nick} in {room}: {why}", nick=member.nick, room=room, why=str(e))

    async def _reap(self, redis: Commands, node: str) -> None:
        """
        Remove the dead C{node} from Redis, and tell every node to drop its members.
        """
        members = await redis.hgetall(self._directoryKey(node))
        self.log.warn("Node {node} is gone; removing its {count} members", node=node, count=len(members))
        for nick in members:
            await redis.eval(_RELEASE, [self._nickKey(nick)], [node])
        await redis.delete(self._directoryKey(node))
        await redis.delete(self._stateKey(node))
        await redis.srem(self.prefix + "nodes", node)
        self._flush()
        await redis.publish(self.channel, encodeEvent(self.node, NodeGone(node)))

    def _drop(self, node: str) -> None:
        """
        Drop this hub's copies of the members of the dead C{node}.
        """
        for member in self.hub.members():
            if isRemote(member) and member.node == node:
                self.hub.disconnect(member, "Server lost")

    def _beat(self) -> None:
        redis = self._commands
        if not self.linked or redis is None:
            return
        sent = self.clock.seconds()
        refreshed = self._refreshPresence(redis)
        refreshed.addCallback(self._answered, sent)
        refreshed.addErrback(self._commandFailed)
        dropUnknown = self.clock.seconds() - self._linkedAt >= self.ttl
        defer.ensureDeferred(self._reapDead(redis, dropUnknown)).addErrback(self._commandFailed)

    def _answered(self, result: object, sent: float) -> object:
        self.roundTrip = self.clock.seconds() - sent
        return result

    def _refreshPresence(self, redis: Commands) -> defer.Deferred[object]:
        """
        Say this node is alive for another L{ttl} seconds.
        """
        return redis.set(self._aliveKey(self.node), "1", expire=max(1, round(self.ttl)))

    async def _reapDead(self, redis: Commands, dropUnknown: bool) -> None:
        """
        Find the nodes whose presence expired.  Those Redis still lists are reaped (whichever
        node gets there first); the members of all of them are dropped here, whoever reaped
        them, so that no node keeps ghosts even if it missed the L{NodeGone}.

        @param dropUnknown: whether to drop the members of nodes that Redis does not list
            either, which may be on their way back after Redis lost everything.
        """
        listed = set(await redis.smembers(self.prefix + "nodes"))
        known = {member.node for member in self.hub.members() if isRemote(member)}
        for node in sorted((listed | known) - {self.node}):
            if await redis.exists(self._aliveKey(node)):
                continue
            if node in listed:
                await self._reap(redis, node)
            if node in listed or dropUnknown:
                self._drop(node)

    # Events from the other nodes

    def received(self, message: str | bytes) -> None:
        """
        Play a message from the channel into the hub: its events in order, in this turn, so
        that the fan-out writes each local client once for all of them.  A message that is
        unreadable in any part is refused whole, and logged.
        """
        if self._backlog is not None:
            self._backlog.append(message)
            return
        if message.startswith(self._own if type(message) is str else self._ownBytes):
            return  # this node's own, heard back
        try:
            node, batch = decodeBatch(message)
        except OtherFormat as e:
            self._otherFormat(str(e))
            return
        except MalformedEvent as e:
            self.log.warn("Ignored a malformed message on {channel}: {why}", channel=self.channel, why=str(e))
            return
        if node == self.node:
            return
        for event in batch:
            try:
                self._apply(node, event)
            except ChatError as e:
                self.log.debug("Event {event!r} from {node} did not apply: {why}", event=event, node=node, why=str(e))

    def _otherFormat(self, why: str) -> None:
        if why in self._formatWarnings or len(self._formatWarnings) >= MAX_FORMAT_WARNINGS:
            return
        self._formatWarnings.add(why)
        self.log.error(
            "Ignored a message on {channel} in another format ({why}): a node of another version"
            " is in this cluster, and every node must run the same version",
            channel=self.channel,
            why=why,
        )

    def _apply(self, node: str, event: Message) -> None:
        hub = self.hub
        if type(event) is events.Said:
            # The common case first, in a few lookups: a member this hub knows as C{node}'s,
            # in the room.
            try:
                member = hub.find(event.nick)
            except NoSuchNick:
                member = None
            if member is None or not isRemote(member) or member.node != node:
                member = self._remote(event.nick, node, lambda proxy: None)
            try:
                hub.sayRelayed(member, event)
            except (NotInRoom, NoSuchRoom):
                self._seat(member, event.room)
                hub.sayRelayed(member, event)
        elif isinstance(event, events.Joined):
            self._remote(event.nick, node, lambda proxy: self._seat(proxy, event.room))
        elif isinstance(event, events.Left):
            hub.part(self._remote(event.nick, node), event.room)
        elif isinstance(event, events.Quit):
            hub.disconnect(self._remote(event.nick, node), event.reason)
        elif isinstance(event, events.NickChanged):
            hub.rename(self._remote(event.old, node), event.new)
        elif isinstance(event, events.TopicChanged):
            proxy = self._remote(event.nick, node, lambda proxy: self._seat(proxy, event.room))
            hub.setTopic(proxy, event.room, event.topic)
        elif isinstance(event, events.AwayChanged):
            hub.setAway(self._remote(event.nick, node), event.away)
        elif isinstance(event, events.AccountChanged):
            hub.setAccount(self._remote(event.nick, node), event.account)
        elif isinstance(event, events.PrivateMessage):
            recipient = hub.find(event.recipient)
            if not isRemote(recipient) and not self._ignored(recipient, event.sender):
                recipient.deliver(events.PrivateMessage(event.sender, recipient.nick, event.text))
        elif isinstance(event, events.Moderated):
            if event.action in ACTIONS:
                hub.moderation.apply(event)
        elif isinstance(event, NodeSynced):
            self._settle({node: event.members}, "Left while the link was down")
            self._fetchState(node)
        elif isinstance(event, NodeGone):
            if event.dead == self.node:
                # Taken for dead (stalled past the TTL): the others dropped this node's
                # members, so tell them again.
                self.log.warn("Node {node} took this node for dead; announcing it again", node=node)
                if self._commands is not None:
                    self._refreshPresence(self._commands).addErrback(self._commandFailed)
                    self._announce(self._commands)
            else:
                self._drop(event.dead)

    def _remote(
        self, nick: str, node: str, seat: Callable[[RemoteMember], None] | None = None
    ) -> RemoteMember:
        """
        The member C{nick} of C{node}, as this hub knows it; with C{seat}, registered and
        seated first if this hub did not know it yet.
        """
        try:
            member = self.hub.find(nick)
        except ChatError:
            if seat is None:
                raise
            member = self.hub.addRemote(nick, node)
            seat(member)
            return member
        if not isRemote(member):
            raise ChatError(f"{nick} from node {node} is also a member of this server")
        if member.node != node:
            # Two nodes' members by one nick: this hub knows the other, and must not take
            # this one for it (or it would not drop it with its node).
            raise ChatError(f"{nick} from node {node} is a member of node {member.node} here")
        if seat is not None:
            seat(member)
        return member

    def _ignored(self, recipient: Member, sender: str) -> bool:
        moderation = self.hub.moderation
        if not moderation.screening:
            return False
        try:
            return moderation.ignores(recipient, self.hub.find(sender))
        except ChatError:
            return False

    def _seat(self, proxy: RemoteMember, room: str) -> None:
        if foldRoom(room) not in {foldRoom(joined.name) for joined in self.hub.roomsOf(proxy)}:
            self.hub.join(proxy, room)

    def _storeState(self, nick: str) -> None:
        """
        Keep the away message and account of this node's member C{nick} in the node's state
        hash, where a node that learns of it later (L{_sync}) reads them.
        """
        away, account = self._stateOf(nick)
        key = self._stateKey(self.node)
        if away or account is not None:
            self._write(("HSET", key, nick, encodeState(away, account)))
        else:
            self._write(("HDEL", key, nick))

    def _stateOf(self, nick: str) -> tuple[str, str | None]:
        """
        The away message and account of the member C{nick}: none for a member gone.
        """
        try:
            member = self.hub.find(nick)
        except ChatError:
            return "", None
        return getattr(member, "away", ""), getattr(member, "account", None)

    def _fetchState(self, node: str) -> None:
        """
        Read the away messages and accounts of the members of C{node}, which (re)joined the
        cluster: they may have changed while it was cut off.
        """
        redis = self._commands
        if redis is None:
            return

        def read(entries: dict[str, str]) -> None:
            for nick, entry in entries.items():
                self._applyState(node, nick, *decodeState(entry))

        redis.hgetall(self._stateKey(node)).addCallback(read).addErrback(self._commandFailed)

    def _applyState(self, node: str, nick: str, away: str, account: str | None) -> None:
        try:
            member = self._remote(nick, node)
            self.hub.setAway(member, away)
        except ChatError:
            return
        self.hub.setAccount(member, account)

    def _publishState(self, nick: str) -> None:
        """
        After a member's join, its away message and account, if it has them: the other
        servers learn of a member from its joins, and it may have gone away or identified
        before it joined anything (an IRC client identifies as it registers).
        """
        away, account = self._stateOf(nick)
        if away:
            self._outbox.append(encodeOne(events.AwayChanged(nick, away)))
        if account is not None:
            self._outbox.append(encodeOne(events.AccountChanged(nick, account)))
        if away or account is not None:
            self._storeState(nick)

    # Helpers

    def _storeShared(self) -> bool:
        """
        Whether the hub keeps its lines in a store every node shares (Redis): then a room's
        history is read there, and this link keeps none of its own.
        """
        return self.hub.store is not None and self.hub.store.shared

    def _local(self) -> Iterable[Member]:
        return [member for member in self.hub.members() if not isRemote(member)]

    def _nickKey(self, nick: str) -> str:
        return self.prefix + f"nick:{foldNick(nick)}"

    def _aliveKey(self, node: str) -> str:
        return self.prefix + f"alive:{node}"

    def _directoryKey(self, node: str) -> str:
        return self.prefix + f"members:{node}"

    def _stateKey(self, node: str) -> str:
        return self.prefix + f"state:{node}"

    def _roomsOf(self, nick: str) -> list[str]:
        try:
            return [room.name for room in self.hub.roomsOf(self.hub.find(nick))]
        except ChatError:
            return []

    def _commandFailed(self, failure: Any) -> None:
        failure.trap(txredisapi.ConnectionError, txredisapi.ResponseError, defer.CancelledError)
        self.log.debug("A Redis command failed: {why}", why=failure.getErrorMessage())

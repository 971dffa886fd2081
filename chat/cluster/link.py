"""
L{ClusterLink}: the hub's relay through Redis (see L{chat.cluster}).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import txredisapi
from twisted.application import service
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from chat import events
from chat.cluster.connections import CommandConnection, SubscriberConnection
from chat.cluster.messages import MalformedEvent, decodeEvent, encodeEvent
from chat.hub import ChatError, Hub
from chat.names import foldNick, foldRoom
from chat.relay import RemoteMember, isRemote

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

class ClusterLink(service.Service):
    """
    The relay of a hub in a cluster of nodes sharing one Redis.

    @ivar ttl: seconds after which a node that stopped refreshing its presence counts as dead.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        hub: Hub,
        endpoint: IStreamClientEndpoint,
        where: str = "Redis",
        password: str | None = None,
        db: int = 0,
        ttl: float = 6.0,
        node: str | None = None,
    ) -> None:
        self.clock = clock
        self.hub = hub
        self.endpoint = endpoint
        self.where = where
        self.ttl = ttl
        self.node = node or uuid.uuid4().hex[:12]
        self.prefix = f"chat:{db}:"
        self.channel = self.prefix + "events"
        self.linked = False
        self._commands: CommandConnection | None = None
        self._subscriber: SubscriberConnection | None = None
        self._backlog: list[str | bytes] | None = None
        self._everLinked = False
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.clock = clock
        self._factories: list[txredisapi.RedisFactory] = []
        commands = txredisapi.RedisFactory(None, db, 1, isLazy=True, password=password)
        commands.protocol = CommandConnection
        subscriber = txredisapi.SubscriberFactory(isLazy=True)
        subscriber.protocol = SubscriberConnection
        subscriber.password = password
        for factory in (commands, subscriber):
            factory.link = self
            self._factories.append(factory)
        hub.relay = self

    # Service

    def startService(self) -> None:
        super().startService()
        self.log.info("Node {node} joining the cluster at {redis}", node=self.node, redis=self.where)
        for factory in self._factories:
            factory.startConnecting(self.endpoint)
        self._heartbeat.start(self.ttl / 3, now=False)

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        if self._heartbeat.running:
            self._heartbeat.stop()
        leaving = defer.succeed(None)
        if self.linked and self._commands is not None:
            redis = self._commands
            leaving = defer.gatherResults(
                [
                    redis.delete(self.prefix + f"alive:{self.node}"),
                    redis.delete(self.prefix + f"members:{self.node}"),
                    redis.srem(self.prefix + "nodes", self.node),
                ],
                consumeErrors=True,
            )
        leaving.addErrback(lambda failure: None)
        leaving.addCallback(
            lambda _: defer.gatherResults(
                [factory.disconnect() for factory in self._factories], consumeErrors=True
            )
        )
        return leaving.addBoth(lambda _: None)

    # Relay

    def publish(self, event: events.Event) -> None:
        redis = self._commands
        if not self.linked or redis is None:
            return
        calls = [redis.publish(self.channel, encodeEvent(self.node, event))]
        members = self.prefix + f"members:{self.node}"
        if isinstance(event, events.Joined):
            calls.append(redis.hset(members, event.nick, event.room))
        elif isinstance(event, events.Quit):
            calls.append(redis.hdel(members, event.nick))
        elif isinstance(event, events.NickChanged):
            calls.append(redis.hdel(members, event.old))
            calls.append(redis.hset(members, event.new, self._roomOfNick(event.new)))
        elif isinstance(event, events.Said) and self.hub.historySize:
            history = self.prefix + f"history:{foldRoom(event.room)}"
            calls.append(redis.lpush(history, encodeEvent(self.node, event)))
            calls.append(redis.ltrim(history, 0, self.hub.historySize - 1))
        elif isinstance(event, events.TopicChanged):
            calls.append(redis.set(self.prefix + f"topic:{foldRoom(event.room)}", event.topic))
        for call in calls:
            call.addErrback(self._commandFailed)

    def forget(self, room: str) -> None:
        redis = self._commands
        if not self.linked or redis is None:
            return  # kept until the room is next emptied while linked
        key = foldRoom(room)
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

    def release(self, nick: str) -> None:
        redis = self._commands
        if self.linked and redis is not None:
            redis.eval(_RELEASE, [self._nickKey(nick)], [self.node]).addErrback(self._commandFailed)

    # The Redis connections (L{chat.cluster.connections}) call these

    def commandsUp(self, redis: CommandConnection) -> None:
        self._commands = redis
        self._maybeLinked()

    def subscribed(self, subscriber: SubscriberConnection) -> None:
        self._subscriber = subscriber
        self._maybeLinked()

    def commandsDown(self, redis: CommandConnection) -> None:
        if redis is self._commands:
            self._commands = None
            self._unlinked()

    def subscriberDown(self, subscriber: SubscriberConnection) -> None:
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
        self.log.warn("Cluster link to {redis} is down; serving this server's clients alone", redis=self.where)
        self.hub.broadcastNotice(
            "The link to the other servers is down: you reach only people on this server for now"
        )

    async def _sync(self, redis: CommandConnection) -> None:
        """
        Publish who is here, and load who is elsewhere, the topics and the histories.
        """
        prefix = self.prefix
        await redis.sadd(prefix + "nodes", self.node)
        await self._refreshPresence(redis)
        await redis.delete(prefix + f"members:{self.node}")
        for member in self.hub.members():
            if isRemote(member):
                continue
            if await redis.set(self._nickKey(member.nick), self.node, only_if_not_exists=True) != "OK":
                owner = await redis.get(self._nickKey(member.nick))
                if owner != self.node:
                    self.log.warn("Nick {nick} is held on node {owner} too", nick=member.nick, owner=owner)
            for room in self.hub.roomsOf(member):
                await redis.hset(prefix + f"members:{self.node}", member.nick, room.name)
        await self._reapDead(redis)
        seen: set[str] = set()
        for node in await redis.smembers(prefix + "nodes"):
            if node == self.node:
                continue
            for nick, room in (await redis.hgetall(prefix + f"members:{node}")).items():
                seen.add(foldNick(nick))
                try:
                    self._remote(nick, node, lambda proxy, room=room: self._seat(proxy, room))
                except ChatError as e:  # both sides took one nick while the link was down
                    self.log.warn("Not seating {nick} of node {node}: {why}", nick=nick, node=node, why=str(e))
        for member in self.hub.members():
            if isRemote(member) and foldNick(member.nick) not in seen:
                self.hub.disconnect(member, "Left while the link was down")
        for room in self.hub.rooms():
            key = foldRoom(room.name)
            topic = await redis.get(prefix + f"topic:{key}")
            if topic:
                room.topic = topic
            lines = await redis.lrange(prefix + f"history:{key}", 0, self.hub.historySize - 1)
            history = []
            for line in reversed(lines):
                try:
                    history.append(decodeEvent(line)[1])
                except MalformedEvent:
                    pass
            room.history.clear()
            room.history.extend(said for said in history if isinstance(said, events.Said))

    async def _reap(self, redis: CommandConnection, node: str) -> None:
        """
        Remove the dead C{node}'s members, here and in Redis.
        """
        members = await redis.hgetall(self.prefix + f"members:{node}")
        self.log.warn("Node {node} is gone; removing its {count} members", node=node, count=len(members))
        for nick in members:
            await redis.eval(_RELEASE, [self._nickKey(nick)], [node])
        await redis.delete(self.prefix + f"members:{node}")
        await redis.srem(self.prefix + "nodes", node)
        for member in self.hub.members():
            if isRemote(member) and member.node == node:
                self.hub.disconnect(member, "Server lost")

    def _beat(self) -> None:
        redis = self._commands
        if not self.linked or redis is None:
            return
        self._refreshPresence(redis).addErrback(self._commandFailed)
        defer.ensureDeferred(self._reapDead(redis)).addErrback(self._commandFailed)

    def _refreshPresence(self, redis: CommandConnection) -> defer.Deferred[object]:
        """
        Say this node is alive for another L{ttl} seconds.
        """
        return redis.set(self.prefix + f"alive:{self.node}", "1", expire=max(1, round(self.ttl)))

    async def _reapDead(self, redis: CommandConnection) -> None:
        for node in await redis.smembers(self.prefix + "nodes"):
            if node != self.node and not await redis.exists(self.prefix + f"alive:{node}"):
                await self._reap(redis, node)

    # Events from the other nodes

    def received(self, message: str | bytes) -> None:
        if self._backlog is not None:
            self._backlog.append(message)
            return
        try:
            node, event = decodeEvent(message)
        except MalformedEvent as e:
            self.log.warn("Ignored a malformed message on {channel}: {why}", channel=self.channel, why=str(e))
            return
        if node == self.node:
            return
        try:
            self._apply(node, event)
        except ChatError as e:
            self.log.debug("Event {event!r} from {node} did not apply: {why}", event=event, node=node, why=str(e))

    def _apply(self, node: str, event: events.Event) -> None:
        hub = self.hub
        if isinstance(event, events.Joined):
            self._remote(event.nick, node, lambda proxy: self._seat(proxy, event.room))
        elif isinstance(event, events.Left):
            hub.part(self._remote(event.nick, node), event.room)
        elif isinstance(event, events.Quit):
            hub.disconnect(self._remote(event.nick, node), event.reason)
        elif isinstance(event, events.NickChanged):
            hub.rename(self._remote(event.old, node), event.new)
        elif isinstance(event, events.Said):
            proxy = self._remote(event.nick, node, lambda proxy: self._seat(proxy, event.room))
            hub.say(proxy, event.room, event.text, event.action)
        elif isinstance(event, events.TopicChanged):
            proxy = self._remote(event.nick, node, lambda proxy: self._seat(proxy, event.room))
            hub.setTopic(proxy, event.room, event.topic)
        elif isinstance(event, events.PrivateMessage):
            recipient = hub.find(event.recipient)
            if not isRemote(recipient):
                recipient.deliver(events.PrivateMessage(event.sender, recipient.nick, event.text))

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
        if seat is not None:
            seat(member)
        return member

    def _seat(self, proxy: RemoteMember, room: str) -> None:
        if room not in {joined.name for joined in self.hub.roomsOf(proxy)}:
            self.hub.join(proxy, room)

    # Helpers

    def _nickKey(self, nick: str) -> str:
        return self.prefix + f"nick:{foldNick(nick)}"

    def _roomOfNick(self, nick: str) -> str:
        try:
            rooms = self.hub.roomsOf(self.hub.find(nick))
        except ChatError:
            return ""
        return rooms[0].name if rooms else ""

    def _commandFailed(self, failure: Any) -> None:
        failure.trap(txredisapi.ConnectionError, txredisapi.ResponseError, defer.CancelledError)
        self.log.debug("A Redis command failed: {why}", why=failure.getErrorMessage())

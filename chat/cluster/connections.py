"""
The link's two Redis connections: one runs commands and publishes, one listens.

L{ClusterLink} uses them through L{Connections} and L{Commands}, which txredisapi's
connections (L{RedisConnections}) satisfy and so can an in-memory Redis for tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import txredisapi
from twisted.internet import defer
from twisted.internet.interfaces import IStreamClientEndpoint

if TYPE_CHECKING:
    from chat.cluster.link import ClusterLink


class Commands(Protocol):
    """
    The subset of txredisapi's commands the link runs, with txredisapi's signatures and
    results (strings, sets, dicts); each result fails with L{txredisapi.ConnectionError} when
    the connection is gone.  C{transport.loseConnection()} drops the connection, so that it is
    made again.
    """

    transport: Any

    def set(
        self, key: str, value: str, expire: int | None = None, only_if_not_exists: bool = False
    ) -> defer.Deferred[Any]: ...
    def get(self, key: str) -> defer.Deferred[Any]: ...
    def incr(self, key: str) -> defer.Deferred[Any]: ...
    def delete(self, keys: str | list[str]) -> defer.Deferred[Any]: ...
    def exists(self, key: str) -> defer.Deferred[Any]: ...
    def sadd(self, key: str, members: str) -> defer.Deferred[Any]: ...
    def srem(self, key: str, members: str) -> defer.Deferred[Any]: ...
    def smembers(self, key: str) -> defer.Deferred[Any]: ...
    def hset(self, key: str, field: str, value: str) -> defer.Deferred[Any]: ...
    def hmset(self, key: str, mapping: dict[str, str]) -> defer.Deferred[Any]: ...
    def hdel(self, key: str, fields: str | list[str]) -> defer.Deferred[Any]: ...
    def hgetall(self, key: str) -> defer.Deferred[Any]: ...
    def lpush(self, key: str, value: str | list[str]) -> defer.Deferred[Any]: ...
    def ltrim(self, key: str, start: int, end: int) -> defer.Deferred[Any]: ...
    def lrange(self, key: str, start: int, end: int) -> defer.Deferred[Any]: ...
    def eval(self, script: str, keys: list[str], args: list[str]) -> defer.Deferred[Any]: ...
    def publish(self, channel: str, message: str) -> defer.Deferred[Any]: ...
    def sendUnanswered(self, commands: list[tuple[str, ...]]) -> None:
        """
        Send C{commands} (each a command's name and arguments), in order after every command
        sent before, and have Redis send no reply to any: writes whose outcome nobody waits
        for, at no cost for replies.
        """


class Connections(Protocol):
    """
    How a link reaches Redis: once started, it keeps a command connection and a subscribed
    one up, calling the link's C{commandsUp}, C{subscribed}, C{commandsDown},
    C{subscriberDown} and C{received} as they come, go and hear messages.
    """

    def start(self, link: ClusterLink) -> None: ...

    def stop(self) -> defer.Deferred[None]: ...


# Before each command sent unanswered: Redis (3.2 and later) sends no reply to it, nor to
# this command itself, so that txredisapi's queue of replies stays in step.
_SKIP_REPLY = b"*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n"


def _unanswered(command: tuple[str, ...]) -> bytes:
    """
    C{command} in Redis's protocol, with no reply asked for.
    """
    parts = [_SKIP_REPLY, b"*%d\r\n" % len(command)]
    for argument in command:
        data = argument.encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class CommandConnection(txredisapi.RedisProtocol):
    """
    The connection that publishes and runs commands.
    """

    def sendUnanswered(self, commands: list[tuple[str, ...]]) -> None:
        if self.connected:
            self.transport.write(b"".join(map(_unanswered, commands)))

    def connectionMade(self):
        # Commands sent unanswered bring no reply for Redis to carry its ACK on: with Nagle's
        # algorithm, each small write after one would then wait for the delayed ACK (40 ms).
        setNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setNoDelay is not None:
            setNoDelay(True)
        started = super().connectionMade()
        self.whenConnected().addCallback(self.factory.link.commandsUp)
        return started

    def connectionLost(self, why):
        super().connectionLost(why)
        self.factory.link.commandsDown(self)


class SubscriberConnection(txredisapi.SubscriberProtocol):
    """
    The connection that listens to the channel.
    """

    def connectionMade(self):
        started = super().connectionMade()
        self.whenConnected().addCallback(self._subscribe)
        return started

    def _subscribe(self, _: object) -> None:
        link = self.factory.link
        self.subscribe(link.channel).addCallback(lambda _: link.subscribed(self))

    def messageReceived(self, pattern, channel, message):
        self.factory.link.received(message)

    def connectionLost(self, why):
        super().connectionLost(why)
        self.factory.link.subscriberDown(self)


def commandFactory(password: str | None, db: int, retry: float) -> txredisapi.RedisFactory:
    """
    A factory of one command connection to Redis, which authenticates with C{password},
    selects the database C{db}, and is made again after a loss, at most C{retry} seconds
    apart; its C{handler} runs commands, waiting for the connection while it is down.
    """
    factory = txredisapi.RedisFactory(None, db, 1, isLazy=True, password=password)
    _backOff(factory, retry)
    return factory


def _backOff(factory: txredisapi.RedisFactory | txredisapi.SubscriberFactory, retry: float) -> None:
    """
    Reconnect from a tenth of a second, growing by half each time, up to C{retry}: every line
    said until the link is back never reaches the other nodes, so a Redis that restarts in a
    second costs about a second of them, not the three of txredisapi's defaults.
    """
    factory.initialDelay = 0.1
    factory.factor = 1.5
    factory.maxDelay = retry


class RedisCommands:
    """
    One command connection to a real Redis at C{endpoint}, for what is not the link (the
    state store, L{chat.store.redis}): opened by L{open}, closed by L{close}.
    """

    def __init__(
        self, endpoint: IStreamClientEndpoint, password: str | None, db: int, retry: float
    ) -> None:
        self._factory = commandFactory(password, db, retry)
        self._endpoint = endpoint

    def open(self) -> Any:
        """
        Start connecting; the result runs commands (L{Commands}' and more, as txredisapi's
        connections do), waiting for the connection while it is down.
        """
        self._factory.startConnecting(self._endpoint)
        return self._factory.handler

    def close(self) -> defer.Deferred[None]:
        return self._factory.disconnect().addBoth(lambda _: None)


class RedisConnections:
    """
    The two connections to a real Redis at C{endpoint}, made again with backoff when lost.

    @ivar retry: the longest wait between two attempts to reconnect.  A node must be back
        within a TTL of the others after Redis returns, or they take it for dead (see
        L{ClusterLink}); so the link asks for a third of its TTL.
    """

    def __init__(
        self, endpoint: IStreamClientEndpoint, password: str | None, db: int, retry: float
    ) -> None:
        self.endpoint = endpoint
        commands = commandFactory(password, db, retry)
        commands.protocol = CommandConnection
        subscriber = txredisapi.SubscriberFactory(isLazy=True)
        subscriber.protocol = SubscriberConnection
        subscriber.password = password
        self._factories = [commands, subscriber]
        _backOff(subscriber, retry)

    def start(self, link: ClusterLink) -> None:
        for factory in self._factories:
            factory.link = link
            factory.startConnecting(self.endpoint)

    def stop(self) -> defer.Deferred[None]:
        stopping = defer.gatherResults(
            [factory.disconnect() for factory in self._factories], consumeErrors=True
        )
        return stopping.addBoth(lambda _: None)

"""
The link's two Redis connections: one runs commands and publishes, one listens.
"""

from __future__ import annotations

import txredisapi


class CommandConnection(txredisapi.RedisProtocol):
    """
    The connection that publishes and runs commands.
    """

    def connectionMade(self):
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

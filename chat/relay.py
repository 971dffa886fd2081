"""
How one hub shares its chat with the hubs of other servers.

A L{Hub} tells its L{Relay} what its own members do, and asks it for the right to a nick;
the relay passes that on to the other servers (L{chat.cluster} does it through Redis) and
plays what their members do back into this hub, as L{RemoteMember}s.  Without a cluster the
relay is L{ALONE}: nothing to tell, every nick free.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Protocol

from twisted.internet import defer

from chat import events

if TYPE_CHECKING:
    from chat.hub import Member, Room


class Relay(Protocol):
    def publish(self, event: events.Event) -> None:
        """
        Tell the other servers that one of this hub's members did C{event}: a L{events.Said},
        L{events.Joined}, L{events.Left}, L{events.Quit}, L{events.NickChanged},
        L{events.TopicChanged}, L{events.AwayChanged}, L{events.AccountChanged}, a
        L{events.Moderated} (which every server applies), or a
        L{events.PrivateMessage} to one of their members.
        """

    def claim(self, nick: str) -> defer.Deferred[bool]:
        """
        Take C{nick} for a member of this hub; the result is whether it was free everywhere.
        """

    def guestNumber(self) -> defer.Deferred[int | None]:
        """
        A number for a new guest nick that no server has used yet, or L{None} when the hub
        should count its guests itself (alone, or cut off from the others).
        """

    def release(self, nick: str) -> None:
        """
        Give up C{nick}, which a member of this hub had.
        """

    def forget(self, room: str) -> None:
        """
        Room C{room} is gone: its last member, here or elsewhere, left.  Drop what is kept of
        it for the servers (its history and topic), as a single server drops its own.
        """


class Alone:
    """
    The relay of a hub with no other servers.
    """

    def publish(self, event: events.Event) -> None:
        pass

    def claim(self, nick: str) -> defer.Deferred[bool]:
        return defer.succeed(True)

    def guestNumber(self) -> defer.Deferred[int | None]:
        return defer.succeed(None)

    def release(self, nick: str) -> None:
        pass

    def forget(self, room: str) -> None:
        pass


ALONE = Alone()


class Nowhere:
    """
    The fanout of remote members: their own server tells them what happens.
    """

    def toRoom(
        self,
        room: Room,
        members: Collection[Member],
        event: events.Event,
        skip: Member | None = None,
    ) -> None:
        pass

    def toEach(self, members: Iterable[Member], event: events.Event) -> None:
        pass


class RemoteMember:
    """
    A member connected to another server, as this hub sees it: it sits in rooms and has a
    nick, so that C{/who}, C{/rooms} and nick uniqueness take it in, but this hub tells it
    nothing.
    """

    __slots__ = ("nick", "node", "away", "account")
    isRemote = True
    echo = True
    fanout = Nowhere()

    def __init__(self, nick: str, node: str) -> None:
        self.nick = nick
        self.node = node
        self.away = ""
        self.account: str | None = None

    def deliver(self, event: events.Event) -> None:
        pass

    def __repr__(self) -> str:
        return f"<RemoteMember {self.nick} on {self.node}>"


def isRemote(member: object) -> bool:
    return getattr(member, "isRemote", False)

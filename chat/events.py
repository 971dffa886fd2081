"""
What happens in the chat, as plain values.

The hub hands these to its members; each front end (the line protocol, IRC, the WebSocket)
decides how they look on its wire.  They hold text, never bytes.

They are values: nothing changes one once made.  They are not I{frozen} dataclasses all the
same, because a frozen dataclass's C{__init__} sets each field through C{object.__setattr__},
which makes a L{Said} five times as dear to make, and the hub makes one for every line said.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Said:
    """
    C{nick} said C{text} in C{room} at C{time} (seconds since the epoch); an action if
    C{action} (C{/me}).
    """

    room: str
    nick: str
    text: str
    time: float
    action: bool = False


@dataclass(slots=True)
class Replayed:
    """
    An earlier L{Said} replayed from a room's history to a member who just joined.
    """

    said: Said


@dataclass(slots=True)
class PrivateMessage:
    """
    C{sender} sent C{text} to C{recipient} alone.  The sender gets a copy with C{echo} set,
    so that it sees what it sent.
    """

    sender: str
    recipient: str
    text: str
    echo: bool = False


@dataclass(slots=True)
class Joined:
    room: str
    nick: str


@dataclass(slots=True)
class Left:
    room: str
    nick: str


@dataclass(slots=True)
class Quit:
    """
    C{nick} left the server; every member who shared a room with it hears this once.
    """

    nick: str
    reason: str


@dataclass(slots=True)
class NickChanged:
    old: str
    new: str


@dataclass(slots=True)
class TopicChanged:
    room: str
    nick: str
    topic: str


@dataclass(slots=True)
class AwayChanged:
    """
    C{nick} went away, saying C{away}, or came back (C{away} empty).  Told to those sharing
    a room with it that asked to hear it (L{chat.hub.Hub.setAway}).
    """

    nick: str
    away: str


@dataclass(slots=True)
class AccountChanged:
    """
    C{nick} identified as the owner of account C{account}, or (L{None}) no longer is.
    """

    nick: str
    account: str | None


@dataclass(slots=True)
class Topic:
    """
    The topic of C{room} as it stands, told to a member who joins it.
    """

    room: str
    topic: str


@dataclass(slots=True)
class Notice:
    """
    A message from the server itself: a welcome, a reply to a command, a shutdown warning.
    """

    text: str


@dataclass(slots=True)
class Error:
    """
    The server refused what this member asked for; C{text} says why.
    """

    text: str


@dataclass(slots=True)
class Moderated:
    """
    C{by} did the moderation C{action} to C{target} in C{room} ("" for the whole server), with
    C{reason}, until C{until} (seconds since the epoch; 0: for good).  Every member of the room
    hears it, and the other servers apply it (see L{chat.moderation}).

    The actions: C{kick}, C{ban}, C{unban}, C{mute}, C{unmute}, C{op}, C{deop}, C{claim},
    C{lock}, C{unlock} in a room; C{gban}, C{ungban}, C{kill}, C{wall} for the server.  The
    C{target} of a ban is a mask (L{chat.moderation.Mask}), of C{lock} what is locked
    (C{topic}), of the others a nick.
    """

    room: str
    by: str
    action: str
    target: str
    reason: str = ""
    until: float = 0.0


Event = (
    Said
    | Replayed
    | PrivateMessage
    | Joined
    | Left
    | Quit
    | NickChanged
    | TopicChanged
    | AwayChanged
    | AccountChanged
    | Topic
    | Notice
    | Error
    | Moderated
)

"""
How each event looks on the WebSocket: one JSON object per text message (see
C{docs/web.md}), framed here, once per event.

The shared L{chat.fanout.BatchFanout} renders each event once for all the web clients that hear
it and queues a turn's worth of them per connection as bytes, as for the other front ends.  A
server's frames are not masked, and no extension is negotiated, so a text message's frame is the
same bytes for every client: the encoder makes the whole frame, and a connection's output is a
run of frames written as they are (straight to the socket, when it can take them: see
L{chat.web.protocol.WebProtocol.writePending}).  Framing per recipient (C{wsproto}'s C{send})
cost more than the rest of a delivery.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import singledispatch
from typing import Any

from twisted.internet.interfaces import IReactorTime

from chat import events
from chat.moderation import describe


@dataclass(frozen=True, slots=True)
class Welcome:
    """
    The connection is registered as C{nick}; C{defaultRoom} is where a new client goes.
    """

    nick: str
    server: str
    defaultRoom: str


@dataclass(frozen=True, slots=True)
class Members:
    """
    Who is in C{room}, by nick, and the away messages of those who are away.
    """

    room: str
    nicks: tuple[str, ...]
    topic: str
    away: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RoomList:
    """
    Every room: (name, member count, topic) each.
    """

    rooms: tuple[tuple[str, int, str], ...]


WebEvent = events.Event | Welcome | Members | RoomList
Fields = dict[str, Any]


@singledispatch
def toJSON(event: object) -> Fields:
    raise TypeError(f"no JSON form for {event!r}")


@toJSON.register
def _said(event: events.Said) -> Fields:
    return {
        "type": "action" if event.action else "said",
        "room": event.room,
        "nick": event.nick,
        "text": event.text,
        "time": event.time,
    }


@toJSON.register
def _replayed(event: events.Replayed) -> Fields:
    said = event.said
    return {
        "type": "history",
        "room": said.room,
        "nick": said.nick,
        "text": said.text,
        "time": said.time,
        "action": said.action,
    }


@toJSON.register
def _private(event: events.PrivateMessage) -> Fields:
    return {
        "type": "private",
        "from": event.sender,
        "to": event.recipient,
        "text": event.text,
        "echo": event.echo,
    }


@toJSON.register
def _joined(event: events.Joined) -> Fields:
    return {"type": "joined", "room": event.room, "nick": event.nick}


@toJSON.register
def _left(event: events.Left) -> Fields:
    return {"type": "left", "room": event.room, "nick": event.nick}


@toJSON.register
def _quit(event: events.Quit) -> Fields:
    return {"type": "quit", "nick": event.nick, "reason": event.reason}


@toJSON.register
def _nick(event: events.NickChanged) -> Fields:
    return {"type": "nick", "old": event.old, "new": event.new}


@toJSON.register
def _topicChanged(event: events.TopicChanged) -> Fields:
    return {"type": "topic", "room": event.room, "nick": event.nick, "topic": event.topic}


@toJSON.register
def _awayChanged(event: events.AwayChanged) -> Fields:
    return {"type": "away", "nick": event.nick, "away": event.away}


@toJSON.register
def _accountChanged(event: events.AccountChanged) -> Fields:
    return {"type": "account", "nick": event.nick, "account": event.account}


@toJSON.register
def _topic(event: events.Topic) -> Fields:
    return {"type": "topic", "room": event.room, "nick": None, "topic": event.topic}


@toJSON.register
def _notice(event: events.Notice) -> Fields:
    return {"type": "notice", "text": event.text}


@toJSON.register
def _error(event: events.Error) -> Fields:
    return {"type": "error", "text": event.text}


@toJSON.register
def _moderated(event: events.Moderated) -> Fields:
    """
    A moderation action, with its fields for a page that acts on them (a kick takes the
    kicked out of the room's members) and its C{text} for one that only shows it.
    """
    return {
        "type": "moderated",
        "room": event.room or None,
        "by": event.by or None,
        "action": event.action,
        "target": event.target,
        "reason": event.reason,
        "until": event.until or None,
        "text": describe(event),
    }


@toJSON.register
def _welcome(event: Welcome) -> Fields:
    return {
        "type": "welcome",
        "nick": event.nick,
        "server": event.server,
        "defaultRoom": event.defaultRoom,
    }


@toJSON.register
def _members(event: Members) -> Fields:
    return {
        "type": "members",
        "room": event.room,
        "nicks": list(event.nicks),
        "topic": event.topic,
        "away": dict(event.away),
    }


@toJSON.register
def _rooms(event: RoomList) -> Fields:
    return {
        "type": "rooms",
        "rooms": [
            {"name": name, "members": count, "topic": topic} for name, count, topic in event.rooms
        ],
    }


def textFrame(text: str) -> bytes:
    """
    C{text} as one unfragmented, unmasked WebSocket text frame (RFC 6455, section 5.2), as a
    server sends it.
    """
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def encoder(clock: IReactorTime) -> Callable[[WebEvent], bytes]:
    """
    The L{chat.fanout.Encoder} of the web front end: each event as a text frame holding its
    JSON object.  Every object gets the server's C{time} when it is rendered (a said line keeps
    the time it was said), so that the page shows when things happened, not when it drew them.
    """
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def encode(event: WebEvent) -> bytes:
        fields = toJSON(event)
        fields.setdefault("time", clock.seconds())
        return textFrame(dumps(fields))

    return encode

"""
How each event looks on the WebSocket: one JSON object per message (see C{docs/web.md}).

The encoder ends every object with C{\\n}, which JSON never leaves raw inside one, so that the
shared L{chat.fanout.BatchFanout} can render each event once for all the web clients that hear
it and queue a turn's worth of them per connection as bytes, as for the other front ends; the
connection's L{chat.web.protocol.MessageTransport} splits them back into one WebSocket text
message each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import singledispatch
from typing import Any

from twisted.internet.interfaces import IReactorTime

from chat import events


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
    Who is in C{room}, by nick.
    """

    room: str
    nicks: tuple[str, ...]
    topic: str


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
def _topic(event: events.Topic) -> Fields:
    return {"type": "topic", "room": event.room, "nick": None, "topic": event.topic}


@toJSON.register
def _notice(event: events.Notice) -> Fields:
    return {"type": "notice", "text": event.text}


@toJSON.register
def _error(event: events.Error) -> Fields:
    return {"type": "error", "text": event.text}


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
    return {"type": "members", "room": event.room, "nicks": list(event.nicks), "topic": event.topic}


@toJSON.register
def _rooms(event: RoomList) -> Fields:
    return {
        "type": "rooms",
        "rooms": [
            {"name": name, "members": count, "topic": topic} for name, count, topic in event.rooms
        ],
    }


def encoder(clock: IReactorTime) -> Callable[[WebEvent], bytes]:
    """
    The L{chat.fanout.Encoder} of the web front end: every object gets the server's C{time}
    when it is rendered (a said line keeps the time it was said), so that the page shows when
    things happened, not when it drew them.
    """
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def encode(event: WebEvent) -> bytes:
        fields = toJSON(event)
        fields.setdefault("time", clock.seconds())
        return (dumps(fields) + "\n").encode("utf-8")

    return encode

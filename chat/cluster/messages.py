"""
The cluster's channel messages, and the values of the member directory (C{members:ID}).

A message is a JSON array: the format's name, the sending node, then the events it carries,
in the order they happened, each a short array of its kind and its fields::

    ["chat2", "9f3c1a", ["say", "#lobby", "alice", "hi", 1764109800.5, false],
                        ["join", "#dev", "bob"]]

A node publishes one message a reactor turn with that turn's events (L{encodeBatch}), and
keeps each line of a room's history in Redis as a message of one event (L{encodeEvent}).  The
events are the L{chat.events} values a node's members cause, and two about nodes:
L{NodeSynced} and L{NodeGone}.  A message in another format (from a node of another version,
such as the JSON objects of one event each that nodes sent before) is refused whole with
L{OtherFormat}, so that a cluster of mixed versions says so rather than half working.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _string
from math import isfinite

from chat import events

# The name of this format, first in every message.
FORMAT = "chat2"


@dataclass(frozen=True, slots=True)
class NodeSynced:
    """
    The sending node has (re)joined the cluster, and these are its members, each nick with
    the rooms it is in: the other nodes make their copies of that node's members exactly this,
    announcing only what differs.
    """

    members: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class NodeGone:
    """
    The sending node found node C{dead} dead (its presence key expired) and removed it from
    Redis: every node drops its copies of C{dead}'s members.
    """

    dead: str


Message = events.Event | NodeSynced | NodeGone

# A directory: nicks, each with the list of its rooms.
_DIRECTORY = "directory"
# A string or null.
_OPTIONAL_STR = "optional str"

# Each kind of event, with its fields, in the order they come after the kind, and their types.
_KINDS: dict[str, tuple[type, tuple[tuple[str, type | str], ...]]] = {
    "join": (events.Joined, (("room", str), ("nick", str))),
    "part": (events.Left, (("room", str), ("nick", str))),
    "quit": (events.Quit, (("nick", str), ("reason", str))),
    "nick": (events.NickChanged, (("old", str), ("new", str))),
    "say": (
        events.Said,
        (("room", str), ("nick", str), ("text", str), ("time", float), ("action", bool)),
    ),
    "topic": (events.TopicChanged, (("room", str), ("nick", str), ("topic", str))),
    "msg": (events.PrivateMessage, (("sender", str), ("recipient", str), ("text", str))),
    "mod": (
        events.Moderated,
        (
            ("room", str), ("by", str), ("action", str), ("target", str), ("reason", str),
            ("until", float),
        ),
    ),
    "away": (events.AwayChanged, (("nick", str), ("away", str))),
    "account": (events.AccountChanged, (("nick", str), ("account", _OPTIONAL_STR))),
    "synced": (NodeSynced, (("members", _DIRECTORY),)),
    "gone": (NodeGone, (("dead", str),)),
}
_KIND_OF = {cls: (kind, tuple(name for name, _ in fields)) for kind, (cls, fields) in _KINDS.items()}

_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


class MalformedEvent(ValueError):
    """
    A message that is not one this node can read: refused whole.
    """


class OtherFormat(MalformedEvent):
    """
    A message in another format than L{FORMAT}: a node of another version sent it.
    """


def encodeOne(event: Message) -> str:
    """
    C{event} as it goes in a message: the array of its kind and fields.
    """
    if type(event) is events.Said and isfinite(event.time):  # the most common by far: spelt out
        return (
            f'["say",{_string(event.room)},{_string(event.nick)},{_string(event.text)},'
            f'{event.time!r},{"true" if event.action else "false"}]'
        )
    kind, names = _KIND_OF[type(event)]
    return _encode([kind, *[getattr(event, name) for name in names]])


def encodeBatch(node: str, encoded: Iterable[str]) -> str:
    """
    A message from C{node} carrying events already encoded by L{encodeOne}, in order.
    """
    return f'{ownPrefix(node)}{",".join(encoded)}]'


def encodeEvent(node: str, event: Message) -> str:
    """
    A message from C{node} carrying C{event} alone.
    """
    return encodeBatch(node, [encodeOne(event)])


def ownPrefix(node: str) -> str:
    """
    How every message from C{node} begins: a node skips its own by that, unread.
    """
    return f'["{FORMAT}",{_encode(node)},'


def decodeBatch(message: str | bytes) -> tuple[str, list[Message]]:
    """
    The node and the events of a message from the channel, or L{MalformedEvent} if any part
    of it is unreadable: a message is taken whole or not at all.
    """
    try:
        data = json.loads(message)
    except (ValueError, TypeError) as e:
        raise MalformedEvent(f"{e.__class__.__name__}: {e}") from None
    if isinstance(data, dict) and "node" in data and "event" in data:
        raise OtherFormat("one JSON object an event, as nodes of an earlier version send")
    if not isinstance(data, list) or len(data) < 2:
        raise MalformedEvent("not an array of a format, a node and events")
    if data[0] != FORMAT:
        raise OtherFormat(f"format {str(data[0])[:40]!r}, not {FORMAT!r}")
    node = data[1]
    if not isinstance(node, str):
        raise MalformedEvent("TypeError: node")
    try:
        return node, [_decodeOne(item) for item in data[2:]]
    except (ValueError, KeyError, TypeError) as e:
        raise MalformedEvent(f"{e.__class__.__name__}: {e}") from None


def decodeEvent(message: str | bytes) -> tuple[str, Message]:
    """
    The node and the one event of a message that carries exactly one, or L{MalformedEvent}.
    """
    node, decoded = decodeBatch(message)
    if len(decoded) != 1:
        raise MalformedEvent(f"{len(decoded)} events, not one")
    return node, decoded[0]


def _decodeOne(item: object) -> Message:
    if type(item) is not list or not item:
        raise TypeError("an event is not an array")
    if item[0] == "say" and len(item) == 6:  # the most common by far: spelt out
        _, room, nick, text, time, action = item
        if type(time) is int:
            time = float(time)
        if type(room) is str and type(nick) is str and type(text) is str and type(time) is float:
            if type(action) is bool:
                return events.Said(room, nick, text, time, action)
    cls, fields = _KINDS[item[0]]
    if len(item) != len(fields) + 1:
        raise ValueError(f"{len(item) - 1} fields for {item[0]!r}")
    values = []
    for (name, wanted), value in zip(fields, item[1:]):
        if wanted == _DIRECTORY:
            value = _checkDirectory(value)
        elif wanted == _OPTIONAL_STR:
            if value is not None and type(value) is not str:
                raise TypeError(name)
        else:
            if wanted is float and type(value) is int:
                value = float(value)
            if type(value) is not wanted:  # not isinstance: True is no number here
                raise TypeError(name)
        values.append(value)
    return cls(*values)


def _checkDirectory(value: object) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise TypeError("members")
    for nick, rooms in value.items():
        if not isinstance(rooms, list) or not all(isinstance(room, str) for room in rooms):
            raise TypeError(f"rooms of {nick}")
    return value


def encodeRooms(rooms: list[str]) -> str:
    """
    A member's entry in the member directory: the rooms it is in, in the order it joined them.
    """
    return json.dumps(rooms)


def decodeRooms(entry: str | bytes) -> list[str]:
    """
    The rooms in a member directory entry.  A bare room name (what nodes stored before rooms
    became a list) is that one room; anything else unreadable is no room.
    """
    if isinstance(entry, bytes):
        entry = entry.decode("utf-8", "replace")
    try:
        rooms = json.loads(entry)
    except ValueError:
        return [entry] if entry.startswith("#") else []
    if isinstance(rooms, list) and all(isinstance(room, str) for room in rooms):
        return rooms
    return []


def encodeState(away: str, account: str | None) -> str:
    """
    A member's entry in its node's state hash (C{state:ID}): its away message and account,
    for the nodes that learn of it later.
    """
    return json.dumps({"away": away, "account": account})


def decodeState(entry: str | bytes) -> tuple[str, str | None]:
    """
    The away message and account in a state entry; anything unreadable is neither.
    """
    try:
        state = json.loads(entry)
        away, account = state["away"], state["account"]
    except (ValueError, KeyError, TypeError):
        return "", None
    if not isinstance(away, str) or not (account is None or isinstance(account, str)):
        return "", None
    return away, account

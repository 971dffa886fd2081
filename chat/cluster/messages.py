"""
The cluster's channel messages: one JSON object each, C{{"node": ID, "event": KIND, ...}},
with the fields of the L{chat.events} value it carries, or of one of the two messages about
nodes rather than members: L{NodeSynced} and L{NodeGone}.  Also the values of the member
directory (C{members:ID}): each member's rooms, as a JSON list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from chat import events


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

# Each kind of message on the channel, with its fields and their types.
_KINDS: dict[str, tuple[type, dict[str, type | str]]] = {
    "join": (events.Joined, {"room": str, "nick": str}),
    "part": (events.Left, {"room": str, "nick": str}),
    "quit": (events.Quit, {"nick": str, "reason": str}),
    "nick": (events.NickChanged, {"old": str, "new": str}),
    "say": (events.Said, {"room": str, "nick": str, "text": str, "time": float, "action": bool}),
    "topic": (events.TopicChanged, {"room": str, "nick": str, "topic": str}),
    "msg": (events.PrivateMessage, {"sender": str, "recipient": str, "text": str}),
    "mod": (
        events.Moderated,
        {"room": str, "by": str, "action": str, "target": str, "reason": str, "until": float},
    ),
    "away": (events.AwayChanged, {"nick": str, "away": str}),
    "account": (events.AccountChanged, {"nick": str, "account": _OPTIONAL_STR}),
    "synced": (NodeSynced, {"members": _DIRECTORY}),
    "gone": (NodeGone, {"dead": str}),
}
_KIND_OF = {cls: kind for kind, (cls, _) in _KINDS.items()}


class MalformedEvent(ValueError):
    pass


def encodeEvent(node: str, event: Message) -> str:
    kind = _KIND_OF[type(event)]
    fields = {name: getattr(event, name) for name in _KINDS[kind][1]}
    return json.dumps({"node": node, "event": kind, **fields})


def decodeEvent(message: str | bytes) -> tuple[str, Message]:
    """
    The node and the message in a message from the channel, or L{MalformedEvent}.
    """
    try:
        data = json.loads(message)
        node, kind = data["node"], data["event"]
        cls, fields = _KINDS[kind]
        values = {}
        for name, wanted in fields.items():
            value = data[name]
            if wanted == _DIRECTORY:
                value = _checkDirectory(value)
            elif wanted == _OPTIONAL_STR:
                if value is not None and not isinstance(value, str):
                    raise TypeError(name)
            else:
                if wanted is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
                    raise TypeError(name)
            values[name] = value
        if not isinstance(node, str):
            raise TypeError("node")
    except (ValueError, KeyError, TypeError) as e:
        raise MalformedEvent(f"{e.__class__.__name__}: {e}") from None
    return node, cls(**values)


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

"""
The cluster's channel messages: one JSON object each, C{{"node": ID, "event": KIND, ...}},
with the fields of the L{chat.events} value it carries.
"""

from __future__ import annotations

import json

from chat import events

# Each kind of event on the channel, with its fields and their types.
_KINDS: dict[str, tuple[type, dict[str, type]]] = {
    "join": (events.Joined, {"room": str, "nick": str}),
    "part": (events.Left, {"room": str, "nick": str}),
    "quit": (events.Quit, {"nick": str, "reason": str}),
    "nick": (events.NickChanged, {"old": str, "new": str}),
    "say": (events.Said, {"room": str, "nick": str, "text": str, "time": float, "action": bool}),
    "topic": (events.TopicChanged, {"room": str, "nick": str, "topic": str}),
    "msg": (events.PrivateMessage, {"sender": str, "recipient": str, "text": str}),
}
_KIND_OF = {cls: kind for kind, (cls, _) in _KINDS.items()}


class MalformedEvent(ValueError):
    pass


def encodeEvent(node: str, event: events.Event) -> str:
    kind = _KIND_OF[type(event)]
    fields = {name: getattr(event, name) for name in _KINDS[kind][1]}
    return json.dumps({"node": node, "event": kind, **fields})


def decodeEvent(message: str | bytes) -> tuple[str, events.Event]:
    """
    The node and the event in a message from the channel, or L{MalformedEvent}.
    """
    try:
        data = json.loads(message)
        node, kind = data["node"], data["event"]
        cls, fields = _KINDS[kind]
        values = {}
        for name, wanted in fields.items():
            value = data[name]
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

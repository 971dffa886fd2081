"""
The commands a web client sends, as JSON objects, and the hub calls they make.

Each command is an object with a C{type} and string fields (C{docs/web.md}).  A web client may
sit in several rooms at once, so every command that concerns a room names it.  This module
sees neither bytes nor sockets: it takes a decoded object and answers through
L{Member.deliver}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet import defer

from chat import events
from chat.accounts import identifyAndTake, registerNick
from chat.errors import ChatError, tellRefusal
from chat.hub import Hub, Member
from chat.line.commands import COMMANDS as LINE_COMMANDS
from chat.names import foldNick
from chat.web.render import Members, RoomList


class WebClient(Member, Protocol):
    """
    A member driven by JSON commands.
    """

    maxText: int
    host: str | None

    def close(self, reason: str) -> None: ...


Run = Callable[[Hub, WebClient, dict[str, Any]], "defer.Deferred[None] | None"]
COMMANDS: dict[str, tuple[tuple[str, ...], Run]] = {}


def _command(*names: str, fields: tuple[str, ...] = ()) -> Callable[[Run], Run]:
    """
    Register the decorated function as the command C{names}, whose C{fields} must be
    non-empty strings.
    """

    def register(run: Run) -> Run:
        for name in names:
            COMMANDS[name] = (fields, run)
        return run

    return register


def execute(hub: Hub, client: WebClient, command: object) -> defer.Deferred[None] | None:
    """
    Do what C{command}, a decoded JSON value, asks.  A refusal or a malformed command becomes
    one C{error} event to the client; a command that has to wait (for the cluster to grant a
    nick) returns a L{defer.Deferred} that fires when it is done.
    """
    try:
        if not isinstance(command, dict) or not isinstance(command.get("type"), str):
            raise ChatError('A command is a JSON object with a "type": see docs/web.md')
        kind = command["type"]
        if kind not in COMMANDS:
            raise ChatError(f"Unknown command type {kind[:40]!r}")
        fields, run = COMMANDS[kind]
        for name in fields:
            value = command.get(name)
            if not isinstance(value, str) or not value.strip():
                raise ChatError(f"{kind} needs {' and '.join(fields)} (non-empty strings)")
        for name, value in command.items():
            if name != "type" and value is not None and not isinstance(value, str):
                raise ChatError(f"{kind}: {name[:40]} must be a string")
        text = command.get("text")
        if text is not None and len(text.encode("utf-8", "surrogatepass")) > client.maxText:
            raise ChatError(f"Text too long (over {client.maxText} bytes); it was discarded")
        waiting = run(hub, client, command)
        if waiting is not None:
            return waiting.addErrback(tellRefusal, client)
    except ChatError as e:
        client.deliver(events.Error(str(e)))
    return None


def members(hub: Hub, client: WebClient, name: str) -> None:
    """
    Tell C{client} who is in room C{name}, by nick (in order of nick: on a cluster, the order
    members reach a node varies).
    """
    room = hub.room(name)
    nicks = tuple(sorted((member.nick for member in room.members), key=foldNick))
    away = tuple((member.nick, member.away) for member in room.members if getattr(member, "away", ""))
    client.deliver(Members(room.name, nicks, room.topic, away))  # type: ignore[arg-type]


@_command("say", fields=("room", "text"))
def _say(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    hub.say(client, command["room"], command["text"])


@_command("me", fields=("room", "text"))
def _me(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    hub.say(client, command["room"], command["text"], action=True)


@_command("msg", fields=("to", "text"))
def _msg(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    hub.message(client, command["to"], command["text"])
    recipient = hub.find(command["to"])
    away = getattr(recipient, "away", "")
    if away:
        client.deliver(events.AwayChanged(recipient.nick, away))


@_command("away")
def _away(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    away = command.get("text") or ""
    hub.setAway(client, away)
    client.deliver(events.AwayChanged(client.nick, away))


# The account commands take passwords: they are never echoed or logged (see docs/security.md).


@_command("identify", fields=("nick", "password"))
def _identify(hub: Hub, client: WebClient, command: dict[str, Any]) -> defer.Deferred[None]:
    return identifyAndTake(hub, client, command["nick"].strip(), command["password"], client.host or "")


@_command("register", fields=("password",))
def _register(hub: Hub, client: WebClient, command: dict[str, Any]) -> defer.Deferred[None]:
    def registered(nick: str) -> None:
        client.deliver(events.Notice(f"{nick} is registered; log in as {nick} next time"))

    return registerNick(hub, client, command["password"]).addCallback(registered)


@_command("join", fields=("room",))
def _join(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    room = hub.join(client, command["room"])
    members(hub, client, room.name)


@_command("part", fields=("room",))
def _part(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    hub.part(client, command["room"])


@_command("nick", fields=("nick",))
def _nick(hub: Hub, client: WebClient, command: dict[str, Any]) -> defer.Deferred[None]:
    return hub.rename(client, command["nick"].strip())


@_command("topic", fields=("room",))
def _topic(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    topic = command.get("topic")
    if topic is not None:
        hub.setTopic(client, command["room"], topic)
        return
    room = hub.room(command["room"])
    if room.topic:
        client.deliver(events.Topic(room.name, room.topic))
    else:
        client.deliver(events.Notice(f"{room.name} has no topic"))


@_command("members", "who", fields=("room",))
def _members(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    members(hub, client, command["room"])


@_command("rooms")
def _rooms(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    listed = tuple((room.name, len(room.members), room.topic) for room in hub.rooms())
    client.deliver(RoomList(listed))  # type: ignore[arg-type]


@_command("quit")
def _quit(hub: Hub, client: WebClient, command: dict[str, Any]) -> None:
    reason = command.get("reason") or "Quit"
    hub.disconnect(client, reason)
    client.deliver(events.Notice("Goodbye"))
    client.close(reason)


# The moderation commands, typed as on the line protocol (docs/protocol.md) and run by its
# table: {"type": "command", "room": ROOM, "text": "/kick mallory spam"}.  ROOM is the room
# the command concerns, where it concerns one.
SLASH_COMMANDS = frozenset(
    {
        "claim", "op", "deop", "kick", "ban", "unban", "bans", "mute", "unmute", "lock",
        "unlock", "kill", "gban", "ungban", "gbans", "wall", "stats", "ignore", "unignore",
    }
)


@_command("command", fields=("text",))
def _slash(hub: Hub, client: WebClient, command: dict[str, Any]) -> defer.Deferred[None] | None:
    text = command["text"].strip()
    name = text.lstrip("/").split(" ", 1)[0].lower()
    if not text.startswith("/") or name not in SLASH_COMMANDS:
        raise ChatError(f"Unknown command {text.split(' ', 1)[0][:40]}")
    # The line commands act on the client's current room: a web client's is the one named.
    client.room = command.get("room") or ""  # type: ignore[attr-defined]
    argument = text.split(" ", 1)[1].strip() if " " in text else ""
    line = LINE_COMMANDS[name]
    if line.needsArgument and not argument:
        raise ChatError(f"Usage: {line.usage}")
    return line.run(hub, client, argument)  # type: ignore[arg-type]

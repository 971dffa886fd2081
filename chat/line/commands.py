"""
The slash commands of the line protocol, and what a plain line means.

A line client sits in one room at a time, its current room, so that a plain line needs no
room name.  This module turns a decoded line into calls on the L{Hub}; it sees neither bytes
nor sockets, and answers through L{Member.deliver}.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from twisted.internet import defer

from chat import events
from chat.accounts import accountsOf as _accounts
from chat.accounts import identifyAndTake, registerNick
from chat.errors import ChatError, NotServerOperator, tellRefusal
from chat.gate import Gate
from chat.hub import Hub, Member
from chat.moderation import parseDuration
from chat.stats import report
from chat.names import foldNick
from chat.store.interface import MAX_HISTORY, Rule


class LineClient(Member, Protocol):
    """
    A member driven by typed lines: it has a current room and can be disconnected.
    """

    room: str
    host: str | None
    gate: Gate
    closing: bool

    def close(self, reason: str) -> None:
        """
        Close the connection once what was delivered so far has been sent.
        """


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[[Hub, LineClient, str], defer.Deferred[None] | None]
    needsArgument: bool


COMMANDS: dict[str, Command] = {}


def _command(usage: str, summary: str, needsArgument: bool = False):
    """
    Register the decorated function as the command named by the first word of C{usage}.
    """

    def register(run: Callable[[Hub, LineClient, str], None]):
        name = usage.split()[0][1:]
        COMMANDS[name] = Command(name, usage, summary, run, needsArgument)
        return run

    return register


def execute(hub: Hub, client: LineClient, line: str) -> defer.Deferred[None] | None:
    """
    Do what C{line} asks: run a command, or say the line in the client's current room.
    A refusal becomes one error line to the client.  A command that has to wait (for the
    cluster to grant a nick) returns a L{defer.Deferred} that fires when it is done.
    """
    try:
        if line.startswith("//"):
            hub.say(client, _room(client), line[1:])
        elif line.startswith("/"):
            name, _, argument = line[1:].partition(" ")
            command = COMMANDS.get(name.lower())
            if command is None:
                raise ChatError(f"Unknown command /{name}; type /help for the list")
            argument = argument.strip()
            if command.needsArgument and not argument:
                raise ChatError(f"Usage: {command.usage}")
            waiting = command.run(hub, client, argument)
            if waiting is not None:
                return waiting.addErrback(tellRefusal, client)
        elif line.strip():
            hub.say(client, _room(client), line)
    except ChatError as e:
        client.deliver(events.Error(str(e)))
    return None


def _room(client: LineClient) -> str:
    """
    The client's room, for a command about it: a client that a kick left in no room is told
    to join one.
    """
    if not client.room:
        raise ChatError("You are in no room; /join one")
    return client.room


def _notice(client: LineClient, text: str) -> None:
    client.deliver(events.Notice(text))


@_command("/nick NAME", "change your nick", needsArgument=True)
def _nick(hub: Hub, client: LineClient, argument: str) -> defer.Deferred[None]:
    return hub.rename(client, argument)


@_command("/me ACTION", "say that you do something: /me waves", needsArgument=True)
def _me(hub: Hub, client: LineClient, argument: str) -> None:
    hub.say(client, _room(client), argument, action=True)


@_command("/msg NICK TEXT", "send TEXT to NICK alone", needsArgument=True)
def _msg(hub: Hub, client: LineClient, argument: str) -> None:
    nick, _, text = argument.partition(" ")
    if not text.strip():
        raise ChatError(f"Usage: {COMMANDS['msg'].usage}")
    hub.message(client, nick, text.strip())
    _tellIfAway(hub, client, nick)


def _tellIfAway(hub: Hub, client: LineClient, nick: str) -> None:
    """
    Tell C{client}, who just sent C{nick} a private message, that C{nick} is away, if it is.
    """
    recipient = hub.find(nick)
    away = getattr(recipient, "away", "")
    if away:
        _notice(client, f"{recipient.nick} is away: {away}")


@_command("/away [MESSAGE]", "mark yourself away, saying MESSAGE; without one, back")
def _away(hub: Hub, client: LineClient, argument: str) -> None:
    hub.setAway(client, argument)
    if argument:
        _notice(client, f"You are marked as away: {argument}")
    else:
        _notice(client, "You are no longer marked as away")


@_command("/join ROOM", "leave your room for ROOM, creating it if need be", needsArgument=True)
def _join(hub: Hub, client: LineClient, argument: str) -> None:
    old = client.room
    client.room = hub.join(client, argument).name
    if client.room != old and any(room.name == old for room in hub.roomsOf(client)):
        hub.part(client, old)  # unless kicked out of it


@_command("/rooms", "list the rooms with their member counts and topics")
def _rooms(hub: Hub, client: LineClient, argument: str) -> None:
    rooms = hub.rooms()
    _notice(client, f"{len(rooms)} room{'' if len(rooms) == 1 else 's'}:")
    for room in rooms:
        count = len(room.members)
        line = f"{room.name} ({count} member{'' if count == 1 else 's'})"
        _notice(client, f"{line}: {room.topic}" if room.topic else line)


@_command("/who [ROOM]", "list who is in ROOM, or in your room")
def _who(hub: Hub, client: LineClient, argument: str) -> None:
    room = hub.room(argument or _room(client))
    # In order of nick, not of joining: on a cluster, the order members reach a node varies.
    nicks = " ".join(sorted((member.nick for member in room.members), key=foldNick))
    _notice(client, f"In {room.name} ({len(room.members)}): {nicks}")


@_command("/topic [TEXT]", "show your room's topic, or set it to TEXT")
def _topic(hub: Hub, client: LineClient, argument: str) -> None:
    if argument:
        hub.setTopic(client, _room(client), argument)
        return
    room = hub.room(_room(client))
    if room.topic:
        client.deliver(events.Topic(room.name, room.topic))
    else:
        _notice(client, f"{room.name} has no topic")


@_command("/history [N]", f"show the last N lines said in your room (at most {MAX_HISTORY})")
def _history(hub: Hub, client: LineClient, argument: str) -> defer.Deferred[None]:
    try:
        limit = int(argument) if argument else 20
    except ValueError:
        raise ChatError(f"Usage: {COMMANDS['history'].usage}") from None
    limit = max(1, min(limit, MAX_HISTORY))
    room = _room(client)

    def show(lines: list[events.Said]) -> None:
        if not lines:
            _notice(client, f"Nothing was said in {room}")
            return
        _notice(client, f"The last {len(lines)} line{'' if len(lines) == 1 else 's'} of {room}:")
        for said in lines:
            client.deliver(events.Replayed(said))

    return hub.history(client, room, limit).addCallback(show)


# The account commands take passwords: they are never echoed or logged (see docs/security.md).


@_command("/register PASSWORD", "register your nick, with PASSWORD", needsArgument=True)
def _register(hub: Hub, client: LineClient, argument: str) -> defer.Deferred[None]:
    def registered(nick: str) -> None:
        _notice(client, f"{nick} is registered; /identify {nick} PASSWORD to take it next time")

    return registerNick(hub, client, argument).addCallback(registered)


@_command("/identify [NICK] PASSWORD", "log in as NICK (or your nick) and take it", needsArgument=True)
def _identify(hub: Hub, client: LineClient, argument: str) -> defer.Deferred[None]:
    nick, _, password = argument.partition(" ")
    if not password.strip():
        nick, password = client.nick, argument
    return identifyAndTake(hub, client, nick, password.strip(), client.host or "")


@_command("/password OLD NEW", "change your account's password", needsArgument=True)
def _password(hub: Hub, client: LineClient, argument: str) -> defer.Deferred[None]:
    old, _, new = argument.partition(" ")
    if not new.strip():
        raise ChatError(f"Usage: {COMMANDS['password'].usage}")
    changing = _accounts(hub).changePassword(client, old, new.strip(), client.host or "")
    return changing.addCallback(lambda _: _notice(client, "Your password is changed"))


@_command("/unregister PASSWORD", "forget your account", needsArgument=True)
def _unregister(hub: Hub, client: LineClient, argument: str) -> defer.Deferred[None]:
    forgetting = _accounts(hub).unregister(client, argument, client.host or "")
    return forgetting.addCallback(lambda nick: _notice(client, f"{nick} is no longer registered"))


# Moderation (see chat/moderation.py and docs/security.md): each acts on your current room.


def _words(argument: str, usage: str) -> tuple[str, str]:
    """
    The first word of C{argument}, and the rest.
    """
    first, _, rest = argument.partition(" ")
    if not first:
        raise ChatError(f"Usage: {usage}")
    return first, rest.strip()


def _durationFirst(rest: str) -> tuple[float, str]:
    """
    A leading duration (C{10m}, C{2h}, C{7d}) of C{rest}, if any, and what follows it.
    """
    word, _, after = rest.partition(" ")
    duration = parseDuration(word) if word else None
    if duration is None:
        return 0.0, rest
    return duration, after.strip()


@_command("/claim", "become the owner of your room, if it has none (identified users)")
def _claim(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.claim(client, _room(client))


@_command("/op NICK", "make NICK (identified) an operator of your room (owners, operators)", needsArgument=True)
def _op(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.op(client, _room(client), argument.split()[0])


@_command("/deop NICK", "take operator from NICK in your room", needsArgument=True)
def _deop(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.op(client, _room(client), argument.split()[0], add=False)


@_command("/kick NICK [REASON]", "put NICK out of your room (operators)", needsArgument=True)
def _kick(hub: Hub, client: LineClient, argument: str) -> None:
    nick, reason = _words(argument, COMMANDS["kick"].usage)
    hub.moderation.kick(client, _room(client), nick, reason)


@_command(
    "/ban MASK [DURATION] [REASON]",
    "keep MASK (NICK, account:NAME, an address or network) out of your room, for DURATION "
    "(30s, 10m, 2h, 7d, 1w) or for good (operators)",
    needsArgument=True,
)
def _ban(hub: Hub, client: LineClient, argument: str) -> None:
    mask, rest = _words(argument, COMMANDS["ban"].usage)
    duration, reason = _durationFirst(rest)
    hub.moderation.ban(client, _room(client), mask, duration, reason)


@_command("/unban MASK", "lift a ban in your room (operators)", needsArgument=True)
def _unban(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.unban(client, _room(client), argument.split()[0])


def _listBans(client: LineClient, where: str, rules: list[Rule]) -> None:
    if not rules:
        _notice(client, f"No bans in {where}")
        return
    _notice(client, f"Bans in {where}:")
    for rule in rules:
        until = (
            f" until {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(rule.until))}"
            if rule.until
            else ""
        )
        reason = f" ({rule.reason})" if rule.reason else ""
        _notice(client, f"{rule.target} by {rule.by}{until}{reason}")


@_command("/bans", "list the bans of your room")
def _bans(hub: Hub, client: LineClient, argument: str) -> None:
    _listBans(client, _room(client), hub.moderation.bans(_room(client)))


@_command("/mute NICK [DURATION]", "nobody hears NICK in your room, for DURATION or for good (operators)", needsArgument=True)
def _mute(hub: Hub, client: LineClient, argument: str) -> None:
    who, rest = _words(argument, COMMANDS["mute"].usage)
    duration, extra = _durationFirst(rest)
    if extra:
        raise ChatError(f"Usage: {COMMANDS['mute'].usage}")
    hub.moderation.mute(client, _room(client), who, duration)


@_command("/unmute NICK", "let NICK be heard in your room again (operators)", needsArgument=True)
def _unmute(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.unmute(client, _room(client), argument.split()[0])


@_command("/lock topic", "only operators may set your room's topic (operators)", needsArgument=True)
def _lock(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.lock(client, _room(client), argument)


@_command("/unlock topic", "anyone in your room may set its topic again (operators)", needsArgument=True)
def _unlock(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.lock(client, _room(client), argument, add=False)


@_command("/kill NICK [REASON]", "disconnect NICK (server operators)", needsArgument=True)
def _kill(hub: Hub, client: LineClient, argument: str) -> None:
    nick, reason = _words(argument, COMMANDS["kill"].usage)
    hub.moderation.kill(client, nick, reason)


@_command("/gban MASK [DURATION] [REASON]", "ban MASK from the whole server (server operators)", needsArgument=True)
def _gban(hub: Hub, client: LineClient, argument: str) -> None:
    mask, rest = _words(argument, COMMANDS["gban"].usage)
    duration, reason = _durationFirst(rest)
    hub.moderation.gban(client, mask, duration, reason)


@_command("/ungban MASK", "lift a server ban (server operators)", needsArgument=True)
def _ungban(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.ungban(client, argument.split()[0])


@_command("/gbans", "list the server bans (server operators)")
def _gbans(hub: Hub, client: LineClient, argument: str) -> None:
    if not hub.moderation.isOper(client):
        raise NotServerOperator()
    _listBans(client, "the server", hub.moderation.bans("", server=True))


@_command("/wall TEXT", "tell everyone on the server TEXT (server operators)", needsArgument=True)
def _wall(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.wall(client, argument)


@_command("/stats", "connections, rooms, lines per second, memory (server operators)")
def _stats(hub: Hub, client: LineClient, argument: str) -> None:
    if not hub.moderation.isOper(client):
        raise NotServerOperator()
    gate = client.gate
    rate = hub.moderation.lineRate.read(gate.clock.seconds(), gate.stats.linesIn)
    for line in report(gate.connections, gate.stats, len(hub.rooms()), len(hub.members()), rate):
        _notice(client, line)


@_command("/ignore [NICK]", "stop hearing NICK (kept with your account); alone: list whom you ignore")
def _ignore(hub: Hub, client: LineClient, argument: str) -> None:
    if not argument:
        ignoring = hub.moderation.ignoring(client)
        _notice(client, f"You ignore: {' '.join(ignoring)}" if ignoring else "You ignore nobody")
        return
    mask = hub.moderation.ignore(client, argument.split()[0])
    _notice(client, f"You ignore {mask} now")


@_command("/unignore NICK", "hear NICK again", needsArgument=True)
def _unignore(hub: Hub, client: LineClient, argument: str) -> None:
    hub.moderation.ignore(client, argument.split()[0], add=False)
    _notice(client, f"You hear {argument.split()[0]} again")


@_command("/help [COMMAND]", "list the commands, or explain COMMAND")
def _help(hub: Hub, client: LineClient, argument: str) -> None:
    if argument:
        command = COMMANDS.get(argument.lstrip("/").lower())
        if command is None:
            raise ChatError(f"No such command: /{argument.lstrip('/')}")
        _notice(client, f"{command.usage}: {command.summary}")
        return
    _notice(client, "Commands (a line not starting with / is said in your room; //text says /text):")
    for command in COMMANDS.values():
        _notice(client, f"{command.usage:<16} {command.summary}")


@_command("/quit [REASON]", "leave the server")
def _quit(hub: Hub, client: LineClient, argument: str) -> None:
    reason = argument or "Quit"
    hub.disconnect(client, reason)
    _notice(client, "Goodbye")
    client.close(reason)

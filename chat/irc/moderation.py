"""
Moderation over IRC: C{KICK}, channel C{MODE}s (C{+o}/C{-o}, C{+q}, C{+b}/C{-b} and the ban
list, C{+t}/C{-t}), C{KILL}, C{WALLOPS}, and the commands IRC has no standard for, by the line
protocol's names (C{CLAIM}, C{MUTE}, C{UNMUTE}, C{GBAN}, C{UNGBAN}, C{STATS}), and
C{SILENCE} for ignores.  Each turns into a call on the hub's L{chat.moderation.Moderation};
a refusal becomes its numeric through the connection's C{refuse}.

The handlers take the connection and the message, and are registered by
L{chat.irc.protocol} as its other commands are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chat.errors import ChatError
from chat.irc import numerics as N
from chat.irc.message import Message
from chat.moderation import parseDuration
from chat.stats import report

if TYPE_CHECKING:
    from chat.hub import Room

Handler = Callable[[Any, Message], None]

# Each command, with the parameters it needs at least, and its handler.
COMMANDS: dict[str, tuple[int, Handler]] = {}

# The PREFIX of ISUPPORT: owners C{~} (mode q), operators C{@} (mode o).
PREFIX = "PREFIX=(qo)~@"
_SIGILS = {"owner": "~", "op": "@"}


def _command(name: str, minParams: int = 0) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (minParams, handler)
        return handler

    return register


def sigil(protocol: Any, member: Any, room: str) -> str:
    """
    C{~} or C{@} before C{member}'s nick in C{room}'s NAMES and WHO, or nothing.
    """
    return _SIGILS.get(protocol.factory.hub.moderation.rank(member, room), "")


def _durationAndReason(params: tuple[str, ...]) -> tuple[float, str]:
    """
    An optional duration (C{10m}, C{2h}) then an optional reason, from C{params}.
    """
    if not params:
        return 0.0, ""
    duration = parseDuration(params[0])
    if duration is None:
        return 0.0, " ".join(params)
    return duration, " ".join(params[1:])


@_command("KICK", 2)
def kick(protocol: Any, message: Message) -> None:
    """
    C{KICK #room NICK[,NICK...] [REASON]}, or as RFC 2812 has it too, C{KICK #a,#b NICK1,NICK2}:
    the first nick out of the first room, the second out of the second.
    """
    rooms, nicks = message.params[0].split(","), message.params[1].split(",")
    reason = message.params[2] if len(message.params) > 2 else ""
    if len(rooms) == 1:
        rooms = rooms * len(nicks)
    elif len(rooms) != len(nicks):
        protocol.numeric(N.ERR_NEEDMOREPARAMS, "KICK", "As many nicks as channels, or one channel")
        return
    for room, nick in zip(rooms, nicks):
        _attempt(
            protocol, room, "KICK", lambda: _moderation(protocol).kick(protocol, room, nick, reason)
        )


def channelMode(protocol: Any, room: Room, changes: str, args: list[str]) -> None:
    """
    C{MODE #room CHANGES ARGS}: a ban list asked for, or changes made one at a time.
    """
    moderation = protocol.factory.hub.moderation
    if changes.lstrip("+") == "b" and not args:
        banList(protocol, room)
        return
    if not moderation.isRoomOperator(protocol, room.name):
        protocol.numeric(N.ERR_CHANOPRIVSNEEDED, room.name, "You're not channel operator")
        return
    adding = True
    for letter in changes:
        if letter in "+-":
            adding = letter == "+"
            continue
        try:
            if letter in "oqb" and not args:
                if letter == "b":
                    banList(protocol, room)
                    continue
                protocol.numeric(N.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                return
            if letter == "o":
                moderation.op(protocol, room.name, args.pop(0), add=adding)
            elif letter == "b":
                mask = args.pop(0)
                if adding:
                    moderation.ban(protocol, room.name, mask)
                else:
                    moderation.unban(protocol, room.name, mask)
            elif letter == "t":
                moderation.lock(protocol, room.name, "topic", add=adding)
            elif letter == "q" and adding:
                args.pop(0)
                moderation.claim(protocol, room.name)
            else:
                protocol.numeric(N.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
        except ChatError as e:
            protocol.refuse(e, room.name, "MODE")


def banList(protocol: Any, room: Room) -> None:
    for rule in protocol.factory.hub.moderation.bans(room.name):
        protocol.numeric(N.RPL_BANLIST, room.name, rule.target, rule.by or "*", str(int(rule.created)))
    protocol.numeric(N.RPL_ENDOFBANLIST, room.name, "End of channel ban list")


def _attempt(protocol: Any, subject: str, command: str, call: Callable[[], object]) -> None:
    """
    Make C{call}; a refusal becomes its numeric (or notice) about C{subject}.
    """
    try:
        call()
    except ChatError as e:
        protocol.refuse(e, subject, command)


def _moderation(protocol: Any) -> Any:
    return protocol.factory.hub.moderation


@_command("CLAIM", 1)
def claim(protocol: Any, message: Message) -> None:
    room = message.params[0]
    _attempt(protocol, room, "CLAIM", lambda: _moderation(protocol).claim(protocol, room))


@_command("MUTE", 2)
def mute(protocol: Any, message: Message) -> None:
    """
    C{MUTE #room NICK [DURATION]}.
    """
    room, who = message.params[0], message.params[1]
    duration, _ = _durationAndReason(message.params[2:])
    _attempt(
        protocol, room, "MUTE", lambda: _moderation(protocol).mute(protocol, room, who, duration)
    )


@_command("UNMUTE", 2)
def unmute(protocol: Any, message: Message) -> None:
    room, who = message.params[0], message.params[1]
    _attempt(protocol, room, "UNMUTE", lambda: _moderation(protocol).unmute(protocol, room, who))


@_command("KILL", 1)
def kill(protocol: Any, message: Message) -> None:
    nick = message.params[0]
    reason = message.params[1] if len(message.params) > 1 else ""
    _attempt(protocol, nick, "KILL", lambda: _moderation(protocol).kill(protocol, nick, reason))


@_command("GBAN", 1)
def gban(protocol: Any, message: Message) -> None:
    """
    C{GBAN MASK [DURATION] [:REASON]}.
    """
    mask = message.params[0]
    duration, reason = _durationAndReason(message.params[1:])
    _attempt(
        protocol,
        mask,
        "GBAN",
        lambda: _moderation(protocol).gban(protocol, mask, duration, reason),
    )


@_command("UNGBAN", 1)
def ungban(protocol: Any, message: Message) -> None:
    mask = message.params[0]
    _attempt(protocol, mask, "UNGBAN", lambda: _moderation(protocol).ungban(protocol, mask))


@_command("WALLOPS", 1)
def wallops(protocol: Any, message: Message) -> None:
    text = message.params[0]
    _attempt(protocol, "", "WALLOPS", lambda: _moderation(protocol).wall(protocol, text))


@_command("STATS")
def stats(protocol: Any, message: Message) -> None:
    """
    C{STATS}, whatever letter it asks for: the server operators' C{/stats}, as notices.
    """
    hub = protocol.factory.hub
    letter = message.params[0] if message.params else "*"
    if not hub.moderation.isOper(protocol):
        protocol.numeric(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
    else:
        gate = protocol.gate
        rate = hub.moderation.lineRate.read(gate.clock.seconds(), gate.stats.linesIn)
        for line in report(gate.connections, gate.stats, len(hub.rooms()), len(hub.members()), rate):
            protocol.serverNotice(line)
    protocol.numeric(N.RPL_ENDOFSTATS, letter[:1] or "*", "End of /STATS report")


@_command("SILENCE")
def silence(protocol: Any, message: Message) -> None:
    """
    C{SILENCE} lists whom the client ignores; C{SILENCE +NICK} and C{SILENCE -NICK} ignore
    and hear again (a nick or a mask of L{chat.moderation.Mask}'s, not an IRC mask).
    """
    moderation = protocol.factory.hub.moderation
    if not message.params or not message.params[0]:
        for mask in moderation.ignoring(protocol):
            protocol.numeric(N.RPL_SILELIST, mask)
        protocol.numeric(N.RPL_ENDOFSILELIST, "End of Silence List")
        return
    wanted = message.params[0]
    adding = not wanted.startswith("-")
    _attempt(
        protocol,
        wanted,
        "SILENCE",
        lambda: moderation.ignore(protocol, wanted.lstrip("+-"), add=adding),
    )

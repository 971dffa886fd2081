"""
How hub events look on the IRC wire: L{encoder} makes the function that a front end's
L{chat.fanout.BatchFanout} renders every event with, once for all the connections that see it
the same way.

The lines of a room are the same for every IRC client in it, save for the C{server-time} and
C{account} tags, so the IRC front end has a fanout per kind of client (L{tagAccounts}).  Replies that name their
recipient (numerics, server notices) are rendered by the connection itself and handed to the
fanout as L{Wire}, so that they keep their place among the room's lines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass
from functools import singledispatch

from twisted.internet.interfaces import IReactorTime

from chat import events
from chat.irc.message import MAX_BODY, Message, escapeTag, serialize
from chat.moderation import describe

HOST = "chat"
"""
The host part of every user's mask, C{nick!nick@chat}: the same for every user on every
server of a cluster, so that nobody learns an address from it.
"""


@dataclass(frozen=True, slots=True)
class Wire:
    """
    A line already rendered for one connection, which the encoder passes through as it is.
    """

    data: bytes


def userMask(nick: str) -> str:
    """
    The source of what C{nick} does: C{nick!nick@chat}.
    """
    return f"{nick}!{nick}@{HOST}"


_lastSecond: tuple[int, str] = (-1, "")


def timeTag(seconds: float) -> str:
    """
    C{seconds} since the epoch as a C{server-time} tag value: C{2026-11-25T19:58:38.123Z}.
    The formatted second is kept, as every line said within it needs it again.
    """
    global _lastSecond
    whole = int(seconds)
    millis = int(round((seconds - whole) * 1000))
    if millis == 1000:
        whole, millis = whole + 1, 0
    second, formatted = _lastSecond
    if second != whole:
        formatted = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _lastSecond = (whole, formatted)
    return f"{formatted}.{millis:03d}Z"


def ctcpAction(text: str) -> str:
    return f"\x01ACTION {text}\x01"


@singledispatch
def toMessage(event: events.Event) -> Message:
    """
    The IRC message that shows C{event} to everyone who sees it alike.
    """
    raise TypeError(f"No IRC form for {event!r}")


@toMessage.register
def _said(event: events.Said) -> Message:
    text = ctcpAction(event.text) if event.action else event.text
    return Message("PRIVMSG", (event.room, text), userMask(event.nick))


@toMessage.register
def _replayed(event: events.Replayed) -> Message:
    return _said(event.said)


@toMessage.register
def _private(event: events.PrivateMessage) -> Message:
    return Message("PRIVMSG", (event.recipient, event.text), userMask(event.sender))


@toMessage.register
def _joined(event: events.Joined) -> Message:
    return Message("JOIN", (event.room,), userMask(event.nick))


@toMessage.register
def _left(event: events.Left) -> Message:
    return Message("PART", (event.room,), userMask(event.nick))


@toMessage.register
def _quit(event: events.Quit) -> Message:
    return Message("QUIT", (event.reason,), userMask(event.nick))


@toMessage.register
def _nickChanged(event: events.NickChanged) -> Message:
    return Message("NICK", (event.new,), userMask(event.old))


@toMessage.register
def _topicChanged(event: events.TopicChanged) -> Message:
    return Message("TOPIC", (event.room, event.topic), userMask(event.nick))


# Moderation actions that are channel modes on IRC: the mode letter, and whether it is set.
_MODES = {
    "op": "+o", "deop": "-o", "ban": "+b", "unban": "-b", "claim": "+q", "lock": "+t",
    "unlock": "-t",
}


@toMessage.register
def _moderated(event: events.Moderated) -> Message:
    """
    A kick as C{KICK}, what IRC has a channel mode for as C{MODE}, the rest as a C{NOTICE}
    in English.  What lapsed by itself comes from the server (no source).
    """
    source = userMask(event.by) if event.by else None
    if event.action == "kick":
        return Message("KICK", (event.room, event.target, event.reason or event.by), source)
    mode = _MODES.get(event.action)
    if mode is not None and event.room:
        if event.action in ("lock", "unlock"):
            return Message("MODE", (event.room, mode), source)
        return Message("MODE", (event.room, mode, event.target), source)
    return Message("NOTICE", (event.room or "*", describe(event)), source)
@toMessage.register
def _awayChanged(event: events.AwayChanged) -> Message:
    return Message("AWAY", (event.away,) if event.away else (), userMask(event.nick))


@toMessage.register
def _accountChanged(event: events.AccountChanged) -> Message:
    return Message("ACCOUNT", (event.account or "*",), userMask(event.nick))


def splitText(text: str, size: int) -> list[str]:
    """
    C{text} cut into pieces of at most C{size} bytes of UTF-8, never inside a character, and
    after a space where one is near the end of a piece; joined, the pieces are C{text}.
    """
    data = text.encode("utf-8")
    pieces = []
    while len(data) > size:
        cut = size
        while cut > 0 and data[cut] & 0xC0 == 0x80:  # a continuation byte: inside a character
            cut -= 1
        space = data.rfind(b" ", size // 2, cut)
        if space >= 0:
            cut = space + 1
        if cut == 0:  # a size smaller than one character: a caller's mistake, but end
            cut = size
        pieces.append(data[:cut].decode("utf-8", "replace"))
        data = data[cut:]
    pieces.append(data.decode("utf-8", "replace"))
    return pieces


def fitted(message: Message) -> list[Message]:
    """
    C{message}, or a C{PRIVMSG} cut into several, so that each line is at most 512 bytes
    without its tags (a line user may say 2 KB at once): a strict IRC client cuts or drops a
    longer line.  An action stays an action in every piece.  Any other message too long (a
    long quit reason) loses the end of its last parameter.
    """
    if not message.params:
        return [message]
    *first, last = message.params
    action = (
        message.command == "PRIVMSG" and last.startswith("\x01ACTION ") and last.endswith("\x01")
    )
    body = last[len("\x01ACTION ") : -1] if action else last
    empty = Message(
        message.command, (*first, ctcpAction("") if action else ""), message.source
    )
    room = MAX_BODY - len(serialize(empty))
    if len(body.encode("utf-8")) <= room:
        return [message]
    pieces = splitText(body, max(room, 4))
    if message.command != "PRIVMSG":
        pieces = pieces[:1]
    return [
        Message(
            message.command,
            (*first, ctcpAction(piece) if action else piece),
            message.source,
            message.tags,
        )
        for piece in pieces
    ]


def eventTime(event: events.Event) -> float | None:
    """
    When C{event} happened, if it says: a line keeps the time it was said at, in history too.
    """
    if isinstance(event, events.Said):
        return event.time
    if isinstance(event, events.Replayed):
        return event.said.time
    return None


def fromServer(event: events.Event, server: str) -> Message | None:
    """
    The message that shows C{event} if the server says it: a notice or refusal, or a room's
    topic.  A connection renders these for itself, addressed to its nick; what reaches the
    fanout (a notice to every member) is addressed to C{*}, as for a client with no nick yet.
    """
    if isinstance(event, events.Notice | events.Error):
        return Message("NOTICE", ("*", event.text), server)
    if isinstance(event, events.Topic):
        return Message("332", ("*", event.room, event.topic), server)
    return None


_UNSAFE_BYTES = re.compile(b"[\r\n\x00]")

HEADS_KEPT = 4096
"""
How many C{PRIVMSG} prefixes (C{:nick!nick@chat PRIVMSG #room :}) an encoder keeps; past
that it forgets them all and starts again, which costs a few thousand serializations once.
"""


def encoder(
    clock: IReactorTime, serverTime: bool, server: str
) -> Callable[[events.Event], bytes]:
    """
    The encoder of a fanout: for clients with the C{server-time} capability if
    C{serverTime}, each line then tagged with when it happened; C{server} is the source of
    what the server says.

    A line said in a room is by far the commonest event, and is rendered once per fanout for
    every client of the room: it takes a shortcut, the line's prefix serialized once per
    speaker and room and kept, then the text appended.  What the shortcut cannot render as
    L{serialize} would (a line that needs cutting) takes the general path.
    """
    heads: dict[tuple[str, str], bytes] = {}

    def saidLine(event: events.Said) -> bytes | None:
        key = (event.nick, event.room)
        head = heads.get(key)
        if head is None:
            if len(heads) >= HEADS_KEPT:
                heads.clear()
            head = heads[key] = serialize(
                Message("PRIVMSG", (event.room, ""), userMask(event.nick))
            )[:-2]
        text = event.text
        body = (ctcpAction(text) if event.action else text).encode("utf-8", "replace")
        # The hub refuses CR, LF and NUL in text; a line that has one anyway is the
        # serializer's to clean.
        if len(head) + len(body) + 2 > MAX_BODY or _UNSAFE_BYTES.search(body) is not None:
            return None
        if serverTime:
            return b"".join((b"@time=", timeTag(event.time).encode("ascii"), b" ", head, body, b"\r\n"))
        return b"".join((head, body, b"\r\n"))

    def encode(event: events.Event) -> bytes:
        kind = type(event)
        if kind is events.Said:
            line = saidLine(event)  # type: ignore[arg-type]
            if line is not None:
                return line
        elif kind is Wire:
            return event.data  # type: ignore[attr-defined, no-any-return]
        message = fromServer(event, server) or toMessage(event)
        if serverTime:
            when = eventTime(event)
            message = Message(
                message.command,
                message.params,
                message.source,
                {"time": timeTag(clock.seconds() if when is None else when)},
            )
        pieces = fitted(message)
        if len(pieces) == 1:
            return serialize(pieces[0])
        return b"".join(serialize(piece) for piece in pieces)

    return encode


# Who did what an event tells, for its C{account} tag: a line replayed from history is left
# untagged (its speaker's account then is not known), as is a quit (the member is gone).
_ACTORS: dict[type, Callable[[Any], str]] = {
    events.Said: lambda event: event.nick,
    events.PrivateMessage: lambda event: event.sender,
    events.Joined: lambda event: event.nick,
    events.Left: lambda event: event.nick,
    events.NickChanged: lambda event: event.new,
    events.TopicChanged: lambda event: event.nick,
    events.AwayChanged: lambda event: event.nick,
}


def tagAccounts(
    encode: Callable[[events.Event], bytes], accountOf: Callable[[str], str | None]
) -> Callable[[events.Event], bytes]:
    """
    C{encode}, for the clients with the C{account-tag} capability: what an identified user
    does is tagged with its account, C{accountOf} its nick.  The others' fanouts never call
    this: a line costs them nothing more.
    """

    def encodeTagged(event: events.Event) -> bytes:
        data = encode(event)
        actor = _ACTORS.get(type(event))
        account = None if actor is None else accountOf(actor(event))
        if account is None:
            return data
        tag = b"account=" + escapeTag(account).encode("utf-8")
        return b"".join(
            (b"@" + tag + b";" + line[1:] if line.startswith(b"@") else b"@" + tag + b" " + line) + b"\r\n"
            for line in data.split(b"\r\n")[:-1]
        )

    return encodeTagged


def extendJoins(
    encode: Callable[[events.Event], bytes], accountOf: Callable[[str], str | None]
) -> Callable[[events.Event], bytes]:
    """
    C{encode}, for the clients with the C{extended-join} capability: a C{JOIN} also says the
    joiner's account (C{*} for none) and real name (its nick, as C{WHO} says).
    """

    def encodeExtended(event: events.Event) -> bytes:
        if type(event) is not events.Joined:
            return encode(event)
        account = accountOf(event.nick) or "*"
        source = userMask(event.nick)
        extended = Message("JOIN", (event.room, account, event.nick), source)
        plain = encode(event)
        # The line as C{encode} wrote it (tags and all), its message replaced.
        head, _, _ = plain.partition(b":" + source.encode("utf-8") + b" JOIN ")
        return head + serialize(extended)

    return encodeExtended

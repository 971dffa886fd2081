"""
How each event looks as a line of the text protocol (see C{docs/protocol.md}), made safe for
the terminal that shows it.

Every kind of line has its own first characters, so that a person reads it at a glance and a
program tells the kinds apart by a prefix:

    <nick> text                      chat
    * nick text                      action (/me)
    *nick* text                      private message to you
    -> *nick* text                   your private message, as sent
    *** text                         notice from the server or a room
    !!! text                         error: your last line was refused
    [history 2026-11-24T21:20:01Z] <nick> text
                                     a chat or action line replayed from a room's history
"""

from __future__ import annotations

import re
import time
from functools import singledispatch

from chat import events
from chat.moderation import describe
from chat.names import describeCharacter

NOTICE = "*** "
ERROR = "!!! "

# C0 controls other than TAB, DEL and the C1 controls; ESC (0x1B) is among the C0 ones.
_CONTROLS = "\x00-\x08\x0a-\x1f\x7f-\x9f"
# Embeddings, overrides and isolates: they reorder the text that follows them on a terminal line.
_BIDI = "\u202a-\u202e\u2066-\u2069"
_UNSAFE_ON_A_TERMINAL = re.compile(f"[{_CONTROLS}{_BIDI}]")


def _show(match: re.Match[str]) -> str:
    return describeCharacter(match.group())


def visible(text: str) -> str:
    """
    Return C{text} with every control and reordering character replaced by a visible stand-in
    (C{^[}, C{<U+202E>}), so that nothing in it can move a reader's cursor, recolour the screen
    or hide what follows.  The hub keeps text raw (IRC users exchange colour codes); this is
    where the line protocol makes it fit for a terminal.
    """
    if text.isprintable():  # the common case, in a quarter of the time of the substitution
        return text
    return _UNSAFE_ON_A_TERMINAL.sub(_show, text)


@singledispatch
def render(event: events.Event) -> str:
    """
    The text of the line that shows C{event}, without its line ending.
    """
    raise TypeError(f"No line format for {event!r}")


@render.register
def _said(event: events.Said) -> str:
    if event.action:
        return f"* {event.nick} {event.text}"
    return f"<{event.nick}> {event.text}"


@render.register
def _replayed(event: events.Replayed) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.said.time))
    return f"[history {stamp}] {_said(event.said)}"


@render.register
def _private(event: events.PrivateMessage) -> str:
    if event.echo:
        return f"-> *{event.recipient}* {event.text}"
    return f"*{event.sender}* {event.text}"


@render.register
def _joined(event: events.Joined) -> str:
    return f"{NOTICE}{event.nick} has joined {event.room}"


@render.register
def _left(event: events.Left) -> str:
    return f"{NOTICE}{event.nick} has left {event.room}"


@render.register
def _quit(event: events.Quit) -> str:
    return f"{NOTICE}{event.nick} has quit ({event.reason})"


@render.register
def _nickChanged(event: events.NickChanged) -> str:
    return f"{NOTICE}{event.old} is now known as {event.new}"


@render.register
def _topicChanged(event: events.TopicChanged) -> str:
    if not event.topic:
        return f"{NOTICE}{event.nick} cleared the topic of {event.room}"
    return f"{NOTICE}{event.nick} set the topic of {event.room} to: {event.topic}"


@render.register
def _awayChanged(event: events.AwayChanged) -> str:
    if not event.away:
        return f"{NOTICE}{event.nick} is back"
    return f"{NOTICE}{event.nick} is away: {event.away}"


@render.register
def _accountChanged(event: events.AccountChanged) -> str:
    if event.account is None:
        return f"{NOTICE}{event.nick} is no longer identified"
    return f"{NOTICE}{event.nick} is identified as {event.account}"


@render.register
def _topic(event: events.Topic) -> str:
    return f"{NOTICE}Topic of {event.room}: {event.topic}"


@render.register
def _notice(event: events.Notice) -> str:
    return NOTICE + event.text


@render.register
def _error(event: events.Error) -> str:
    return ERROR + event.text


@render.register
def _moderated(event: events.Moderated) -> str:
    return NOTICE + describe(event)


def encode(event: events.Event) -> bytes:
    """
    The bytes of the line that shows C{event}, with the protocol's C{\\r\\n} ending: any
    control character in it, from whichever field, is made visible.
    """
    # A line said is by far the commonest event: it skips the dispatch.
    line = _said(event) if type(event) is events.Said else render(event)  # type: ignore[arg-type]
    return visible(line).encode("utf-8") + b"\r\n"

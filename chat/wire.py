"""
How each event looks as a line of the text protocol (see C{docs/protocol.md}).

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

import time
from functools import singledispatch

from chat import events

NOTICE = "*** "
ERROR = "!!! "


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
def _topic(event: events.Topic) -> str:
    return f"{NOTICE}Topic of {event.room}: {event.topic}"


@render.register
def _notice(event: events.Notice) -> str:
    return NOTICE + event.text


@render.register
def _error(event: events.Error) -> str:
    return ERROR + event.text


def encode(event: events.Event) -> bytes:
    """
    The bytes of the line that shows C{event}, with the protocol's C{\\r\\n} ending.
    """
    return render(event).encode("utf-8") + b"\r\n"

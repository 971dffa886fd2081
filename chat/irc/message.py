"""
IRC messages as bytes: L{parse} one line into a L{Message}, L{serialize} a L{Message} into one
line, IRCv3 message tags included.

Both work on whole lines: splitting a stream into lines, and the limits on their length, are
L{chat.reader.LineReader}'s.  The serializer is the one place where output meets the wire, so
it makes a line break or a NUL in any field impossible: such a character would end the line
and let text sent by one user become a command, or a forged message, on another's client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Message", "MessageError", "parse", "serialize", "escapeTag", "unescapeTag"]

MAX_BODY = 512
"""
The longest message without its tags, in bytes (the IRC limit, counted without the line end:
clients count it either way, and a server should take what they send).
"""

MAX_TAGS = 8191
"""
The longest tags section a client may send, with its C{@} and trailing space.
"""

_UNSAFE = re.compile("[\r\n\x00]")
_TAG_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE_TAG = re.compile(r"[; \\\r\n]")
_UNESCAPE_TAG = re.compile(r"\\(.?)", re.DOTALL)


class MessageError(ValueError):
    """
    A line that is not an IRC message: the text says why.
    """


@dataclass(frozen=True, slots=True)
class Message:
    """
    One IRC message.

    @ivar tags: IRCv3 tags, in order; a tag without a value has the value C{""}.
    @ivar source: the prefix without its C{:} (C{nick!user@host} or a server name), or
        L{None}.
    @ivar command: the command or numeric, as sent (L{parse} upper-cases it).
    @ivar params: the parameters; only the last may be empty, contain spaces or start with
        C{:}.
    """

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


def escapeTag(value: str) -> str:
    """
    C{value} as it is written in a tags section.
    """
    return _ESCAPE_TAG.sub(lambda m: _TAG_ESCAPES[m.group()], value)


def unescapeTag(value: str) -> str:
    """
    A tag value as written, unescaped: an unknown escape stands for its character, and a
    trailing lone backslash for nothing (as the IRCv3 specification says).
    """
    return _UNESCAPE_TAG.sub(lambda m: _TAG_UNESCAPES.get(m.group(1), m.group(1)), value)


def _parseTags(section: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in section.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not key:
            raise MessageError("A tag has no name")
        tags[key] = unescapeTag(value)
    return tags


def splitTags(line: bytes) -> tuple[bytes, bytes]:
    """
    The tags section of C{line} (with its C{@}, or empty) and the rest, so that each can be
    held to its own length limit before anything is decoded.
    """
    if not line.startswith(b"@"):
        return b"", line
    end = line.find(b" ")
    if end < 0:
        return line, b""
    rest = line[end:].lstrip(b" ")
    return line[: end + 1], rest


def parse(line: bytes) -> Message:
    """
    The message in C{line}, which has no line ending.

    @raise UnicodeDecodeError: if C{line} is not UTF-8.
    @raise MessageError: if it is not an IRC message.
    """
    text = line.decode("utf-8")
    if _UNSAFE.search(text):
        raise MessageError("A message cannot contain CR, LF or NUL")
    tags: dict[str, str] = {}
    if text.startswith("@"):
        section, _, text = text.partition(" ")
        tags = _parseTags(section[1:])
    text = text.lstrip(" ")
    source = None
    if text.startswith(":"):
        prefix, _, text = text.partition(" ")
        source = prefix[1:]
        text = text.lstrip(" ")
    text, colon, trailing = text.partition(" :")
    if not colon and text.startswith(":"):
        text, trailing, colon = "", text[1:], " :"
    words = [word for word in text.split(" ") if word]
    if not words:
        raise MessageError("No command")
    command, *params = words
    if colon:
        params.append(trailing)
    return Message(command.upper(), tuple(params), source, tags)


def _clean(text: str) -> str:
    if "\r" in text or "\n" in text or "\0" in text:
        return _UNSAFE.sub("", text)
    return text  # the common case, three times as fast as the substitution


def serialize(message: Message) -> bytes:
    """
    C{message} as one line, with its C{\\r\\n}.  CR, LF and NUL are dropped from every field,
    whatever it holds, so that one message is always exactly one line.

    @raise MessageError: if a parameter other than the last is empty, has a space or starts
        with C{:}, or the command is not one word: the caller's mistake, not the text's.
    """
    parts: list[str] = []
    if message.tags:
        parts.append(
            "@"
            + ";".join(
                f"{_clean(key)}={_clean(escapeTag(value))}" if value else _clean(key)
                for key, value in message.tags.items()
            )
        )
    if message.source:
        parts.append(":" + _clean(message.source).replace(" ", ""))
    command = _clean(message.command)
    if not command or " " in command or command.startswith(":"):
        raise MessageError(f"Bad command {message.command!r}")
    parts.append(command)
    params = [_clean(param) for param in message.params]
    if params:
        *middle, last = params
        for param in middle:
            if not param or " " in param or param.startswith(":"):
                raise MessageError(f"Bad middle parameter {param!r}")
        parts.extend(middle)
        # Always as a trailing parameter: simple clients (sic) read the text only from there.
        parts.append(":" + last)
    return " ".join(parts).encode("utf-8", "replace") + b"\r\n"

"""
Nicks and room names: what is valid, and when two of them are the same.
"""

from __future__ import annotations

import re

from chat.text import unsafeCharacter

NICK_MAX_LENGTH = 32
ROOM_MAX_LENGTH = 50
TOPIC_MAX_LENGTH = 300

# RFC 2812's nick characters: a letter or one of []\`_^{|} first, then also digits and '-'.
_NICK_SPECIALS = r"_\[\]{}\\|^"
_NICK = re.compile(rf"[A-Za-z{_NICK_SPECIALS}][A-Za-z0-9\-{_NICK_SPECIALS}]*\Z")
# RFC 1459 case mapping: [ ] \ are the upper case of { } |, as IRC servers fold them.
_FOLD_NICK = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\", "abcdefghijklmnopqrstuvwxyz{}|")


class InvalidName(ValueError):
    """
    A nick, room name or topic that cannot be used; the message says why, for the user.
    """


def checkNick(nick: str) -> str:
    """
    Return C{nick} if it is a valid nick, or raise L{InvalidName} saying why not.
    """
    if not nick:
        raise InvalidName("A nick cannot be empty")
    if len(nick) > NICK_MAX_LENGTH:
        raise InvalidName(f"A nick is at most {NICK_MAX_LENGTH} characters")
    if not _NICK.match(nick):
        raise InvalidName(
            "A nick is letters, digits and _-[]{}\\|^, not starting with a digit or '-'"
        )
    return nick


def foldNick(nick: str) -> str:
    """
    The key under which C{nick} is unique: nicks differing only in case are the same nick.
    """
    return nick.translate(_FOLD_NICK)


def checkRoom(name: str) -> str:
    """
    Return the canonical spelling of room C{name} (with its leading C{#}), or raise
    L{InvalidName}.  C{lobby} and C{#lobby} name the same room.
    """
    if not name.startswith("#"):
        name = "#" + name
    if len(name) < 2:
        raise InvalidName("A room name cannot be empty")
    if len(name) > ROOM_MAX_LENGTH:
        raise InvalidName(f"A room name is at most {ROOM_MAX_LENGTH} characters")
    bad = unsafeCharacter(name)
    if bad is not None:
        raise InvalidName(f"A room name cannot contain {bad}")
    if any(c.isspace() or c == "," for c in name):
        raise InvalidName("A room name cannot contain spaces or commas")
    return name


def foldRoom(name: str) -> str:
    """
    The key under which room C{name} is unique: room names are case-insensitive.
    """
    return name.casefold()


def checkTopic(topic: str) -> str:
    """
    Return C{topic} if it can be a room topic, or raise L{InvalidName}.
    """
    if len(topic) > TOPIC_MAX_LENGTH:
        raise InvalidName(f"A topic is at most {TOPIC_MAX_LENGTH} characters")
    bad = unsafeCharacter(topic)
    if bad is not None:
        raise InvalidName(f"A topic cannot contain {bad}")
    return topic

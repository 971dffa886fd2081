"""
Nicks, room names and topics: what is valid, and when two names are the same.

A name is read by people on every kind of client, so it must look like what it is: no
control characters, and none of the characters that render as nothing (Unicode's
default-ignorable code points and format characters, category Cf), which would let C{#dev}
and C{#dev} plus an invisible mark be two rooms that look the same.
"""

from __future__ import annotations

import re
import unicodedata

from chat.errors import InvalidNick, InvalidRoomName, InvalidText, InvalidTopic
from chat.text import checkText

NICK_MAX_LENGTH = 32
ROOM_MAX_LENGTH = 50
TOPIC_MAX_LENGTH = 300
AWAY_MAX_LENGTH = 200

# RFC 2812's nick characters: a letter or one of []\`_^{|} first, then also digits and '-'.
_NICK_SPECIALS = r"_\[\]{}\\|^"
_NICK = re.compile(rf"[A-Za-z{_NICK_SPECIALS}][A-Za-z0-9\-{_NICK_SPECIALS}]*\Z")
# RFC 1459 case mapping: [ ] \ are the upper case of { } |, as IRC servers fold them.
_FOLD_NICK = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\", "abcdefghijklmnopqrstuvwxyz{}|")

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): what a renderer shows
# as nothing when it has no glyph for it.  Several are not format characters (U+034F, U+115F,
# U+3164, the variation selectors), so the category alone does not catch them.
_DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Controls, format characters, surrogates, private use, and the line and paragraph separators.
_UNSHOWN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def describeCharacter(character: str) -> str:
    """
    C{character} as a person can read it in an error message: C{^[}, C{<U+2060>}.
    """
    code = ord(character)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def unshownCharacter(text: str) -> str | None:
    """
    The first character of C{text} that a name must not contain, described, or L{None}.
    """
    match = _DEFAULT_IGNORABLE.search(text)
    if match is not None:
        return describeCharacter(match.group())
    for character in text:
        if character == "\t" or unicodedata.category(character) in _UNSHOWN_CATEGORIES:
            return describeCharacter(character)
    return None


def checkNick(nick: str) -> str:
    """
    Return C{nick} if it is a valid nick, or raise L{InvalidNick} saying why not.
    """
    if not nick:
        raise InvalidNick("A nick cannot be empty")
    if len(nick) > NICK_MAX_LENGTH:
        raise InvalidNick(f"A nick is at most {NICK_MAX_LENGTH} characters")
    if not _NICK.match(nick):
        raise InvalidNick(
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
    L{InvalidRoomName}.  C{lobby} and C{#lobby} name the same room.
    """
    if not name.startswith("#"):
        name = "#" + name
    if len(name) < 2:
        raise InvalidRoomName("A room name cannot be empty")
    if len(name) > ROOM_MAX_LENGTH:
        raise InvalidRoomName(f"A room name is at most {ROOM_MAX_LENGTH} characters")
    bad = unshownCharacter(name)
    if bad is not None:
        raise InvalidRoomName(f"A room name cannot contain {bad}")
    if any(c.isspace() or c == "," for c in name):
        raise InvalidRoomName("A room name cannot contain spaces or commas")
    return name


def foldRoom(name: str) -> str:
    """
    The key under which room C{name} is unique: room names are case-insensitive.
    """
    return name.casefold()


def checkTopic(topic: str) -> str:
    """
    Return C{topic} if it can be a room topic, or raise L{InvalidTopic}.
    """
    if len(topic) > TOPIC_MAX_LENGTH:
        raise InvalidTopic(f"A topic is at most {TOPIC_MAX_LENGTH} characters")
    bad = unshownCharacter(topic)
    if bad is not None:
        raise InvalidTopic(f"A topic cannot contain {bad}")
    return topic


def checkAway(away: str) -> str:
    """
    Return C{away} if it can be an away message (shown beside a nick, as a topic is beside a
    room), or raise L{InvalidText}.
    """
    if len(away) > AWAY_MAX_LENGTH:
        raise InvalidText(f"An away message is at most {AWAY_MAX_LENGTH} characters")
    bad = unshownCharacter(away)
    if bad is not None:
        raise InvalidText(f"An away message cannot contain {bad}")
    return checkText(away)

"""
What text the hub accepts from any front end and hands to every other.

Text is kept as it was sent, IRC formatting codes and escape characters included, so that a
front end whose clients understand them (IRC) passes them on intact; a front end that draws
on a terminal makes them harmless itself (L{chat.line.render.visible}).  Only what no front end
could carry is refused: a line break (it would end the line on the line and IRC wires), a
NUL, or a lone surrogate (it has no UTF-8 encoding).
"""

from __future__ import annotations

import re

from chat.errors import InvalidText

_UNCARRIABLE = re.compile("[\r\n\x00\ud800-\udfff]")


def checkText(text: str) -> str:
    """
    Return C{text} if every front end can carry it, or raise L{InvalidText}.
    """
    if text.isprintable():  # the common case, in a quarter of the time of the search
        return text
    match = _UNCARRIABLE.search(text)
    if match is not None:
        raise InvalidText(
            f"Text cannot contain U+{ord(match.group()):04X} (a line break, NUL or surrogate)"
        )
    return text


def carriable(text: str) -> str:
    """
    C{text} with what L{checkText} refuses replaced by U+FFFD, for text that must go through
    whatever it holds: a quit reason.
    """
    return _UNCARRIABLE.sub("\ufffd", text)

"""
What text from one client may reach another client's terminal.

Everything relayed is valid UTF-8 without terminal control sequences: the C0 controls except
TAB, DEL, ESC and the C1 controls are made visible (C{^[}, C{<U+009B>}), never passed on, and so
are the bidirectional overrides that would reorder the rest of a reader's line.  Names (nicks,
rooms, topics) are stricter: L{unsafeCharacter} finds anything they must reject.
"""

from __future__ import annotations

import re

# C0 controls other than TAB, DEL and the C1 controls; ESC (0x1B) is among the C0 ones.
_CONTROLS = "\x00-\x08\x0a-\x1f\x7f-\x9f"
# Embeddings, overrides and isolates: they reorder the text that follows them on a terminal line.
_BIDI = "\u202a-\u202e\u2066-\u2069"
# Zero-width and direction marks: harmless in a message (emoji use ZWJ), deceptive in a name.
_INVISIBLE = "\u200b-\u200f\ufeff"

_UNSAFE_IN_MESSAGES = re.compile(f"[{_CONTROLS}{_BIDI}]")
_UNSAFE_IN_NAMES = re.compile(f"[\t{_CONTROLS}{_BIDI}{_INVISIBLE}]")


def _show(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def visible(text: str) -> str:
    """
    Return C{text} with every control and reordering character replaced by a visible stand-in,
    so that nothing in it can move a reader's cursor, recolour the screen or hide what follows.
    """
    return _UNSAFE_IN_MESSAGES.sub(_show, text)


def unsafeCharacter(text: str) -> str | None:
    """
    Return the first character that a name or topic must not contain, shown visibly, or
    L{None} if C{text} is clean.
    """
    match = _UNSAFE_IN_NAMES.search(text)
    return None if match is None else _show(match)

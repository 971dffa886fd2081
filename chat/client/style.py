"""
How a server line looks on a terminal: the time it came, and colours by kind of line and by
nick.  The line has been made safe (L{chat.line.render.visible}) before; the only escape sequences
in the result are the ones added here.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable

_RESET = "\x1b[0m"
_BOLD_RED = "\x1b[1;31m"
_DIM = "\x1b[2m"
_NOTICE = "\x1b[36m"
_PRIVATE = "\x1b[1;35m"
# Colours a nick can have: readable on dark and light backgrounds, none of them the notice,
# error or private-message colour.
_NICK_COLOURS = ("\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[91m", "\x1b[92m", "\x1b[93m", "\x1b[94m", "\x1b[95m")

_HISTORY = re.compile(r"(\[history [^\]]*\] )(.*)\Z")
_CHAT = re.compile(r"<([^>\s]+)>( .*)\Z")
_ACTION = re.compile(r"\* (\S+)( .*)\Z")


def nickColour(nick: str) -> str:
    """
    The colour of C{nick}: the same nick, the same colour, in every session.
    """
    return _NICK_COLOURS[zlib.crc32(nick.lower().encode("utf-8")) % len(_NICK_COLOURS)]


class Styler:
    def __init__(
        self,
        colour: bool = True,
        timestamps: bool = True,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.colour = colour
        self.timestamps = timestamps
        self._now = now

    def format(self, line: str) -> str:
        stamp = time.strftime("%H:%M ", time.localtime(self._now())) if self.timestamps else ""
        if not self.colour:
            return stamp + line
        return self._paint(_DIM, stamp) + self._kind(line)

    def formatOwn(self, text: str) -> str:
        """
        A message from the client itself, set apart from anything the server sends.
        """
        return self._paint(_DIM, f"--- {text}") if self.colour else f"--- {text}"

    def _kind(self, line: str) -> str:
        if match := _HISTORY.match(line):
            return self._paint(_DIM, match.group(1)) + self._kind(match.group(2))
        if line.startswith("!!! "):
            return self._paint(_BOLD_RED, line)
        if line.startswith("*** "):
            return self._paint(_NOTICE, line)
        if line.startswith(("-> *", "*")) and not line.startswith("* "):
            return self._paint(_PRIVATE, line)
        if match := _CHAT.match(line):
            nick = match.group(1)
            return self._paint(nickColour(nick), f"<{nick}>") + match.group(2)
        if match := _ACTION.match(line):
            nick = match.group(1)
            return "* " + self._paint(nickColour(nick), nick) + match.group(2)
        return line

    @staticmethod
    def _paint(colour: str, text: str) -> str:
        return f"{colour}{text}{_RESET}" if text else ""

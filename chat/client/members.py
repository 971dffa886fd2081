"""
The nicks in the client's room, as far as the client has seen them: for Tab completion.

The server's C{/who} reply is the one complete list, so the session asks for it, silently,
whenever it joins a room; the room's notices (joins, leaves, quits, nick changes) and the
nicks that speak there keep it current between two replies.  A big room announces none of
those (C{--big-room}), but its C{/who} reply still lists everyone and its speakers are still
seen, so completion stays useful there too; a nick that left unannounced is at worst offered
once too often.  All of this is read from lines the client gets anyway: nothing here needs the
server to change.
"""

from __future__ import annotations

import re

WHO_REPLY = re.compile(r"\*\*\* In (\S+) \(\d+\): ?(.*)\Z")
_JOINED = re.compile(r"\*\*\* (\S+) has joined (\S+)\Z")
_LEFT = re.compile(r"\*\*\* (\S+) has left (\S+)\Z")
_QUIT = re.compile(r"\*\*\* (\S+) has quit \(.*\)\Z")
_RENAMED = re.compile(r"\*\*\* (\S+) is now known as (\S+)\Z")
_SPOKE = re.compile(r"(?:<([^>\s]+)> |\* (\S+) )")


class RoomMembers:
    """
    The nicks of one room, by their lower-case form, so that a nick is known once whatever
    case a line spells it in.
    """

    def __init__(self) -> None:
        self.room = ""
        self._nicks: dict[str, str] = {}

    def enter(self, room: str, ownNick: str) -> None:
        """
        The client is now in C{room}: forget the old room's nicks.
        """
        self.room = room
        self._nicks = {}
        self._add(ownNick)

    def absorb(self, line: str) -> None:
        """
        Learn from one line from the server, shown or not.
        """
        if match := WHO_REPLY.match(line):
            if self._here(match.group(1)):
                self._nicks = {}
                for nick in match.group(2).split():
                    self._add(nick)
        elif match := _JOINED.match(line):
            if self._here(match.group(2)):
                self._add(match.group(1))
        elif match := _LEFT.match(line):
            if self._here(match.group(2)):
                self._nicks.pop(match.group(1).lower(), None)
        elif match := _QUIT.match(line):
            self._nicks.pop(match.group(1).lower(), None)
        elif match := _RENAMED.match(line):
            if self._nicks.pop(match.group(1).lower(), None) is not None:
                self._add(match.group(2))
        elif match := _SPOKE.match(line):
            # Chat and actions come only from the room the client is in.
            self._add(match.group(1) or match.group(2))

    def matching(self, prefix: str) -> list[str]:
        """
        The known nicks that start with C{prefix}, whatever its case, in alphabetical order.
        """
        folded = prefix.lower()
        return sorted(
            (nick for key, nick in self._nicks.items() if key.startswith(folded)),
            key=str.lower,
        )

    def _here(self, room: str) -> bool:
        return room.lower() == self.room.lower()

    def _add(self, nick: str) -> None:
        if nick:
            self._nicks[nick.lower()] = nick

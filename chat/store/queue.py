"""
L{TurnQueue}: what a store that writes once a reactor turn queues meanwhile.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime

from chat import events
from chat.store.interface import Rule

RuleChange = tuple[Rule | None, tuple[str, str, str] | None]


class TurnQueue:
    """
    The lines and rule changes of a turn, kept in order until the turn ends, when
    L{_writeQueued} (the store's own) writes them at once: a line said costs no write of its own.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._queued: list[events.Said] = []
        # Rule changes, in order: (rule, None) saves, (None, key) deletes.
        self._queuedRules: list[RuleChange] = []
        self._flush: Any = None

    def _writeQueued(self) -> object:
        raise NotImplementedError()

    def _writeSoon(self) -> None:
        """
        Write what is queued when this reactor turn ends.
        """
        if self._flush is None:
            self._flush = self._clock.callLater(0, self._writeQueued)

    def _takeQueued(self) -> tuple[list[events.Said], list[RuleChange]]:
        """
        Empty the queues, and return what they held, for L{_writeQueued} to write now.
        """
        if self._flush is not None and self._flush.active():
            self._flush.cancel()
        self._flush = None
        queued, self._queued = self._queued, []
        rules, self._queuedRules = self._queuedRules, []
        return queued, rules

    def saveRule(self, rule: Rule) -> None:
        self._queuedRules.append((rule, None))
        self._writeSoon()

    def deleteRule(self, kind: str, scope: str, target: str) -> None:
        self._queuedRules.append((None, (kind, scope, target)))
        self._writeSoon()

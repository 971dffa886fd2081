"""
The service that opens the state store when the server starts, loads what it kept into the hub,
prunes old lines as the server runs, and closes the store last when it stops.  On a store the
nodes of a cluster share, it also reads the registered nicks again every
L{ACCOUNTS_REFRESH} seconds: a nick registered on another node is refused to the unidentified
here within that time (its owner holds it cluster-wide meanwhile), and one unregistered there
is free again here.
"""

from __future__ import annotations

from twisted.application import service
from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.errors import StateUnavailable
from chat.hub import Hub
from chat.store.interface import Store

DAY = 24 * 60 * 60.0
PRUNE_INTERVAL = 60 * 60.0
ACCOUNTS_REFRESH = 5.0


class StateService(service.Service):
    """
    Keeps C{hub}'s state in C{store}.

    @ivar ready: fires once the store is open and the hub has loaded it; the gate lets no
        client in before (see L{chat.gate.Gate.holdUntil}).
    @ivar keepDays: days a line is kept; 0: forever.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorCore | IReactorTime,
        hub: Hub,
        store: Store,
        keepDays: float = 30,
        pruneInterval: float = PRUNE_INTERVAL,
    ) -> None:
        self._reactor = reactor
        self.hub = hub
        self.store = store
        self.keepDays = keepDays
        self._pruning = LoopingCall(self.prune)
        self._pruning.clock = reactor
        self._pruneInterval = pruneInterval
        self._refreshing = LoopingCall(self.refreshAccounts)
        self._refreshing.clock = reactor
        self.ready: defer.Deferred[None] = defer.Deferred()

    def startService(self) -> None:
        super().startService()
        loading = self.store.start().addCallback(lambda _: self.hub.load())
        loading.addCallbacks(self._loaded, self._failed)
        loading.chainDeferred(self.ready)

    def _loaded(self, _: None) -> None:
        if self.keepDays and self.running:
            self._pruning.start(self._pruneInterval, now=True).addErrback(
                lambda failure: self.log.failure("Pruning the history", failure)
            )
        if self.store.shared and self.hub.accounts is not None and self.running:
            self._refreshing.start(ACCOUNTS_REFRESH, now=False)

    def refreshAccounts(self) -> defer.Deferred[None]:
        """
        Read the registered nicks again, which other nodes may have changed.
        """

        def failed(failure: Failure) -> None:
            if failure.check(StateUnavailable):
                self.log.debug("Registered nicks not refreshed: {why}", why=failure.getErrorMessage())
            else:
                self.log.failure("Refreshing the registered nicks", failure)

        return self.hub.accounts.load().addErrback(failed)

    def _failed(self, failure: Failure) -> None:
        """
        A server that cannot read its state does not run without it: it would forget its
        accounts, and let anyone take a registered nick.
        """
        self.log.failure("Cannot open the state store; stopping", failure)
        self._reactor.callWhenRunning(self._reactor.stop)

    def prune(self) -> defer.Deferred[None]:
        """
        Forget the lines older than C{keepDays}.
        """
        before = self._reactor.seconds() - self.keepDays * DAY
        self.hub.forgetBefore(before)

        def pruned(count: int) -> None:
            if count:
                self.log.info("Pruned {count} lines older than {days} days", count=count, days=self.keepDays)

        return self.store.prune(before).addCallback(pruned)

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()
        for loop in (self._pruning, self._refreshing):
            if loop.running:
                loop.stop()
        return self.store.stop()

"""
Accounts: registered nicks, their passwords, and who has identified as which.

A registered nick may only be taken by a member that identified as its owner (L{Hub} asks
L{Accounts.mayTake}).  Passwords are hashed with argon2id, off the reactor thread, and never
logged.  Wrong passwords are counted per account and address (L{chat.attempts}): the
L{MAX_FAILURES}th within L{FAILURE_WINDOW} seconds locks that account, for that address only,
for L{LOCKOUT} seconds, on every server of a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from chat import events
from chat.attempts import FAILURE_WINDOW, LOCKOUT, MAX_FAILURES, Attempts, LocalAttempts
from chat.errors import AccountError, AccountLocked, ChatError
from chat.names import checkNick, foldNick
from chat.store.interface import Account, Store

if TYPE_CHECKING:
    from chat.hub import Hub, Member

__all__ = ["FAILURE_WINDOW", "LOCKOUT", "MAX_FAILURES", "Accounts", "looksLikeAPassword"]

MIN_PASSWORD = 6
MAX_PASSWORD = 256

_T = TypeVar("_T")

# An account command typed so that it would be said instead: with a stray character before
# the slash or in its place (" /identify pw", ".register pw"), as a services command
# ("ns identify pw", "msg nickserv identify pw"), or without the slash ("identify [nick] pw").
_PASSWORD_TYPO = re.compile(
    r"\s*(?:"
    r"[/\\.!]\s*(?:(?:msg\s+)?(?:nickserv|ns)\s+)?(?:identify|register|password|unregister)\s+\S"
    r"|(?:/?msg\s+)?(?:nickserv|ns)\s+(?:identify|register)\s+\S"
    r"|identify\s+\S+(?:\s+\S+)?\s*$"
    r")",
    re.IGNORECASE,
)


def looksLikeAPassword(text: str) -> bool:
    """
    Whether C{text}, about to be said in a room, looks like an account command typed wrong,
    and so holds a password that must reach no one, no history and no log.
    """
    return _PASSWORD_TYPO.match(text) is not None

RunInThread = Callable[..., defer.Deferred[Any]]


class Accounts:
    """
    The accounts of one server, kept in a L{Store}.

    @ivar registered: every registered nick, folded, loaded by L{load} and kept up to date,
        so that the hub can refuse a registered nick without waiting for the store.
    @ivar onChange: called with a member and the account (as registered) it is now
        identified as, or L{None} once it no longer is: the hub's L{chat.hub.Hub.setAccount},
        which tells those who want to know.
    """

    # What an operator needs to see (registrations, lockouts), never a password.
    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        store: Store,
        hasher: PasswordHasher | None = None,
        runInThread: RunInThread = threads.deferToThread,
    ) -> None:
        """
        @param runInThread: how to run the hashing off the reactor thread; tests pass one that
            runs it at once.
        """
        self._clock = clock
        self._store = store
        self._hasher = hasher if hasher is not None else PasswordHasher()
        self._runInThread = runInThread
        self.registered: set[str] = set()
        self._identified: dict[Member, str] = {}
        self.onChange: Callable[[Member, str | None], None] = lambda member, account: None
        # A store that every server of a cluster shares counts wrong passwords for them all.
        self._attempts: Attempts = store if store.shared else LocalAttempts(clock)  # type: ignore[assignment]

    def load(self) -> defer.Deferred[None]:
        """
        Read the registered nicks from the store.
        """

        def loaded(nicks: list[str]) -> None:
            self.registered = {foldNick(nick) for nick in nicks}

        return self._store.registeredNicks().addCallback(loaded)

    # What the hub asks

    def mayTake(self, member: Member, nick: str) -> bool:
        """
        Whether C{member} may take C{nick}: it is not registered, or C{member} identified as
        its owner.
        """
        key = foldNick(nick)
        return key not in self.registered or self._identified.get(member) == key

    def identity(self, member: Member) -> str | None:
        """
        The folded nick of the account C{member} identified as, if any.
        """
        return self._identified.get(member)

    def forget(self, member: Member) -> None:
        """
        C{member} disconnected.
        """
        self._identified.pop(member, None)

    # Requests

    def register(self, member: Member, nick: str, password: str) -> defer.Deferred[None]:
        """
        Register C{nick} with C{password}, and count C{member} as identified as its owner.
        """
        nick = checkNick(nick)
        _checkPassword(password)
        if foldNick(nick) in self.registered:
            return defer.fail(AccountError(f"The nick {nick} is registered already"))

        def hashed(passwordHash: str) -> defer.Deferred[bool]:
            return self._store.createAccount(Account(nick, passwordHash, self._clock.seconds()))

        def created(free: bool) -> None:
            if not free:
                raise AccountError(f"The nick {nick} is registered already")
            self.registered.add(foldNick(nick))
            self._identified[member] = foldNick(nick)
            self.log.info("{nick} registered", nick=nick)
            self.onChange(member, nick)

        return self._runInThread(self._hasher.hash, password).addCallback(hashed).addCallback(created)

    def identify(
        self, member: Member, nick: str, password: str, address: str
    ) -> defer.Deferred[str]:
        """
        Check C{password} for C{nick}, tried from C{address}; on success count C{member} as
        identified as its owner.  The result is the nick as registered.
        """

        def verified(account: Account) -> str:
            self._identified[member] = foldNick(account.nick)
            self.onChange(member, account.nick)
            return account.nick

        return self._verify(nick, password, address).addCallback(verified)

    def changePassword(
        self, member: Member, old: str, new: str, address: str
    ) -> defer.Deferred[None]:
        """
        Give the account C{member} identified as the password C{new}, if C{old} is its password.
        """
        nick = self._identified.get(member)
        if nick is None:
            return defer.fail(AccountError("You have not identified; /identify first"))
        _checkPassword(new)

        def verified(account: Account) -> defer.Deferred[None]:
            hashing = self._runInThread(self._hasher.hash, new)
            return hashing.addCallback(lambda passwordHash: self._store.setPassword(account.nick, passwordHash))

        return self._verify(nick, old, address).addCallback(verified)

    def unregister(self, member: Member, password: str, address: str) -> defer.Deferred[str]:
        """
        Forget the account C{member} identified as, if C{password} is its password; the result
        is its nick.
        """
        nick = self._identified.get(member)
        if nick is None:
            return defer.fail(AccountError("You have not identified; /identify first"))

        def verified(account: Account) -> defer.Deferred[str]:
            def deleted(_: None) -> str:
                self.registered.discard(foldNick(account.nick))
                self.log.info("{nick} unregistered", nick=account.nick)
                for someone, identity in list(self._identified.items()):
                    if identity == foldNick(account.nick):
                        del self._identified[someone]
                        self.onChange(someone, None)
                return account.nick

            return self._store.deleteAccount(account.nick).addCallback(deleted)

        return self._verify(nick, password, address).addCallback(verified)

    # Passwords

    def _verify(self, nick: str, password: str, address: str) -> defer.Deferred[Account]:
        """
        The account of C{nick}, if C{password} is its password and C{address} is not locked
        out of it; a wrong password counts against C{address}.
        """
        attempts = self._attempts

        def notLocked(lockedFor: float) -> defer.Deferred[Account | None]:
            if lockedFor > 0:
                raise AccountLocked(nick, lockedFor)
            return self._store.account(nick)

        def found(account: Account | None) -> defer.Deferred[Account]:
            if account is None:
                raise AccountError(f"The nick {nick} is not registered")
            checking = self._runInThread(self._matches, account.passwordHash, password)
            return checking.addCallback(checked, account)

        def checked(matches: bool, account: Account) -> Account | defer.Deferred[Account]:
            if not matches:
                return attempts.failed(nick, address).addCallback(wrong, account)
            attempts.succeeded(nick, address)
            self.log.info("{address} identified as {nick}", address=address, nick=account.nick)
            return account

        def wrong(locked: bool, account: Account) -> Account:
            if locked:
                self.log.warn(
                    "{address} locked out of {nick} for {minutes:.0f} minutes: {count} wrong "
                    "passwords in {window:.0f} seconds",
                    address=address,
                    nick=account.nick,
                    minutes=LOCKOUT / 60,
                    count=MAX_FAILURES,
                    window=FAILURE_WINDOW,
                )
            raise AccountError(f"Wrong password for {account.nick}")

        return attempts.lockedFor(nick, address).addCallback(notLocked).addCallback(found)

    def _matches(self, passwordHash: str, password: str) -> bool:
        """
        Whether C{password} matches C{passwordHash}; run in a thread.
        """
        try:
            return self._hasher.verify(passwordHash, password)
        except (VerificationError, InvalidHashError):
            return False


def _checkPassword(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(
            f"A password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )


def accountsOf(hub: Hub) -> Accounts:
    """
    The accounts of C{hub}, for a front end's account command; L{ChatError} if it keeps none.
    """
    if hub.accounts is None:
        raise ChatError("This server keeps no accounts")
    return hub.accounts


def identifyAndTake(
    hub: Hub, member: Member, nick: str, password: str, address: str
) -> defer.Deferred[None]:
    """
    Identify C{member} as the owner of C{nick} (from C{address}), tell it so, and give it the
    account's nick if it has another: a front end's C{identify} command.
    """
    def identified(account: str) -> defer.Deferred[None] | None:
        if not hub.isConnected(member):
            return None
        member.deliver(events.Notice(f"You are identified as {account}"))
        if account != member.nick:
            return hub.rename(member, account)
        return None

    accounts = accountsOf(hub)
    checking = accounts.identify(member, nick, password, address)
    return checking.addBoth(_forgetIfGone, hub, member).addCallback(identified)


def registerNick(hub: Hub, member: Member, password: str) -> defer.Deferred[str]:
    """
    Register C{member}'s nick with C{password}, and count it as identified as its owner: a
    front end's C{register} command.  The result is the nick registered.
    """
    nick = member.nick
    registering = accountsOf(hub).register(member, nick, password)
    return registering.addBoth(_forgetIfGone, hub, member).addCallback(lambda _: nick)


def _forgetIfGone(result: _T, hub: Hub, member: Member) -> _T:
    """
    A member that left while its password was hashed or checked is not left identified.
    """
    if not hub.isConnected(member):
        accountsOf(hub).forget(member)
    return result

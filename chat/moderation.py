"""
Moderation: who may do what to whom, in a room and on the whole server.

The hub consults L{Moderation} when a member connects, joins, speaks, renames or sets a topic;
the front ends call its actions (L{Moderation.kick}, L{Moderation.ban}, ...) for their users'
commands.  It knows nothing of wire formats: every action is an L{events.Moderated} value,
which the room hears (each front end renders it), the relay carries to the other servers
(which L{Moderation.apply} the same way), and the store keeps as a L{Rule} when it stands.

Who may do what:

- A room's owner (who C{claim}ed it) and operators (accounts the owner or an operator
  C{op}ped) may kick, ban, mute and lock its topic; server operators (C{--oper}, once
  identified) may do it in every room, and also kill, ban from the whole server and tell
  everyone something.  Operator rights belong to accounts, never to a nick alone.
- Everyone may ignore someone; an identified member's ignores are kept with its account.

Bans, mutes and ignores name a L{Mask}: C{NICK} (or C{nick:NICK}), C{account:NAME}, or an
address or network (C{192.0.2.7}, C{192.0.2.0/24}, C{2001:db8::/32}, or C{ip:...}).

The checks cost nothing when no rule applies: the hub asks only while some rule of the kind
exists (L{Moderation.screening} for lines, L{Moderation.guarding} for joins and connects).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Collection, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from chat import events
from chat.errors import (
    Banned,
    ChatError,
    InvalidMask,
    InvalidName,
    ModerationError,
    Muted,
    NotIdentified,
    NotInRoom,
    NotRoomOperator,
    NotServerOperator,
    ServerBanned,
)
from chat.names import checkNick, checkRoom, foldNick, foldRoom
from chat.relay import isRemote
from chat.stats import Rate
from chat.store.interface import Rule
from chat.text import carriable

if TYPE_CHECKING:
    from chat.hub import Hub, Member, Room
    from chat.store.interface import Store

__all__ = ["Mask", "Moderation", "describeDuration", "parseDuration"]

_DURATION = re.compile(r"([1-9][0-9]{0,5})([smhdw])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest a ban or mute can be given for, other than for good: a year.
MAX_DURATION = 365 * 86400.0
MAX_REASON = 200
# Rules of one kind in one room at most (bans, mutes): a rogue operator cannot fill memory.
MAX_RULES = 500
MAX_IGNORES = 100

# The actions that stand as a rule, and the rule they add or remove.
_ADDS = {"ban": "ban", "mute": "mute", "op": "op", "claim": "owner", "lock": "lock", "gban": "gban"}
_REMOVES = {"unban": "ban", "unmute": "mute", "deop": "op", "unlock": "lock", "ungban": "gban"}
ROOM_ACTIONS = frozenset(
    {"kick", "ban", "unban", "mute", "unmute", "op", "deop", "claim", "lock", "unlock"}
)
SERVER_ACTIONS = frozenset({"gban", "ungban", "kill", "wall"})
ACTIONS = ROOM_ACTIONS | SERVER_ACTIONS
ADDING = frozenset(_ADDS)


def standingRule(event: events.Moderated) -> tuple[str, str, str] | None:
    """
    The (kind, scope, target) of the rule C{event} adds or removes, if it is such an action.
    """
    kind = _ADDS.get(event.action) or _REMOVES.get(event.action)
    if kind is None:
        return None
    return (kind, foldRoom(event.room) if event.room else "", event.target)
LOCKABLE = frozenset({"topic"})


def parseDuration(text: str) -> float | None:
    """
    The seconds of a duration such as C{30s}, C{10m}, C{2h}, C{7d} or C{1w}, or L{None} if
    C{text} is not one.
    """
    match = _DURATION.match(text.lower())
    if match is None:
        return None
    return min(int(match.group(1)) * _UNITS[match.group(2)], MAX_DURATION)


def describeDuration(seconds: float) -> str:
    """
    C{seconds} in the largest unit that counts them whole: C{90} is C{90s}, C{7200} C{2h}.
    """
    seconds = max(1, round(seconds))
    for unit in "wdhm":
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


class Mask:
    """
    Whom a ban, mute or ignore matches: a nick, an account, or an address or network.
    C{str(mask)} is its one canonical spelling (C{nick:mallory}, C{account:alice},
    C{ip:192.0.2.0/24}), which L{parse} reads back.
    """

    __slots__ = ("kind", "value", "network")

    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.network = ipaddress.ip_network(value, strict=False) if kind == "ip" else None
        self.value = str(self.network) if self.network is not None else foldNick(value)

    @classmethod
    def parse(cls, text: str) -> Mask:
        """
        The mask C{text} spells, or L{InvalidMask} saying how masks are spelt.
        """
        kind, colon, value = text.partition(":")
        if not colon or kind not in ("nick", "account", "ip"):
            # A bare address or network (nicks have no '.', ':' or '/'), or a bare nick.
            kind, value = ("ip" if any(c in text for c in ".:/") else "nick"), text
        try:
            if kind == "ip":
                return cls(kind, value)
            return cls(kind, checkNick(value))
        except (ValueError, InvalidName):
            raise InvalidMask(
                f"Not a mask: {text[:60]}; a mask is NICK, account:NAME, or an address or "
                "network (192.0.2.7, 192.0.2.0/24, 2001:db8::/32)"
            ) from None

    def matches(self, nick: str, account: str | None, address: str | None) -> bool:
        """
        Whether someone with the folded C{nick}, identified as the folded C{account} (if any),
        connected from C{address} (if known) is meant.
        """
        if self.kind == "nick":
            return nick == self.value
        if self.kind == "account":
            return account == self.value
        if address is None:
            return False
        try:
            return ipaddress.ip_address(address) in self.network  # type: ignore[operator]
        except ValueError:  # a UNIX socket, say
            return False

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mask) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class Moderation:
    """
    The moderation of one hub: its rules, the checks the hub makes, and the actions.

    @ivar hub: the hub this moderates; it sets this itself.
    @ivar opers: the folded accounts that are server operators once identified.
    @ivar screening: whether a line must be screened (L{screen}): some room has a mute, or
        some member ignores someone.  L{chat.hub.Hub.say} reads only this when none does.
    @ivar guarding: whether joins and connects are checked (L{checkJoin}): some ban exists.
    """

    # The audit log: one line per moderation action, with its fields.
    log = Logger()

    def __init__(self, clock: IReactorTime, opers: Iterable[str] = ()) -> None:
        self._clock = clock
        self.hub: Hub | None = None
        self.setOpers(opers)
        # Rules by (kind, scope), then by target.
        self._rules: dict[tuple[str, str], dict[str, Rule]] = {}
        self._counts: dict[str, int] = {}
        self._expiries: dict[tuple[str, str, str], IDelayedCall] = {}
        # The masks each member connected here ignores (its account's, once it joins a room).
        self._ignoring: dict[Member, set[str]] = {}
        # The same the other way round: who ignores each mask, so that screening a line costs
        # two lookups however many ignore someone.
        self._ignoredBy: dict[str, set[Member]] = {}
        # Who made each room by joining it empty (see L{founded}), by folded room, and the
        # rooms each such member made.
        self._founders: dict[str, set[Member]] = {}
        self._founded: dict[Member, set[str]] = {}
        self.screening = False
        self.guarding = False
        # Lines per second between two /stats, for the server operators.
        self.lineRate = Rate()

    def setOpers(self, opers: Iterable[str]) -> None:
        """
        Make the accounts C{opers} the server operators (C{--oper}, again on C{SIGHUP}).
        """
        self.opers = frozenset(foldNick(oper) for oper in opers)

    # Loading, keeping, expiring

    def load(self, store: Store) -> defer.Deferred[None]:
        """
        Read the rules kept in C{store}; those that lapsed while the server was down go.
        """

        def loaded(rules: list[Rule]) -> None:
            now = self._clock.seconds()
            for rule in rules:
                if rule.until and rule.until <= now:
                    store.deleteRule(*rule.key)
                else:
                    self._add(rule)

        return store.rules().addCallback(loaded)

    def _store(self) -> Store | None:
        return self.hub.store if self.hub is not None else None

    def _add(self, rule: Rule) -> None:
        rules = self._rules.setdefault((rule.kind, rule.scope), {})
        if rule.target not in rules:
            self._counts[rule.kind] = self._counts.get(rule.kind, 0) + 1
        rules[rule.target] = rule
        self._cancelExpiry(rule.key)
        if rule.until:
            self._expiries[rule.key] = self._clock.callLater(
                max(0.0, rule.until - self._clock.seconds()), self._expire, rule
            )
        self._update()

    def _remove(self, kind: str, scope: str, target: str) -> Rule | None:
        rules = self._rules.get((kind, scope))
        rule = rules.pop(target, None) if rules is not None else None
        if rule is None:
            return None
        if not rules:
            del self._rules[(kind, scope)]
        self._counts[kind] -= 1
        self._cancelExpiry(rule.key)
        self._update()
        return rule

    def _cancelExpiry(self, key: tuple[str, str, str]) -> None:
        expiry = self._expiries.pop(key, None)
        if expiry is not None and expiry.active():
            expiry.cancel()

    def _update(self) -> None:
        counts = self._counts
        self.screening = bool(counts.get("mute") or self._ignoring)
        self.guarding = bool(counts.get("ban") or counts.get("gban"))

    def _expire(self, rule: Rule) -> None:
        """
        C{rule}'s time is up: every server drops its own copy at the same time.
        """
        self._expiries.pop(rule.key, None)
        if self._ruleOf(rule.kind, rule.scope, rule.target) is not rule:
            return
        self._remove(*rule.key)
        store = self._store()
        if store is not None:
            store.deleteRule(*rule.key)
        self.log.info(
            "audit: the {kind} of {target} in {scope} lapsed",
            kind=rule.kind,
            target=rule.target,
            scope=rule.scope or "the server",
        )
        room = self._room(rule.scope) if rule.scope else None
        if room is not None:
            undo = {"ban": "unban", "mute": "unmute"}.get(rule.kind)
            if undo is not None:
                room.broadcast(events.Moderated(room.name, "", undo, rule.target, "expired"))

    def _ruleOf(self, kind: str, scope: str, target: str) -> Rule | None:
        rules = self._rules.get((kind, scope))
        return rules.get(target) if rules is not None else None

    def _live(self, kind: str, scope: str) -> list[Rule]:
        """
        The rules of C{kind} in C{scope} that have not lapsed (a lapse not yet run counts).
        """
        rules = self._rules.get((kind, scope))
        if not rules:
            return []
        now = self._clock.seconds()
        return [rule for rule in rules.values() if not rule.until or rule.until > now]

    # Who is who

    def identity(self, member: Member) -> str | None:
        """
        The folded account C{member} identified as: for another server's member, the account
        its server said it identified as.
        """
        if isRemote(member):
            account = getattr(member, "account", None)
            return foldNick(account) if account else None
        accounts = self.hub.accounts if self.hub is not None else None
        return accounts.identity(member) if accounts is not None else None

    def isOper(self, member: Member) -> bool:
        return not isRemote(member) and self.identity(member) in self.opers

    def owner(self, room: str) -> str | None:
        owners = self._rules.get(("owner", foldRoom(room)))
        return next(iter(owners)) if owners else None

    def operators(self, room: str) -> list[str]:
        return sorted(self._rules.get(("op", foldRoom(room)), {}))

    def rank(self, member: Member, room: str) -> str:
        """
        C{owner}, C{op} or C{""}: what C{member} is in C{room}, for the front ends' member
        lists (C{~} and C{@} on IRC).
        """
        account = self.identity(member)
        key = foldRoom(room)
        if account is not None:
            if account in self._rules.get(("owner", key), ()):
                return "owner"
            if account in self._rules.get(("op", key), ()) or account in self.opers:
                return "op"
        if member in self._founders.get(key, ()):
            return "op"
        return ""

    def topicLocked(self, room: str) -> bool:
        """
        Whether only the operators of C{room} may set its topic (C{/lock topic}, IRC's C{+t}).
        """
        return self._ruleOf("lock", foldRoom(room), "topic") is not None

    def isRoomOperator(self, member: Member, room: str) -> bool:
        return self.isOper(member) or self.rank(member, room) != ""

    def _matches(self, rules: list[Rule], member: Member, nick: str | None = None) -> Rule | None:
        key = foldNick(nick if nick is not None else member.nick)
        account = self.identity(member)
        address = getattr(member, "host", None)
        for rule in rules:
            if _mask(rule.target).matches(key, account, address):
                return rule
        return None

    # What the hub asks

    def checkConnect(self, member: Member, nick: str | None) -> None:
        """
        Raise L{ServerBanned} if a server ban matches C{member}, connecting as C{nick}.
        """
        rule = self._matches(self._live("gban", ""), member, nick or "")
        if rule is not None:
            raise ServerBanned(rule.reason)

    def checkJoin(self, member: Member, room: Room) -> None:
        """
        Raise L{Banned} (or L{ServerBanned}) if a ban keeps C{member} out of C{room}.  Another
        server's member was let in by its own server.
        """
        if isRemote(member):
            return
        self.checkConnect(member, None)
        rule = self._matches(self._live("ban", foldRoom(room.name)), member)
        if rule is not None:
            raise Banned(room.name, rule.reason)

    def checkRename(self, member: Member, nick: str) -> None:
        """
        A member muted somewhere keeps its nick (the mute may name it), and none takes a
        server-banned nick.
        """
        if isRemote(member):
            return
        if self.guarding:
            self.checkConnect(member, nick)
            for room in self.hub.roomsOf(member):
                if self._matches(self._live("ban", foldRoom(room.name)), member, nick):
                    raise ModerationError(f"The nick {nick} is banned from {room.name}")
        if self._counts.get("mute") and self.hub is not None:
            for room in self.hub.roomsOf(member):
                if self._matches(self._live("mute", foldRoom(room.name)), member):
                    raise Muted(room.name)

    def checkTopic(self, member: Member, room: Room) -> None:
        if (
            not isRemote(member)
            and self.topicLocked(room.name)
            and not self.isRoomOperator(member, room.name)
        ):
            raise NotRoomOperator(room.name)

    def screen(self, member: Member, room: Room) -> set[Member] | None:
        """
        For a line C{member} says in C{room}: raise L{Muted} if it is muted there, else
        return the members of C{room} who ignore it, if any.
        """
        if not isRemote(member) and self._counts.get("mute"):
            if self._matches(self._live("mute", foldRoom(room.name)), member):
                raise Muted(room.name)
        return self._deaf(member, room.members)

    def _deaf(self, member: Member, among: Collection[Member]) -> set[Member] | None:
        """
        Those of C{among} who ignore C{member}, by its nick or its account.
        """
        ignoredBy = self._ignoredBy
        if not ignoredBy:
            return None
        deaf = None
        account = self.identity(member)
        for key in ("nick:" + foldNick(member.nick), account and "account:" + account):
            for ignorer in ignoredBy.get(key, ()) if key else ():
                if ignorer in among and ignorer is not member:
                    if deaf is None:
                        deaf = set()
                    deaf.add(ignorer)
        return deaf

    def _startIgnoring(self, member: Member, masks: Iterable[str]) -> None:
        ignoring = self._ignoring.setdefault(member, set())
        for mask in masks:
            ignoring.add(mask)
            self._ignoredBy.setdefault(mask, set()).add(member)
        self._update()

    def _stopIgnoring(self, member: Member, masks: Iterable[str]) -> None:
        ignoring = self._ignoring.get(member, set())
        for mask in masks:
            ignoring.discard(mask)
            ignorers = self._ignoredBy.get(mask)
            if ignorers is not None:
                ignorers.discard(member)
                if not ignorers:
                    del self._ignoredBy[mask]
        if not ignoring:
            self._ignoring.pop(member, None)
        self._update()

    def ignores(self, recipient: Member, sender: Member) -> bool:
        """
        Whether C{recipient} ignores C{sender} (for private messages).
        """
        return bool(self._deaf(sender, (recipient,)))

    def ignoresSpeaker(self, member: Member, nick: str) -> bool:
        """
        Whether C{member} ignores whoever said a line of history as C{nick}: by that nick, or
        by the account of that name (history keeps a speaker's nick, not its account; a
        registered nick is its account's name).
        """
        ignoring = self._ignoring.get(member)
        if not ignoring:
            return False
        folded = foldNick(nick)
        return "nick:" + folded in ignoring or "account:" + folded in ignoring

    def joined(self, member: Member) -> None:
        """
        C{member} is in a room: take up the ignores kept with its account.
        """
        if not self._counts.get("ignore") or isRemote(member):
            return
        account = self.identity(member)
        if account is None:
            return
        kept = self._rules.get(("ignore", account))
        if kept:
            self._startIgnoring(member, list(kept))

    def identified(self, member: Member) -> None:
        """
        C{member} identified as an account: take up its ignores, and put it out if a server
        ban names the account.
        """
        self.joined(member)
        if self.guarding:
            rule = self._matches(self._live("gban", ""), member)
            if rule is not None:
                because = f" ({rule.reason})" if rule.reason else ""
                self._killLocal(member.nick, f"Banned from the server{because}")

    def forget(self, member: Member) -> None:
        """
        C{member} disconnected.
        """
        ignoring = self._ignoring.get(member)
        if ignoring is not None:
            self._stopIgnoring(member, list(ignoring))
        for key in self._founded.pop(member, ()):
            self._dropFounder(member, key)

    def founded(self, member: Member, room: Room) -> None:
        """
        C{member} made C{room} by joining it empty: as on IRC, it is the room's operator for
        as long as it stays in, identified or not, unless the room has an owner (a claimed
        room goes by the ops its owner named).  This is not kept, nor told to other servers.
        """
        if isRemote(member) or self.owner(room.name) is not None:
            return
        key = foldRoom(room.name)
        self._founders.setdefault(key, set()).add(member)
        self._founded.setdefault(member, set()).add(key)

    def left(self, member: Member, room: Room) -> None:
        """
        C{member} is out of C{room}: if it made it, it is no longer its operator.
        """
        rooms = self._founded.get(member)
        if rooms is None:
            return
        key = foldRoom(room.name)
        rooms.discard(key)
        if not rooms:
            del self._founded[member]
        self._dropFounder(member, key)

    def _dropFounder(self, member: Member, key: str) -> None:
        founders = self._founders.get(key)
        if founders is not None:
            founders.discard(member)
            if not founders:
                del self._founders[key]

    # Actions

    def claim(self, member: Member, room: str) -> None:
        """
        Make C{member}, identified, the owner of C{room}, which has none: if it has been in
        the room longest, or is a server operator.
        """
        found = self._roomOf(member, room)
        account = self._identified(member, "You must /identify to claim a room")
        owner = self.owner(found.name)
        if owner is not None:
            raise ModerationError(f"{found.name} is owned by {owner} already")
        if not self.isOper(member) and next(iter(found.members)) is not member:
            raise ModerationError(
                f"Only who has been in {found.name} longest may claim it"
            )
        self._do(events.Moderated(found.name, member.nick, "claim", account))

    def op(self, member: Member, room: str, nick: str, add: bool = True) -> None:
        """
        Make the account of C{nick} an operator of C{room} (or not, unless C{add}).
        """
        found = self._asOperator(member, room)
        if add:
            target = self.hub.find(nick)
            account = self._identified(
                target, f"{target.nick} has not identified: only an account can be an operator"
            )
        else:
            try:
                account = self.identity(self.hub.find(nick)) or foldNick(checkNick(nick))
            except ChatError:
                account = foldNick(checkNick(nick))
            if self._ruleOf("op", foldRoom(found.name), account) is None:
                raise ModerationError(f"{nick} is not an operator of {found.name}")
        self._do(events.Moderated(found.name, member.nick, "op" if add else "deop", account))

    def kick(self, member: Member, room: str, nick: str, reason: str = "") -> None:
        found = self._asOperator(member, room)
        target = self.hub.find(nick)
        if target not in found.members:
            raise ModerationError(f"{target.nick} is not in {found.name}")
        self._do(events.Moderated(found.name, member.nick, "kick", target.nick, _reason(reason)))

    def ban(
        self, member: Member, room: str, mask: str, duration: float = 0, reason: str = ""
    ) -> None:
        found = self._asOperator(member, room)
        parsed = Mask.parse(mask)
        if len(self._rules.get(("ban", foldRoom(found.name)), ())) >= MAX_RULES:
            raise ModerationError(f"{found.name} has {MAX_RULES} bans already; /unban some")
        self._do(
            events.Moderated(
                found.name, member.nick, "ban", str(parsed), _reason(reason), self._until(duration)
            )
        )

    def unban(self, member: Member, room: str, mask: str) -> None:
        found = self._asOperator(member, room)
        parsed = str(Mask.parse(mask))
        if self._ruleOf("ban", foldRoom(found.name), parsed) is None:
            raise ModerationError(f"No ban on {parsed} in {found.name}")
        self._do(events.Moderated(found.name, member.nick, "unban", parsed))

    def bans(self, room: str, server: bool = False) -> list[Rule]:
        """
        The bans of C{room} in force (or the server's, if C{server}), oldest first.
        """
        rules = self._live("gban", "") if server else self._live("ban", foldRoom(checkRoom(room)))
        return sorted(rules, key=lambda rule: rule.created)

    def mute(self, member: Member, room: str, who: str, duration: float = 0) -> None:
        """
        Mute C{who} in C{room}: a nick (its account if it identified, else the nick) or a mask.
        """
        found = self._asOperator(member, room)
        mask = self._maskOf(who)
        if len(self._rules.get(("mute", foldRoom(found.name)), ())) >= MAX_RULES:
            raise ModerationError(f"{found.name} has {MAX_RULES} mutes already; /unmute some")
        self._do(
            events.Moderated(found.name, member.nick, "mute", mask, "", self._until(duration))
        )

    def unmute(self, member: Member, room: str, who: str) -> None:
        found = self._asOperator(member, room)
        masks = self._masksOf(who)
        muted = [mask for mask in masks if self._ruleOf("mute", foldRoom(found.name), mask)]
        if not muted:
            raise ModerationError(f"{who} is not muted in {found.name}")
        for mask in muted:
            self._do(events.Moderated(found.name, member.nick, "unmute", mask))

    def lock(self, member: Member, room: str, what: str, add: bool = True) -> None:
        found = self._asOperator(member, room)
        what = what.strip().lower()
        if what not in LOCKABLE:
            raise ModerationError("Only the topic can be locked: /lock topic")
        self._do(events.Moderated(found.name, member.nick, "lock" if add else "unlock", what))

    def kill(self, member: Member, nick: str, reason: str = "") -> None:
        self._asServerOperator(member)
        target = self.hub.find(nick)
        self._do(events.Moderated("", member.nick, "kill", target.nick, _reason(reason)))

    def gban(self, member: Member, mask: str, duration: float = 0, reason: str = "") -> None:
        self._asServerOperator(member)
        parsed = str(Mask.parse(mask))
        if len(self._rules.get(("gban", ""), ())) >= MAX_RULES:
            raise ModerationError(f"The server has {MAX_RULES} bans already; /ungban some")
        self._do(
            events.Moderated("", member.nick, "gban", parsed, _reason(reason), self._until(duration))
        )

    def ungban(self, member: Member, mask: str) -> None:
        self._asServerOperator(member)
        parsed = str(Mask.parse(mask))
        if self._ruleOf("gban", "", parsed) is None:
            raise ModerationError(f"No server ban on {parsed}")
        self._do(events.Moderated("", member.nick, "ungban", parsed))

    def wall(self, member: Member, text: str) -> None:
        self._asServerOperator(member)
        self._do(events.Moderated("", member.nick, "wall", "", carriable(text)))

    def ignore(self, member: Member, who: str, add: bool = True) -> str:
        """
        Stop hearing C{who} (a nick or a mask), or hear it again unless C{add}; kept with
        C{member}'s account if it identified.  The result is the mask.
        """
        masks = [self._maskOf(who)] if add else self._masksOf(who)
        if any(mask.startswith("ip:") for mask in masks):
            raise InvalidMask("Ignore a nick or an account (account:NAME), not an address")
        account = self.identity(member)
        ignoring = self._ignoring.get(member, set())
        if add and len(ignoring) >= MAX_IGNORES:
            raise ModerationError(f"You ignore {MAX_IGNORES} people already")
        masks = [mask for mask in masks if (mask in ignoring) != add]
        if not masks:
            raise ModerationError(f"You ignore {who} already" if add else f"You do not ignore {who}")
        (self._startIgnoring if add else self._stopIgnoring)(member, masks)
        store = self._store()
        if account is not None:
            for mask in masks:
                if add:
                    rule = Rule("ignore", account, mask, by=member.nick, created=self._clock.seconds())
                    self._add(rule)
                    if store is not None:
                        store.saveRule(rule)
                elif self._remove("ignore", account, mask) is not None and store is not None:
                    store.deleteRule("ignore", account, mask)
        return masks[0]

    def ignoring(self, member: Member) -> list[str]:
        return sorted(self._ignoring.get(member, ()))

    # Applying an action, here and on every server

    def _do(self, event: events.Moderated) -> None:
        """
        Apply C{event}, an action of one of this server's members, here and on the others.
        """
        self.apply(event)
        self.hub.relay.publish(event)
        if not event.room and event.action != "wall":
            # No room hears of it: the operator is told it is done.
            actor = self.hub.find(event.by)
            actor.deliver(event)

    def apply(self, event: events.Moderated) -> None:
        """
        Apply C{event}: change the rules and keep them, tell the room, act on the members it
        concerns, and write the audit line.  The other servers call this for the actions of
        this server's members, and this server for theirs.
        """
        hub = self.hub
        action = event.action
        scope = foldRoom(event.room) if event.room else ""
        store = hub.store
        now = self._clock.seconds()
        if action in _ADDS:
            rule = Rule(_ADDS[action], scope, event.target, event.until, event.reason, event.by, now)
            self._add(rule)
            if store is not None:
                store.saveRule(rule)
        elif action in _REMOVES:
            if self._remove(_REMOVES[action], scope, event.target) is not None and store is not None:
                store.deleteRule(_REMOVES[action], scope, event.target)
        self.log.info(
            "audit: {by} {action} {target} in {where}{until}{reason}",
            by=event.by,
            action=action,
            target=event.target,
            where=event.room or "the server",
            until=f" for {describeDuration(event.until - now)}" if event.until else "",
            reason=f" ({event.reason})" if event.reason else "",
        )
        room = self._room(scope) if scope else None
        if room is not None:
            room.broadcast(event)
        because = f" ({event.reason})" if event.reason else ""
        if action == "kick" and room is not None:
            self._kickOut(room, event.target)
        elif action == "ban" and room is not None:
            # Whoever of this server's members the ban matches leaves the room now.
            for member in self._matching(room.members, event.target):
                self._do(events.Moderated(room.name, event.by, "kick", member.nick, "Banned"))
        elif action == "kill":
            self._killLocal(event.target, f"Killed by {event.by}{because}")
        elif action == "gban":
            for member in self._matching(hub.members(), event.target):
                self._killLocal(member.nick, f"Banned from the server{because}")
        elif action == "wall":
            hub.broadcastNotice(f"{event.by} to everyone: {event.reason}")

    def _matching(self, members: Iterable[Member], mask: str) -> list[Member]:
        """
        This server's C{members} that C{mask} matches.
        """
        parsed = _mask(mask)
        return [
            member
            for member in members
            if not isRemote(member)
            and parsed.matches(
                foldNick(member.nick), self.identity(member), getattr(member, "host", None)
            )
        ]

    def adopt(self, event: events.Moderated) -> None:
        """
        Take up the rule C{event} added, found in the cluster's keeping (a node that was away
        when it was made), without a word, unless this server has it already or it lapsed.
        """
        key = standingRule(event)
        if key is None or self._ruleOf(*key) is not None:
            return
        if event.until and event.until <= self._clock.seconds():
            return
        rule = Rule(*key, event.until, event.reason, event.by, self._clock.seconds())
        self._add(rule)
        store = self._store()
        if store is not None:
            store.saveRule(rule)

    def _kickOut(self, room: Room, nick: str) -> None:
        try:
            member = self.hub.find(nick)
        except ChatError:
            return
        if member in room.members:
            self.hub.evict(member, room)
            if not isRemote(member):
                # Its server keeps the cluster's directory of its members' rooms.
                self.hub.relay.publish(events.Left(room.name, member.nick))
                kickedOutOf = getattr(member, "kickedOutOf", None)
                if kickedOutOf is not None:
                    kickedOutOf(room.name)

    def _killLocal(self, nick: str, reason: str) -> None:
        try:
            member = self.hub.find(nick)
        except ChatError:
            return
        if isRemote(member):
            return  # its own server kills it, and tells the others it quit
        self.hub.disconnect(member, reason)
        drop = getattr(member, "drop", None)
        if drop is not None:
            drop(reason)

    # Helpers

    def _room(self, scope: str) -> Room | None:
        try:
            return self.hub.room(scope)
        except ChatError:
            return None

    def _roomOf(self, member: Member, room: str) -> Room:
        found = self.hub.room(room)
        if member not in found.members:
            raise NotInRoom(found.name)
        return found

    def _asOperator(self, member: Member, room: str) -> Room:
        """
        The room C{room}, if C{member} is in it and one of its operators.
        """
        found = self._roomOf(member, room)
        if not self.isRoomOperator(member, found.name):
            raise NotRoomOperator(found.name)
        return found

    def _asServerOperator(self, member: Member) -> None:
        if not self.isOper(member):
            raise NotServerOperator()

    def _identified(self, member: Member, why: str) -> str:
        account = None if isRemote(member) else self.identity(member)
        if account is None:
            raise NotIdentified(why)
        return account

    def _maskOf(self, who: str) -> str:
        """
        The mask for C{who}: a member's account if it identified, else its nick; or C{who}
        itself, a mask.
        """
        if ":" in who or "." in who or "/" in who:
            return str(Mask.parse(who))
        try:
            member = self.hub.find(who)
        except ChatError:
            return str(Mask.parse(who))
        account = None if isRemote(member) else self.identity(member)
        return f"account:{account}" if account is not None else str(Mask("nick", member.nick))

    def _masksOf(self, who: str) -> list[str]:
        """
        Every mask that C{who} may have been muted or ignored by.
        """
        masks = {str(Mask.parse(who)), self._maskOf(who)}
        return sorted(masks)

    def _until(self, duration: float) -> float:
        return self._clock.seconds() + duration if duration else 0.0


def describe(event: events.Moderated) -> str:
    """
    What C{event} did, in English, as every front end that shows text shows it:
    C{alice kicked mallory from #dev (spam)}.
    """
    by, target, room = event.by, event.target, event.room
    until = f" until {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(event.until))}" if event.until else ""
    because = f" ({event.reason})" if event.reason else ""
    expired = not by
    text = {
        "kick": f"{by} kicked {target} from {room}{because}",
        "ban": f"{by} banned {target} from {room}{until}{because}",
        "unban": f"The ban on {target} in {room} lapsed" if expired
        else f"{by} lifted the ban on {target} in {room}",
        "mute": f"{by} muted {target} in {room}{until}",
        "unmute": f"The mute of {target} in {room} lapsed" if expired
        else f"{by} unmuted {target} in {room}",
        "op": f"{by} made {target} an operator of {room}",
        "deop": f"{by} took operator from {target} in {room}",
        "claim": f"{by} claimed {room}: {target} owns it",
        "lock": f"{by} locked the {target} of {room}: only operators may change it",
        "unlock": f"{by} unlocked the {target} of {room}",
        "gban": f"{by} banned {target} from the server{until}{because}",
        "ungban": f"{by} lifted the server ban on {target}",
        "kill": f"{by} killed {target}{because}",
        "wall": f"{by} to everyone: {event.reason}",
    }.get(event.action)
    return text if text is not None else f"{by} {event.action} {target} {room}".strip()


# Rules keep their masks as text: each is parsed once.
_mask = lru_cache(maxsize=4096)(Mask.parse)


def _reason(reason: str) -> str:
    return carriable(reason.strip())[:MAX_REASON]

"""
The hub: who is connected, under which nick, in which rooms, and who hears what.

It knows nothing of sockets or of how a line looks.  A front end registers each of its users
as a L{Member} and calls the hub's methods; the hub answers by calling L{Member.deliver} with
L{chat.events} values on every member who should see them, and refuses a request by raising
one of the L{chat.errors} types, which each front end renders its own way.  A member may sit
in several rooms at once, even though the line protocol keeps its users in one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from chat import events
from chat.accounts import looksLikeAPassword
from chat.errors import (
    AlreadyInRoom,
    ChatError,
    LooksLikeAPassword,
    NickRegistered,
    NickTaken,
    NoSuchNick,
    NoSuchRoom,
    NotInRoom,
)
from chat.moderation import Moderation
from chat.names import checkAway, checkNick, checkRoom, checkTopic, foldNick, foldRoom
from chat.relay import ALONE, Relay, RemoteMember, isRemote
from chat.text import carriable, checkText

if TYPE_CHECKING:
    from chat.accounts import Accounts
    from chat.store.interface import Store

__all__ = ["ChatError", "Fanout", "Hub", "Member", "Room"]


# Rooms gone empty whose history is kept in memory for when they come back, at most: the
# oldest go first (the store keeps them all, and /history reads them there).
MAX_KEPT_ROOMS = 1000


class Member(Protocol):
    """
    Anything the hub can seat in a room: it has a nick (which the hub assigns) and can be told
    about events.  L{deliver} must not raise.  A member may also have a C{fanout}, the
    L{Fanout} of its front end, through which it hears whatever it hears along with others.

    @ivar echo: whether the member hears its own lines and private messages: its front end's
        choice (line clients do; IRC clients only with the C{echo-message} capability).

    A member may also have (read with C{getattr}, so that a member without them is never
    away, identified, or told of either): C{away}, its away message or C{""}, and C{account},
    the account it identified as or L{None}, both set by the hub; and C{hearsAway} and
    C{hearsAccounts}, whether it wants L{events.AwayChanged} and L{events.AccountChanged}
    for those it shares a room with (an IRC client only with C{away-notify} and
    C{account-notify}); and C{kickedOutOf}, called with a room's name when a kick has taken
    it out of that room (a line client, always in one room, goes back to the default room).
    """

    nick: str
    echo: bool

    def deliver(self, event: events.Event) -> None: ...


class Fanout(Protocol):
    """
    How one front end tells many of its members the same thing at once, so that it can
    render the event once for all of them.
    """

    def toRoom(
        self,
        room: Room,
        members: Collection[Member],
        event: events.Event,
        skip: Member | None = None,
    ) -> None:
        """
        Tell C{event} to C{members}, all of this front end's members of C{room}, except
        C{skip} (a sender that does not hear its own lines).
        """

    def toEach(self, members: Iterable[Member], event: events.Event) -> None:
        """
        Tell C{event} to each of C{members}.
        """


class OneByOne:
    """
    The L{Fanout} of members that have none of their own: L{Member.deliver} on each in turn.
    """

    def toRoom(
        self,
        room: Room,
        members: Collection[Member],
        event: events.Event,
        skip: Member | None = None,
    ) -> None:
        # A copy: a member may leave the room while it is being told something.
        self.toEach([member for member in members if member is not skip], event)

    def toEach(self, members: Iterable[Member], event: events.Event) -> None:
        for member in members:
            member.deliver(event)


ONE_BY_ONE = OneByOne()


def fanoutOf(member: Member) -> Fanout:
    return getattr(member, "fanout", ONE_BY_ONE)


class Room:
    """
    A named set of members with a topic and a bounded history of what was said in it.

    @ivar generation: changes whenever a member joins or leaves, so that a L{Fanout} can tell
        that a group of members it prepared for is out of date.
    @ivar departures: changes whenever a member leaves: while it does not, the members a
        L{Fanout} prepared for are still the first of the room's, in the order they joined.
    """

    __slots__ = ("name", "topic", "members", "history", "generation", "departures", "_audiences")

    def __init__(self, name: str, historySize: int) -> None:
        self.name = name
        self.topic = ""
        # A dict rather than a set: members are listed in the order they joined.
        self.members: dict[Member, None] = {}
        self.history: deque[events.Said] = deque(maxlen=historySize)
        self.generation = 0
        self.departures = 0
        # The members again, by front end, so that each front end hears a broadcast once.
        self._audiences: dict[Fanout, dict[Member, None]] = {}

    def add(self, member: Member) -> None:
        self.members[member] = None
        self._audiences.setdefault(fanoutOf(member), {})[member] = None
        self.generation += 1

    def remove(self, member: Member) -> None:
        del self.members[member]
        fanout = fanoutOf(member)
        audience = self._audiences[fanout]
        del audience[member]
        if not audience:
            del self._audiences[fanout]
        self.generation += 1
        self.departures += 1

    def broadcast(self, event: events.Event, skip: Member | None = None) -> None:
        for fanout, audience in tuple(self._audiences.items()):
            fanout.toRoom(self, audience, event, skip)

    def broadcastExcept(self, event: events.Event, deaf: Collection[Member]) -> None:
        """
        L{broadcast} to all but C{deaf} (members who ignore the speaker, and the speaker if
        it hears not its own lines): the rare case, kept off L{broadcast}'s path.
        """
        for fanout, audience in tuple(self._audiences.items()):
            toRoomExcept = getattr(fanout, "toRoomExcept", None)
            if toRoomExcept is not None:
                toRoomExcept(self, audience, event, deaf)
            else:
                fanout.toEach([member for member in audience if member not in deaf], event)


class Hub:
    """
    All rooms and members of one chat server.

    @ivar defaultRoom: the room a front end puts its users in when they connect.  It exists
        from the start and is never removed; other rooms vanish with their last member.
    @ivar bigRoom: from this many members on, a room no longer tells everyone of each join,
        leave, quit and nick change, only the member concerned (as Twitch does from 1000): in
        a room that size they are noise, and telling N members of N joins costs N squared.
        0: every room announces them.
    @ivar store: where the lines said in rooms are kept, if anywhere.
    @ivar accounts: the registered nicks, if the server has accounts.
    @ivar moderation: the bans, mutes, operators and ignores, which the hub consults.
    """

    def __init__(
        self,
        clock: IReactorTime,
        historySize: int = 20,
        defaultRoom: str = "#lobby",
        bigRoom: int = 1000,
        relay: Relay = ALONE,
        store: Store | None = None,
        accounts: Accounts | None = None,
        moderation: Moderation | None = None,
    ) -> None:
        self._clock = clock
        self.moderation = moderation if moderation is not None else Moderation(clock)
        self.moderation.hub = self
        self.relay = relay
        self.store = store
        self.accounts = accounts
        # The history of rooms that are not there now, by folded name: what a room replays
        # when it is created again.  Filled from the store by load, then as rooms vanish.
        self._kept: dict[str, list[events.Said]] = {}
        self._historySize = historySize
        self.bigRoom = bigRoom
        self._members: dict[str, Member] = {}
        self._rooms: dict[str, Room] = {}
        self._memberships: dict[Member, list[Room]] = {}
        self._pending: set[Member] = set()  # connected, waiting for the relay to grant a nick
        self.mostMembers = 0  # the most L{memberCount} has been since the server started
        self._guests = 0
        self.defaultRoom = self._createRoom(checkRoom(defaultRoom)).name
        if accounts is not None:
            accounts.onChange = self.setAccount

    def load(self) -> defer.Deferred[None]:
        """
        Read what the store kept: the last lines of every room, so that a room replays them
        when it is next created (or now, if it exists), and the registered nicks.
        """
        loading = []
        if self.store is not None and self._historySize:

            def loaded(rooms: dict[str, list[events.Said]]) -> None:
                self._kept = rooms
                for key, room in self._rooms.items():
                    kept = self._kept.pop(key, ())
                    if not room.history:  # else the cluster's, from Redis, came first
                        room.history.extend(kept)

            loading.append(self.store.recentLines(self._historySize).addCallback(loaded))
        if self.accounts is not None:
            loading.append(self.accounts.load())
        if self.store is not None:
            loading.append(self.moderation.load(self.store))
        return defer.gatherResults(loading, consumeErrors=True).addCallback(lambda _: None)

    def forgetBefore(self, before: float) -> None:
        """
        Drop the kept history of rooms not there now whose last line is older than C{before},
        as the store prunes its own.
        """
        for key in [key for key, lines in self._kept.items() if lines[-1].time < before]:
            del self._kept[key]

    # Members

    def connect(self, member: Member, nick: str | None = None) -> defer.Deferred[str]:
        """
        Register a new member under C{nick}, or under a fresh guest nick if it has none.  The
        result fires with the nick, set on the member, once the relay has granted it
        cluster-wide (at once without a cluster), and fails with L{NickTaken} or
        L{chat.errors.InvalidNick} if C{nick} cannot be had.  Until then the member holds the
        nick on this server but is in no room, so nobody hears of it.
        """
        try:
            if nick is not None:
                nick = checkNick(nick)
                self._checkFree(member, nick)
            if self.moderation.guarding:
                self.moderation.checkConnect(member, nick)
        except ChatError as e:
            return defer.fail(e)
        member.nick = ""
        self._memberships[member] = []
        self.mostMembers = max(self.mostMembers, len(self._memberships))
        self._pending.add(member)
        if nick is not None:
            return self._claimFirstNick(member, nick, guest=False)
        return self._claimGuestNick(member)

    def _claimGuestNick(self, member: Member) -> defer.Deferred[str]:
        """
        Give C{member} a guest nick: numbered by the relay, so that no two servers hand out
        the same one, or by this hub when it is alone.
        """

        def numbered(number: int | None) -> defer.Deferred[str]:
            if member not in self._pending:
                raise ChatError("Disconnected before the nick was granted")
            nick = f"guest{number}" if number is not None else ""
            if not nick or foldNick(nick) in self._members or not self._mayTake(member, nick):
                nick = self._nextGuestNick()
            return self._claimFirstNick(member, nick, guest=True)

        return self.relay.guestNumber().addCallback(numbered)

    def _claimFirstNick(self, member: Member, nick: str, guest: bool) -> defer.Deferred[str]:
        """
        Hold C{nick} for C{member} on this server and ask the relay for it; a guest nick that
        another server took meanwhile is given up for another.
        """
        member.nick = nick
        self._members[foldNick(nick)] = member

        def claimed(free: bool) -> str | defer.Deferred[str]:
            if member not in self._pending or member.nick != nick:
                if free:
                    self.relay.release(nick)  # it left while we asked
                raise ChatError("Disconnected before the nick was granted")
            if free:
                self._pending.discard(member)
                return nick
            del self._members[foldNick(nick)]
            member.nick = ""
            if guest:
                return self._claimGuestNick(member)
            del self._memberships[member]
            self._pending.discard(member)
            raise NickTaken(nick)

        return self.relay.claim(nick).addCallback(claimed)

    def isConnected(self, member: Member) -> bool:
        """
        Whether C{member} is connected (registered, or waiting for its nick) and has not left.
        """
        return member in self._memberships

    @property
    def memberCount(self) -> int:
        """
        How many are connected, here and (as L{RemoteMember}s) to the other servers: counted,
        not listed, for what each connecting client is told.
        """
        return len(self._memberships)

    def members(self) -> list[Member]:
        """
        Everyone connected, to this server or (as L{RemoteMember}s) to others.
        """
        return list(self._memberships)

    @property
    def historySize(self) -> int:
        return self._historySize

    def addRemote(self, nick: str, node: str) -> RemoteMember:
        """
        Register a member of the server C{node} (see L{chat.relay}).
        """
        key = foldNick(nick)
        if key in self._members:
            raise NickTaken(nick)
        member = RemoteMember(nick, node)
        self._members[key] = member
        self._memberships[member] = []
        self.mostMembers = max(self.mostMembers, len(self._memberships))
        return member

    def disconnect(self, member: Member, reason: str) -> None:
        """
        Remove C{member} from every room, telling everyone who shared one with it.  Calling
        this again for the same member does nothing, so a front end may call it both when the
        user quits and when the connection closes.
        """
        if self.accounts is not None:  # it may have identified before it had a nick (IRC)
            self.accounts.forget(member)
        rooms = self._memberships.pop(member, None)
        if rooms is None:
            return
        self.moderation.forget(member)
        if member in self._pending:  # nobody heard of it yet
            self._pending.discard(member)
            if member.nick:  # held while the relay is asked
                del self._members[foldNick(member.nick)]
                self.relay.release(member.nick)
            return
        del self._members[foldNick(member.nick)]
        for room in rooms:
            room.remove(member)
        quit = events.Quit(member.nick, carriable(reason))
        self._tell(self._peers(rooms), quit)
        if not isRemote(member):
            self.relay.release(member.nick)
        self._publish(member, quit)
        for room in rooms:
            self._removeIfEmpty(room)

    def rename(self, member: Member, nick: str) -> defer.Deferred[None]:
        """
        Give C{member} the nick C{nick}; everyone in its rooms, and the member, hear of it.
        The result fires once the relay has granted the nick (at once without a cluster), or
        fails with L{NickTaken}; an invalid nick, or one taken on this server, raises at once.
        """
        nick = checkNick(nick)
        if nick == member.nick:
            return defer.succeed(None)
        self._checkFree(member, nick)
        if isRemote(member) or foldNick(nick) == foldNick(member.nick):
            # A remote member's server has the nick already; a change of case keeps it.
            old = member.nick
            self._rename(member, nick)
            self._publish(member, events.NickChanged(old, nick))
            return defer.succeed(None)

        def claimed(free: bool) -> None:
            if not free:
                raise NickTaken(nick)
            if member not in self._memberships:
                self.relay.release(nick)  # it left while we asked
                return
            try:
                self._checkFree(member, nick)
            except ChatError:
                self.relay.release(nick)
                raise
            old = member.nick
            self._rename(member, nick)
            self.relay.release(old)
            self._publish(member, events.NickChanged(old, nick))

        return self.relay.claim(nick).addCallback(claimed)

    def _checkFree(self, member: Member, nick: str) -> None:
        holder = self._members.get(foldNick(nick))
        if holder is not None and holder is not member:
            raise NickTaken(nick)
        if not isRemote(member) and not self._mayTake(member, nick):
            raise NickRegistered(nick)
        if member in self._memberships and member not in self._pending:
            self.moderation.checkRename(member, nick)

    def _mayTake(self, member: Member, nick: str) -> bool:
        return self.accounts is None or self.accounts.mayTake(member, nick)

    def _rename(self, member: Member, nick: str) -> None:
        old = member.nick
        del self._members[foldNick(old)]
        self._members[foldNick(nick)] = member
        member.nick = nick
        rooms = self._memberships[member]
        self._tell(self._peers(rooms) | {member: None}, events.NickChanged(old, nick))

    def find(self, nick: str) -> Member:
        """
        The member known as C{nick}, in any case.
        """
        member = self._members.get(foldNick(nick))
        if member is None or member in self._pending:
            raise NoSuchNick(nick)
        return member

    # Rooms

    def join(self, member: Member, name: str) -> Room:
        """
        Seat C{member} in room C{name}, creating the room if need be.  Its members (the new one
        included) hear of the join; the new one then hears the topic and the room's history.
        """
        room = self._rooms.get(foldRoom(name))
        if room is None or room.name != name:  # a room spelt as the hub spells it is valid
            name = checkRoom(name)
            room = self._rooms.get(foldRoom(name)) or self._createRoom(name)
        if member in room.members:
            raise AlreadyInRoom(room.name)
        if self.moderation.guarding:
            self.moderation.checkJoin(member, room)
        # Joining a room empty makes it, as on IRC: see Moderation.founded.
        founding = not room.members and room.name != self.defaultRoom
        room.add(member)
        self._memberships[member].append(room)
        joined = events.Joined(room.name, member.nick)
        self._announce(room, member, joined)
        self._publish(member, joined)
        away = getattr(member, "away", "")
        if away and not self._isBig(room):
            self._tellThoseWho("hearsAway", room.members, events.AwayChanged(member.nick, away), member)
        self.moderation.joined(member)  # its ignores, before the history
        if room.topic:
            member.deliver(events.Topic(room.name, room.topic))
        for said in self._unignored(member, room.history):
            member.deliver(events.Replayed(said))
        if founding:
            self.moderation.founded(member, room)
        return room

    def part(self, member: Member, name: str, reason: str = "") -> None:
        """
        Take C{member} out of room C{name}; its members, the leaver included, hear of it (and
        of its C{reason}, if any).
        """
        room = self._roomOf(member, name)
        left = events.Left(room.name, member.nick, carriable(reason))
        self._announce(room, member, left)
        self._publish(member, left)
        self.evict(member, room)

    def evict(self, member: Member, room: Room) -> None:
        """
        Take C{member} out of C{room} without a word: the room was told why (a part, a kick).
        """
        room.remove(member)
        self._memberships[member].remove(room)
        self.moderation.left(member, room)
        self._removeIfEmpty(room)

    def room(self, name: str) -> Room:
        room = self._rooms.get(foldRoom(checkRoom(name)))
        if room is None:
            raise NoSuchRoom(name)
        return room

    @property
    def roomCount(self) -> int:
        return len(self._rooms)

    def rooms(self) -> list[Room]:
        """
        Every room, by name.
        """
        return sorted(self._rooms.values(), key=lambda room: foldRoom(room.name))

    def roomsOf(self, member: Member) -> list[Room]:
        """
        The rooms C{member} is in, in the order it joined them.
        """
        return list(self._memberships.get(member, ()))

    def setTopic(self, member: Member, name: str, topic: str) -> None:
        room = self._roomOf(member, name)
        self.moderation.checkTopic(member, room)
        room.topic = checkTopic(topic)
        changed = events.TopicChanged(room.name, member.nick, room.topic)
        room.broadcast(changed)
        self._publish(member, changed)

    # Messages

    def say(
        self,
        member: Member,
        name: str,
        text: str,
        action: bool = False,
        time: float | None = None,
        notice: bool = False,
    ) -> None:
        """
        Send C{text} from C{member} to everyone in room C{name} (the sender too if it hears
        its own lines), and keep it in the room's history.  C{time} is when it was said, if
        not now: a line relayed from another server keeps its sender's time.  C{notice}: an
        IRC C{NOTICE} (L{events.Said}).
        """
        room = self._roomOf(member, name)
        if self.accounts is not None and looksLikeAPassword(text):
            raise LooksLikeAPassword()
        said = events.Said(
            room.name,
            member.nick,
            checkText(text),
            self._clock.seconds() if time is None else time,
            action,
            notice,
        )
        self._sayIn(room, member, said)
        self._publish(member, said)

    def sayRelayed(self, member: Member, said: events.Said) -> None:
        """
        Play C{said}, a line that C{member} of another server said there, into this hub: as
        L{say} does, with the sender's time, and without building the event again (a relay
        plays every line of the cluster into every hub).
        """
        room = self._roomOf(member, said.room)
        if self.accounts is not None and looksLikeAPassword(said.text):
            raise LooksLikeAPassword()
        checkText(said.text)
        if said.room != room.name or said.nick != member.nick:  # spelt as this hub spells them
            said = events.Said(room.name, member.nick, said.text, said.time, said.action)
        self._sayIn(room, member, said)

    def _sayIn(self, room: Room, member: Member, said: events.Said) -> None:
        """
        Keep C{said} in C{room}'s history and the store, and tell it to the room's members
        who hear C{member}.
        """
        # Muted or ignored: a line is screened only while someone is (one attribute read).
        deaf = self.moderation.screen(member, room) if self.moderation.screening else None
        if self._historySize:
            room.history.append(said)
        store = self.store
        # A store the whole cluster shares has the other servers' lines from them.
        if store is not None and not (store.shared and isRemote(member)):
            store.addLine(said)
        if deaf:
            if not member.echo:
                deaf.add(member)
            room.broadcastExcept(said, deaf)
        else:
            room.broadcast(said, None if member.echo else member)

    def message(self, member: Member, nick: str, text: str, notice: bool = False) -> None:
        """
        Send C{text} from C{member} to the member known as C{nick} alone; an IRC C{NOTICE}
        if C{notice} (L{events.PrivateMessage}).
        """
        recipient = self.find(nick)
        checkText(text)
        private = events.PrivateMessage(member.nick, recipient.nick, text, notice=notice)
        if isRemote(recipient):
            self.relay.publish(private)
        elif not (self.moderation.screening and self.moderation.ignores(recipient, member)):
            recipient.deliver(private)
        if member.echo:
            member.deliver(events.PrivateMessage(member.nick, recipient.nick, text, echo=True, notice=notice))

    def history(self, member: Member, name: str, limit: int) -> defer.Deferred[list[events.Said]]:
        """
        The last C{limit} lines said in room C{name}, which C{member} is in, oldest first: from
        the store, which keeps more than the room replays, or else from the room's history.
        """
        room = self._roomOf(member, name)
        if self.store is None:
            lines = defer.succeed(list(room.history)[-limit:] if limit > 0 else [])
        else:
            lines = self.store.lines(room.name, limit)
        return lines.addCallback(lambda kept: self._unignored(member, kept))

    def _unignored(self, member: Member, lines: Iterable[events.Said]) -> list[events.Said]:
        """
        Of C{lines} of history, those C{member} does not ignore the speaker of.
        """
        if not self.moderation.screening:
            return list(lines)
        return [said for said in lines if not self.moderation.ignoresSpeaker(member, said.nick)]

    def setAway(self, member: Member, away: str) -> None:
        """
        Mark C{member} away with the message C{away}, or back if it is empty.  Those sharing a
        room with it who asked to (C{hearsAway}) hear of a change, as do the other servers.
        """
        away = checkAway(away)
        if away == getattr(member, "away", ""):
            return
        member.away = away  # type: ignore[attr-defined]
        changed = events.AwayChanged(member.nick, away)
        if member not in self._pending and member in self._memberships:
            self._tellThoseWho("hearsAway", self._peers(self._memberships[member]), changed, member)
            self._publish(member, changed)

    def setAccount(self, member: Member, account: str | None) -> None:
        """
        C{member} identified as the owner of C{account}, or (L{None}) no longer is: the
        L{chat.accounts.Accounts} of this server, or the relay for another's, says so.  The
        member and those sharing a room with it who asked to (C{hearsAccounts}) hear of it,
        as do the other servers.
        """
        if account == getattr(member, "account", None):
            return
        member.account = account  # type: ignore[attr-defined]
        if member in self._pending or member not in self._memberships:
            return  # not here yet (an IRC client identifying as it registers), or gone
        changed = events.AccountChanged(member.nick, account)
        audience = self._peers(self._memberships[member]) | {member: None}
        self._tellThoseWho("hearsAccounts", audience, changed)
        self._publish(member, changed)
        if account is not None and not isRemote(member):
            self.moderation.identified(member)  # its ignores; a server ban of the account

    def accountOf(self, nick: str) -> str | None:
        """
        The account that the member known as C{nick} identified as, if any: for a front end
        that tags a member's lines with it, and only then.
        """
        member = self._members.get(foldNick(nick))
        return None if member is None else getattr(member, "account", None)

    def broadcastNotice(self, text: str) -> None:
        """
        Tell every member something from the server.
        """
        self._tell(list(self._memberships), events.Notice(text))

    # Helpers

    def _nextGuestNick(self) -> str:
        while True:
            self._guests += 1
            nick = f"guest{self._guests}"
            if foldNick(nick) not in self._members and (
                self.accounts is None or foldNick(nick) not in self.accounts.registered
            ):
                return nick

    def _createRoom(self, name: str) -> Room:
        key = foldRoom(name)
        room = self._rooms[key] = Room(name, self._historySize)
        room.history.extend(self._kept.pop(key, ()))
        return room

    def _removeIfEmpty(self, room: Room) -> None:
        if not room.members and room.name != self.defaultRoom:
            del self._rooms[foldRoom(room.name)]
            if self.store is not None and room.history:
                self._kept[foldRoom(room.name)] = list(room.history)
                if len(self._kept) > MAX_KEPT_ROOMS:  # a client making rooms cannot fill memory
                    del self._kept[next(iter(self._kept))]
            self.relay.forget(room.name)

    def _roomOf(self, member: Member, name: str) -> Room:
        # Usually C{name} is the member's room, spelt as the hub spells it: a line in a room
        # then costs one lookup, not a check of the name.
        room = self._rooms.get(foldRoom(name))
        if room is None:
            room = self.room(name)
        if member not in room.members:
            raise NotInRoom(room.name)
        return room

    def _publish(self, member: Member, event: events.Event) -> None:
        """
        Tell the other servers what C{member} did, if it is one of this server's members:
        what a remote member did came from its own server.
        """
        if not isRemote(member):
            self.relay.publish(event)

    def _isBig(self, room: Room) -> bool:
        return 0 < self.bigRoom <= len(room.members)

    def _announce(self, room: Room, member: Member, event: events.Event) -> None:
        """
        Tell C{room} that C{member} joined or left it; in a big room, tell only C{member}.
        """
        if self._isBig(room):
            member.deliver(event)
        else:
            room.broadcast(event)

    def _peers(self, rooms: Iterable[Room]) -> dict[Member, None]:
        """
        Everyone who hears of a quit or nick change in any of C{rooms}, once each: the members
        of those that are not big rooms.
        """
        peers: dict[Member, None] = {}
        for room in rooms:
            if not self._isBig(room):
                peers.update(room.members)
        return peers

    def _tellThoseWho(
        self,
        wish: str,
        members: Iterable[Member],
        event: events.Event,
        skip: Member | None = None,
    ) -> None:
        """
        Tell C{event} to those of C{members} (but C{skip}) whose attribute C{wish} is true.
        """
        self._tell(
            [member for member in members if member is not skip and getattr(member, wish, False)],
            event,
        )

    @staticmethod
    def _tell(members: Iterable[Member], event: events.Event) -> None:
        """
        Tell C{event} to each of C{members}, through their front ends' fanouts.
        """
        audiences: dict[Fanout, list[Member]] = {}
        for member in members:
            audiences.setdefault(fanoutOf(member), []).append(member)
        for fanout, audience in audiences.items():
            fanout.toEach(audience, event)


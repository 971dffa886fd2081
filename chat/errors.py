"""
Why the hub refused a request, as types.

Each front end renders these its own way: the line protocol as C{!!! TEXT}, IRC as the
numeric reply that fits (C{433} for L{NickTaken}, C{401} for L{NoSuchNick}, ...).  The English
text of each, C{str(error)}, is what a person should read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.python.failure import Failure

from chat import events

if TYPE_CHECKING:
    from chat.hub import Member


class ChatError(Exception):
    """
    The hub refused a request; the message is addressed to the user who made it.
    """


class InvalidName(ChatError, ValueError):
    """
    A nick, room name or topic that cannot be used; the message says why.
    """


class InvalidNick(InvalidName):
    pass


class InvalidRoomName(InvalidName):
    pass


class InvalidTopic(InvalidName):
    pass


class InvalidText(ChatError):
    """
    Text that no front end can carry: a line break, a NUL, or a lone surrogate.
    """


class NickTaken(ChatError):
    def __init__(self, nick: str) -> None:
        super().__init__(f"The nick {nick} is taken")
        self.nick = nick


class NoSuchNick(ChatError):
    def __init__(self, nick: str) -> None:
        super().__init__(f"No such nick: {nick}")
        self.nick = nick


class NoSuchRoom(ChatError):
    def __init__(self, room: str) -> None:
        super().__init__(f"No such room: {room}")
        self.room = room


class NotInRoom(ChatError):
    def __init__(self, room: str) -> None:
        super().__init__(f"You are not in {room}")
        self.room = room


class AlreadyInRoom(ChatError):
    def __init__(self, room: str) -> None:
        super().__init__(f"You are already in {room}")
        self.room = room


class NickRegistered(NickTaken):
    """
    The nick belongs to an account, and the user has not identified as its owner.  A kind of
    L{NickTaken}, so that a front end that knows no accounts refuses it as a taken nick.
    """

    def __init__(self, nick: str) -> None:
        ChatError.__init__(
            self,
            f"The nick {nick} is registered; if it is yours, /identify {nick} PASSWORD",
        )
        self.nick = nick


class AccountError(ChatError):
    """
    An account request was refused: no such account, a wrong password, one already taken.
    """


class AccountLocked(AccountError):
    def __init__(self, nick: str, seconds: float) -> None:
        minutes = max(1, round(seconds / 60))
        super().__init__(
            f"Too many wrong passwords for {nick} from your address; try again in "
            f"{minutes} minute{'' if minutes == 1 else 's'}"
        )
        self.nick = nick


class ModerationError(ChatError):
    """
    A moderation request was refused, or a moderated member may not do something.
    """


class NotRoomOperator(ModerationError):
    def __init__(self, room: str) -> None:
        super().__init__(f"You are not an operator of {room}")
        self.room = room


class NotServerOperator(ModerationError):
    def __init__(self) -> None:
        super().__init__("Only server operators may do that")


class NotIdentified(ModerationError):
    pass


class InvalidMask(ModerationError, ValueError):
    pass


class Banned(ModerationError):
    """
    The member may not join C{room}: a ban matches it.
    """

    def __init__(self, room: str, reason: str = "") -> None:
        super().__init__(f"You are banned from {room}" + (f" ({reason})" if reason else ""))
        self.room = room
        self.reason = reason


class ServerBanned(ModerationError):
    """
    A server-wide ban (C{/gban}) matches the connection: it may not connect.
    """

    def __init__(self, reason: str = "") -> None:
        super().__init__("You are banned from this server" + (f" ({reason})" if reason else ""))
        self.reason = reason


class Muted(ModerationError):
    """
    The member is muted in C{room}: its lines reach nobody.
    """

    def __init__(self, room: str) -> None:
        super().__init__(f"You are muted in {room}; nobody hears you there")
        self.room = room


class LooksLikeAPassword(AccountError):
    """
    A line said in a room that looks like an account command typed wrong (C{identify
    hunter2}, C{ /identify hunter2}): it is kept from the room, its history and the log.
    """

    def __init__(self) -> None:
        super().__init__(
            "That line looks like a password and was not sent; to log in, type "
            "/identify [NICK] PASSWORD with the slash first"
        )


def tellRefusal(failure: Failure, member: Member) -> None:
    """
    An errback for a request that waited (a nick claim, say): tell C{member} why the hub
    refused it, as an L{events.Error}; anything but a L{ChatError} goes on failing.
    """
    failure.trap(ChatError)
    member.deliver(events.Error(str(failure.value)))

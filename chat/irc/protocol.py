"""
The IRC front end's connections: L{IRCProtocol} turns an IRC client's commands into hub calls
and the hub's events into IRC lines; L{IRCFactory} wires each connection to the hub and the
gate, as L{chat.line.protocol.LineFactory} does for the line protocol.

It is written here rather than on C{twisted.words.protocols.irc.IRC}, which decodes UTF-8 per
received chunk (a character split across two reads is lost), knows no message tags, writes
CR and LF from parameters onto the wire, and looks up the server's name with a blocking
C{getfqdn}.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections import deque
from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.python.failure import Failure

from chat import events
from chat.connection import Connection
from chat.errors import (
    AccountError,
    AccountLocked,
    AlreadyInRoom,
    Banned,
    ChatError,
    Muted,
    NotRoomOperator,
    NotServerOperator,
    ServerBanned,
    InvalidNick,
    InvalidRoomName,
    InvalidText,
    NickTaken,
    NoSuchNick,
    NoSuchRoom,
    NotInRoom,
)
from chat.fanout import BatchFanout
from chat.gate import Gate
from chat.hub import Hub, Member
from chat.irc import moderation
from chat.irc import numerics as N
from chat.irc.message import MAX_BODY, MAX_TAGS, Message, MessageError, parse, serialize, splitTags
from chat.irc.render import (
    HOST,
    Wire,
    encoder,
    extendJoins,
    fitted,
    tagAccounts,
    timeTag,
    toMessage,
    userMask,
)
from chat.names import AWAY_MAX_LENGTH, NICK_MAX_LENGTH, ROOM_MAX_LENGTH, TOPIC_MAX_LENGTH, checkNick, foldNick, foldRoom
from chat.reader import LineReader

VERSION = "chat-0.1"

CAPABILITIES = (
    "account-notify",
    "account-tag",
    "away-notify",
    "batch",
    "echo-message",
    "extended-join",
    "message-tags",
    "multi-prefix",
    "sasl",
    "server-time",
    "standard-replies",
)
"""
The IRCv3 capabilities offered, in the order C{CAP LS} lists them; those about accounts
(L{ACCOUNT_CAPABILITIES}) only by a server that keeps accounts.
"""

ACCOUNT_CAPABILITIES = frozenset({"account-notify", "account-tag", "extended-join", "sasl"})

# The capabilities that choose a client's fanout (how the room's lines are rendered for it):
# they cannot change once it is a member of the hub.
_FANOUT_CAPABILITIES = ("server-time", "account-tag", "extended-join")

# The longest base64 chunk of an AUTHENTICATE, and the most a client may send in all: PLAIN
# needs a nick, a nick and a password, well under three chunks.
SASL_CHUNK = 400
SASL_MAX = 3 * SASL_CHUNK

NICKSERV = "NickServ"
"""
The nick of the services pseudo-user that IRC clients and bots identify to
(C{PRIVMSG NickServ :IDENTIFY password}): this front end answers for it.
"""

# Commands a client may send before it has registered.
_BEFORE_REGISTRATION = frozenset(
    {"AUTHENTICATE", "CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"}
)

Handler = Callable[["IRCProtocol", Message], "defer.Deferred[object] | None"]
COMMANDS: dict[str, Handler] = {}


def _command(name: str, minParams: int = 0) -> Callable[[Handler], Handler]:
    """
    Register the decorated method as the handler of IRC command C{name}, which needs at least
    C{minParams} parameters (fewer get C{461}).
    """

    def register(handler: Handler) -> Handler:
        def checked(protocol: IRCProtocol, message: Message) -> defer.Deferred[object] | None:
            if len(message.params) < minParams or (minParams and not message.params[0]):
                protocol.numeric(N.ERR_NEEDMOREPARAMS, name, "Not enough parameters")
                return None
            return handler(protocol, message)

        COMMANDS[name] = checked
        return handler

    return register


def _commandOf(body: bytes) -> str:
    """
    The command of a line that could not be parsed, for a C{FAIL} about it: its first word
    (after the source, if any) if that is a plain word, else C{*}.
    """
    words = body.split()
    if words and words[0].startswith(b":"):
        words = words[1:]
    if words and words[0].isalnum() and words[0].isascii():
        return words[0].decode("ascii").upper()
    return "*"


def parseAction(text: str) -> tuple[str, bool]:
    """
    C{text} of a PRIVMSG without its CTCP ACTION wrapping, and whether it had one.
    """
    if text.startswith("\x01ACTION ") or text == "\x01ACTION\x01":
        body = text[len("\x01ACTION ") :]
        return (body[:-1] if body.endswith("\x01") else body), True
    return text, False


class IRCProtocol(Connection, Protocol):
    """
    One IRC client: registration with its capability negotiation, then commands.

    @ivar caps: the capabilities the client has enabled.
    @ivar away: the client's away message, or C{""}: the hub's (L{Hub.setAway}).
    @ivar account: the account the client identified as, or L{None}: the hub's
        (L{Hub.setAccount}).
    """

    factory: IRCFactory
    _reader: LineReader | None = None
    _registered = False
    _registering = False
    _negotiating = False
    _wantNick = ""
    _user = ""
    _realName = ""
    _remembered = False
    _joining: list[events.Event] | None = None
    _pingTimer: IDelayedCall | None = None
    _pingSent: float | None = None
    _batches = 0
    _userModes = ""  # "i" once the client set +i
    _password: str | None = None
    _saslChunks: list[str] | None = None  # while a SASL PLAIN exchange runs

    def __init__(self) -> None:
        Connection.__init__(self)
        self.caps: set[str] = set()
        self.echo = False

    @property
    def hearsAway(self) -> bool:
        return "away-notify" in self.caps

    @property
    def hearsAccounts(self) -> bool:
        return "account-notify" in self.caps

    # Connection

    def connectionMade(self) -> None:
        factory = self.factory
        if not self.startConnection(factory.gate, factory.plain):
            return
        self._reader = LineReader(self, factory.gate.clock, factory.gate.limits, MAX_TAGS + MAX_BODY)
        self._schedulePing(factory.pingInterval)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._rememberGone()
        self._cancelPing()
        if self._reader is not None:
            self._reader.stop()
        self.leave(self.factory.hub, reason, admitted=self._reader is not None)

    def _rememberGone(self) -> None:
        """
        Leave this client's nick, user name and real name to C{WHOWAS}, once: at its
        C{QUIT}, so that it is there before the client sees the connection close, or when the
        connection is lost.
        """
        if self._registered and not self._remembered:
            self._remembered = True
            self.factory.rememberGone(self.nick, *identity(self))

    def drop(self, reason: str) -> None:
        """
        Tell the client why with an C{ERROR}, as IRC servers do, and close the connection.
        """
        if self.closing:
            return
        # Not logged here: the disconnect line (Connection.leave) says why it ended.
        self.send(Message("ERROR", (f"Closing link: {reason}",)))
        self.close(reason)

    # Keeping the connection alive

    def _schedulePing(self, delay: float) -> None:
        self._pingTimer = self.gate.clock.callLater(delay, self._checkPing)

    def _cancelPing(self) -> None:
        if self._pingTimer is not None and self._pingTimer.active():
            self._pingTimer.cancel()
        self._pingTimer = None

    def _checkPing(self) -> None:
        """
        Ping a client that has said nothing for a while, and drop it if it does not answer
        (with anything) within the ping timeout: a dead peer otherwise holds its nick until the
        idle timeout, an hour by default.
        """
        self._pingTimer = None
        if self.closing:
            return
        factory = self.factory
        now = self.gate.clock.seconds()
        if self._pingSent is not None:
            if self.lastActive < self._pingSent:
                self.drop(f"Ping timeout: {factory.pingTimeout:g} seconds")
                return
            self._pingSent = None
        quiet = now - self.lastActive
        if quiet < factory.pingInterval:
            self._schedulePing(factory.pingInterval - quiet)
            return
        self._pingSent = now
        self.send(Message("PING", (factory.name,)))
        self._schedulePing(factory.pingTimeout)

    # Input

    def dataReceived(self, data: bytes) -> None:
        if self._reader is not None:
            self._reader.dataReceived(data)

    def lineTooLong(self) -> None:
        self.numeric(N.ERR_INPUTTOOLONG, "Input line was too long")

    def lineReceived(self, line: bytes) -> defer.Deferred[object] | None:
        if line.startswith(b"PRIVMSG #") and self._registered and self._sayQuickly(line):
            return None
        tags, body = splitTags(line)
        if len(tags) > MAX_TAGS or len(body) > MAX_BODY:
            self.lineTooLong()
            return None
        if not body.strip(b" "):
            return None
        try:
            message = parse(line)
        except UnicodeDecodeError:
            # As a FAIL to every client: the UTF8ONLY we announce promises it (IRCv3 utf8-only).
            why = "That line was not valid UTF-8 and was discarded"
            self.send(Message("FAIL", (_commandOf(body), "INVALID_UTF8", why)))
            return None
        except MessageError as e:
            why = f"That line was not an IRC message and was discarded: {e}"
            if b"\r" in line or b"\0" in line:  # text no front end can carry
                self.fail(_commandOf(body), "INVALID_TEXT", why)
            else:
                self.serverNotice(why)
            return None
        if not self._registered and message.command not in _BEFORE_REGISTRATION:
            if message.command in COMMANDS:
                self.numeric(N.ERR_NOTREGISTERED, "You have not registered")
            else:
                self.numeric(N.ERR_UNKNOWNCOMMAND, message.command, "Unknown command")
            return None
        handler = COMMANDS.get(message.command)
        if handler is None:
            self.numeric(N.ERR_UNKNOWNCOMMAND, message.command, "Unknown command")
            return None
        try:
            waiting = handler(self, message)
        except Exception:
            self.log.failure("Handling {command} from {peer} ({nick})", command=message.command, peer=self.peer, nick=self.nick)
            self.serverNotice("Internal error: that line was dropped")
            return None
        if waiting is not None:
            waiting.addErrback(self._commandFailed)
        return waiting

    def _sayQuickly(self, line: bytes) -> bool:
        """
        Handle C{line} if it is the commonest line of all, C{PRIVMSG #room :text} to one room,
        without tags or source, and say whether it was.  It is most of what a busy server
        reads, and this costs a fifth of L{parse} and the dispatch to L{_send}; anything out
        of the ordinary (several targets, an invalid character, a line too long) is left to
        the general path, which handles it the same way or says what is wrong.
        """
        target, colon, text = line[8:].partition(b" :")
        if (
            not colon
            or not text
            or len(line) > MAX_BODY
            or b" " in target
            or b"," in target
            or b"\r" in line
            or b"\0" in line
        ):
            return False
        try:
            self._sayIn(target.decode("utf-8"), text.decode("utf-8"), notice=False)
        except UnicodeDecodeError:
            return False
        except Exception:
            self.log.failure("Handling PRIVMSG from {peer} ({nick})", peer=self.peer, nick=self.nick)
            self.serverNotice("Internal error: that line was dropped")
        return True

    def _commandFailed(self, failure: Failure) -> None:
        self.log.failure("Finishing a command from {peer} ({nick})", failure, peer=self.peer, nick=self.nick)
        self.serverNotice("Internal error: that line was dropped")

    # Output

    @property
    def target(self) -> str:
        """
        How numerics address this client: its nick, or C{*} before it has one.
        """
        return self.nick if self._registered else (self._wantNick or "*")

    def send(self, message: Message) -> None:
        """
        Queue C{message} for this client, after what it was already owed.
        """
        self.sendAll([message])

    def sendAll(self, messages: list[Message]) -> None:
        """
        Queue C{messages} for this client, as one write: a reply of many lines.
        """
        self._sendBytes(self.factory.serialized(messages))

    def _sendBytes(self, data: bytes) -> None:
        Connection.deliver(self, Wire(data))  # type: ignore[arg-type]

    def numeric(self, code: str, *params: str) -> None:
        """
        Send numeric reply C{code} with C{params}, after the client's nick.
        """
        self.send(self._numeric(code, *params))

    def _numeric(self, code: str, *params: str) -> Message:
        return Message(code, (self.target, *params))

    def serverNotice(self, text: str) -> None:
        self.send(Message("NOTICE", (self.target, text)))

    def fail(self, command: str, code: str, text: str, *context: str) -> None:
        """
        Say that C{command} failed, as a C{FAIL} standard reply with C{code} to a client that
        negotiated C{standard-replies}, which can show it beside the command; to any other,
        as a server notice, which every client shows.
        """
        if "standard-replies" in self.caps:
            self.send(Message("FAIL", (command, code, *context, text)))
        else:
            self.serverNotice(text)

    def deliver(self, event: events.Event) -> None:
        """
        Hand C{event} to the fanout; render here what names this client (a room's topic, a
        notice or refusal from the server).  While a JOIN runs, the topic and history the hub
        tells are held back until the names list has gone, as IRC clients expect them.
        """
        if self._joining is not None and isinstance(event, events.Topic | events.Replayed):
            self._joining.append(event)
        elif isinstance(event, events.Topic):
            self.numeric(N.RPL_TOPIC, event.room, event.topic)
        elif isinstance(event, events.Notice | events.Error):
            self.serverNotice(event.text)
        else:
            Connection.deliver(self, event)

    # Registration

    @_command("CAP", 1)
    def _cap(self, message: Message) -> None:
        sub = message.params[0].upper()
        if sub == "LS":
            if not self._registered:
                self._negotiating = True
            version = message.params[1] if len(message.params) > 1 else ""
            offered = self.factory.capabilities
            if version.isdigit() and int(version) >= 302:  # values only for those who read them
                offered = tuple("sasl=PLAIN" if cap == "sasl" else cap for cap in offered)
            self.send(Message("CAP", (self.target, "LS", " ".join(offered))))
        elif sub == "LIST":
            self.send(Message("CAP", (self.target, "LIST", " ".join(sorted(self.caps)))))
        elif sub == "REQ":
            self._capRequest(message.params[1] if len(message.params) > 1 else "")
        elif sub == "END":
            if self._saslChunks is not None:
                self._saslChunks = None
                self.numeric(N.ERR_SASLABORTED, "SASL authentication aborted")
            if self._negotiating:
                self._negotiating = False
                return self._tryRegistration()
        else:
            self.numeric(N.ERR_INVALIDCAPCMD, message.params[0], "Invalid CAP command")
        return None

    def _capRequest(self, request: str) -> None:
        """
        Enable or disable (C{-cap}) every capability in C{request}, or none of them.
        C{server-time} and C{account-tag} choose the client's fanout, which cannot change
        once it is a member of the hub: after registration, a request that would change it
        is refused.
        """
        if not self._registered:
            self._negotiating = True
        wanted = set(self.caps)
        names = request.split()
        ok = bool(names)
        for name in names:
            off = name.startswith("-")
            cap = name[1:] if off else name
            if cap not in self.factory.capabilities:
                ok = False
                break
            (wanted.discard if off else wanted.add)(cap)
        if ok and self._registered and any((cap in wanted) != (cap in self.caps) for cap in _FANOUT_CAPABILITIES):
            ok = False
        if not ok:
            self.send(Message("CAP", (self.target, "NAK", request)))
            return
        self.caps = wanted
        self.echo = "echo-message" in wanted
        if not self._registered:
            self.fanout = self.factory.fanoutFor(wanted)
        self.send(Message("CAP", (self.target, "ACK", request)))

    # Accounts: PASS, SASL PLAIN, NickServ

    @_command("PASS", 1)
    def _pass(self, message: Message) -> None:
        """
        The password of the nick the client registers with, if that nick is registered
        (L{_tryRegistration}); the server has no password of its own, so any other is
        ignored.  Never logged.
        """
        if self._registered:
            self.numeric(N.ERR_ALREADYREGISTERED, "You may not reregister")
            return
        self._password = message.params[0]

    def _identify(self, nick: str, password: str) -> defer.Deferred[str]:
        """
        Identify as the owner of C{nick} with C{password}, as the line protocol's
        C{/identify} does, with the same limits on wrong passwords; the result is the
        account's nick.  A client gone meanwhile is forgotten again.
        """
        accounts = self.factory.hub.accounts
        if accounts is None:
            return defer.fail(AccountError("This server keeps no accounts"))

        def answered(result: object) -> object:
            if self.closing:
                accounts.forget(self)
            return result

        return accounts.identify(self, nick, password, self.host or "").addBoth(answered)

    def _loggedIn(self, account: str) -> None:
        self.numeric(N.RPL_LOGGEDIN, userMask(self.target), account, f"You are now logged in as {account}")

    @_command("AUTHENTICATE", 1)
    def _authenticate(self, message: Message) -> defer.Deferred[object] | None:
        """
        SASL (IRCv3 C{sasl}), with the one mechanism C{PLAIN}: C{AUTHENTICATE PLAIN}, then
        the base64 of C{authzid NUL authcid NUL password} in chunks of 400 (one shorter, or
        C{+}, ends it); C{AUTHENTICATE *} aborts.
        """
        data = message.params[0]
        if "sasl" not in self.caps:
            self.numeric(N.ERR_SASLFAIL, "SASL authentication failed: enable the sasl capability first")
            return None
        if self.account is not None:
            self.numeric(N.ERR_SASLALREADY, "You have already authenticated using SASL")
            return None
        if data == "*":
            self._saslChunks = None
            self.numeric(N.ERR_SASLABORTED, "SASL authentication aborted")
            return None
        chunks = self._saslChunks
        if chunks is None:
            if data.upper() != "PLAIN":
                self.numeric(N.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
                self.numeric(N.ERR_SASLFAIL, "SASL authentication failed")
                return None
            self._saslChunks = []
            self.send(Message("AUTHENTICATE", ("+",)))
            return None
        if len(data) > SASL_CHUNK or sum(map(len, chunks)) + len(data) > SASL_MAX:
            self._saslChunks = None
            self.numeric(N.ERR_SASLTOOLONG, "SASL message too long")
            return None
        if data != "+":
            chunks.append(data)
        if len(data) == SASL_CHUNK:
            return None  # more to come
        self._saslChunks = None
        try:
            authzid, authcid, password = b64decode("".join(chunks), validate=True).decode("utf-8").split("\0")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            self.numeric(N.ERR_SASLFAIL, "SASL authentication failed")
            return None
        if not authcid or (authzid and foldNick(authzid) != foldNick(authcid)):
            self.numeric(N.ERR_SASLFAIL, "SASL authentication failed")
            return None

        def succeeded(account: str) -> None:
            self._loggedIn(account)
            self.numeric(N.RPL_SASLSUCCESS, "SASL authentication successful")

        def failed(failure: Failure) -> None:
            failure.trap(ChatError)
            if failure.check(AccountLocked):
                self.serverNotice(str(failure.value))
            self.numeric(N.ERR_SASLFAIL, "SASL authentication failed")

        return self._identify(authcid, password).addCallbacks(succeeded, failed)

    def _nickServ(self, text: str) -> defer.Deferred[object] | None:
        """
        What a client tells L{NICKSERV}: C{IDENTIFY [nick] password} or C{REGISTER password},
        the line protocol's C{/identify} and C{/register}.  Answered by notices from
        NickServ; never echoed, never logged.
        """
        command, _, argument = text.strip().partition(" ")
        command = command.upper()
        words = argument.split()
        hub = self.factory.hub
        if hub.accounts is None:
            self._fromNickServ("This server keeps no accounts")
            return None
        if command == "IDENTIFY" and 1 <= len(words) <= 2:
            nick, password = words if len(words) == 2 else (self.nick, words[0])

            def identified(account: str) -> defer.Deferred[None] | None:
                self._fromNickServ(f"You are now identified as {account}")
                self._loggedIn(account)
                if account != self.nick:
                    return hub.rename(self, account).addErrback(self._refused, account)
                return None

            return self._identify(nick, password).addCallbacks(identified, self._nickServRefused)
        if command == "REGISTER" and len(words) in (1, 2):  # a second word: an e-mail address, unused
            nick = self.nick

            def registered(_: None) -> None:
                self._fromNickServ(f"{nick} is registered; identify with IDENTIFY {nick} PASSWORD next time")
                self._loggedIn(nick)

            try:
                registering = hub.accounts.register(self, nick, words[0])
            except ChatError as e:
                self._fromNickServ(str(e))
                return None
            return registering.addCallbacks(registered, self._nickServRefused)
        self._fromNickServ("Commands: IDENTIFY [NICK] PASSWORD, REGISTER PASSWORD")
        return None

    def _nickServRefused(self, failure: Failure) -> None:
        failure.trap(ChatError)
        self._fromNickServ(str(failure.value))

    def _fromNickServ(self, text: str) -> None:
        self.send(Message("NOTICE", (self.nick, text), f"{NICKSERV}!{NICKSERV}@services"))

    @_command("NICK")
    def _nickCommand(self, message: Message) -> defer.Deferred[object] | None:
        if not message.params or not message.params[0]:
            self.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given")
            return None
        nick = message.params[0]
        if not self._registered:
            try:
                self._wantNick = checkNick(nick)
            except InvalidNick as e:
                self.numeric(N.ERR_ERRONEUSNICKNAME, nick, str(e))
                return None
            return self._tryRegistration()
        try:
            waiting = self.factory.hub.rename(self, nick)
        except ChatError as e:
            self.refuse(e, nick)
            return None
        return waiting.addErrback(self._refused, nick)

    @_command("USER", 4)
    def _userCommand(self, message: Message) -> defer.Deferred[object] | None:
        if self._registered or self._user:
            self.numeric(N.ERR_ALREADYREGISTERED, "You may not reregister")
            return None
        if not all(message.params[:4]):  # an empty user name or real name (Modern)
            self.numeric(N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
            return None
        self._user = message.params[0]
        self._realName = message.params[3]
        return self._tryRegistration()

    def _tryRegistration(self) -> defer.Deferred[object] | None:
        """
        Register with the hub once the client has given a nick and a user and ended its
        capability negotiation; the client's next lines wait for the nick to be granted.
        """
        if self._registered or self._registering or self._negotiating:
            return None
        if not (self._wantNick and self._user):
            return None
        self._registering = True
        nick = self._wantNick
        accounts = self.factory.hub.accounts
        password, self._password = self._password, None
        if (
            password is not None
            and accounts is not None
            and self.account is None
            and foldNick(nick) in accounts.registered
        ):
            # The nick's password: identify first, as Ergo does; a wrong one leaves the
            # client unidentified, refused the nick as anyone else would be.
            def wrong(failure: Failure) -> None:
                failure.trap(ChatError)
                self.numeric(N.ERR_PASSWDMISMATCH, "Password incorrect")

            identifying = self._identify(nick, password).addCallbacks(self._loggedIn, wrong)
            return identifying.addCallback(lambda _: self._connect(nick))
        return self._connect(nick)

    def _connect(self, nick: str) -> defer.Deferred[object] | None:
        if self.closing:
            return None
        return self.factory.hub.connect(self, nick).addCallbacks(
            self._welcome, self._notRegistered, errbackArgs=(nick,)
        )

    def _notRegistered(self, failure: Failure, nick: str) -> None:
        self._registering = False
        self._wantNick = ""
        self.nick = ""
        if failure.check(ServerBanned):
            self.refuse(failure.value, nick)
            self.drop(str(failure.value))
            return
        if failure.check(ChatError):
            self.refuse(failure.value, nick)
            return
        if not self.closing:
            self.log.failure("Registering {peer}", failure, peer=self.peer)
            self.drop("Internal error: could not register a nick")

    def _welcome(self, nick: str) -> None:
        self._registering = False
        self._registered = True
        factory = self.factory
        # No log line for a connect, as for the line front end: one per connection end.
        # One write for the whole welcome: a connect storm sends ten thousand of them.
        # The replies that are the same for everyone but for the nick are serialized once.
        intro, motd = factory.fixedReplies()
        target = self.target.encode()
        self._sendBytes(
            b"".join(
                [
                    factory.serialized(
                        [self._numeric(N.RPL_WELCOME, f"Welcome to the {factory.name} IRC network, {userMask(nick)}")]
                    ),
                    intro.to(target),
                    factory.serialized(self._lusers()),
                    motd.to(target),
                ]
            )
        )

    def _lusers(self) -> list[Message]:
        factory = self.factory
        hub = factory.hub
        users = hub.memberCount
        most = hub.mostMembers
        gate = factory.gate
        local = len(gate.connections)
        numeric = self._numeric
        return [
            numeric(N.RPL_LUSERCLIENT, f"There are {users} users and 0 invisible on 1 servers"),
            numeric(N.RPL_LUSEROP, "0", "operator(s) online"),
            numeric(N.RPL_LUSERUNKNOWN, "0", "unknown connection(s)"),
            numeric(N.RPL_LUSERCHANNELS, str(hub.roomCount), "channels formed"),
            numeric(N.RPL_LUSERME, f"I have {local} clients and 1 servers"),
            numeric(
                N.RPL_LOCALUSERS,
                str(local),
                str(gate.mostConnections),
                f"Current local users {local}, max {gate.mostConnections}",
            ),
            numeric(N.RPL_GLOBALUSERS, str(users), str(most), f"Current global users {users}, max {most}"),
        ]

    def _motd(self) -> list[Message]:
        return self.factory.motdReplies(self.target)

    @_command("LUSERS")
    def _lusersCommand(self, message: Message) -> None:
        self.sendAll(self._lusers())

    @_command("MOTD")
    def _motdCommand(self, message: Message) -> None:
        self.sendAll(self._motd())

    @_command("TIME")
    def _time(self, message: Message) -> None:
        """
        The server's time (RFC 2812 3.4.6), as the C{server-time} tag writes it.
        """
        self.numeric(N.RPL_TIME, self.factory.name, timeTag(self.gate.clock.seconds()))

    @_command("PING", 1)
    def _ping(self, message: Message) -> None:
        self.send(Message("PONG", (self.factory.name, message.params[0])))

    @_command("PONG")
    def _pong(self, message: Message) -> None:
        """
        Any line proves the client alive (L{_checkPing}); a PONG needs nothing more.
        """

    @_command("QUIT")
    def _quit(self, message: Message) -> None:
        reason = f"Quit: {message.params[0]}" if message.params and message.params[0] else "Quit"
        self._rememberGone()
        self.factory.hub.disconnect(self, reason)
        self.send(Message("ERROR", (f"Closing link: {reason}",)))
        self.close(reason)

    # Refusals

    def refuse(self, error: ChatError, subject: str = "", command: str = "*") -> None:
        """
        Tell the client why the hub refused C{command}, as the numeric that fits, or as
        a standard reply (L{fail}) where none does.
        """
        if isinstance(error, NickTaken):
            self.numeric(N.ERR_NICKNAMEINUSE, error.nick, "Nickname is already in use")
        elif isinstance(error, InvalidNick):
            self.numeric(N.ERR_ERRONEUSNICKNAME, subject or "*", str(error))
        elif isinstance(error, NoSuchNick):
            self.numeric(N.ERR_NOSUCHNICK, error.nick, "No such nick/channel")
        elif isinstance(error, NoSuchRoom):
            self.numeric(N.ERR_NOSUCHCHANNEL, error.room, "No such channel")
        elif isinstance(error, InvalidRoomName):
            self.numeric(N.ERR_NOSUCHCHANNEL, subject or "*", str(error))
        elif isinstance(error, NotInRoom):
            self.numeric(N.ERR_NOTONCHANNEL, error.room, "You're not on that channel")
        elif isinstance(error, InvalidText):
            self.fail(command, "INVALID_TEXT", str(error), *((subject,) if subject else ()))
        elif isinstance(error, NotRoomOperator):
            self.numeric(N.ERR_CHANOPRIVSNEEDED, error.room, "You're not channel operator")
        elif isinstance(error, Banned):
            self.numeric(N.ERR_BANNEDFROMCHAN, error.room, f"Cannot join channel (+b): {error}")
        elif isinstance(error, Muted):
            self.numeric(N.ERR_CANNOTSENDTOCHAN, error.room, str(error))
        elif isinstance(error, NotServerOperator):
            self.numeric(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        elif isinstance(error, ServerBanned):
            self.numeric(N.ERR_YOUREBANNEDCREEP, str(error))
        else:
            self.serverNotice(str(error))

    def _refused(self, failure: Failure, subject: str) -> None:
        failure.trap(ChatError)
        self.refuse(failure.value, subject)

    # Channels

    @_command("JOIN", 1)
    def _join(self, message: Message) -> None:
        hub = self.factory.hub
        if message.params[0] == "0":
            for room in hub.roomsOf(self):
                hub.part(self, room.name)
            return
        for name in message.params[0].split(","):
            if not name.startswith("#"):
                self.numeric(N.ERR_NOSUCHCHANNEL, name or "*", "No such channel")
                continue
            self._joining = held = []
            try:
                room = hub.join(self, name)
            except AlreadyInRoom:
                continue
            except ChatError as e:
                self.refuse(e, name)
                continue
            finally:
                self._joining = None
            topics = [event for event in held if isinstance(event, events.Topic)]
            for topic in topics:
                self.numeric(N.RPL_TOPIC, topic.room, topic.topic)
            self._names(room.name)
            self._replay(room.name, [e for e in held if isinstance(e, events.Replayed)])

    def _replay(self, room: str, history: list[events.Replayed]) -> None:
        """
        The history of C{room}, which the hub tells a member that joins it, as the lines
        they were, each with the time it was said under C{server-time}; inside a
        C{chathistory} batch for a client with the C{batch} capability, so that it can tell
        them from new lines.
        """
        if not history:
            return
        if "batch" not in self.caps:
            for event in history:
                Connection.deliver(self, event)
            return
        self._batches += 1
        reference = str(self._batches)
        self.send(Message("BATCH", ("+" + reference, "chathistory", room)))
        for event in history:
            message = toMessage(event)
            tags = {"batch": reference}
            if "server-time" in self.caps:
                tags["time"] = timeTag(event.said.time)
            self.send(Message(message.command, message.params, message.source, tags))
        self.send(Message("BATCH", ("-" + reference,)))

    @_command("PART", 1)
    def _part(self, message: Message) -> None:
        reason = message.params[1] if len(message.params) > 1 else ""
        for name in message.params[0].split(","):
            try:
                self.factory.hub.part(self, name, reason)
            except ChatError as e:
                self.refuse(e, name)

    @_command("TOPIC", 1)
    def _topic(self, message: Message) -> None:
        hub = self.factory.hub
        name = message.params[0]
        try:
            if len(message.params) > 1:
                hub.setTopic(self, name, message.params[1])
                return
            room = hub.room(name)
        except ChatError as e:
            self.refuse(e, name)
            return
        if room.topic:
            self.numeric(N.RPL_TOPIC, room.name, room.topic)
        else:
            self.numeric(N.RPL_NOTOPIC, room.name, "No topic is set")

    def _names(self, name: str) -> None:
        """
        C{353} lines for room C{name}, as many nicks to a line as keep it short, then C{366}.
        """
        try:
            room = self.factory.hub.room(name)
        except ChatError:
            room = None
        if room is not None:
            nicks = sorted(
                (moderation.sigil(self, member, room.name) + member.nick for member in room.members),
                key=lambda nick: foldNick(nick.lstrip("~@")),
            )
            line: list[str] = []
            length = 0
            for nick in nicks:
                line.append(nick)
                length += len(nick) + 1
                if length > 400:
                    self.numeric(N.RPL_NAMREPLY, "=", room.name, " ".join(line))
                    line = []
                    length = 0
            if line:
                self.numeric(N.RPL_NAMREPLY, "=", room.name, " ".join(line))
            name = room.name
        self.numeric(N.RPL_ENDOFNAMES, name, "End of /NAMES list")

    @_command("NAMES")
    def _namesCommand(self, message: Message) -> None:
        if not message.params or not message.params[0]:
            self.numeric(N.RPL_ENDOFNAMES, "*", "End of /NAMES list")
            return
        for name in message.params[0].split(","):
            self._names(name)

    @_command("LIST")
    def _list(self, message: Message) -> None:
        hub = self.factory.hub
        wanted = None
        if message.params and message.params[0]:
            wanted = {foldRoom(name) for name in message.params[0].split(",")}
        self.numeric(N.RPL_LISTSTART, "Channel", "Users  Name")
        for room in hub.rooms():
            if wanted is None or foldRoom(room.name) in wanted:
                self.numeric(N.RPL_LIST, room.name, str(len(room.members)), room.topic)
        self.numeric(N.RPL_LISTEND, "End of /LIST")

    @_command("MODE", 1)
    def _mode(self, message: Message) -> None:
        target = message.params[0]
        changes = message.params[1] if len(message.params) > 1 else ""
        if target.startswith("#"):
            try:
                room = self.factory.hub.room(target)
            except ChatError as e:
                self.refuse(e, target)
                return
            if not changes:
                modes = "+nt" if self.factory.hub.moderation.topicLocked(room.name) else "+n"
                self.numeric(N.RPL_CHANNELMODEIS, room.name, modes)
            else:
                moderation.channelMode(self, room, changes, list(message.params[2:]))
            return
        if foldNick(target) != foldNick(self.nick):
            self.numeric(N.ERR_USERSDONTMATCH, "Cant change mode for other users")
        elif not changes:
            self.numeric(N.RPL_UMODEIS, f"+{self._userModes}")
        else:
            self._changeUserModes(changes)

    def _changeUserModes(self, changes: str) -> None:
        """
        Set or unset C{+i}, the one user mode known (clients set it on connecting; it hides
        nobody here, as everyone's rooms are public), echoing what changed as servers do; any
        other flag gets 501.
        """
        if changes.strip("+-i"):
            self.numeric(N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
            return
        adding = True
        modes = self._userModes
        for flag in changes:
            if flag in "+-":
                adding = flag == "+"
            else:
                modes = "i" if adding else ""
        if modes != self._userModes:
            change = "+i" if modes else "-i"
            self._userModes = modes
            self.send(Message("MODE", (self.nick, change), userMask(self.nick)))

    # People

    @_command("WHO")
    def _who(self, message: Message) -> None:
        hub = self.factory.hub
        mask = message.params[0] if message.params and message.params[0] else "*"
        if mask.startswith("#"):
            try:
                room = hub.room(mask)
            except ChatError:
                room = None
            members = [] if room is None else sorted(room.members, key=lambda m: foldNick(m.nick))
            channel = mask if room is None else room.name
        elif "*" in mask or "?" in mask:
            room = None
            matches = nickMatcher(mask)
            members = sorted(
                (m for m in hub.members() if matches(m.nick) and self._known(m)), key=lambda m: foldNick(m.nick)
            )
            channel = "*"
        else:
            room = None
            try:
                members = [hub.find(mask)]
            except ChatError:
                members = []
            channel = "*"
        for member in members:
            here = "G" if getattr(member, "away", "") else "H"
            user, realName = identity(member)
            if room is not None:
                here += moderation.sigil(self, member, room.name)
            self.numeric(N.RPL_WHOREPLY, channel, user, HOST, self.factory.name, member.nick, here, f"0 {realName}")
        self.numeric(N.RPL_ENDOFWHO, mask, "End of /WHO list")

    def _known(self, member: Member) -> bool:
        """
        Whether C{member} holds its nick: not a client whose nick is still being claimed.
        """
        try:
            return self.factory.hub.find(member.nick) is member
        except ChatError:
            return False

    @_command("WHOIS", 1)
    def _whois(self, message: Message) -> None:
        hub = self.factory.hub
        nick = message.params[-1].split(",")[0]
        try:
            member = hub.find(nick)
        except ChatError as e:
            self.refuse(e, nick)
        else:
            nick = member.nick
            self.numeric(N.RPL_WHOISUSER, nick, *_userHostReal(member))
            rooms = " ".join(room.name for room in hub.roomsOf(member))
            if rooms:
                self.numeric(N.RPL_WHOISCHANNELS, nick, rooms)
            self.numeric(N.RPL_WHOISSERVER, nick, self.factory.name, f"{self.factory.name} chat server")
            account = getattr(member, "account", None)
            if account is not None:
                self.numeric(N.RPL_WHOISACCOUNT, nick, account, "is logged in as")
            away = getattr(member, "away", "")
            if away:
                self.numeric(N.RPL_AWAY, nick, away)
        self.numeric(N.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")

    @_command("WHOWAS", 1)
    def _whowas(self, message: Message) -> None:
        """
        Who had the nick, the most recent first: the IRC clients of this server that left
        while they had it (L{IRCFactory.rememberGone}), up to C{count} of them if positive.
        """
        nick = message.params[0]
        count = message.params[1] if len(message.params) > 1 else ""
        limit = int(count) if count.lstrip("-").isdigit() and int(count) > 0 else None
        gone = self.factory.whoWas(nick)[:limit]
        for was, user, realName in gone:
            self.numeric(N.RPL_WHOWASUSER, was, user, HOST, "*", realName)
            self.numeric(N.RPL_WHOISSERVER, was, self.factory.name, f"{self.factory.name} chat server")
        if not gone:
            self.numeric(N.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
        self.numeric(N.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")

    @_command("ISON", 1)
    def _ison(self, message: Message) -> None:
        present = []
        for nick in " ".join(message.params).split():
            try:
                present.append(self.factory.hub.find(nick).nick)
            except ChatError:
                pass
        self.numeric(N.RPL_ISON, " ".join(present))

    @_command("USERHOST", 1)
    def _userhost(self, message: Message) -> None:
        replies = []
        for nick in message.params[:5]:
            try:
                member = self.factory.hub.find(nick)
            except ChatError:
                continue
            here = "-" if getattr(member, "away", "") else "+"
            replies.append(f"{member.nick}={here}{member.nick}@{HOST}")
        self.numeric(N.RPL_USERHOST, " ".join(replies))

    @_command("AWAY")
    def _away(self, message: Message) -> None:
        """
        Away is the hub's: line and web users, and the users of other servers, see it too.
        """
        try:
            self.factory.hub.setAway(self, message.params[0] if message.params else "")
        except ChatError as e:
            self.refuse(e, command="AWAY")
            return
        if self.away:
            self.numeric(N.RPL_NOWAWAY, "You have been marked as being away")
        else:
            self.numeric(N.RPL_UNAWAY, "You are no longer marked as being away")

    # Messages

    @_command("PRIVMSG")
    def _privmsg(self, message: Message) -> defer.Deferred[object] | None:
        if len(message.params) > 1 and foldNick(message.params[0]) == "nickserv":
            return self._nickServ(message.params[1])
        self._send(message, notice=False)
        return None

    @_command("NOTICE")
    def _notice(self, message: Message) -> None:
        self._send(message, notice=True)

    @_command("TAGMSG")
    def _tagmsg(self, message: Message) -> None:
        """
        A message of client tags alone (typing notifications, reactions): the hub carries no
        tags, so it goes nowhere, quietly, as C{message-tags} clients send it unasked.
        """

    def _send(self, message: Message, notice: bool) -> None:
        """
        Say a PRIVMSG or NOTICE in rooms or to nicks.  The hub has no notices of its own, so
        a NOTICE is heard as a line; as IRC asks, a NOTICE never gets an error back.
        """
        hub = self.factory.hub
        if not message.params or not message.params[0]:
            if not notice:
                self.numeric(N.ERR_NORECIPIENT, f"No recipient given ({message.command})")
            return
        if len(message.params) < 2 or not message.params[1]:
            if not notice:
                self.numeric(N.ERR_NOTEXTTOSEND, "No text to send")
            return
        text = message.params[1]
        for target in message.params[0].split(","):
            if target.startswith("#"):
                self._sayIn(target, text, notice)
                continue
            try:
                recipient = hub.find(target)
                hub.message(self, target, text, notice)
            except ChatError as e:
                if not notice:
                    self.refuse(e, target, "PRIVMSG")
                continue
            away = getattr(recipient, "away", "")
            if away and not notice:
                self.numeric(N.RPL_AWAY, recipient.nick, away)

    def _sayIn(self, room: str, text: str, notice: bool) -> None:
        """
        Say C{text} in C{room}, an action if it is a CTCP ACTION; tell the client why not
        unless it was a NOTICE.
        """
        body, action = (text, False) if notice else parseAction(text)
        try:
            self.factory.hub.say(self, room, body, action=action, notice=notice)
        except NotInRoom as e:
            if not notice:
                self.numeric(N.ERR_CANNOTSENDTOCHAN, e.room, "Cannot send to channel")
        except ChatError as e:
            if not notice:
                self.refuse(e, room, "PRIVMSG")


def identity(member: object) -> tuple[str, str]:
    """
    The user name and real name of C{member}: those an IRC client of this server registered
    with (C{USER}); a line or web user, or a user of another server, has its nick for both.
    """
    if isinstance(member, IRCProtocol) and member._user:
        return member._user, member._realName
    nick: str = getattr(member, "nick")
    return nick, nick


def _userHostReal(member: object) -> tuple[str, str, str, str]:
    """
    The C{<username> <host> * :<realname>} of a C{311 RPL_WHOISUSER}.
    """
    user, realName = identity(member)
    return user, HOST, "*", realName


def nickMatcher(mask: str) -> Callable[[str], bool]:
    """
    Whether a nick matches C{mask}, in which C{*} is any run of characters and C{?} any one,
    in the nicks' case mapping (C{rfc1459}): nicks hold C{[]}, which are no pattern here.
    """
    pattern = re.compile(re.escape(foldNick(mask)).replace(r"\*", ".*").replace(r"\?", "."), re.DOTALL)
    return lambda nick: pattern.fullmatch(foldNick(nick)) is not None


# What replies serialized for any nick address, to be replaced by the nick: as long as the
# longest nick, so that a reply cut to fit 512 bytes fits with any.
_ANY_NICK = "*" * NICK_MAX_LENGTH


class _ForAnyNick:
    """
    Replies to any nick, serialized once: each line around the nick it addresses.
    """

    __slots__ = ("_pieces",)

    def __init__(self, factory: IRCFactory, replies: list[Message]) -> None:
        self._pieces: list[tuple[bytes, bytes]] = []
        for reply in replies:
            # ":SOURCE CODE NICK TEXT": the source has no space, so the first " CODE NICK " is
            # where the nick goes, in each line of a reply cut in several.
            around = f" {reply.command} ".encode()
            for line in factory.serialized([reply]).split(b"\r\n")[:-1]:
                head, _, tail = line.partition(around + _ANY_NICK.encode() + b" ")
                self._pieces.append((head + around, b" " + tail + b"\r\n"))

    def to(self, nick: bytes) -> bytes:
        """
        The replies, addressed to C{nick}.
        """
        return b"".join([piece for head, tail in self._pieces for piece in (head, nick, tail)])


class IRCFactory(ServerFactory):
    """
    Builds an L{IRCProtocol} for each connection, on one hub, behind one gate.

    @ivar name: the server's name: the source of its replies, and the C{NETWORK} it announces.
    @ivar motd: lines of the message of the day.
    @ivar pingInterval: seconds of silence from a client after which it is pinged.
    @ivar pingTimeout: seconds a pinged client has to answer before it is dropped.
    @ivar plain: the fanout of clients without C{server-time} and C{account-tag}; C{timed},
        of those with C{server-time} alone; L{fanoutFor}, of any client.
    @ivar capabilities: those this server offers: L{CAPABILITIES}, less those about accounts
        if it keeps none.
    @ivar whowasLength: how many of the IRC clients that left C{WHOWAS} remembers.
    """

    protocol = IRCProtocol
    noisy = False
    whowasLength = 1000

    def __init__(
        self,
        hub: Hub,
        gate: Gate,
        name: str = "chat",
        motd: tuple[str, ...] = (),
        pingInterval: float = 120.0,
        pingTimeout: float = 60.0,
    ) -> None:
        self.hub = hub
        self.gate = gate
        self.name = name
        self.motd = motd
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self._gone: deque[tuple[str, str, str]] = deque()
        self._fanouts = {
            (timed, tagged, extended): BatchFanout(
                gate.clock, self._encoder(gate.clock, name, timed, tagged, extended)
            )
            for timed in (False, True)
            for tagged in (False, True)
            for extended in (False, True)
        }
        self.plain = self._fanouts[False, False, False]
        self.timed = self._fanouts[True, False, False]
        self.capabilities = tuple(
            cap for cap in CAPABILITIES if hub.accounts is not None or cap not in ACCOUNT_CAPABILITIES
        )
        self.created = timeTag(gate.clock.seconds())
        self._fixed: tuple[tuple[str, ...], _ForAnyNick, _ForAnyNick] | None = None
        self.isupport = (
            "CASEMAPPING=rfc1459",
            "CHANTYPES=#",
            f"NICKLEN={NICK_MAX_LENGTH}",
            f"CHANNELLEN={ROOM_MAX_LENGTH}",
            f"TOPICLEN={TOPIC_MAX_LENGTH}",
            f"AWAYLEN={AWAY_MAX_LENGTH}",
            "CHANLIMIT=#:",
            moderation.PREFIX,
            f"NETWORK={name.replace(' ', '-')}",
            "UTF8ONLY",
        )

    def serialized(self, messages: list[Message]) -> bytes:
        """
        C{messages}, from this server unless they say otherwise, as the bytes of one write.
        """
        lines = []
        for message in messages:
            if message.source is None:
                message = Message(message.command, message.params, self.name, message.tags)
            line = None if message.tags else serialize(message)
            if line is None or len(line) > MAX_BODY:  # a line to cut: see fitted
                line = b"".join(serialize(piece) for piece in fitted(message))
            lines.append(line)
        return b"".join(lines)

    def motdReplies(self, target: str) -> list[Message]:
        """
        The MOTD, or that there is none, for C{target}.
        """
        if not self.motd:
            return [Message(N.ERR_NOMOTD, (target, "MOTD File is missing"))]
        return [
            Message(N.RPL_MOTDSTART, (target, f"- {self.name} Message of the day - ")),
            *(Message(N.RPL_MOTD, (target, f"- {line}")) for line in self.motd),
            Message(N.RPL_ENDOFMOTD, (target, "End of /MOTD command.")),
        ]

    def fixedReplies(self) -> tuple[_ForAnyNick, _ForAnyNick]:
        """
        The welcome's replies that are the same for every client but for the nick they
        address: 002 to 005, then the MOTD (or 422).  Serialized once, and again when the
        MOTD changes (on a reload): a connect storm welcomes ten thousand clients.
        """
        if self._fixed is None or self._fixed[0] is not self.motd:
            intro = [
                Message(N.RPL_YOURHOST, (_ANY_NICK, f"Your host is {self.name}, running version {VERSION}")),
                Message(N.RPL_CREATED, (_ANY_NICK, f"This server was created {self.created}")),
                Message(N.RPL_MYINFO, (_ANY_NICK, self.name, VERSION, "i", "nt")),
                Message(N.RPL_ISUPPORT, (_ANY_NICK, *self.isupport, "are supported by this server")),
            ]
            motd = self.motdReplies(_ANY_NICK)
            self._fixed = (self.motd, _ForAnyNick(self, intro), _ForAnyNick(self, motd))
        return self._fixed[1], self._fixed[2]

    def _encoder(
        self, clock: IReactorTime, name: str, timed: bool, tagged: bool, extended: bool
    ) -> Callable[[events.Event], bytes]:
        """
        How the events of a fanout's clients look: with C{server-time} if C{timed}, with
        C{account-tag} if C{tagged}, with C{extended-join} if C{extended}.  Those without the
        last two never pay for them.
        """
        encode = encoder(clock, timed, name)
        if tagged:
            encode = tagAccounts(encode, self.hub.accountOf)
        if extended:
            encode = extendJoins(encode, self.hub.accountOf)
        return encode

    def rememberGone(self, nick: str, user: str, realName: str) -> None:
        """
        An IRC client that was C{nick} left: remember it for C{WHOWAS}, forgetting the
        oldest past L{whowasLength}.
        """
        gone = self._gone
        gone.append((nick, user, realName))
        while len(gone) > self.whowasLength:
            gone.popleft()

    def whoWas(self, nick: str) -> list[tuple[str, str, str]]:
        """
        The nick, user name and real name of each IRC client remembered as C{nick}, in any
        case, the most recent first.
        """
        folded = foldNick(nick)
        return [entry for entry in reversed(self._gone) if foldNick(entry[0]) == folded]

    def fanoutFor(self, caps: set[str]) -> BatchFanout:
        """
        The fanout of a client with the capabilities C{caps}.
        """
        return self._fanouts["server-time" in caps, "account-tag" in caps, "extended-join" in caps]

for _name, (_minParams, _handler) in moderation.COMMANDS.items():
    _command(_name, _minParams)(_handler)

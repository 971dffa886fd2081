"""
The IRC front end in memory: registration, every command with its numerics, and IRC and line
clients meeting in the same rooms.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer

from chat import events
from chat.errors import InvalidText
from chat.relay import Alone
from helpers import FakeClient, MixedServer

WELCOME = [
    ":testchat 001 alice :Welcome to the testchat IRC network, alice!alice@chat",
    ":testchat 002 alice :Your host is testchat, running version chat-0.1",
    ":testchat 003 alice :This server was created 1970-01-01T00:00:00.000Z",
    ":testchat 004 alice testchat chat-0.1 i :nt",
    ":testchat 005 alice CASEMAPPING=rfc1459 CHANTYPES=# NICKLEN=32 CHANNELLEN=50 TOPICLEN=300"
    " AWAYLEN=200 CHANLIMIT=#: PREFIX=(qo)~@ NETWORK=testchat UTF8ONLY :are supported by this server",
    ":testchat 251 alice :There are 1 users and 0 invisible on 1 servers",
    ":testchat 252 alice 0 :operator(s) online",
    ":testchat 253 alice 0 :unknown connection(s)",
    ":testchat 254 alice 1 :channels formed",
    ":testchat 255 alice :I have 1 clients and 1 servers",
    ":testchat 265 alice 1 1 :Current local users 1, max 1",
    ":testchat 266 alice 1 1 :Current global users 1, max 1",
    ":testchat 422 alice :MOTD File is missing",
]


def ircAliceLineBob(server: MixedServer, caps: str = "") -> tuple[FakeClient, FakeClient]:
    """
    IRC user alice (with C{caps}) and line user bob in C{#lobby}, what they were told so far
    read.
    """
    alice = server.connectIRC("alice", caps=caps)
    (bob,) = server.connectMany("bob")
    alice.send("JOIN #lobby")
    alice.received()
    bob.received()
    return alice, bob


def test_registrationWithoutCapabilities() -> None:
    server = MixedServer()
    client = server.connectIRC()
    client.send("PASS ignored")
    client.send("NICK alice")
    assert client.received() == []
    client.send("USER alice 0 * :Alice Liddell")
    assert client.received() == WELCOME
    assert client.protocol.nick == "alice"
    assert server.hub.roomsOf(client.protocol) == []
    assert client.protocol.echo is False


def test_capabilityNegotiationHoldsRegistration() -> None:
    server = MixedServer()
    client = server.connectIRC()
    client.send("CAP LS 302")
    assert client.received() == [
        ":testchat CAP * LS :away-notify batch echo-message message-tags multi-prefix server-time"
        " standard-replies"
    ]
    client.send("NICK alice")
    client.send("USER alice 0 * :Alice")
    assert client.received() == []
    client.send("CAP REQ :server-time echo-message")
    assert client.received() == [":testchat CAP alice ACK :server-time echo-message"]
    client.send("CAP REQ :server-time sasl")
    assert client.received() == [":testchat CAP alice NAK :server-time sasl"]
    client.send("CAP LIST")
    assert client.received() == [":testchat CAP alice LIST :echo-message server-time"]
    client.send("CAP END")
    assert client.received() == WELCOME
    assert client.protocol.echo is True
    assert client.protocol.fanout is server.ircFactory.timed


def test_capabilityRequestAfterRegistration() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.send("CAP REQ echo-message")
    assert alice.received() == [":testchat CAP alice ACK :echo-message"]
    assert alice.protocol.echo is True
    alice.send("CAP REQ :-echo-message server-time")
    assert alice.received() == [":testchat CAP alice NAK :-echo-message server-time"]
    alice.send("CAP FOO")
    assert alice.received() == [":testchat 410 alice FOO :Invalid CAP command"]


def test_motd() -> None:
    server = MixedServer(motd=("Be nice.",))
    client = server.connectIRC()
    client.send("NICK alice")
    client.send("USER alice 0 * :Alice")
    assert client.received()[-3:] == [
        ":testchat 375 alice :- testchat Message of the day - ",
        ":testchat 372 alice :- Be nice.",
        ":testchat 376 alice :End of /MOTD command.",
    ]


def test_commandsBeforeRegistration() -> None:
    server = MixedServer()
    client = server.connectIRC()
    client.send("JOIN #lobby")
    client.send("BOGUS")
    client.send("PING :x")
    client.send("NICK 1bad")
    client.send("USER a")
    client.send("USER :")
    assert client.received() == [
        ":testchat 451 * :You have not registered",
        ":testchat 421 * BOGUS :Unknown command",
        ":testchat PONG testchat :x",
        ":testchat 432 * 1bad :A nick is letters, digits and _-[]{}\\|^, not starting with a digit or '-'",
        ":testchat 461 * USER :Not enough parameters",
        ":testchat 461 * USER :Not enough parameters",
    ]


def test_nickTakenAtRegistration() -> None:
    server = MixedServer()
    server.connect("alice")
    client = server.connectIRC()
    client.send("NICK Alice")
    client.send("USER a 0 * :A")
    assert client.received() == [":testchat 433 * Alice :Nickname is already in use"]
    client.send("NICK alice2")
    assert client.received()[0].startswith(":testchat 001 alice2 ")
    client.send("USER again 0 * :A")
    assert client.received() == [":testchat 462 alice2 :You may not reregister"]


def test_joinNamesTopicAndHistory() -> None:
    server = MixedServer()
    bob = server.connect("bob")
    server.clock.advance(1000.25)
    bob.send("hello")
    bob.send("/topic Lobby talk")
    alice = server.connectIRC("alice", caps="server-time")
    alice.send("JOIN #lobby")
    assert alice.received() == [
        "@time=1970-01-01T00:16:40.250Z :alice!alice@chat JOIN :#lobby",
        ":testchat 332 alice #lobby :Lobby talk",
        ":testchat 353 alice = #lobby :alice bob",
        ":testchat 366 alice #lobby :End of /NAMES list",
        "@time=1970-01-01T00:16:40.250Z :bob!bob@chat PRIVMSG #lobby :hello",
    ]
    assert bob.received()[-1] == "*** alice has joined #lobby"


def test_joinSeveralAndBadNames() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.send("JOIN #a,b,#c")
    assert alice.received() == [
        ":alice!alice@chat JOIN :#a",
        ":testchat 353 alice = #a :@alice",
        ":testchat 366 alice #a :End of /NAMES list",
        ":testchat 403 alice b :No such channel",
        ":alice!alice@chat JOIN :#c",
        ":testchat 353 alice = #c :@alice",
        ":testchat 366 alice #c :End of /NAMES list",
    ]
    alice.send("JOIN #a")
    alice.send("JOIN")
    assert alice.received() == [":testchat 461 alice JOIN :Not enough parameters"]
    alice.send("JOIN 0")
    assert alice.received() == [":alice!alice@chat PART :#a", ":alice!alice@chat PART :#c"]


def test_part() -> None:
    server = MixedServer()
    alice, bob = ircAliceLineBob(server)
    alice.send("PART #lobby :bye")
    assert alice.received() == [":alice!alice@chat PART #lobby :bye"]
    assert bob.received() == ["*** alice has left #lobby"]
    alice.send("PART #lobby")
    alice.send("PART #nowhere")
    assert alice.received() == [
        ":testchat 442 alice #lobby :You're not on that channel",
        ":testchat 403 alice #nowhere :No such channel",
    ]


def test_topic() -> None:
    server = MixedServer()
    alice, bob = ircAliceLineBob(server)
    alice.send("TOPIC #lobby")
    alice.send("TOPIC #lobby :Be nice")
    alice.send("TOPIC #lobby")
    assert alice.received() == [
        ":testchat 331 alice #lobby :No topic is set",
        ":alice!alice@chat TOPIC #lobby :Be nice",
        ":testchat 332 alice #lobby :Be nice",
    ]
    assert bob.received() == ["*** alice set the topic of #lobby to: Be nice"]
    bob.send("/topic Be kind")
    assert alice.received() == [":bob!bob@chat TOPIC #lobby :Be kind"]
    alice.send("TOPIC #nowhere :x")
    alice.send("TOPIC #lobby :" + "x" * 301)
    assert alice.received() == [
        ":testchat 403 alice #nowhere :No such channel",
        ":testchat NOTICE alice :A topic is at most 300 characters",
    ]


def test_namesListWhoWhoisMode() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    (bob,) = server.connectMany("bob")
    alice.send("JOIN #lobby")
    alice.send("JOIN #dev")
    alice.send("TOPIC #dev :Dev talk")
    alice.send("AWAY :lunch")
    alice.received()
    alice.send("NAMES #lobby,#none")
    alice.send("NAMES")
    alice.send("LIST")
    alice.send("LIST #dev")
    alice.send("WHO #lobby")
    alice.send("WHO bob")
    alice.send("WHOIS alice")
    alice.send("WHOIS nobody")
    alice.send("MODE #lobby")
    alice.send("MODE #lobby b")
    alice.send("MODE #lobby +m")
    alice.send("MODE alice")
    alice.send("MODE alice +i")
    alice.send("MODE alice +i")  # no change, no echo
    alice.send("MODE alice")
    alice.send("MODE alice -i")
    alice.send("MODE alice +x")
    alice.send("MODE bob")
    assert alice.received() == [
        ":testchat 353 alice = #lobby :alice bob",
        ":testchat 366 alice #lobby :End of /NAMES list",
        ":testchat 366 alice #none :End of /NAMES list",
        ":testchat 366 alice * :End of /NAMES list",
        ":testchat 321 alice Channel :Users  Name",
        ":testchat 322 alice #dev 1 :Dev talk",
        ":testchat 322 alice #lobby 2 :",
        ":testchat 323 alice :End of /LIST",
        ":testchat 321 alice Channel :Users  Name",
        ":testchat 322 alice #dev 1 :Dev talk",
        ":testchat 323 alice :End of /LIST",
        ":testchat 352 alice #lobby alice chat testchat alice G :0 alice",
        ":testchat 352 alice #lobby bob chat testchat bob H :0 bob",
        ":testchat 315 alice #lobby :End of /WHO list",
        ":testchat 352 alice * bob chat testchat bob H :0 bob",
        ":testchat 315 alice bob :End of /WHO list",
        ":testchat 311 alice alice alice chat * :alice",
        ":testchat 319 alice alice :#lobby #dev",
        ":testchat 312 alice alice testchat :testchat chat server",
        ":testchat 301 alice alice :lunch",
        ":testchat 318 alice alice :End of /WHOIS list",
        ":testchat 401 alice nobody :No such nick/channel",
        ":testchat 318 alice nobody :End of /WHOIS list",
        ":testchat 324 alice #lobby :+n",
        ":testchat 368 alice #lobby :End of channel ban list",
        ":testchat 482 alice #lobby :You're not channel operator",
        ":testchat 221 alice :+",
        ":alice!alice@chat MODE alice :+i",
        ":testchat 221 alice :+i",
        ":alice!alice@chat MODE alice :-i",
        ":testchat 501 alice :Unknown MODE flag",
        ":testchat 502 alice :Cant change mode for other users",
    ]


def test_away() -> None:
    server = MixedServer()
    alice, bob = server.connectIRC("alice"), server.connectIRC("bob")
    alice.send("AWAY :gone fishing")
    alice.send("AWAY")
    alice.send("AWAY :back soon")
    assert alice.received() == [
        ":testchat 306 alice :You have been marked as being away",
        ":testchat 305 alice :You are no longer marked as being away",
        ":testchat 306 alice :You have been marked as being away",
    ]
    bob.send("PRIVMSG alice :hi")
    assert bob.received() == [":testchat 301 bob alice :back soon"]
    assert alice.received() == [":bob!bob@chat PRIVMSG alice :hi"]


def test_mixedRoomLinesBothWays() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    (bob,) = server.connectMany("bob")
    alice.send("JOIN #lobby")
    alice.received()
    assert bob.received() == ["*** alice has joined #lobby"]
    alice.send("PRIVMSG #lobby :hello bob")
    alice.send("PRIVMSG #lobby :\x01ACTION waves\x01")
    assert alice.received() == []  # no echo-message
    assert bob.received() == ["<alice> hello bob", "* alice waves"]
    bob.send("hi alice")
    bob.send("/me bows")
    assert alice.received() == [
        ":bob!bob@chat PRIVMSG #lobby :hi alice",
        ":bob!bob@chat PRIVMSG #lobby :\x01ACTION bows\x01",
    ]


def test_echoMessage() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice", caps="echo-message")
    bob = server.connectIRC("bob")
    alice.send("JOIN #lobby")
    bob.send("JOIN #lobby")
    alice.received()
    bob.received()
    alice.send("PRIVMSG #lobby :hi")
    alice.send("PRIVMSG bob :psst")
    assert alice.received() == [
        ":alice!alice@chat PRIVMSG #lobby :hi",
        ":alice!alice@chat PRIVMSG bob :psst",
    ]
    assert bob.received() == [
        ":alice!alice@chat PRIVMSG #lobby :hi",
        ":alice!alice@chat PRIVMSG bob :psst",
    ]


def test_privateMessagesBothWays() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    (bob,) = server.connectMany("bob")
    alice.send("PRIVMSG bob :psst")
    assert bob.received() == ["*alice* psst"]
    bob.send("/msg alice hi there")
    assert alice.received() == [":bob!bob@chat PRIVMSG alice :hi there"]
    assert bob.received() == ["-> *alice* hi there"]
    alice.send("NOTICE bob :a notice")
    assert bob.received() == ["*alice* a notice"]


def test_messageErrors() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.send("PRIVMSG")
    alice.send("PRIVMSG #lobby")
    alice.send("PRIVMSG nobody :hi")
    alice.send("PRIVMSG #lobby :hi")
    alice.send("PRIVMSG #nowhere :hi")
    alice.send("NOTICE nobody :hi")
    alice.send("NOTICE #lobby :hi")
    assert alice.received() == [
        ":testchat 411 alice :No recipient given (PRIVMSG)",
        ":testchat 412 alice :No text to send",
        ":testchat 401 alice nobody :No such nick/channel",
        ":testchat 404 alice #lobby :Cannot send to channel",
        ":testchat 403 alice #nowhere :No such channel",
    ]


def test_nickChangesSeenByBoth() -> None:
    server = MixedServer()
    alice, bob = ircAliceLineBob(server)
    alice.send("NICK alicia")
    assert alice.received() == [":alice!alice@chat NICK :alicia"]
    assert bob.received() == ["*** alice is now known as alicia"]
    bob.send("/nick robert")
    assert alice.received() == [":bob!bob@chat NICK :robert"]
    alice.send("NICK robert")
    alice.send("NICK 9lives")
    alice.send("NICK")
    assert alice.received() == [
        ":testchat 433 alicia robert :Nickname is already in use",
        ":testchat 432 alicia 9lives :A nick is letters, digits and _-[]{}\\|^, not starting with a digit or '-'",
        ":testchat 431 alicia :No nickname given",
    ]


def test_quitSeenByLineUsers() -> None:
    server = MixedServer()
    alice, bob = ircAliceLineBob(server)
    alice.send("QUIT :off to bed")
    assert alice.received() == [":testchat ERROR :Closing link: Quit: off to bed"]
    assert alice.transport.disconnecting
    assert bob.received() == ["*** alice has quit (Quit: off to bed)"]
    bob.send("/quit")
    assert alice.received() == []


def test_lineUserQuitSeenByIRC() -> None:
    server = MixedServer()
    alice, bob = ircAliceLineBob(server)
    bob.send("/quit later")
    assert alice.received() == [":bob!bob@chat QUIT :later"]


def test_unknownCommandAndInvalidUTF8() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.send("FROB x")
    alice.send(b"PRIVMSG #lobby :\xff\xfe")
    alice.send(b"@bad;=x PRIVMSG #lobby :x")
    assert alice.received() == [
        ":testchat 421 alice FROB :Unknown command",
        ":testchat FAIL PRIVMSG INVALID_UTF8 :That line was not valid UTF-8 and was discarded",
        ":testchat NOTICE alice :That line was not an IRC message and was discarded: A tag has no name",
    ]
    assert not alice.transport.disconnecting


def test_lineLengths() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.send("JOIN #lobby")
    alice.received()
    alice.send("PRIVMSG #lobby :" + "x" * 600)
    alice.send("@" + "a" * 9000 + " PING x")
    assert alice.received() == [
        ":testchat 417 alice :Input line was too long",
        ":testchat 417 alice :Input line was too long",
    ]
    alice.send("@label=" + "a" * 4088 + " PING :ok")
    assert alice.received() == [":testchat PONG testchat :ok"]


def test_clientTagsAreIgnored() -> None:
    server = MixedServer()
    alice, bob = ircAliceLineBob(server, caps="message-tags")
    alice.send("@+draft/reply=1;+x=y\\sz :alice!alice@elsewhere PRIVMSG #lobby :tagged")
    assert bob.received() == ["<alice> tagged"]


def test_invalidTextIsANotice() -> None:
    """
    IRC cannot send what the hub refuses as text (a NUL is refused by the parser, and UTF-8
    has no surrogates), but a refusal of that kind still reads as a notice.
    """
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.send(b"PRIVMSG #lobby :a\x00b")
    alice.protocol.refuse(InvalidText("Text cannot contain U+0000"))
    assert alice.received() == [
        ":testchat NOTICE alice :That line was not an IRC message and was discarded:"
        " A message cannot contain CR, LF or NUL",
        ":testchat NOTICE alice :Text cannot contain U+0000",
    ]


def test_serverPingAndTimeout() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    factory = server.ircFactory
    server.clock.advance(factory.pingInterval)
    assert alice.received() == [":testchat PING :testchat"]
    alice.send("PONG :testchat")
    server.clock.advance(factory.pingTimeout)
    assert alice.received() == []
    assert not alice.transport.disconnecting
    server.clock.advance(factory.pingInterval)
    assert alice.received() == [":testchat PING :testchat"]
    server.clock.advance(factory.pingTimeout)
    assert alice.received() == [":testchat ERROR :Closing link: Ping timeout: 60 seconds"]
    assert alice.transport.disconnecting


def test_theWelcomesMotdIsTheMotdCommandsForAnyNick() -> None:
    """
    The welcome's MOTD (serialized once for every client) is what MOTD answers: each line
    addressed to the client's nick, a line too long for IRC cut to fit 512 bytes even with the
    longest nick.
    """
    server = MixedServer(motd=("x" * 1000, "short"))
    for nick in ("n" * 32, "al"):
        client = server._connectTo(server.ircFactory, "127.0.0.1")
        client.send(f"NICK {nick}")
        client.send("USER u 0 * :u")
        welcome = [line for line in client.received() if line.split(" ")[1] in ("375", "372", "376")]
        assert [line.split(" ")[2] for line in welcome] == [nick] * len(welcome)
        assert all(len(line.encode()) + 2 <= 512 for line in welcome)
        assert welcome[1].split(" :", 1)[1].startswith("- xxx")
        assert welcome[2:] == [f":testchat 372 {nick} :- short", f":testchat 376 {nick} :End of /MOTD command."]
        client.send("MOTD")
        if nick == "n" * 32:  # cut where the longest nick needs it
            assert client.received() == welcome


def test_lusersCountsNowAndAtMost() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    server.connect("bob").disconnect()
    alice.send("LUSERS")
    assert alice.received()[-2:] == [
        ":testchat 265 alice 1 2 :Current local users 1, max 2",
        ":testchat 266 alice 1 2 :Current global users 1, max 2",
    ]


def test_activityPostponesThePing() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    factory = server.ircFactory
    server.clock.advance(factory.pingInterval - 1)
    alice.send("LUSERS")
    alice.received()
    server.clock.advance(1)
    assert alice.received() == []
    server.clock.advance(factory.pingInterval)
    assert alice.received() == [":testchat PING :testchat"]


def test_errorAndNoticeFromTheServer() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    server.hub.broadcastNotice("Maintenance at noon")
    assert alice.received() == [":testchat NOTICE * :Maintenance at noon"]
    alice.protocol.deliver(events.Error("Nope"))
    assert alice.received() == [":testchat NOTICE alice :Nope"]


def test_shutdown() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    server.gate.shutdown(1)
    assert alice.received() == [":testchat NOTICE alice :Server shutting down"]
    assert alice.transport.disconnecting


def test_disconnectFreesTheNick() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.disconnect()
    assert server.gate.connections == set()
    server.connectIRC("alice")


def test_isonUserhostTagmsg() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    server.connectMany("Bob")
    alice.send("AWAY :out")
    alice.received()
    alice.send("ISON bob carol :alice")
    alice.send("USERHOST bob alice nobody")
    alice.send("@+typing=active TAGMSG #lobby")
    assert alice.received() == [
        ":testchat 303 alice :Bob alice",
        ":testchat 302 alice :Bob=+Bob@chat alice=-alice@chat",
    ]


class SlowRelay(Alone):
    """
    A relay with no other servers whose nick claims wait for the test to answer them, as a
    cluster's do.
    """

    def __init__(self) -> None:
        self.claims: list[defer.Deferred[bool]] = []

    def claim(self, nick: str) -> defer.Deferred[bool]:
        self.claims.append(defer.Deferred())
        return self.claims[-1]


def test_linesWaitForTheClusterToGrantTheNick() -> None:
    server = MixedServer()
    relay = server.hub.relay = SlowRelay()
    client = server.connectIRC()
    client.send("NICK alice")
    client.send("USER alice 0 * :Alice")
    client.send("JOIN #lobby")
    assert client.received() == []
    relay.claims[0].callback(False)
    assert client.received() == [
        ":testchat 433 * alice :Nickname is already in use",
        ":testchat 451 * :You have not registered",  # the JOIN, held until then
    ]
    client.send("NICK alicia")
    relay.claims[1].callback(True)
    lines = client.received()
    assert lines[0].startswith(":testchat 001 alicia ")
    assert server.hub.roomsOf(client.protocol) == []


def test_repliesFitInALine() -> None:
    server = MixedServer()
    alice, bob = ircAliceLineBob(server)
    bob.send("/topic " + "\U0001f600" * 300)  # 1200 bytes: a line user may send 2048
    (changed,) = alice.received()
    assert changed.startswith(":bob!bob@chat TOPIC #lobby :\U0001f600")
    assert len(changed.encode("utf-8")) <= 510
    alice.send("TOPIC #lobby")
    (line,) = alice.received()
    assert line.startswith(":testchat 332 alice #lobby :\U0001f600")
    assert len(line.encode("utf-8")) <= 510


def test_historyInAChathistoryBatch() -> None:
    server = MixedServer()
    bob = server.connect("bob")
    server.clock.advance(1.5)
    bob.send("one")
    bob.send("/me two")
    alice = server.connectIRC("alice", caps="batch server-time")
    carol = server.connectIRC("carol", caps="batch")
    alice.send("JOIN #lobby")
    assert alice.received()[3:] == [
        ":testchat BATCH +1 chathistory :#lobby",
        "@batch=1;time=1970-01-01T00:00:01.500Z :bob!bob@chat PRIVMSG #lobby :one",
        "@batch=1;time=1970-01-01T00:00:01.500Z :bob!bob@chat PRIVMSG #lobby :\x01ACTION two\x01",
        ":testchat BATCH :-1",
    ]
    carol.send("JOIN #lobby")
    assert carol.received()[3:] == [
        ":testchat BATCH +1 chathistory :#lobby",
        "@batch=1 :bob!bob@chat PRIVMSG #lobby :one",
        "@batch=1 :bob!bob@chat PRIVMSG #lobby :\x01ACTION two\x01",
        ":testchat BATCH :-1",
    ]


def test_awayNotify() -> None:
    """
    With C{away-notify}, an IRC client hears when someone sharing a room with it goes away or
    comes back, and that someone who joins its room is away; clients without it, line users
    and the user itself hear nothing.
    """
    server = MixedServer()
    alice = server.connectIRC("alice", caps="away-notify")
    carol = server.connectIRC("carol", caps="away-notify server-time")
    dave = server.connectIRC("dave")
    outsider = server.connectIRC("eve", caps="away-notify")
    (bob,) = server.connectMany("bob")
    for client in (alice, carol, dave):
        client.send("JOIN #lobby")
    for client in (alice, carol, dave, outsider, bob):
        client.received()
    dave.send("AWAY :gone fishing")
    assert dave.received() == [":testchat 306 dave :You have been marked as being away"]
    assert alice.received() == [":dave!dave@chat AWAY :gone fishing"]
    assert carol.received() == ["@time=1970-01-01T00:00:00.000Z :dave!dave@chat AWAY :gone fishing"]
    dave.send("AWAY :gone fishing")  # no change: nothing to tell
    dave.received()
    assert alice.received() == []
    dave.send("AWAY")
    dave.received()
    assert alice.received() == [":dave!dave@chat AWAY"]
    assert outsider.received() == [] and bob.received() == []

    outsider.send("AWAY :busy")
    outsider.received()
    assert alice.received() == []
    outsider.send("JOIN #lobby")
    assert alice.received() == [":eve!eve@chat JOIN :#lobby", ":eve!eve@chat AWAY :busy"]
    assert dave.received() == [":eve!eve@chat JOIN :#lobby"]
    assert bob.received() == ["*** eve has joined #lobby"]


def test_standardReplies() -> None:
    """
    A client that negotiated C{standard-replies} hears of text no front end can carry as
    C{FAIL}; one that did not, as a C{NOTICE}.  Invalid UTF-8 is a C{FAIL} to both, as
    C{UTF8ONLY} promises.
    """
    server = MixedServer()
    alice = server.connectIRC("alice", caps="standard-replies")
    plain = server.connectIRC("bob")
    alice.send("JOIN #lobby")
    alice.received()
    for client in (alice, plain):
        client.send(b"PRIVMSG #lobby :\xff\xfe")
        client.send(b":alice PRIVMSG #lobby :a\x00b")
        client.send(b"\xff")
        client.protocol.refuse(InvalidText("Text cannot contain U+0000"), "#lobby", "PRIVMSG")
    assert alice.received() == [
        ":testchat FAIL PRIVMSG INVALID_UTF8 :That line was not valid UTF-8 and was discarded",
        ":testchat FAIL PRIVMSG INVALID_TEXT :That line was not an IRC message and was discarded:"
        " A message cannot contain CR, LF or NUL",
        ":testchat FAIL * INVALID_UTF8 :That line was not valid UTF-8 and was discarded",
        ":testchat FAIL PRIVMSG INVALID_TEXT #lobby :Text cannot contain U+0000",
    ]
    assert plain.received() == [
        ":testchat FAIL PRIVMSG INVALID_UTF8 :That line was not valid UTF-8 and was discarded",
        ":testchat NOTICE bob :That line was not an IRC message and was discarded:"
        " A message cannot contain CR, LF or NUL",
        ":testchat FAIL * INVALID_UTF8 :That line was not valid UTF-8 and was discarded",
        ":testchat NOTICE bob :Text cannot contain U+0000",
    ]


@settings(deadline=None, max_examples=200)
@given(
    st.sampled_from(["#lobby", "#nowhere", "#lobby,#dev", "#", "#dev", "#lo bby"]),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b" :", b" ", b"  :"]),
)
def test_quickPrivmsgIsThePrivmsg(target: str, text: bytes, separator: bytes) -> None:
    """
    C{PRIVMSG #room :text} takes a shortcut past the parser; whatever the target and text,
    its effect is that of the general path, which a lower-case C{privmsg} takes.
    """
    heard = []
    for command in (b"PRIVMSG", b"privmsg"):
        server = MixedServer()
        alice = server.connectIRC("alice", caps="echo-message")
        (bob,) = server.connectMany("bob")
        alice.send("JOIN #lobby")
        alice.received()
        bob.received()
        alice.send(command + b" " + target.encode() + separator + text)
        heard.append((alice.received(), bob.received()))
    assert heard[0] == heard[1]

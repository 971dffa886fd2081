"""
The IRC front end where the RFC 1459 and 2812 (and the Modern IRC Client Protocol) ask for
something exact, as an IRC server conformance suite (irctest) checks it: each test here is a
case that suite found this server getting wrong, in memory, with the numerics checked exactly.
"""

from __future__ import annotations

from helpers import MixedServer
from test_irc import SlowRelay


def test_userWithAnEmptyParameterIsRefused() -> None:
    """
    An empty user name or real name is not enough parameters (Modern: C{USER} with an empty
    parameter gets C{461}); the client is not registered with it.
    """
    server = MixedServer()
    client = server.connectIRC()
    client.send("NICK foo")
    client.send("USER username * * :")
    client.send("USER  * * :Real")
    assert client.received() == [
        ":testchat 461 foo USER :Not enough parameters",
        ":testchat 461 foo USER :Not enough parameters",
    ]
    client.send("USER username * * :Real")
    assert " 001 foo " in client.received()[0]


def test_partReason() -> None:
    """
    RFC 2812 3.2.2: a part message is sent to the channel with the PART, to its other members
    and to the leaver.
    """
    server = MixedServer()
    bar = server.connectIRC("bar")
    baz = server.connectIRC("baz")
    bar.send("JOIN #chan")
    baz.send("JOIN #chan")
    bar.received()
    baz.received()
    bar.send("PART #chan :bye everyone")
    assert bar.received() == [":bar!bar@chat PART #chan :bye everyone"]
    assert baz.received() == [":bar!bar@chat PART #chan :bye everyone"]
    baz.send("PART #chan")
    assert baz.received() == [":baz!baz@chat PART :#chan"]


def test_whoisUserNameAndRealName() -> None:
    """
    RFC 2812 3.6.2: C{311 RPL_WHOISUSER} carries the user name and real name the client
    registered with (C{USER}), with or without a server before the nick; a line user, who
    gave none, has its nick for both.
    """
    server = MixedServer()
    server.connectIRC("coolNick", user="myusernam", realName="My User Name")
    other = server.connectIRC("otherNick")
    (bob,) = server.connectMany("bob")
    other.send("WHOIS coolNick")
    other.send("WHOIS testchat coolnick")
    other.send("WHOIS bob")
    assert other.received() == [
        ":testchat 311 otherNick coolNick myusernam chat * :My User Name",
        ":testchat 312 otherNick coolNick testchat :testchat chat server",
        ":testchat 318 otherNick coolNick :End of /WHOIS list",
        ":testchat 311 otherNick coolNick myusernam chat * :My User Name",
        ":testchat 312 otherNick coolNick testchat :testchat chat server",
        ":testchat 318 otherNick coolNick :End of /WHOIS list",
        ":testchat 311 otherNick bob bob chat * :bob",
        ":testchat 319 otherNick bob :#lobby",
        ":testchat 312 otherNick bob testchat :testchat chat server",
        ":testchat 318 otherNick bob :End of /WHOIS list",
    ]


def test_whoUserNameRealNameAndMasks() -> None:
    """
    Modern C{WHO}: C{352 RPL_WHOREPLY} carries the user name and real name; a mask with C{*}
    or C{?} matches nicks in any case (C{WHO *}: everyone); the C{315} repeats the mask as
    it was sent; a nick nobody has gets the C{315} alone.
    """
    server = MixedServer()
    cool = server.connectIRC("coolNick", user="myusernam", realName="My UniqueReal Name")
    other = server.connectIRC("otherNick")
    cool.send("JOIN #chan")
    other.send("JOIN #chan")
    other.received()
    other.send("WHO *")
    other.send("WHO COOLNI*")
    other.send("WHO c?olnick")
    other.send("WHO #CHAN")
    other.send("WHO idontexist")
    assert other.received() == [
        ":testchat 352 otherNick * myusernam chat testchat coolNick H :0 My UniqueReal Name",
        ":testchat 352 otherNick * otherNick chat testchat otherNick H :0 otherNick",
        ":testchat 315 otherNick * :End of /WHO list",
        ":testchat 352 otherNick * myusernam chat testchat coolNick H :0 My UniqueReal Name",
        ":testchat 315 otherNick COOLNI* :End of /WHO list",
        ":testchat 352 otherNick * myusernam chat testchat coolNick H :0 My UniqueReal Name",
        ":testchat 315 otherNick c?olnick :End of /WHO list",
        ":testchat 352 otherNick #chan myusernam chat testchat coolNick H@ :0 My UniqueReal Name",
        ":testchat 352 otherNick #chan otherNick chat testchat otherNick H :0 otherNick",
        ":testchat 315 otherNick #CHAN :End of /WHO list",
        ":testchat 315 otherNick idontexist :End of /WHO list",
    ]


def test_whowas() -> None:
    """
    RFC 2812 3.6.3: C{WHOWAS} answers for nicks that left, the most recent first, up to
    C{count} of them if it is positive; each as C{314} and C{312}; then C{369}.  A nick
    nobody had gets C{406} before the C{369}.
    """
    server = MixedServer()
    nick1 = server.connectIRC("nick1")
    for ident in ("ident2", "ident3"):
        leaving = server.connectIRC("nick2", user=ident, realName="Realname")
        leaving.send("QUIT :bye")
        leaving.disconnect()  # remembered once, at the QUIT
    nick1.send("WHOWAS nick2")
    nick1.send("WHOWAS NICK2 1")
    nick1.send("WHOWAS nick2 -1")
    nick1.send("WHOWAS nick3")
    assert nick1.received() == [
        ":testchat 314 nick1 nick2 ident3 chat * :Realname",
        ":testchat 312 nick1 nick2 testchat :testchat chat server",
        ":testchat 314 nick1 nick2 ident2 chat * :Realname",
        ":testchat 312 nick1 nick2 testchat :testchat chat server",
        ":testchat 369 nick1 nick2 :End of WHOWAS",
        ":testchat 314 nick1 nick2 ident3 chat * :Realname",
        ":testchat 312 nick1 nick2 testchat :testchat chat server",
        ":testchat 369 nick1 NICK2 :End of WHOWAS",
        ":testchat 314 nick1 nick2 ident3 chat * :Realname",
        ":testchat 312 nick1 nick2 testchat :testchat chat server",
        ":testchat 314 nick1 nick2 ident2 chat * :Realname",
        ":testchat 312 nick1 nick2 testchat :testchat chat server",
        ":testchat 369 nick1 nick2 :End of WHOWAS",
        ":testchat 406 nick1 nick3 :There was no such nickname",
        ":testchat 369 nick1 nick3 :End of WHOWAS",
    ]


def test_whowasIsBounded() -> None:
    """
    The server remembers the last L{IRCFactory.whowasLength} who left, no more.
    """
    server = MixedServer()
    server.ircFactory.whowasLength = 2
    watcher = server.connectIRC("watcher")
    for nick in ("one", "two", "three"):
        server.connectIRC(nick).disconnect()
    watcher.send("WHOWAS one")
    watcher.send("WHOWAS three")
    assert watcher.received() == [
        ":testchat 406 watcher one :There was no such nickname",
        ":testchat 369 watcher one :End of WHOWAS",
        ":testchat 314 watcher three three chat * :three",
        ":testchat 312 watcher three testchat :testchat chat server",
        ":testchat 369 watcher three :End of WHOWAS",
    ]


def test_time() -> None:
    """
    RFC 2812 3.4.6: C{TIME} gets C{391 RPL_TIME} with the server's name and its time.
    """
    server = MixedServer()
    server.clock.advance(90061.5)
    user = server.connectIRC("user")
    user.send("TIME")
    assert user.received() == [":testchat 391 user testchat :1970-01-02T01:01:01.500Z"]


def test_noticeStaysANotice() -> None:
    """
    RFC 2812 3.3.2: a C{NOTICE} to a channel or a nick reaches IRC users as a C{NOTICE}
    (echoed as one under C{echo-message}, with its time under C{server-time}), a CTCP in it
    untouched; line users read it as a line, as before.
    """
    server = MixedServer()
    foo = server.connectIRC("foo", caps="echo-message server-time")
    bar = server.connectIRC("bar")
    (bob,) = server.connectMany("bob")
    foo.send("JOIN #lobby")
    bar.send("JOIN #lobby")
    foo.received()
    bar.received()
    bob.received()
    foo.send("NOTICE #lobby :hello everyone")
    foo.send("NOTICE bar :\x01VERSION chat\x01")
    foo.send("NOTICE bob :psst")
    foo.send("PRIVMSG #lobby :still a privmsg")
    assert foo.received() == [
        "@time=1970-01-01T00:00:00.000Z :foo!foo@chat NOTICE #lobby :hello everyone",
        "@time=1970-01-01T00:00:00.000Z :foo!foo@chat NOTICE bar :\x01VERSION chat\x01",
        "@time=1970-01-01T00:00:00.000Z :foo!foo@chat NOTICE bob :psst",
        "@time=1970-01-01T00:00:00.000Z :foo!foo@chat PRIVMSG #lobby :still a privmsg",
    ]
    assert bar.received() == [
        ":foo!foo@chat NOTICE #lobby :hello everyone",
        ":foo!foo@chat NOTICE bar :\x01VERSION chat\x01",
        ":foo!foo@chat PRIVMSG #lobby :still a privmsg",
    ]
    assert bob.received() == ["<foo> hello everyone", "*foo* psst", "<foo> still a privmsg"]


def test_clientTagDataIsAtMost4094Bytes() -> None:
    """
    IRCv3 message-tags: a client sends at most 4094 bytes of tag data (4096 with the C{@} and
    the space; the 8191 of the spec count the server's tags too); more gets C{417}, and the
    line goes nowhere.
    """
    server = MixedServer()
    bar = server.connectIRC("bar", caps="message-tags")
    recver = server.connectIRC("recver", caps="message-tags")
    bar.send("JOIN #xyz")
    recver.send("JOIN #xyz")
    bar.received()
    recver.received()
    bar.send("@+clientOnlyTagExample=" + "a" * 4096 + " PRIVMSG #xyz hi!")
    bar.send("@foo=bar;+baz=" + "a" * 4082 + " PRIVMSG #xyz :too many")
    bar.send("@foo=bar;+baz=" + "a" * 4081 + " PRIVMSG #xyz :at the limit")
    assert bar.received() == [
        ":testchat 417 bar :Input line was too long",
        ":testchat 417 bar :Input line was too long",
    ]
    assert recver.received() == [":bar!bar@chat PRIVMSG #xyz :at the limit"]


def test_whoMaskSkipsNicksNotYetGranted() -> None:
    """
    A client whose nick the cluster has not granted yet is nobody yet: C{WHO *} does not
    list it.
    """
    server = MixedServer()
    watcher = server.connectIRC("watcher")
    server.hub.relay = SlowRelay()
    waiting = server.connectIRC()
    waiting.send("NICK alice")
    waiting.send("USER alice 0 * :Alice")
    watcher.send("WHO *")
    assert watcher.received() == [
        ":testchat 352 watcher * watcher chat testchat watcher H :0 watcher",
        ":testchat 315 watcher * :End of /WHO list",
    ]

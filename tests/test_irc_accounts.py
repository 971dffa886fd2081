"""
Accounts on IRC, in memory: C{PASS} and SASL C{PLAIN} as a client registers, NickServ, the
C{account-tag} and C{account-notify} capabilities and C{WHOIS}'s C{330}; with the numerics
checked exactly.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable

from twisted.internet import defer

from chat.accounts import MAX_FAILURES
from chat.store import MemoryStore
from helpers import FakeClient, MixedServer
from test_accounts import registered

WELCOME_ALICE = ":testchat 001 alice :Welcome to the testchat IRC network, alice!alice@chat"


def serverWithAlice() -> MixedServer:
    """
    A server that keeps accounts, where alice registered (password C{secret123}) and left.
    """
    server = MixedServer(store=MemoryStore())
    registered(server).send("/quit")
    return server


def identifiedAliceAndWatchers(server: MixedServer, room: str, *capsOfEach: str):
    """
    alice, a line client identified as herself, and IRC clients in C{room} (carol, tim and
    dave, with the caps given for each in turn), with what they were told so far forgotten.
    """
    watchers = [
        server.connectIRC(nick, caps=caps) for nick, caps in zip(("carol", "tim", "dave"), capsOfEach)
    ]
    alice = server.connect()
    alice.send("/identify alice secret123")
    for client in watchers:
        client.send(f"JOIN {room}")
    for client in (*watchers, alice):
        client.received()
    return alice, *watchers


def plain(authzid: str, authcid: str, password: str) -> str:
    return b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode("ascii")


def negotiating(server: MixedServer, nick: str = "alice", caps: str = "sasl") -> FakeClient:
    """
    An IRC client that asked for C{caps} and gave its nick and user, but has not ended its
    capability negotiation.
    """
    client = server.connectIRC()
    client.send("CAP LS 302")
    client.send(f"CAP REQ :{caps}")
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.received()
    return client


def test_capabilitiesOfAServerWithAccounts() -> None:
    server = serverWithAlice()
    client = server.connectIRC()
    client.send("CAP LS 302")
    client.send("CAP LS")
    assert client.received() == [
        ":testchat CAP * LS :account-notify account-tag away-notify batch echo-message"
        " extended-join message-tags multi-prefix sasl=PLAIN server-time standard-replies",
        ":testchat CAP * LS :account-notify account-tag away-notify batch echo-message"
        " extended-join message-tags multi-prefix sasl server-time standard-replies",
    ]


def test_saslPlain() -> None:
    server = serverWithAlice()
    client = negotiating(server)
    client.send("AUTHENTICATE PLAIN")
    assert client.received() == [":testchat AUTHENTICATE :+"]
    client.send("AUTHENTICATE " + plain("", "alice", "secret123"))
    assert client.received() == [
        ":testchat 900 alice alice!alice@chat alice :You are now logged in as alice",
        ":testchat 903 alice :SASL authentication successful",
    ]
    client.send("CAP END")
    assert client.received()[0] == WELCOME_ALICE
    assert client.protocol.account == "alice"
    client.send("AUTHENTICATE PLAIN")
    assert client.received() == [":testchat 907 alice :You have already authenticated using SASL"]


def test_saslWrongPassword() -> None:
    """
    A wrong password fails (904); the client is then refused the registered nick as any
    unidentified client is (433), and may register with another.
    """
    server = serverWithAlice()
    client = negotiating(server)
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + plain("alice", "alice", "wrong-password"))
    assert client.received() == [
        ":testchat AUTHENTICATE :+",
        ":testchat 904 alice :SASL authentication failed",
    ]
    client.send("CAP END")
    assert client.received() == [":testchat 433 * alice :Nickname is already in use"]
    client.send("NICK alice2")
    assert client.received()[0].startswith(":testchat 001 alice2 ")
    assert client.protocol.account is None


def test_saslRefusals() -> None:
    """
    An unknown mechanism (908, 904), an abort (906), a chunk over 400 bytes (905), an
    authorization identity that is not the account (904), an undecodable payload (904), and
    SASL without the capability (904).
    """
    server = serverWithAlice()
    client = negotiating(server)
    client.send("AUTHENTICATE EXTERNAL")
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE *")
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + "A" * 401)
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + plain("bob", "alice", "secret123"))
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE !!!!")
    assert client.received() == [
        ":testchat 908 alice PLAIN :are available SASL mechanisms",
        ":testchat 904 alice :SASL authentication failed",
        ":testchat AUTHENTICATE :+",
        ":testchat 906 alice :SASL authentication aborted",
        ":testchat AUTHENTICATE :+",
        ":testchat 905 alice :SASL message too long",
        ":testchat AUTHENTICATE :+",
        ":testchat 904 alice :SASL authentication failed",
        ":testchat AUTHENTICATE :+",
        ":testchat 904 alice :SASL authentication failed",
    ]
    other = negotiating(server, "carol", caps="server-time")
    other.send("AUTHENTICATE PLAIN")
    assert other.received() == [
        ":testchat 904 carol :SASL authentication failed: enable the sasl capability first"
    ]


def test_saslInChunks() -> None:
    """
    A chunk of exactly 400 bytes says more follows; C{+} ends a payload whose last chunk was
    full; the whole is bounded.
    """
    server = serverWithAlice()
    client = negotiating(server)
    payload = plain("", "alice", "x" * 293)
    assert len(payload) == 400
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + payload)
    assert client.received() == [":testchat AUTHENTICATE :+"]
    client.send("AUTHENTICATE +")
    assert client.received() == [":testchat 904 alice :SASL authentication failed"]
    client.send("AUTHENTICATE PLAIN")
    for _ in range(3):
        client.send("AUTHENTICATE " + "A" * 400)
    client.send("AUTHENTICATE AAAA")
    assert client.received() == [
        ":testchat AUTHENTICATE :+",
        ":testchat 905 alice :SASL message too long",
    ]


def test_capEndAbortsSasl() -> None:
    server = serverWithAlice()
    client = negotiating(server, "bob")
    client.send("AUTHENTICATE PLAIN")
    client.send("CAP END")
    lines = client.received()
    assert lines[:2] == [":testchat AUTHENTICATE :+", ":testchat 906 bob :SASL authentication aborted"]
    assert lines[2].startswith(":testchat 001 bob ")


def test_saslWrongPasswordsLockAsIdentifyDoes() -> None:
    """
    SASL counts wrong passwords as C{/identify} does: the tenth in a minute locks the account
    for that address, the right password included, but not for another address.
    """
    server = serverWithAlice()
    client = negotiating(server)
    for _ in range(MAX_FAILURES):
        client.send("AUTHENTICATE PLAIN")
        client.send("AUTHENTICATE " + plain("", "alice", "wrong-password"))
    assert client.received().count(":testchat 904 alice :SASL authentication failed") == MAX_FAILURES
    client.send("AUTHENTICATE PLAIN")
    client.send("AUTHENTICATE " + plain("", "alice", "secret123"))
    assert client.received() == [
        ":testchat AUTHENTICATE :+",
        ":testchat NOTICE alice :Too many wrong passwords for alice from your address; try again in"
        " 15 minutes",
        ":testchat 904 alice :SASL authentication failed",
    ]
    elsewhere = server.connectIRC(host="127.0.0.2")
    elsewhere.send("PASS secret123")
    elsewhere.send("NICK alice")
    elsewhere.send("USER alice 0 * :alice")
    assert elsewhere.received()[1] == WELCOME_ALICE


def test_passAtRegistration() -> None:
    server = serverWithAlice()
    client = server.connectIRC()
    client.send("PASS secret123")
    client.send("NICK alice")
    client.send("USER alice 0 * :Alice")
    lines = client.received()
    assert lines[:2] == [
        ":testchat 900 alice alice!alice@chat alice :You are now logged in as alice",
        WELCOME_ALICE,
    ]
    assert client.protocol.account == "alice"
    client.send("PASS again")
    assert client.received() == [":testchat 462 alice :You may not reregister"]


def test_wrongPassAtRegistration() -> None:
    """
    A wrong PASS for a registered nick: 464, then the nick is refused as to anyone
    unidentified (433).  The password of a nick nobody registered is ignored.
    """
    server = serverWithAlice()
    client = server.connectIRC()
    client.send("PASS wrong-password")
    client.send("NICK alice")
    client.send("USER alice 0 * :Alice")
    assert client.received() == [
        ":testchat 464 alice :Password incorrect",
        ":testchat 433 * alice :Nickname is already in use",
    ]
    client.send("NICK bob")
    assert client.received()[0].startswith(":testchat 001 bob ")
    other = server.connectIRC()
    other.send("PASS whatever")
    other.send("NICK carol")
    other.send("USER carol 0 * :Carol")
    assert other.received()[0].startswith(":testchat 001 carol ")


def test_registrationWaitsForThePassword() -> None:
    """
    The password is checked off the reactor thread: the client's lines after the one that
    completes registration wait for the answer.
    """
    server = serverWithAlice()
    checks: list[tuple[defer.Deferred, Callable[[], object]]] = []

    def later(f: Callable[..., object], *args: object) -> defer.Deferred:
        checks.append((defer.Deferred(), lambda: f(*args)))
        return checks[-1][0]

    server.hub.accounts._runInThread = later
    client = server.connectIRC()
    client.send("PASS secret123")
    client.send("NICK alice")
    client.send("USER alice 0 * :Alice")
    client.send("JOIN #lobby")
    assert client.received() == []
    ((checked, check),) = checks
    checked.callback(check())
    lines = client.received()
    assert lines[:2] == [
        ":testchat 900 alice alice!alice@chat alice :You are now logged in as alice",
        WELCOME_ALICE,
    ]
    assert ":alice!alice@chat JOIN :#lobby" in lines


def test_nickServ() -> None:
    """
    C{PRIVMSG NickServ :IDENTIFY ...} and C{REGISTER ...} are the line protocol's
    C{/identify} and C{/register}; answered by NickServ, never echoed.
    """
    server = serverWithAlice()
    client = server.connectIRC("guest", caps="echo-message")
    client.send("PRIVMSG NickServ :IDENTIFY alice wrong-password")
    client.send("PRIVMSG NickServ :IDENTIFY alice secret123")
    assert client.received() == [
        ":NickServ!NickServ@services NOTICE guest :Wrong password for alice",
        ":NickServ!NickServ@services NOTICE guest :You are now identified as alice",
        ":testchat 900 guest guest!guest@chat alice :You are now logged in as alice",
        ":guest!guest@chat NICK :alice",
    ]
    other = server.connectIRC("bob")
    other.send("PRIVMSG nickserv :REGISTER hunter22")
    other.send("PRIVMSG NickServ :HELP")
    assert other.received() == [
        ":NickServ!NickServ@services NOTICE bob :bob is registered; identify with IDENTIFY bob"
        " PASSWORD next time",
        ":testchat 900 bob bob!bob@chat bob :You are now logged in as bob",
        ":NickServ!NickServ@services NOTICE bob :Commands: IDENTIFY [NICK] PASSWORD, REGISTER PASSWORD",
    ]
    assert server.hub.accounts.mayTake(other.protocol, "bob")


def test_accountTag() -> None:
    """
    Clients with C{account-tag} see the account of an identified user on what it does; those
    without, and lines of users not identified, are as before.
    """
    server = serverWithAlice()
    alice, carol, timed, dave = identifiedAliceAndWatchers(
        server, "#lobby", "account-tag", "account-tag server-time", ""
    )
    alice.send("hello")
    dave.send("PRIVMSG #lobby :hi")
    alice.send("/msg carol psst")
    assert carol.received() == [
        "@account=alice :alice!alice@chat PRIVMSG #lobby :hello",
        ":dave!dave@chat PRIVMSG #lobby :hi",
        "@account=alice :alice!alice@chat PRIVMSG carol :psst",
    ]
    assert timed.received() == [
        "@account=alice;time=1970-01-01T00:00:00.000Z :alice!alice@chat PRIVMSG #lobby :hello",
        "@time=1970-01-01T00:00:00.000Z :dave!dave@chat PRIVMSG #lobby :hi",
    ]
    assert dave.received() == [":alice!alice@chat PRIVMSG #lobby :hello"]
    carol.send("CAP REQ :-account-tag")
    assert carol.received() == [":testchat CAP carol NAK :-account-tag"]


def test_accountNotifyAndWhois() -> None:
    """
    With C{account-notify}, an IRC client hears when someone in its rooms (itself included)
    identifies or stops being identified; C{WHOIS} shows the account (330).
    """
    server = serverWithAlice()
    carol = server.connectIRC("carol", caps="account-notify")
    dave = server.connectIRC("dave")
    for client in (carol, dave):
        client.send("JOIN #lobby")
    alice = server.connect()
    for client in (carol, dave, alice):
        client.received()
    alice.send("/identify alice secret123")
    assert carol.received() == [":guest2!guest2@chat ACCOUNT :alice", ":guest2!guest2@chat NICK :alice"]
    carol.send("WHOIS alice")
    assert carol.received() == [
        ":testchat 311 carol alice alice chat * :alice",
        ":testchat 319 carol alice :#lobby",
        ":testchat 312 carol alice testchat :testchat chat server",
        ":testchat 330 carol alice alice :is logged in as",
        ":testchat 318 carol alice :End of /WHOIS list",
    ]
    assert dave.received() == [":guest2!guest2@chat NICK :alice"]
    alice.send("/unregister secret123")
    assert carol.received() == [":alice!alice@chat ACCOUNT :*"]
    assert dave.received() == []
    carol.send("PRIVMSG NickServ :REGISTER carolpass")
    assert carol.received()[0] == ":carol!carol@chat ACCOUNT :carol"


def test_accountTagOnEveryPieceOfALongLine() -> None:
    """
    A line too long for one IRC line is cut into several, each tagged.
    """
    server = serverWithAlice()
    carol = server.connectIRC("carol", caps="account-tag")
    carol.send("JOIN #lobby")
    alice = server.connect()
    alice.send("/identify alice secret123")
    carol.received()
    alice.send("word " * 200)
    lines = carol.received()
    assert len(lines) == 3
    assert all(line.startswith("@account=alice :alice!alice@chat PRIVMSG #lobby :word") for line in lines)


def test_extendedJoin() -> None:
    """
    With C{extended-join}, a C{JOIN} says the joiner's account (or C{*}) and real name.
    """
    server = serverWithAlice()
    alice, carol, tim, dave = identifiedAliceAndWatchers(
        server, "#dev", "extended-join", "extended-join account-tag server-time", ""
    )
    alice.send("/join #dev")
    bob = server.connectIRC("bob")
    bob.send("JOIN #dev")
    assert carol.received() == [
        ":alice!alice@chat JOIN #dev alice :alice",
        ":bob!bob@chat JOIN #dev * :bob",
    ]
    assert tim.received() == [
        "@account=alice;time=1970-01-01T00:00:00.000Z :alice!alice@chat JOIN #dev alice :alice",
        "@time=1970-01-01T00:00:00.000Z :bob!bob@chat JOIN #dev * :bob",
    ]
    assert dave.received() == [":alice!alice@chat JOIN :#dev", ":bob!bob@chat JOIN :#dev"]

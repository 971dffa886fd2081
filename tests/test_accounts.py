"""
Accounts through the line protocol, in memory on a fake clock: registering, identifying, a
registered nick refused to others, and wrong passwords locking an account for one address.
"""

from __future__ import annotations

import pytest_twisted
from helpers import CHEAP_HASHER, FakeServer, MixedServer
from twisted.internet import defer, reactor

from chat.accounts import FAILURE_WINDOW, LOCKOUT, MAX_FAILURES, Accounts
from chat.errors import NickRegistered, NickTaken
from chat.hub import Hub
from chat.store import MemoryStore


def registered(server: FakeServer, nick: str = "alice", password: str = "secret123"):
    """
    A client of C{server} that took C{nick} and registered it with C{password}.
    """
    client = server.connect(nick)
    client.send(f"/register {password}")
    assert client.received() == [
        f"*** {nick} is registered; /identify {nick} PASSWORD to take it next time"
    ]
    return client


def test_registeredNickRefusedToOthers() -> None:
    server = FakeServer(store=MemoryStore())
    alice = registered(server)
    alice.send("/quit")
    bob = server.connect("bob")
    bob.send("/nick alice")
    assert bob.received() == [
        "!!! The nick alice is registered; if it is yours, /identify alice PASSWORD"
    ]
    bob.send("/nick ALICE")
    assert "registered" in bob.received()[0]
    assert server.hub.find("bob") is bob.protocol


def test_registeredNickIsNickTaken() -> None:
    """
    A front end that knows no accounts (IRC) refuses a registered nick as a taken one.
    """
    assert issubclass(NickRegistered, NickTaken)


def test_registeredNickRefusedOnIRC() -> None:
    """
    IRC has no way to identify yet: a registered nick is refused there as a taken one (433),
    on registering and on changing nick.
    """
    server = MixedServer(store=MemoryStore())
    registered(server).send("/quit")
    irc = server.connectIRC()
    irc.send("NICK alice")
    irc.send("USER alice 0 * :Alice")
    assert irc.received() == [":testchat 433 * alice :Nickname is already in use"]
    irc.send("NICK bob")
    irc.received()
    irc.send("NICK Alice")
    assert irc.received() == [":testchat 433 bob Alice :Nickname is already in use"]


def test_identifyTakesTheNick() -> None:
    server = FakeServer(store=MemoryStore())
    registered(server).send("/quit")
    bob = server.connect("bob")
    bob.send("/identify alice secret123")
    assert bob.received() == ["*** You are identified as alice", "*** bob is now known as alice"]
    assert server.hub.find("alice") is bob.protocol


def test_identifyOwnNick() -> None:
    """
    Without a NICK, C{/identify} is for the nick one has: a guest nick that was registered
    (say by someone who took guest nicks for a joke) is taken back by its owner.
    """
    server = FakeServer(store=MemoryStore())
    alice = registered(server)
    alice.send("/identify secret123")
    assert alice.received() == ["*** You are identified as alice"]


def test_wrongPassword() -> None:
    server = FakeServer(store=MemoryStore())
    registered(server).send("/quit")
    bob = server.connect("bob")
    bob.send("/identify alice guessing")
    assert bob.received() == ["!!! Wrong password for alice"]
    bob.send("/identify nobody guessing")
    assert bob.received() == ["!!! The nick nobody is not registered"]
    assert server.hub.find("bob") is bob.protocol


def test_passwordsAreNotEchoed() -> None:
    """
    Nothing the server sends, to anyone, carries a password typed in a command.
    """
    server = FakeServer(store=MemoryStore())
    watcher = server.connect("watcher")
    alice = registered(server)
    alice.send("/password secret123 newsecret456")
    alice.send("/identify alice newsecret456")
    alice.send("/identify alice wrongwrong")
    alice.send("/unregister newsecret456")
    said = alice.received() + watcher.received()
    assert not [line for line in said if "secret" in line or "wrongwrong" in line], said


def test_aPasswordTypedWithoutItsCommandIsNotSaid() -> None:
    """
    An account command typed wrong would be said in the room: a line that looks like one
    reaches no one (IRC users neither), and no history; the sender is told why.
    """
    server = MixedServer(store=MemoryStore())
    watcher, ircWatcher = server.connect("watcher"), server.connectIRC("ircwatcher")
    ircWatcher.send("JOIN #lobby")
    alice = registered(server)
    for line in ("identify hunter22", " /identify alice hunter22", ".register hunter22"):
        alice.send(line)
        assert alice.received() == [
            "!!! That line looks like a password and was not sent; to log in, type "
            "/identify [NICK] PASSWORD with the slash first"
        ]
    bob = server.connectIRC("bob")
    bob.send("JOIN #lobby")
    bob.received()
    bob.send("PRIVMSG #lobby :identify hunter22")
    assert [line for line in bob.received() if "looks like a password" in line]
    alice.send("I will identify the bug")  # said, as any line
    heard = watcher.received() + ircWatcher.received()
    assert "<alice> I will identify the bug" in heard
    assert not [line for line in heard if "hunter22" in line], heard
    assert [said.text for said in server.hub.room("#lobby").history] == ["I will identify the bug"]


def test_lockoutPerAddress() -> None:
    """
    The tenth wrong password within a minute locks the account for that address for fifteen
    minutes, even to the right password, however many more are tried (50 in all); the owner,
    elsewhere, still gets in.
    """
    server = FakeServer(store=MemoryStore())
    registered(server).send("/quit")
    guesser = server.connect("guesser", host="10.0.0.66")
    for attempt in range(MAX_FAILURES):
        server.clock.advance(FAILURE_WINDOW / MAX_FAILURES / 2)
        guesser.send(f"/identify alice guess{attempt:04d}")
        assert guesser.received() == ["!!! Wrong password for alice"]
    locked = "!!! Too many wrong passwords for alice from your address; try again in {} minutes"
    guesser.send("/identify alice secret123")
    assert guesser.received() == [locked.format(15)]
    for attempt in range(MAX_FAILURES, 50):
        server.clock.advance(1)  # within the flood limit
        guesser.send(f"/identify alice guess{attempt:04d}")
        (answer,) = guesser.received()
        assert answer in (locked.format(15), locked.format(14))
    owner = server.connect("owner", host="10.0.0.1")
    owner.send("/identify alice secret123")
    assert owner.received()[0] == "*** You are identified as alice"
    owner.send("/quit")
    server.clock.advance(LOCKOUT)
    guesser.received()  # the owner's comings and goings
    guesser.send("/identify alice secret123")
    assert guesser.received()[0] == "*** You are identified as alice"


def test_slowGuessesDoNotLock() -> None:
    """
    Wrong passwords spread over more than a minute count within their minute only.
    """
    server = FakeServer(store=MemoryStore())
    registered(server).send("/quit")
    guesser = server.connect("guesser", host="10.0.0.66")
    for attempt in range(MAX_FAILURES * 2):
        server.clock.advance(FAILURE_WINDOW / (MAX_FAILURES - 1) + 0.1)
        guesser.send(f"/identify alice guess{attempt:04d}")
        assert guesser.received() == ["!!! Wrong password for alice"]


def test_changePassword() -> None:
    server = FakeServer(store=MemoryStore())
    alice = registered(server)
    alice.send("/password wrongwrong newsecret456")
    assert alice.received() == ["!!! Wrong password for alice"]
    alice.send("/password secret123 newsecret456")
    assert alice.received() == ["*** Your password is changed"]
    alice.send("/quit")
    bob = server.connect("bob")
    bob.send("/identify alice secret123")
    assert bob.received() == ["!!! Wrong password for alice"]
    bob.send("/identify alice newsecret456")
    assert bob.received()[0] == "*** You are identified as alice"


def test_unregister() -> None:
    server = FakeServer(store=MemoryStore())
    alice = registered(server)
    alice.send("/unregister wrongwrong")
    assert alice.received() == ["!!! Wrong password for alice"]
    alice.send("/unregister secret123")
    assert alice.received() == ["*** alice is no longer registered"]
    alice.send("/quit")
    bob = server.connect("bob")
    bob.send("/nick alice")
    assert bob.received() == ["*** bob is now known as alice"]


def test_registerTwiceOrTooShort() -> None:
    server = FakeServer(store=MemoryStore())
    alice = registered(server)
    alice.send("/register another1")
    assert alice.received() == ["!!! The nick alice is registered already"]
    bob = server.connect("bob")
    bob.send("/register short")
    assert bob.received() == ["!!! A password must have 6 to 256 characters"]
    bob.send("/password secret123 another1")
    assert bob.received() == ["!!! You have not identified; /identify first"]


def test_guestNickSkipsRegistered() -> None:
    server = FakeServer(store=MemoryStore())
    registered(server, "guest2").send("/quit")
    assert server.connect().protocol.nick == "guest3"


def test_identifiedOnlyWhileConnected() -> None:
    server = FakeServer(store=MemoryStore())
    alice = registered(server)
    member = alice.protocol
    alice.disconnect()
    assert server.hub.accounts.identity(member) is None


def test_aPasswordCheckedAfterTheClientLeftIdentifiesNobody() -> None:
    """
    Hashing (C{/register}) and checking (C{/identify}) a password take a while, off the
    reactor thread: a client that leaves meanwhile is not left counted as identified.
    """
    server = FakeServer(store=MemoryStore())
    registered(server).send("/quit")
    held: list[tuple[defer.Deferred, object, tuple]] = []

    def later(f, *args):
        waiting: defer.Deferred = defer.Deferred()
        held.append((waiting, f, args))
        return waiting

    server.hub.accounts._runInThread = later
    identifying, registering = server.connect("bob"), server.connect("carol")
    identifying.send("/identify alice secret123")
    registering.send("/register secret456")
    identifying.disconnect()
    registering.disconnect()
    for waiting, f, args in held:
        waiting.callback(f(*args))
    assert len(held) == 2
    assert server.hub.accounts.identity(identifying.protocol) is None
    assert server.hub.accounts.identity(registering.protocol) is None


def test_noAccountsWithoutAStore() -> None:
    server = FakeServer()
    client = server.connect("alice")
    client.send("/register secret123")
    assert client.received() == ["!!! This server keeps no accounts"]


def test_keptAcrossStores() -> None:
    """
    Accounts live in the store: a hub started on the same store knows them.
    """
    store = MemoryStore()
    registered(FakeServer(store=store))
    bob = FakeServer(store=store).connect("bob")
    bob.send("/nick alice")
    assert "registered" in bob.received()[0]


@pytest_twisted.inlineCallbacks
def test_hashingInAThread() -> None:
    """
    With the real L{twisted.internet.threads.deferToThread}, hashing and checking happen off
    the reactor thread and the results come back to it.
    """

    class Member:
        nick = ""
        echo = True

        def deliver(self, event):
            pass

    store = MemoryStore()
    accounts = Accounts(reactor, store, CHEAP_HASHER)
    hub = Hub(reactor, store=store, accounts=accounts)
    alice, bob = Member(), Member()
    yield hub.connect(alice, "alice")
    yield accounts.register(alice, "alice", "secret123")
    account = yield store.account("ALICE")
    assert account.nick == "alice" and account.passwordHash.startswith("$argon2id$")
    assert "secret123" not in account.passwordHash
    yield hub.connect(bob, "bob")
    assert not accounts.mayTake(bob, "alice")
    nick = yield accounts.identify(bob, "Alice", "secret123", "127.0.0.1")
    assert nick == "alice" and accounts.mayTake(bob, "alice")

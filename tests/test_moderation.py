"""
Moderation through the line protocol, in memory on a fake clock: room owners and operators,
kicks, bans, mutes, topic locks, server operators, ignores, expiry, and rules kept in the store.
"""

from __future__ import annotations

import time

import pytest
from helpers import FakeClient, FakeServer

from chat.errors import InvalidMask
from chat.moderation import Mask, describeDuration, parseDuration
from chat.store import MemoryStore


def account(server: FakeServer, nick: str, password: str = "secret123", host: str = "127.0.0.1") -> FakeClient:
    """
    A client of C{server} that took C{nick}, registered it, and heard nothing since.
    """
    client = server.connect(nick, host=host)
    client.send(f"/register {password}")
    assert "is registered" in client.received()[0]
    return client


def owned(opers: tuple[str, ...] = ()) -> tuple[FakeServer, FakeClient]:
    """
    A server with a store, and alice, who owns #lobby.
    """
    server = FakeServer(store=MemoryStore(), opers=opers)
    alice = account(server, "alice")
    alice.send("/claim")
    assert alice.received() == ["*** alice claimed #lobby: alice owns it"]
    return server, alice


def everyone(*clients: FakeClient) -> None:
    for client in clients:
        client.received()


# Masks and durations


def test_masks() -> None:
    assert str(Mask.parse("Mallory")) == "nick:mallory"
    assert str(Mask.parse("nick:Mallory")) == "nick:mallory"
    assert str(Mask.parse("account:Alice")) == "account:alice"
    assert str(Mask.parse("192.0.2.7")) == "ip:192.0.2.7/32"
    assert str(Mask.parse("192.0.2.9/24")) == "ip:192.0.2.0/24"
    assert str(Mask.parse("ip:2001:db8::/32")) == "ip:2001:db8::/32"
    assert Mask.parse("10.0.0.0/8").matches("x", None, "10.1.2.3")
    assert not Mask.parse("10.0.0.0/8").matches("x", None, "11.1.2.3")
    assert not Mask.parse("10.0.0.0/8").matches("x", None, "unix")
    assert Mask.parse("account:alice").matches("bob", "alice", None)
    assert not Mask.parse("alice").matches("bob", "alice", None)
    for bad in ("1nick", "account:", "10.0.0.300", "ip:nope", "nick:a b"):
        with pytest.raises(InvalidMask):
            Mask.parse(bad)


def test_durations() -> None:
    assert parseDuration("30s") == 30
    assert parseDuration("10m") == 600
    assert parseDuration("2h") == 7200
    assert parseDuration("7d") == 7 * 86400
    assert parseDuration("1w") == 7 * 86400
    assert parseDuration("spam") is None
    assert parseDuration("0m") is None
    assert parseDuration("10") is None
    assert describeDuration(7200) == "2h"
    assert describeDuration(90) == "90s"


# Owners and operators


def test_claimNeedsAnAccount() -> None:
    server = FakeServer(store=MemoryStore())
    guest = server.connect("guest")
    guest.send("/claim")
    assert guest.received() == ["!!! You must /identify to claim a room"]


def test_claimOnlyByTheFirstMember() -> None:
    """
    The member who has been in the room longest may claim it, and only while it has no owner.
    """
    server = FakeServer(store=MemoryStore())
    first = server.connect("first")
    bob = account(server, "bob")
    bob.send("/claim")
    assert bob.received() == ["!!! Only who has been in #lobby longest may claim it"]
    first.disconnect()
    bob.received()
    bob.send("/claim")
    assert bob.received() == ["*** bob claimed #lobby: bob owns it"]
    carol = account(server, "carol")
    carol.send("/claim")
    assert carol.received() == ["!!! #lobby is owned by bob already"]


def test_opNeedsAnIdentifiedTarget() -> None:
    server, alice = owned()
    server.connect("guest")
    alice.received()
    alice.send("/op guest")
    assert alice.received() == ["!!! guest has not identified: only an account can be an operator"]


def test_opAndDeop() -> None:
    server, alice = owned()
    bob = account(server, "bob")
    mallory = server.connect("mallory")
    everyone(alice, bob)
    bob.send("/kick mallory")
    assert bob.received() == ["!!! You are not an operator of #lobby"]
    alice.send("/op bob")
    assert alice.received() == ["*** alice made bob an operator of #lobby"]
    assert bob.received() == ["*** alice made bob an operator of #lobby"]
    bob.send("/kick mallory spamming")
    assert bob.received() == ["*** bob kicked mallory from #lobby (spamming)"]
    alice.send("/deop bob")
    everyone(alice, bob, mallory)
    mallory.send("/join #lobby")
    bob.send("/kick mallory")
    assert bob.received()[-1] == "!!! You are not an operator of #lobby"


def test_nonOpCannotBan() -> None:
    server, alice = owned()
    mallory = server.connect("mallory")
    mallory.send("/ban alice")
    assert mallory.received() == ["!!! You are not an operator of #lobby"]
    mallory.send("/lock topic")
    assert mallory.received() == ["!!! You are not an operator of #lobby"]
    mallory.send("/mute alice")
    assert mallory.received() == ["!!! You are not an operator of #lobby"]


def test_opOfOneRoomCannotKickInAnother() -> None:
    """
    The owner of #a is nobody in #b.
    """
    server = FakeServer(store=MemoryStore())
    alice = account(server, "alice")
    alice.send("/join #a")
    alice.send("/claim")
    assert alice.received()[-1] == "*** alice claimed #a: alice owns it"
    mallory = server.connect("mallory")
    mallory.send("/join #b")
    bob = server.connect("bob")
    bob.send("/join #b")
    alice.send("/join #b")
    everyone(alice, bob, mallory)
    alice.send("/kick mallory")
    assert alice.received() == ["!!! You are not an operator of #b"]
    assert mallory.received() == []


# Kicks and bans


def test_kickedUserCanRejoinUnlessBanned() -> None:
    server, alice = owned()
    mallory = server.connect("mallory")
    bob = server.connect("bob")
    everyone(alice, mallory)
    alice.send("/kick mallory flooding")
    announcement = "*** alice kicked mallory from #lobby (flooding)"
    assert mallory.received() == [announcement, "*** You are in no room; /join one"]
    assert bob.received() == [announcement]
    for line in ("hello?", "/me waves", "/topic", "/history", "/who"):
        mallory.send(line)
        assert mallory.received() == ["!!! You are in no room; /join one"]
    mallory.send("/join #lobby")
    assert mallory.received()[0] == "*** mallory has joined #lobby"
    alice.send("/ban mallory 1h spam")
    assert alice.received()[-1] == "*** alice kicked mallory from #lobby (Banned)"
    mallory.received()
    mallory.send("/join #lobby")
    assert mallory.received() == ["!!! You are banned from #lobby (spam)"]


def test_aLineUserKickedFromARoomGoesBackToTheDefaultRoom() -> None:
    """
    A line client is always in one room: kicked out of one, it is back in #lobby (it was in
    no room, and everything it typed was refused).
    """
    server, alice = owned()
    alice.send("/join #dev")
    bob = server.connect("bob")
    bob.send("/join #dev")
    everyone(alice, bob)
    alice.send("/kick bob enough")
    assert bob.received() == ["*** alice kicked bob from #dev (enough)", "*** bob has joined #lobby"]
    bob.send("hello lobby")
    assert bob.received() == ["<bob> hello lobby"]
    assert alice.received() == ["*** alice kicked bob from #dev (enough)"]


def test_banByAddressKeepsOutAnyNick() -> None:
    server, alice = owned()
    mallory = server.connect("mallory", host="192.0.2.66")
    everyone(alice)
    alice.send("/ban 192.0.2.0/24 evading")
    assert mallory.received()[-2:] == [
        "*** alice kicked mallory from #lobby (Banned)",
        "*** You are in no room; /join one",
    ]
    mallory.send("/nick someoneelse")
    mallory.send("/join #lobby")
    assert mallory.received()[-1] == "!!! You are banned from #lobby (evading)"
    other = server.connect("other", host="198.51.100.1")
    other.send("/join #dev")
    other.send("/join #lobby")
    assert "*** other has joined #lobby" in other.received()


def test_bannedFromTheDefaultRoomOnConnecting() -> None:
    """
    A client banned from the room every client is put in is told so, and may go elsewhere.
    """
    server, alice = owned()
    alice.send("/ban 192.0.2.0/24")
    client = server.connect(host="192.0.2.1")
    assert client.received()[-1] == "!!! You are banned from #lobby; /join another room"
    client.send("/join #elsewhere")
    assert client.received() == ["*** guest2 has joined #elsewhere"]


def test_banByAccount() -> None:
    server, alice = owned()
    bob = account(server, "bob", host="198.51.100.2")
    everyone(alice)
    alice.send("/ban account:bob")
    bob.received()
    bob.send("/join #lobby")
    assert bob.received() == ["!!! You are banned from #lobby"]


def test_unbanAndBansList() -> None:
    server, alice = owned()
    alice.send("/ban mallory 2h spam")
    alice.send("/ban 192.0.2.0/24")
    alice.received()
    alice.send("/bans")
    lines = alice.received()
    assert lines[0] == "*** Bans in #lobby:"
    assert lines[1].startswith("*** nick:mallory by alice until ") and lines[1].endswith("(spam)")
    assert lines[2] == "*** ip:192.0.2.0/24 by alice"
    alice.send("/unban Mallory")
    assert alice.received() == ["*** alice lifted the ban on nick:mallory in #lobby"]
    alice.send("/unban mallory")
    assert alice.received() == ["!!! No ban on nick:mallory in #lobby"]
    mallory = server.connect("mallory")
    mallory.send("/join #dev")
    mallory.send("/join #lobby")
    assert "*** mallory has joined #lobby" in mallory.received()


def test_expiredBanLapses() -> None:
    server, alice = owned()
    mallory = server.connect("mallory")
    everyone(alice)
    alice.send("/ban mallory 10m")
    mallory.received()
    mallory.send("/join #lobby")
    assert mallory.received() == ["!!! You are banned from #lobby"]
    server.clock.advance(599)
    mallory.send("/join #lobby")
    assert mallory.received() == ["!!! You are banned from #lobby"]
    alice.received()
    server.clock.advance(1)
    assert alice.received() == ["*** The ban on nick:mallory in #lobby lapsed"]
    mallory.send("/join #lobby")
    assert mallory.received()[0] == "*** mallory has joined #lobby"
    alice.send("/bans")
    assert alice.received()[-1] == "*** No bans in #lobby"


def test_badMaskOrDuration() -> None:
    server, alice = owned()
    alice.send("/ban 10.0.0.300")
    assert alice.received()[0].startswith("!!! Not a mask: 10.0.0.300;")


# Mutes and topic locks


def test_mutedLinesReachNobody() -> None:
    server, alice = owned()
    mallory = server.connect("mallory")
    bob = server.connect("bob")
    everyone(alice, mallory)
    alice.send("/mute mallory 1h")
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(server.clock.seconds() + 3600))
    assert bob.received() == [f"*** alice muted nick:mallory in #lobby until {until}"]
    everyone(alice, mallory)
    mallory.send("buy my stuff")
    assert mallory.received() == ["!!! You are muted in #lobby; nobody hears you there"]
    mallory.send("/me buys stuff")
    assert mallory.received() == ["!!! You are muted in #lobby; nobody hears you there"]
    mallory.send("/nick notmallory")
    assert mallory.received() == ["!!! You are muted in #lobby; nobody hears you there"]
    assert bob.received() == []
    assert alice.received() == []
    bob.send("/history")
    assert "buy my stuff" not in " ".join(bob.received())
    alice.send("/unmute mallory")
    everyone(alice, bob, mallory)
    mallory.send("sorry")
    assert bob.received() == ["<mallory> sorry"]


def test_muteOfAnAccount() -> None:
    server, alice = owned()
    bob = account(server, "bob")
    everyone(alice)
    alice.send("/mute bob")
    assert alice.received() == ["*** alice muted account:bob in #lobby"]
    bob.received()
    bob.send("hi")
    assert bob.received() == ["!!! You are muted in #lobby; nobody hears you there"]


def test_lockTopic() -> None:
    server, alice = owned()
    bob = server.connect("bob")
    everyone(alice)
    alice.send("/lock topic")
    assert bob.received() == ["*** alice locked the topic of #lobby: only operators may change it"]
    bob.send("/topic mine now")
    assert bob.received() == ["!!! You are not an operator of #lobby"]
    alice.send("/topic ours")
    assert bob.received() == ["*** alice set the topic of #lobby to: ours"]
    alice.send("/lock nothing")
    assert alice.received()[-1] == "!!! Only the topic can be locked: /lock topic"
    alice.send("/unlock topic")
    bob.received()
    bob.send("/topic mine now")
    assert bob.received() == ["*** bob set the topic of #lobby to: mine now"]


# Server operators


def test_operatorsKillWallAndStats() -> None:
    server = FakeServer(store=MemoryStore(), opers=("root",))
    root = account(server, "root")
    mallory = server.connect("mallory")
    bob = server.connect("bob")
    everyone(root, mallory)
    bob.send("/kill mallory")
    assert bob.received() == ["!!! Only server operators may do that"]
    bob.send("/stats")
    assert bob.received() == ["!!! Only server operators may do that"]
    root.send("/wall maintenance at noon")
    assert bob.received() == ["*** root to everyone: maintenance at noon"]
    everyone(root, mallory)
    root.send("/kill mallory bye")
    assert mallory.received() == ["!!! Killed by root (bye)"]
    assert mallory.transport.disconnecting
    assert bob.received() == ["*** mallory has quit (Killed by root (bye))"]
    assert root.received() == ["*** mallory has quit (Killed by root (bye))", "*** root killed mallory (bye)"]
    root.send("/stats")
    lines = root.received()
    assert lines[0] == "*** Connections: line 3 (3 in all)"
    assert lines[1] == "*** Rooms: 1; members, here and on other servers: 2"
    assert lines[2].endswith("n/a (first reading) a second since the last /stats")
    assert lines[-1].startswith("*** Memory: ")


def test_operatorIsOperatorOfEveryRoom() -> None:
    server = FakeServer(store=MemoryStore(), opers=("root",))
    root = account(server, "root")
    mallory = server.connect("mallory")
    everyone(root, mallory)
    root.send("/kick mallory")
    assert mallory.received() == ["*** root kicked mallory from #lobby", "*** You are in no room; /join one"]


def test_gbanRefusesAtConnect() -> None:
    """
    A server ban of an address puts out whoever is connected from it, and refuses its next
    connections with the reason.
    """
    server = FakeServer(store=MemoryStore(), opers=("root",))
    root = account(server, "root")
    mallory = server.connect("mallory", host="203.0.113.5")
    root.send("/gban 203.0.113.0/24 1d abuse")
    assert mallory.received()[-1] == "!!! Banned from the server (abuse)"
    assert mallory.transport.disconnecting
    again = server.connect(host="203.0.113.77")
    assert again.received() == ["!!! You are banned from this server (abuse)"]
    assert again.transport.disconnecting
    elsewhere = server.connect(host="198.51.100.9")
    assert elsewhere.received()[0].startswith("*** Welcome")
    root.received()
    root.send("/gbans")
    assert root.received()[1].startswith("*** ip:203.0.113.0/24 by root until")
    root.send("/ungban 203.0.113.0/24")
    assert root.received() == ["*** root lifted the server ban on ip:203.0.113.0/24"]
    assert server.connect(host="203.0.113.77").received()[0].startswith("*** Welcome")


def test_gbanOfANick() -> None:
    server = FakeServer(store=MemoryStore(), opers=("root",))
    root = account(server, "root")
    root.send("/gban nick:spammer")
    someone = server.connect("someone")
    someone.send("/nick spammer")
    assert someone.received() == ["!!! You are banned from this server"]


def test_gbanOfAnAccountPutsItOutWhenItIdentifies() -> None:
    server = FakeServer(store=MemoryStore(), opers=("root",))
    root = account(server, "root")
    account(server, "bob", host="198.51.100.7").disconnect()
    root.send("/gban account:bob 1d spam")
    bob = server.connect(host="198.51.100.8")
    bob.received()
    bob.send("/identify bob secret123")
    assert bob.received() == ["!!! Banned from the server (spam)"]
    assert bob.transport.disconnecting


# Ignores


def test_ignoredLinesAreNotDelivered() -> None:
    server = FakeServer()
    alice, bob, mallory = server.connectMany("alice", "bob", "mallory")
    alice.send("/ignore mallory")
    assert alice.received() == ["*** You ignore nick:mallory now"]
    mallory.send("spam")
    mallory.send("/me spams")
    bob.send("hi")
    assert alice.received() == ["<bob> hi"]
    assert bob.received() == ["<mallory> spam", "* mallory spams", "<bob> hi"]
    assert mallory.received() == ["<mallory> spam", "* mallory spams", "<bob> hi"]
    mallory.send("/msg alice psst")
    assert alice.received() == []
    alice.send("/ignore")
    assert alice.received() == ["*** You ignore: nick:mallory"]
    alice.send("/unignore mallory")
    assert alice.received() == ["*** You hear mallory again"]
    mallory.send("back")
    assert alice.received() == ["<mallory> back"]


def history(client: FakeClient) -> list[str]:
    """
    The lines of history the client received since the last call, without their time.
    """
    return [line.split("] ", 1)[1] for line in client.received() if line.startswith("[history")]


def test_ignoredSpeakersAreLeftOutOfHistory() -> None:
    """
    Ignoring someone holds for what they said before too: the history replayed on joining a
    room, and /history.
    """
    server = FakeServer(store=MemoryStore())
    alice, bob, mallory = server.connectMany("alice", "bob", "mallory")
    for client in (alice, bob, mallory):
        client.send("/join #dev")
    mallory.send("spam")
    bob.send("hi")
    alice.send("/ignore mallory")
    alice.send("/join #lobby")
    alice.received()
    alice.send("/join #dev")
    assert history(alice) == ["<bob> hi"]
    alice.send("/history")
    assert history(alice) == ["<bob> hi"]
    bob.received()
    bob.send("/history")
    assert history(bob) == ["<mallory> spam", "<bob> hi"]


def test_ignoreOfAnAccountFollowsItsNick() -> None:
    server = FakeServer(store=MemoryStore())
    alice = server.connect("alice")
    bob = account(server, "bob")
    alice.received()
    alice.send("/ignore bob")
    assert alice.received() == ["*** You ignore account:bob now"]
    alice.send("/ignore bob")
    assert alice.received() == ["!!! You ignore bob already"]
    alice.send("/ignore 192.0.2.1")
    assert alice.received() == ["!!! Ignore a nick or an account (account:NAME), not an address"]
    bob.send("/nick robert")
    alice.received()
    bob.send("still here")
    assert alice.received() == []
    alice.send("/unignore robert")
    bob.send("hello again")
    assert alice.received() == ["*** You hear robert again", "<robert> hello again"]


def test_ignoresKeptWithTheAccount() -> None:
    store = MemoryStore()
    server = FakeServer(store=store)
    alice = account(server, "alice")
    server.connect("mallory")
    alice.send("/ignore mallory")
    alice.disconnect()
    alice = server.connect()
    alice.send("/identify alice secret123")
    alice.received()
    mallory = server.connect("mallory2")
    alice.received()
    mallory.send("hello")
    assert alice.received() == ["<mallory2> hello"]
    alice.send("/ignore")
    assert alice.received() == ["*** You ignore: nick:mallory"]


# Kept across restarts


def test_rulesSurviveARestart() -> None:
    """
    Owners, operators, bans, locks and ignores are in the store: a hub started on it
    enforces them.
    """
    store = MemoryStore()
    server = FakeServer(store=store)
    alice = account(server, "alice")
    alice.send("/claim")
    account(server, "bob")
    alice.send("/op bob")
    alice.send("/ban mallory 1h")
    alice.send("/lock topic")
    again = FakeServer(store=store)
    carol = again.connect("carol")
    carol.send("/topic x")
    assert carol.received() == ["!!! You are not an operator of #lobby"]
    mallory = again.connect()
    mallory.received()
    mallory.send("/nick mallory")
    assert mallory.received() == ["!!! The nick mallory is banned from #lobby"]
    mallory.send("/join #dev")
    mallory.send("/nick mallory")
    mallory.received()
    mallory.send("/join #lobby")
    assert mallory.received() == ["!!! You are banned from #lobby"]
    bob = again.connect()
    bob.send("/identify bob secret123")
    bob.received()
    bob.send("/kick carol")
    assert bob.received() == ["*** bob kicked carol from #lobby"]
    assert again.hub.moderation.owner("#lobby") == "alice"

"""
Moderation over IRC, beside line clients on the same hub: KICK, MODE +o/+b/+t and the ban
list, KILL, WALLOPS, SILENCE, the numerics of refusals, and the NAMES prefixes.
"""

from __future__ import annotations

from helpers import FakeClient, MixedServer

from chat.store import MemoryStore


def identified(server: MixedServer, client: FakeClient, password: str = "secret123") -> None:
    """
    Register the IRC client's nick as if it had (IRC identification is another front end's).
    """
    protocol = client.protocol
    server.hub.accounts.register(protocol, protocol.nick, password)


def ircOwner(opers: tuple[str, ...] = ()) -> tuple[MixedServer, FakeClient]:
    server = MixedServer(store=MemoryStore(), opers=opers)
    alice = server.connectIRC("alice")
    alice.send("JOIN #lobby")
    identified(server, alice)
    alice.received()
    alice.send("CLAIM #lobby")
    assert alice.received() == [":alice!alice@chat MODE #lobby +q :alice"]
    return server, alice


def test_kickFromIRCSeenOnBoth() -> None:
    server, alice = ircOwner()
    mallory = server.connect("mallory")
    alice.received()
    alice.send("KICK #lobby mallory :spam")
    assert alice.received() == [":alice!alice@chat KICK #lobby mallory :spam"]
    assert mallory.received() == ["*** alice kicked mallory from #lobby (spam)", "*** You are in no room; /join one"]


def test_nonOperatorGets482() -> None:
    server, alice = ircOwner()
    bob = server.connectIRC("bob")
    bob.send("JOIN #lobby")
    bob.received()
    bob.send("KICK #lobby alice")
    bob.send("MODE #lobby +o bob")
    bob.send("MODE #lobby +b alice")
    assert bob.received() == [":testchat 482 bob #lobby :You're not channel operator"] * 3
    bob.send("KILL alice")
    bob.send("WALLOPS :hello")
    assert bob.received() == [":testchat 481 bob :Permission Denied- You're not an IRC operator"] * 2


def test_banModeAndList() -> None:
    server, alice = ircOwner()
    mallory = server.connectIRC("mallory")
    mallory.send("JOIN #lobby")
    mallory.received()
    alice.received()
    alice.send("MODE #lobby +b mallory")
    assert alice.received() == [
        ":alice!alice@chat MODE #lobby +b :nick:mallory",
        ":alice!alice@chat KICK #lobby mallory :Banned",
    ]
    mallory.received()
    mallory.send("JOIN #lobby")
    assert mallory.received() == [
        ":testchat 474 mallory #lobby :Cannot join channel (+b): You are banned from #lobby"
    ]
    alice.send("MODE #lobby +b")
    lines = alice.received()
    assert lines[0].startswith(":testchat 367 alice #lobby nick:mallory alice ")
    assert lines[1] == ":testchat 368 alice #lobby :End of channel ban list"
    alice.send("MODE #lobby -b mallory")
    assert alice.received() == [":alice!alice@chat MODE #lobby -b :nick:mallory"]
    mallory.send("JOIN #lobby")
    assert mallory.received()[0] == ":mallory!mallory@chat JOIN :#lobby"


def test_mutedOnIRCGets404() -> None:
    server, alice = ircOwner()
    mallory = server.connectIRC("mallory")
    mallory.send("JOIN #lobby")
    bob = server.connect("bob")
    alice.send("MUTE #lobby mallory 10m")
    mallory.received()
    mallory.send("PRIVMSG #lobby :spam")
    assert mallory.received() == [
        ":testchat 404 mallory #lobby :You are muted in #lobby; nobody hears you there"
    ]
    assert "spam" not in " ".join(bob.received())


def test_opAndNamesPrefixes() -> None:
    server, alice = ircOwner()
    bob = server.connectIRC("bob")
    bob.send("JOIN #lobby")
    identified(server, bob)
    carol = server.connect("carol")
    alice.received()
    alice.send("MODE #lobby +o bob")
    assert alice.received() == [":alice!alice@chat MODE #lobby +o :bob"]
    alice.send("NAMES #lobby")
    assert alice.received() == [
        ":testchat 353 alice = #lobby :~alice @bob carol",
        ":testchat 366 alice #lobby :End of /NAMES list",
    ]
    carol.received()
    alice.send("MODE #lobby +t")
    assert carol.received() == [
        "*** alice locked the topic of #lobby: only operators may change it"
    ]
    alice.send("WHO #lobby")
    assert ":testchat 352 alice #lobby alice chat testchat alice H~ :0 alice" in alice.received()


def test_killAndWallopsByAnOperator() -> None:
    server, root = ircOwner(opers=("alice",))
    mallory = server.connectIRC("mallory")
    bob = server.connect("bob")
    root.received()
    root.send("WALLOPS :restart at noon")
    assert bob.received()[-1] == "*** alice to everyone: restart at noon"
    mallory.received()
    root.send("KILL mallory :bye")
    assert mallory.received()[-1] == ":testchat ERROR :Closing link: Killed by alice (bye)"
    assert root.received() == [
        ":testchat NOTICE * :alice to everyone: restart at noon",
        ":alice!alice@chat NOTICE * :alice killed mallory (bye)",
    ]
    root.send("STATS u")
    lines = root.received()
    assert lines[0] == ":testchat NOTICE alice :Connections: irc 2, line 1 (3 in all)"
    assert lines[-1] == ":testchat 219 alice u :End of /STATS report"


def test_gbannedAtRegistration() -> None:
    server, root = ircOwner(opers=("alice",))
    root.send("GBAN 192.0.2.0/24 1h :abuse")
    client = server.connectIRC(host="192.0.2.9")
    client.send("NICK mallory")
    client.send("USER mallory 0 * :m")
    assert client.received() == [
        ":testchat 465 * :You are banned from this server (abuse)",
        ":testchat ERROR :Closing link: You are banned from this server (abuse)",
    ]
    assert client.transport.disconnecting


def test_silence() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    alice.send("JOIN #lobby")
    mallory = server.connect("mallory")
    alice.send("SILENCE +mallory")
    alice.received()
    mallory.send("spam")
    mallory.send("/msg alice spam")
    assert alice.received() == []
    alice.send("SILENCE")
    assert alice.received() == [
        ":testchat 271 alice :nick:mallory",
        ":testchat 272 alice :End of Silence List",
    ]
    alice.send("SILENCE -mallory")
    mallory.send("hi")
    assert alice.received() == [":mallory!mallory@chat PRIVMSG #lobby :hi"]


def test_whoMakesARoomIsItsOperatorWhileIn() -> None:
    """
    As on IRC, who joins a room empty is its operator, identified or not, for as long as it
    stays in: it may lock the topic (C{+t}) and unlock it; the default room has no maker.
    """
    server = MixedServer()
    foo, bar = server.connectIRC("foo"), server.connectIRC("bar")
    foo.send("JOIN #chan")
    bar.send("JOIN #chan")
    foo.received(), bar.received()
    bar.send("NAMES #chan")
    assert bar.received()[0] == ":testchat 353 bar = #chan :bar @foo"
    foo.send("MODE #chan +t")
    foo.send("MODE #chan")
    assert foo.received()[-1] == ":testchat 324 foo #chan :+nt"
    bar.received()
    bar.send("TOPIC #chan :T0P1C")
    assert bar.received() == [":testchat 482 bar #chan :You're not channel operator"]
    foo.send("MODE #chan -t")
    bar.received()
    bar.send("TOPIC #chan :T0P1C")
    assert bar.received() == [":bar!bar@chat TOPIC #chan :T0P1C"]
    foo.send("PART #chan")
    foo.send("JOIN #chan")  # not empty: bar is in it
    foo.received()
    bar.send("NAMES #chan")
    assert bar.received()[-2] == ":testchat 353 bar = #chan :bar foo"
    lobby = server.connect("carol")
    lobby.send("/kick bar")
    assert lobby.received() == ["!!! You are not an operator of #lobby"]


def test_kickFromSeveralChannels() -> None:
    """
    RFC 2812's KICK: one channel and several nicks, or as many channels as nicks, in pairs.
    """
    server = MixedServer()
    foo, bar, baz = (server.connectIRC(nick) for nick in ("foo", "bar", "baz"))
    for client in (foo, bar, baz):
        client.send("JOIN #a,#b")
        client.received()
    foo.received()
    foo.send("KICK #a,#b bar,baz :out")
    assert foo.received() == [
        ":foo!foo@chat KICK #a bar :out",
        ":foo!foo@chat KICK #b baz :out",
    ]
    foo.send("KICK #b bar,nobody")
    assert foo.received() == [
        ":foo!foo@chat KICK #b bar :foo",
        ":testchat 401 foo nobody :No such nick/channel",
    ]
    foo.send("KICK #a,#b bar")
    assert foo.received() == [
        ":testchat 461 foo KICK :As many nicks as channels, or one channel"
    ]

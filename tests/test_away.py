"""
Away as the hub's: set from the line protocol (C{/away}), IRC (C{AWAY}) or the web, and seen
from every front end and every node of a cluster.
"""

from __future__ import annotations

from chat import events
from chat.hub import Hub
from chat.names import AWAY_MAX_LENGTH
from helpers import MixedServer, Recorder
from test_cluster_memory import MemoryCluster


def test_lineAwaySeenOnIRC() -> None:
    """
    A line user's C{/away}: IRC clients with C{away-notify} in its room hear it, C{WHO} shows
    it (C{G}), a private message to it gets C{301}, a line user's C{/msg} a notice.
    """
    server = MixedServer()
    alice = server.connectIRC("alice", caps="away-notify")
    dave = server.connectIRC("dave")
    bob, carol = server.connectMany("bob", "carol")
    for client in (alice, dave):
        client.send("JOIN #lobby")
    for client in (alice, dave, bob, carol):
        client.received()
    bob.send("/away out to lunch")
    assert bob.received() == ["*** You are marked as away: out to lunch"]
    assert alice.received() == [":bob!bob@chat AWAY :out to lunch"]
    assert dave.received() == [] and carol.received() == []
    dave.send("WHO bob")
    dave.send("PRIVMSG bob :hi")
    assert dave.received() == [
        ":testchat 352 dave * bob chat testchat bob G :0 bob",
        ":testchat 315 dave bob :End of /WHO list",
        ":testchat 301 dave bob :out to lunch",
    ]
    carol.send("/msg bob hi")
    assert carol.received() == ["-> *bob* hi", "*** bob is away: out to lunch"]
    bob.send("/away")
    assert bob.received() == [
        "*dave* hi",
        "*carol* hi",
        "*** You are no longer marked as away",
    ]
    assert alice.received() == [":bob!bob@chat AWAY"]
    carol.send("/msg bob back?")
    assert carol.received() == ["-> *bob* back?"]


def test_ircAwaySeenByLineUsers() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    (bob,) = server.connectMany("bob")
    alice.send("AWAY :brb")
    assert alice.received() == [":testchat 306 alice :You have been marked as being away"]
    bob.send("/msg alice hello")
    assert bob.received() == ["-> *alice* hello", "*** alice is away: brb"]


def test_awayMessagesAreChecked() -> None:
    server = MixedServer()
    alice = server.connectIRC("alice")
    (bob,) = server.connectMany("bob")
    bob.send("/away " + "x" * (AWAY_MAX_LENGTH + 1))
    assert bob.received() == [f"!!! An away message is at most {AWAY_MAX_LENGTH} characters"]
    alice.send("AWAY :\x1b[2J")
    assert alice.received() == [
        ":testchat NOTICE alice :An away message cannot contain ^["
    ]
    assert server.hub.find("bob").away == "" and server.hub.find("alice").away == ""
    bob.send("/help away")
    assert bob.received() == ["*** /away [MESSAGE]: mark yourself away, saying MESSAGE; without one, back"]


def test_hubTellsOnlyThoseWhoAsk() -> None:
    """
    The hub tells an away change to the members sharing a room who want it, once, never to
    the member itself; and that a member who joins is away, after its join.
    """
    hub = Hub(MixedServer().clock)
    wants, indifferent, away = Recorder(), Recorder(), Recorder()
    wants.hearsAway = True
    for member, nick in ((wants, "w"), (indifferent, "i"), (away, "a")):
        hub.connect(member, nick)
        hub.join(member, "#lobby")
    for member in (wants, indifferent, away):
        member.take()
    hub.setAway(away, "gone")
    hub.setAway(away, "gone")
    assert wants.take() == [events.AwayChanged("a", "gone")]
    assert indifferent.take() == [] and away.take() == []
    hub.join(away, "#other")
    hub.join(wants, "#other")
    wants.take()
    away.take()
    hub.part(away, "#other")
    hub.join(away, "#other")
    assert wants.take() == [
        events.Left("#other", "a"),
        events.Joined("#other", "a"),
        events.AwayChanged("a", "gone"),
    ]


def test_awayAcrossTheCluster() -> None:
    """
    A line user on one node goes away: an IRC user on another sees it (C{away-notify},
    C{WHO}, C{301}); and its account, once it identifies, is known there too.
    """
    cluster = MemoryCluster("one", "two")
    one = MixedServer(hub=cluster.nodes["one"].hub, clock=cluster.clock)
    two = MixedServer(hub=cluster.nodes["two"].hub, clock=cluster.clock)
    (bob,) = one.connectMany("bob")
    alice = two.connectIRC("alice", caps="away-notify")
    alice.send("JOIN #lobby")
    cluster.run(0.2)
    alice.received()
    bob.received()
    bob.send("/away on the train")
    cluster.run(0.2)
    assert alice.received() == [":bob!bob@chat AWAY :on the train"]
    alice.send("WHO #lobby")
    alice.send("PRIVMSG bob :ping")
    assert alice.received() == [
        ":testchat 352 alice #lobby alice chat testchat alice H :0 alice",
        ":testchat 352 alice #lobby bob chat testchat bob G :0 bob",
        ":testchat 315 alice #lobby :End of /WHO list",
        ":testchat 301 alice bob :on the train",
    ]
    one.hub.setAccount(bob.protocol, "bob")
    cluster.run(0.2)
    assert two.hub.find("bob").account == "bob"
    bob.send("/away")
    cluster.run(0.2)
    assert alice.received() == [":bob!bob@chat AWAY"]

    # A member away before it joins anything: the other nodes learn it with its join.
    carol = Recorder()
    one.hub.connect(carol, "carol")
    one.hub.setAway(carol, "asleep")
    one.hub.join(carol, "#lobby")
    cluster.run(0.2)
    assert alice.received() == [":carol!carol@chat JOIN :#lobby", ":carol!carol@chat AWAY :asleep"]
    assert two.hub.find("carol").away == "asleep"



def test_aNodeThatJoinsLaterLearnsWhoIsAway() -> None:
    """
    Away messages and accounts are kept in Redis too: a node that joins the cluster later
    knows them at once, and forgets them with the member.
    """
    cluster = MemoryCluster("one")
    one = cluster.nodes["one"]
    bob = one.person("bob")
    carol = one.person("carol")
    one.hub.setAway(bob, "on holiday")
    one.hub.setAccount(carol, "carol")
    cluster.run(0.2)
    two = cluster.add("two")
    cluster.run(0.2)
    assert two.hub.find("bob").away == "on holiday" and two.hub.find("bob").account is None
    assert two.hub.find("carol").account == "carol" and two.hub.find("carol").away == ""
    one.hub.rename(bob, "robert")
    one.hub.disconnect(carol, "bye")
    cluster.run(0.2)
    three = cluster.add("three")
    cluster.run(0.2)
    assert three.hub.find("robert").away == "on holiday"
    assert not three.knows("carol")
    assert set(cluster.redis.value("chat:0:state:one", dict)) == {"robert"}

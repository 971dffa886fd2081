"""
Moderation across the nodes of a cluster (in memory, as L{test_cluster_memory}): an action on
one node is announced and enforced on every node.
"""

from __future__ import annotations

import pytest
from helpers import CHEAP_HASHER, Recorder, runNow
from test_cluster_memory import MemoryCluster

from chat import events
from chat.accounts import Accounts
from chat.errors import Banned, Muted
from chat.store import MemoryStore


def oper(node, nick: str) -> Recorder:
    """
    Someone on C{node} who registered C{nick} and is a server operator.
    """
    node.hub.accounts = Accounts(node.hub._clock, MemoryStore(), CHEAP_HASHER, runInThread=runNow)
    node.hub.moderation.setOpers([nick])
    person = node.person(nick)
    node.hub.accounts.register(person, nick, "secret123")
    return person


def test_aBanOnOneNodeHoldsOnAnother() -> None:
    cluster = MemoryCluster("a", "b")
    a, b = cluster.nodes.values()
    root = oper(a, "root")
    mallory = b.person("mallory", "#lobby", "#dev")
    bob = b.person("bob", "#dev")
    cluster.clock.advance(0)
    root.take()
    a.hub.join(root, "#dev")
    cluster.clock.advance(0)
    mallory.take(), bob.take()
    a.hub.moderation.ban(root, "#dev", "mallory", 3600, "spam")
    cluster.clock.advance(0)
    ban = events.Moderated("#dev", "root", "ban", "nick:mallory", "spam", cluster.clock.seconds() + 3600)
    kick = events.Moderated("#dev", "root", "kick", "mallory", "Banned")
    # Node b applies the ban: it puts its own member out, and tells the cluster.
    assert bob.take() == [ban, kick]
    assert mallory.take() == [ban, kick]
    assert b.seats()["mallory"] == ["#lobby"]
    cluster.clock.advance(0)
    assert a.seats()["mallory"] == ["#lobby"]
    with pytest.raises(Banned):
        b.hub.join(mallory, "#dev")
    assert [rule.target for rule in b.hub.moderation.bans("#dev")] == ["nick:mallory"]


def test_aMuteOnOneNodeHoldsOnAnother() -> None:
    cluster = MemoryCluster("a", "b")
    a, b = cluster.nodes.values()
    root = oper(a, "root")
    mallory = b.person("mallory")
    cluster.clock.advance(0)
    root.take()
    a.hub.moderation.mute(root, "#lobby", "mallory")
    cluster.clock.advance(0)
    with pytest.raises(Muted):
        b.hub.say(mallory, "#lobby", "spam")
    cluster.clock.advance(0)
    assert [e for e in root.take() if isinstance(e, events.Said)] == []


def test_aKillReachesTheNodeOfItsTarget() -> None:
    cluster = MemoryCluster("a", "b")
    a, b = cluster.nodes.values()
    root = oper(a, "root")
    b.person("mallory")
    bob = b.person("bob")
    cluster.clock.advance(0)
    root.take(), bob.take()
    a.hub.moderation.kill(root, "mallory", "bye")
    cluster.clock.advance(0)
    assert not b.knows("mallory") and not a.knows("mallory")
    assert events.Quit("mallory", "Killed by root (bye)") in bob.take()
    assert events.Quit("mallory", "Killed by root (bye)") in root.take()


def test_aWallReachesEveryNode() -> None:
    cluster = MemoryCluster("a", "b")
    a, b = cluster.nodes.values()
    root = oper(a, "root")
    bob = b.person("bob", "#elsewhere")
    cluster.clock.advance(0)
    bob.take()
    a.hub.moderation.wall(root, "restart at noon")
    cluster.clock.advance(0)
    assert bob.take() == [events.Notice("root to everyone: restart at noon")]


def test_aNodeThatJoinsLaterLearnsTheRules() -> None:
    """
    Standing rules are kept in Redis: a node that joins after a ban enforces it; one lifted
    before it joined is not there.
    """
    cluster = MemoryCluster("a")
    (a,) = cluster.nodes.values()
    root = oper(a, "root")
    a.hub.moderation.ban(root, "#lobby", "mallory")
    a.hub.moderation.ban(root, "#lobby", "bob")
    a.hub.moderation.unban(root, "#lobby", "bob")
    a.hub.moderation.gban(root, "192.0.2.0/24", 3600)
    a.hub.moderation.ban(root, "#lobby", "brief", 60)
    cluster.clock.advance(0)
    cluster.run(61, step=1)
    b = cluster.add("b")
    assert [rule.target for rule in b.hub.moderation.bans("#lobby")] == ["nick:mallory"]
    assert len(cluster.redis.data["chat:0:rules"]) == 2  # the lapsed ban is gone
    assert [rule.target for rule in b.hub.moderation.bans("", server=True)] == ["ip:192.0.2.0/24"]
    mallory = b.person("mallory", "#elsewhere")
    with pytest.raises(Banned):
        b.hub.join(mallory, "#lobby")

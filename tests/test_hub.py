"""
The hub on its own, with members in several rooms at once as other front ends will have.
"""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from chat import events
from chat.hub import ChatError, Hub
from chat.relay import Alone
from helpers import Recorder


def seated(hub: Hub, *rooms: str) -> Recorder:
    member = Recorder()
    hub.connect(member)
    for room in rooms:
        hub.join(member, room)
    return member


def test_memberInSeveralRooms() -> None:
    hub = Hub(Clock())
    alice = seated(hub, "#a", "#b")
    bob = seated(hub, "#a")
    carol = seated(hub, "#b")
    alice.take(), bob.take(), carol.take()
    hub.say(alice, "#b", "to b")
    assert [e.text for e in carol.take()] == ["to b"]
    assert bob.take() == []
    assert [room.name for room in hub.roomsOf(alice)] == ["#a", "#b"]


def test_nickChangeIsToldOncePerPeer() -> None:
    hub = Hub(Clock())
    alice = seated(hub, "#a", "#b")
    bob = seated(hub, "#a", "#b")
    bob.take()
    hub.rename(alice, "alice")
    assert bob.take() == [events.NickChanged("guest1", "alice")]


def test_partLeavesOtherRooms() -> None:
    hub = Hub(Clock())
    alice = seated(hub, "#a", "#b")
    seated(hub, "#a")
    hub.part(alice, "#a")
    assert [room.name for room in hub.roomsOf(alice)] == ["#b"]
    with pytest.raises(ChatError, match="You are not in #a"):
        hub.say(alice, "#a", "hello?")
    hub.part(alice, "#b")
    assert [room.name for room in hub.rooms()] == ["#a", "#lobby"]


def test_disconnectTwiceIsHarmless() -> None:
    hub = Hub(Clock())
    alice = seated(hub, "#a")
    bob = seated(hub, "#a")
    bob.take()
    hub.disconnect(alice, "bye")
    hub.disconnect(alice, "bye")
    assert bob.take() == [events.Quit("guest1", "bye")]


def test_guestNickSkipsTakenNicks() -> None:
    hub = Hub(Clock())
    squatter = seated(hub)
    hub.rename(squatter, "guest2")
    assert seated(hub).nick == "guest3"


def test_historyRecordsTime() -> None:
    clock = Clock()
    clock.advance(1000)
    hub = Hub(clock, historySize=5)
    alice = seated(hub, "#a")
    hub.say(alice, "#a", "hi")
    assert list(hub.room("#a").history) == [events.Said("#a", "guest1", "hi", 1000.0)]


class ForgetfulRelay(Alone):
    """
    A relay with no other servers that notes which rooms the hub tells it are gone.
    """

    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def forget(self, room: str) -> None:
        self.forgotten.append(room)


def test_theRelayForgetsARoomWhenItsLastMemberLeaves() -> None:
    relay = ForgetfulRelay()
    hub = Hub(Clock(), relay=relay)
    alice = seated(hub, "#a")
    bob = seated(hub, "#a")
    hub.part(alice, "#a")
    assert relay.forgotten == []
    hub.disconnect(bob, "bye")
    hub.disconnect(alice, "bye")
    assert relay.forgotten == ["#a"]  # never the default room, which stays

"""
The hub on its own, with members in several rooms at once as other front ends will have.
"""

from __future__ import annotations

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from chat import errors, events
from chat.hub import ChatError, Hub
from chat.relay import Alone
from helpers import Recorder


def seated(hub: Hub, *rooms: str, echo: bool = True) -> Recorder:
    member = Recorder(echo)
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


def test_aMemberWithoutEchoDoesNotHearItsOwnLines() -> None:
    hub = Hub(Clock())
    alice = seated(hub, "#a", echo=False)
    bob = seated(hub, "#a")
    alice.take(), bob.take()
    hub.say(alice, "#a", "hi")
    hub.message(alice, bob.nick, "psst")
    assert alice.take() == []
    assert [type(e) for e in bob.take()] == [events.Said, events.PrivateMessage]
    hub.say(bob, "#a", "hello")
    hub.message(bob, alice.nick, "psst")
    assert [type(e) for e in bob.take()] == [events.Said, events.PrivateMessage]
    assert bob.events == []


def test_textIsKeptRawButLineBreaksAreRefused() -> None:
    hub = Hub(Clock())
    alice = seated(hub, "#a")
    alice.take()
    hub.say(alice, "#a", "\x02bold\x02 \x1b[31mred")
    assert [e.text for e in alice.take()] == ["\x02bold\x02 \x1b[31mred"]
    for bad in ("a\rb", "a\nb", "a\x00b", "a\ud800b"):
        with pytest.raises(errors.InvalidText):
            hub.say(alice, "#a", bad)
        with pytest.raises(errors.InvalidText):
            hub.message(alice, alice.nick, bad)
    assert alice.take() == []


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda hub, m: hub.find("nobody"), errors.NoSuchNick),
        (lambda hub, m: hub.room("#nowhere"), errors.NoSuchRoom),
        (lambda hub, m: hub.say(m, "#lobby", "hi"), errors.NotInRoom),
        (lambda hub, m: hub.join(m, "#a"), errors.AlreadyInRoom),
        (lambda hub, m: hub.join(m, "#a b"), errors.InvalidRoomName),
        (lambda hub, m: hub.rename(m, "9lives"), errors.InvalidNick),
        (lambda hub, m: hub.setTopic(m, "#a", "\u061c"), errors.InvalidTopic),
    ],
)
def test_refusalsAreTyped(call, error) -> None:
    hub = Hub(Clock())
    member = seated(hub, "#a")
    with pytest.raises(error) as raised:
        call(hub, member)
    assert isinstance(raised.value, ChatError) and str(raised.value)


class SlowRelay(Alone):
    """
    A relay whose nick claims wait for the test to answer them.
    """

    def __init__(self) -> None:
        self.claims: list[tuple[str, defer.Deferred[bool]]] = []
        self.released: list[str] = []

    def claim(self, nick: str) -> defer.Deferred[bool]:
        d: defer.Deferred[bool] = defer.Deferred()
        self.claims.append((nick, d))
        return d

    def release(self, nick: str) -> None:
        self.released.append(nick)


def test_aMemberConnectsWithItsOwnNickOnceTheClusterGrantsIt() -> None:
    relay = SlowRelay()
    hub = Hub(Clock(), relay=relay)
    watcher = Recorder()
    hub.connect(watcher)
    relay.claims.pop()[1].callback(True)
    hub.join(watcher, "#lobby")
    watcher.take()
    alice = Recorder()
    granted = hub.connect(alice, "alice")
    assert [nick for nick, _ in relay.claims] == ["alice"]
    assert not granted.called
    with pytest.raises(errors.NoSuchNick):
        hub.find("alice")  # not before it is granted
    with pytest.raises(errors.NickTaken):
        hub.rename(watcher, "ALICE")  # but held here meanwhile
    relay.claims.pop()[1].callback(True)
    assert granted.result == "alice"
    assert hub.find("alice") is alice
    assert watcher.take() == []  # nothing announced until it joins a room


def test_aNickTakenElsewhereFailsTheConnect() -> None:
    relay = SlowRelay()
    hub = Hub(Clock(), relay=relay)
    alice = Recorder()
    refused = hub.connect(alice, "alice")
    relay.claims.pop()[1].callback(False)
    failure = refused.result
    refused.addErrback(lambda _: None)
    assert failure.check(errors.NickTaken)
    assert hub.members() == []
    assert hub.connect(Recorder(), "Alice") is not None  # free again on this server


def test_aGuestNickTakenElsewhereMovesOnQuietly() -> None:
    """
    Two servers gave their first guests the same nick at the same moment: the one that lost
    the claim takes the next guest nick, and nobody ever hears of the first.
    """
    relay = SlowRelay()
    hub = Hub(Clock(), relay=relay)
    guest = Recorder()
    granted = hub.connect(guest)
    relay.claims.pop()[1].callback(False)
    assert [nick for nick, _ in relay.claims] == ["guest2"]
    relay.claims.pop()[1].callback(True)
    assert granted.result == "guest2" == guest.nick
    assert relay.released == []  # guest1 was never ours to release
    assert guest.events == []


def test_leavingBeforeTheNickIsGrantedReleasesIt() -> None:
    relay = SlowRelay()
    hub = Hub(Clock(), relay=relay)
    bob = seated(hub, "#lobby")
    relay.claims.pop()[1].callback(True)
    bob.take()
    alice = Recorder()
    waiting = hub.connect(alice, "alice")
    waiting.addErrback(lambda failure: failure.trap(ChatError))
    hub.disconnect(alice, "gone")
    assert relay.released == ["alice"]
    relay.claims.pop()[1].callback(True)
    assert relay.released == ["alice", "alice"]  # the late grant is given back too
    assert bob.take() == []  # nobody heard of alice


@pytest.mark.parametrize(
    "invisible",
    ["\u2060", "\u061c", "\u00ad", "\u180e", "\u2061", "\u034f", "\u3164", "\u115f", "\U000e0020"],
)
def test_namesThatRenderAlikeAreRefused(invisible: str) -> None:
    hub = Hub(Clock())
    member = seated(hub, "#dev")
    with pytest.raises(errors.InvalidRoomName, match=r"cannot contain <U\+"):
        hub.join(member, "#dev" + invisible)
    with pytest.raises(errors.InvalidTopic, match=r"cannot contain <U\+"):
        hub.setTopic(member, "#dev", "news" + invisible)

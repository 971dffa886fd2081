"""
Property-based tests: whatever bytes arrive, in whatever pieces, and whatever clients do in
whatever order, the server's invariants hold.
"""

from __future__ import annotations

import re
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from twisted.internet.error import ConnectionLost

from chat.errors import InvalidText
from chat.limits import Limits
from chat.line.protocol import ENTRY_DELAY
from chat.names import foldNick
from chat.line.render import visible
from chat.names import unshownCharacter
from chat.text import checkText
from helpers import FakeClient, FakeServer

# What must never reach a terminal: C0 controls (ESC among them) but TAB, DEL, C1 controls and
# the bidirectional overrides and isolates.
UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

NO_FLOOD = Limits(floodRate=0, maxLine=64, maxRecvQ=256)


@given(st.text())
def test_visibleLeavesNothingUnsafe(text: str) -> None:
    shown = visible(text)
    assert not UNSAFE.search(shown)
    shown.encode("utf-8")  # no lone surrogate
    assert visible(shown) == shown


def test_everyCodePointIsShownSafelyAndCheckedAlike() -> None:
    """
    Every code point, one by one: the shortcuts for printable text in L{visible} and
    L{checkText} skip nothing that their patterns would catch.
    """
    refused = []
    for point in range(sys.maxunicode + 1):
        character = chr(point)
        assert not UNSAFE.search(visible(character)), hex(point)
        try:
            checkText(character)
        except InvalidText:
            refused.append(point)
    assert refused == [0x00, 0x0A, 0x0D, *range(0xD800, 0xE000)]


@given(st.text())
def test_visibleKeepsSafeTextAsItIs(text: str) -> None:
    safe = UNSAFE.sub("", text)
    assert visible(safe) == safe


@given(st.text())
def test_unshownCharacterFindsEveryUnsafeCharacter(text: str) -> None:
    if UNSAFE.search(text) or "\t" in text:
        assert unshownCharacter(text) is not None


@given(st.text(alphabet=st.characters(categories=["Cf"]), min_size=1))
def test_unshownCharacterFindsEveryFormatCharacter(text: str) -> None:
    assert unshownCharacter("#dev" + text) is not None


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def feed(chunks: list[bytes]) -> tuple[list[str], list[str], bool]:
    """
    Feed C{chunks} from one client; return what it and a bystander received, and whether it
    was disconnected.
    """
    server = FakeServer(limits=NO_FLOOD)
    sender, bystander = server.connectMany("sender", "bystander")
    for chunk in chunks:
        if sender.transport.disconnecting:
            break
        sender.protocol.dataReceived(chunk)
    return sender.received(), bystander.received(), sender.transport.disconnecting


lineBytes = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=70).map(lambda t: t.encode("utf-8")),
    st.sampled_from([b"\x1b[2J", b"\xc2\x9b", b"\xe2\x80\xae", b"\xff\xfe", b"\r", b"/nick"]),
)
streams = st.lists(lineBytes, max_size=12).map(lambda parts: b"\n".join(parts))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(st.integers(min_value=0), max_size=8))
def test_howInputIsCutIntoChunksChangesNothing(data: bytes, cuts: list[int]) -> None:
    assert feed(chunked(data, cuts)) == feed([data])


@given(streams, st.lists(st.integers(min_value=0), max_size=8))
def test_everythingRelayedIsSafeUtf8(data: bytes, cuts: list[int]) -> None:
    own, seen, _ = feed(chunked(data, cuts))
    for line in own + seen:
        assert not UNSAFE.search(line), line
    # FakeClient.received decoded the bytes, so they were valid UTF-8, and each ended in CRLF.
    for line in seen:
        assert line.startswith(("<sender> ", "* sender ", "*** ")), line


@given(st.binary(min_size=257, max_size=2000))
def test_noNewlineForTooLongDisconnects(data: bytes) -> None:
    # No IAC either: telnet commands are not part of a line, and not held (see test_telnet).
    own, seen, closed = feed([data.replace(b"\n", b"x").replace(b"\xff", b"x")])
    assert closed
    assert own[-1] == "!!! Line too long: no end of line in 256 bytes"
    assert seen == []


nicks = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,5}", fullmatch=True)
rooms = st.sampled_from(["#lobby", "#dev", "#ops", "dev", "#DEV"])
words = st.from_regex(r"[a-z ]{1,20}", fullmatch=True).filter(lambda t: t.strip())


class ChatMachine(RuleBasedStateMachine):
    """
    Clients connect, rename, move, talk, quit and vanish in any order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.server = FakeServer(limits=NO_FLOOD)
        self.live: list[FakeClient] = []

    def _pick(self, index: int) -> FakeClient:
        return self.live[index % len(self.live)]

    @rule()
    def connect(self) -> None:
        client = self.server.connect()
        self.server.clock.advance(ENTRY_DELAY)
        assert client.received()[0].startswith("*** Welcome")
        self.live.append(client)

    @precondition(lambda self: self.live)
    @rule(index=st.integers(min_value=0), nick=nicks)
    def rename(self, index: int, nick: str) -> None:
        client = self._pick(index)
        holder = next((c for c in self.live if foldNick(c.protocol.nick) == foldNick(nick)), None)
        client.received()
        client.send(f"/nick {nick}")
        lines = client.received()
        if holder is None or holder is client:
            assert client.protocol.nick == nick
        else:
            assert lines == [f"!!! The nick {nick} is taken"]

    @precondition(lambda self: self.live)
    @rule(index=st.integers(min_value=0), room=rooms)
    def join(self, index: int, room: str) -> None:
        client = self._pick(index)
        client.send(f"/join {room}")
        client.received()

    @precondition(lambda self: self.live)
    @rule(index=st.integers(min_value=0), text=words)
    def say(self, index: int, text: str) -> None:
        speaker = self._pick(index)
        for client in self.live:
            client.received()
        speaker.send(text)
        line = f"<{speaker.protocol.nick}> {text}"
        for client in self.live:
            heard = client.received()
            if client.protocol.room == speaker.protocol.room:
                assert heard == [line]
            else:
                assert heard == []

    @precondition(lambda self: self.live)
    @rule(index=st.integers(min_value=0))
    def quit(self, index: int) -> None:
        client = self._pick(index)
        client.send("/quit bye")
        assert client.received()[-1] == "*** Goodbye"
        assert client.transport.disconnecting
        client.disconnect()
        self.live.remove(client)

    @precondition(lambda self: self.live)
    @rule(index=st.integers(min_value=0))
    def reset(self, index: int) -> None:
        client = self._pick(index)
        client.disconnect(ConnectionLost("reset"))
        self.live.remove(client)

    @invariant()
    def clientsAreTheLiveConnections(self) -> None:
        assert self.server.gate.connections == {client.protocol for client in self.live}

    @invariant()
    def nicksAreUnique(self) -> None:
        folded = [foldNick(client.protocol.nick) for client in self.live]
        assert len(set(folded)) == len(folded)

    @invariant()
    def everyLiveClientIsInItsRoomAlone(self) -> None:
        for client in self.live:
            rooms = self.server.hub.roomsOf(client.protocol)
            assert [room.name for room in rooms] == [client.protocol.room]
        seated = sum(len(room.members) for room in self.server.hub.rooms())
        assert seated == len(self.live)


TestChatMachine = ChatMachine.TestCase
TestChatMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)

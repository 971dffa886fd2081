"""
telnet on the line port: its commands answered and never relayed, and Ctrl-C no longer leaves
it deaf.  In memory, in whatever chunks, and with Debian's telnet on a pseudo-terminal against
the real daemon.
"""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.limits import Limits
from chat.line.telnet import TelnetInput
from daemon import joinAs
from helpers import FakeServer
from terminal import TerminalClient
from test_properties import chunked

IAC, DONT, DO, WONT, WILL = b"\xff", b"\xfe", b"\xfd", b"\xfc", b"\xfb"
SB, SE, IP = b"\xfa", b"\xf0", b"\xf4"
TM, ECHO, NAWS = b"\x06", b"\x01", b"\x1f"
CTRL_C = IAC + IP + IAC + DO + TM  # what telnet sends on Ctrl-C
HINT = "*** Ctrl-C does not leave the chat; type /quit to leave"


class Peer:
    """
    A L{chat.line.telnet.TelnetPeer} that notes what it is told.
    """

    def __init__(self) -> None:
        self.replies = b""
        self.interrupts = 0

    def telnetReply(self, reply: bytes) -> None:
        self.replies += reply

    def telnetInterrupted(self) -> None:
        self.interrupts += 1


def test_ctrlCIsAnsweredAndChatGoesOn() -> None:
    """
    telnet throws away all output after Ctrl-C until its timing mark is answered: the answer
    comes first, then a hint, and chat is heard again.
    """
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(CTRL_C)
    assert alice.sent() == IAC + WILL + TM + HINT.encode() + b"\r\n"
    bob.send("still there?")
    assert alice.received() == ["<bob> still there?"]
    assert bob.received() == ["<bob> still there?"]
    assert alice.protocol.transport.connected


def test_theHintComesOnce() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.protocol.dataReceived(CTRL_C)
    alice.sent()
    alice.protocol.dataReceived(CTRL_C + CTRL_C)
    assert alice.sent() == (IAC + WILL + TM) * 2


def test_theAnswerFollowsWhatWasQueued() -> None:
    """
    Output queued before the timing mark went to telnet before it: it is written first, and
    the answer after it, never the other way round.
    """
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    bob.send("before")
    alice.protocol.dataReceived(CTRL_C)
    assert alice.sent() == b"<bob> before\r\n" + IAC + WILL + TM + HINT.encode() + b"\r\n"


@pytest.mark.parametrize(
    "command, answer",
    [
        (IAC + DO + ECHO, IAC + WONT + ECHO),
        (IAC + WILL + NAWS, IAC + DONT + NAWS),
        (IAC + WONT + ECHO, b""),
        (IAC + DONT + ECHO, b""),
        (IAC + DO + TM, IAC + WILL + TM),
        (IAC + b"\xf1", b""),  # NOP
        (IAC + SB + NAWS + b"\x00\x50\x00\x18" + IAC + SE, b""),
    ],
    ids=["do", "will", "wont", "dont", "timing-mark", "nop", "subnegotiation"],
)
def test_optionsAreRefusedAndCommandsNeverRelayed(command: bytes, answer: bytes) -> None:
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(b"hel" + command + b"lo\r\n")
    assert alice.sent() == answer + b"<alice> hello\r\n"
    assert bob.received() == ["<alice> hello"]


def test_anInterruptAloneIsIgnored() -> None:
    """
    Without a timing mark after it (telnet's C{autoflush} off), C{IP} is ignored: telnet is
    not discarding output, so there is nothing to say.
    """
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    alice.protocol.dataReceived(IAC + IP)
    assert alice.sent() == b""
    assert not alice.transport.disconnecting


def test_anEscapedIacIsNotUtf8() -> None:
    """
    C{IAC IAC} is a 0xFF byte of data, which no UTF-8 text holds: the line is refused.
    """
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(b"a" + IAC + IAC + b"b\n")
    assert alice.received() == ["!!! That line was not valid UTF-8 and was discarded"]
    assert bob.received() == []


def test_anIacBeforeNoCommandIsData() -> None:
    """
    It never ends a line: the line it is in is refused as not UTF-8, and the next is heard.
    """
    server = FakeServer()
    alice, bob = server.connectMany("alice", "bob")
    alice.protocol.dataReceived(b"a" + IAC + b"\x0bb" + IAC)
    alice.protocol.dataReceived(b"\nnext\n")
    assert alice.received() == [
        "!!! That line was not valid UTF-8 and was discarded",
        "<alice> next",
    ]
    assert bob.received() == ["<alice> next"]


def test_commandsAloneAreIdle() -> None:
    """
    Commands are not lines: a connection that sends nothing else is closed when idle.
    """
    server = FakeServer(limits=Limits(idleTimeout=60))
    (alice,) = server.connectMany("alice")
    for _ in range(7):
        server.clock.advance(10)
        alice.protocol.dataReceived(IAC + b"\xf1" + IAC + SB + NAWS + b"\x00" * 100)
    assert alice.transport.disconnecting
    assert alice.received()[-1].startswith("!!! Idle timeout")


def test_aTimingMarkFloodFromAClientThatDoesNotReadIsBounded() -> None:
    """
    Each answer goes through the connection's output queue: a client that asks and never
    reads is aborted at the SendQ limit, like one that gets too much chat.
    """
    server = FakeServer(limits=Limits(maxSendQ=300, floodRate=0))
    (alice,) = server.connectMany("alice")
    alice.protocol._sendQueue.pauseProducing()  # its socket's buffer is full
    for _ in range(200):
        alice.protocol.dataReceived(IAC + DO + TM)
    assert alice.protocol.closeReason == "SendQ exceeded"


# Whatever the chunks


commands = st.sampled_from(
    [
        CTRL_C,
        IAC + IP,
        IAC + DO + ECHO,
        IAC + WILL + NAWS,
        IAC + WONT + ECHO,
        IAC + b"\xf1",
        IAC + SB + NAWS + b"\x00" + IAC + IAC + b"\x18" + IAC + SE,
    ]
)
# No slash: a line that is a command (/quit, say) would end the test's conversation.
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n/"), max_size=20)
pieces = st.lists(st.one_of(commands, texts.map(str.encode), st.just(b"\r\n")), max_size=16)


@given(pieces, st.lists(st.integers(min_value=0), max_size=10))
def test_howCommandsAreCutIntoChunksChangesNothing(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)

    def feed(chunks: list[bytes]) -> tuple[bytes, bytes, int]:
        peer = Peer()
        telnet = TelnetInput(peer)
        text = b"".join(telnet.feed(chunk) for chunk in chunks)
        return text, peer.replies, peer.interrupts

    text, replies, interrupts = feed(chunked(data, cuts))
    assert (text, replies, interrupts) == feed([data])
    assert text == b"".join(part for part in parts if not part.startswith(IAC))
    assert replies.count(IAC + WILL + TM) == parts.count(CTRL_C)


def heardFrom(chunks: list[bytes]) -> list[str]:
    """
    What a bystander hears when a client sends C{chunks} (decoded as UTF-8: no 0xFF in it).
    """
    server = FakeServer(limits=Limits(floodRate=0))
    alice, bob = server.connectMany("alice", "bob")
    for chunk in chunks:
        alice.protocol.dataReceived(chunk)
    return bob.received()


@given(pieces, st.lists(st.integers(min_value=0), max_size=10))
def test_noCommandIsEverRelayed(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts) + b"\r\n"
    withoutCommands = b"".join(part for part in parts if not part.startswith(IAC)) + b"\r\n"
    assert heardFrom(chunked(data, cuts)) == heardFrom([withoutCommands])


# Debian's telnet, on a terminal, against the real daemon

needsTelnet = pytest.mark.skipif(
    shutil.which("telnet") is None and not os.environ.get("CI"),
    reason="telnet is not installed: apt-get install telnet (.ci/run installs it)",
)


@needsTelnet
def test_telnetHearsTheChatAfterCtrlC(daemons) -> None:
    """
    Ctrl-C makes telnet send C{IAC IP IAC DO TIMING-MARK} and discard all output until the
    mark is answered: the user sees the hint, replies to what they type and the chat, as
    before.
    """
    daemon = daemons()
    port = daemon.ports[0]
    other = joinAs(port, "other")
    telnet = TerminalClient("127.0.0.1", str(port), program=["telnet"], controlling=True, lines=24)
    try:
        telnet.waitForText("has joined #lobby")
        telnet.type("/nick tel\r")
        telnet.waitForText("is now known as tel")
        other.readUntil("is now known as tel")
        telnet.type(b"\x03")
        telnet.waitForText("^C")  # the terminal's echo: telnet has its SIGINT
        # Sent after telnet's IAC IP IAC DO TIMING-MARK, answered after the server's answer.
        telnet.type("/who\r")
        telnet.waitForText("*** In #lobby (2): other tel")
        assert any(line.endswith(HINT) for line in telnet.lines()), telnet.lines()
        other.send("can you still hear me?")
        telnet.waitForText("<other> can you still hear me?")
        telnet.type("yes\r")
        telnet.waitForText("<tel> yes")
        heard = other.readUntil("<tel> yes")
    finally:
        telnet.close()
    # Nothing of telnet's commands reached the other (it decodes UTF-8 strictly).
    assert heard == ["<other> can you still hear me?", "<tel> yes"]

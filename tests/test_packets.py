"""
Clients that send one message per packet with no line ending, as the tutorial's client does,
on the same port as line clients: in memory on a fake clock, and the tutorial's client itself
against the real daemon, next to a raw line client.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from chat.limits import Limits
from chat.line.packets import PACKET_WAIT, asPacket
from chat.line.protocol import ENTRY_DELAY
from daemon import TIMEOUT, joinAs
from helpers import FakeClient, FakeServer

TUTORIAL_CLIENT = Path(__file__).parent / "tutorial_client.py"


def newcomer(server: FakeServer, *others: FakeClient) -> FakeClient:
    """
    A client that has connected and said nothing yet, long enough to have joined its first
    room; what it and C{others} were told so far is forgotten.
    """
    client = server.connect()
    server.clock.advance(ENTRY_DELAY)
    client.sent()
    for other in others:
        other.received()
    return client


def packetClient(server: FakeServer, nick: str) -> FakeClient:
    """
    A client that has sent its first message, C{/nick NICK}, as a packet, and waited: it
    sends packets from now on.  What it was told so far is forgotten.
    """
    client = server.connect()
    client.protocol.dataReceived(f"/nick {nick}".encode())
    server.clock.advance(PACKET_WAIT)
    assert client.protocol.packets
    client.sent()
    return client


def test_aFirstMessageWithNoLineEndIsHeardAfterAPause() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    tutorial = newcomer(server, alice)
    tutorial.protocol.dataReceived(b"hello")
    server.clock.advance(PACKET_WAIT * 0.9)
    assert alice.received() == []
    server.clock.advance(PACKET_WAIT * 0.1)
    assert alice.received() == ["<guest2> hello"]
    assert tutorial.protocol.packets
    assert tutorial.sent() == b"<guest2> hello"


def test_eachPacketIsAMessage() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    tutorial = packetClient(server, "tut")
    alice.received()
    for packet in (b"one", b"two\r\n", b"three\n", b"four\nfive", b"   ", b"/me waves"):
        tutorial.protocol.dataReceived(packet)
    assert alice.received() == [
        "<tut> one",
        "<tut> two",
        "<tut> three",
        "<tut> four",
        "<tut> five",
        "* tut waves",
    ]


def test_packetClientsReadOneLinePerMessage() -> None:
    """
    The tutorial's client prints each C{recv()}, and C{print} adds a line end: what it is sent
    has none after its last line, and bare LFs between lines.
    """
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    tutorial = packetClient(server, "tut")
    alice.received()
    alice.send("hi")
    assert tutorial.sent() == b"<alice> hi"
    alice.send("one")
    alice.send("two")
    assert tutorial.sent() == b"<alice> one\n<alice> two"
    assert alice.received() == ["<alice> hi", "<alice> one", "<alice> two"]


def test_asPacket() -> None:
    assert asPacket(b"a\r\n") == b"a"
    assert asPacket(b"a\r\nb\r\n") == b"a\nb"
    assert asPacket(b"") == b""


def test_lineClientsAreHeardAtOnceAndNeverSwitched() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    nc = newcomer(server, alice)
    nc.protocol.dataReceived(b"hello\n")
    assert alice.received() == ["<guest2> hello"]  # no wait
    nc.protocol.dataReceived(b"no line end yet")
    server.clock.advance(PACKET_WAIT * 10)
    assert alice.received() == []
    nc.protocol.dataReceived(b", now\n")
    assert alice.received() == ["<guest2> no line end yet, now"]
    assert not nc.protocol.packets


def test_aFirstLineCutIntoChunksIsALine() -> None:
    """
    The wait is for quiet after the last chunk: a first line that comes in pieces, however
    long it takes, is a line as soon as its end comes.
    """
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    nc = newcomer(server, alice)
    for piece in (b"one ", b"long ", b"line"):
        nc.protocol.dataReceived(piece)
        server.clock.advance(PACKET_WAIT * 0.9)
    nc.protocol.dataReceived(b"\r\n")
    assert alice.received() == ["<guest2> one long line"]
    assert not nc.protocol.packets


def test_packetsThatComeFastBeforeTheDecisionAreMessagesEach() -> None:
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    tutorial = newcomer(server, alice)
    tutorial.protocol.dataReceived(b"one")
    server.clock.advance(PACKET_WAIT / 2)
    tutorial.protocol.dataReceived(b"two")
    server.clock.advance(PACKET_WAIT)
    assert alice.received() == ["<guest2> one", "<guest2> two"]


def test_telnetCommandsDecideNothing() -> None:
    """
    Ctrl-C before a first line is telnet's, not a first message.
    """
    server = FakeServer()
    (alice,) = server.connectMany("alice")
    telnet = server.connect()
    telnet.protocol.dataReceived(b"\xff\xf4\xff\xfd\x06")
    server.clock.advance(PACKET_WAIT * 2)
    telnet.protocol.dataReceived(b"hi\r\n")
    assert alice.received()[-1] == "<guest2> hi"
    assert not telnet.protocol.packets


def test_theLimitsHoldForPackets() -> None:
    server = FakeServer(limits=Limits(maxLine=10, floodBurst=3, floodRate=1))
    (alice,) = server.connectMany("alice")
    tutorial = packetClient(server, "tut")  # the first of three lines at once
    alice.received()
    tutorial.protocol.dataReceived(b"far too long for it")
    assert tutorial.sent() == b"!!! Line too long (over 10 bytes); it was discarded"
    tutorial.protocol.dataReceived(b"ok")
    tutorial.protocol.dataReceived(b"flood")
    assert alice.received() == ["<tut> ok"]
    server.clock.advance(1)
    assert alice.received() == ["<tut> flood"]


def test_aFirstInputWithNoLineEndPastTheReceiveLimitIsAnOverlongLine() -> None:
    server = FakeServer(limits=Limits(maxLine=10, maxRecvQ=100))
    client = newcomer(server)
    for _ in range(3):
        client.protocol.dataReceived(b"x" * 40)
    assert client.transport.disconnecting
    assert client.sent().endswith(b"!!! Line too long: no end of line in 100 bytes\r\n")


def test_aClientThatGoesBeforeTheDecisionLeavesNoTimer() -> None:
    server = FakeServer()
    client = server.connect()
    client.protocol.dataReceived(b"bye")
    client.disconnect()
    server.clock.advance(0)
    assert server.clock.getDelayedCalls() == []


# The tutorial's client against the real daemon


class TutorialClient:
    """
    L{tutorial_client} in a subprocess: what it is typed goes to its standard input, what it
    prints comes through a pipe.
    """

    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(TUTORIAL_CLIENT), str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.printed = ""
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in iter(lambda: self.process.stdout.read1(65536), b""):
            with self._changed:
                self.printed += raw.decode("utf-8")
                self._changed.notify_all()

    def type(self, line: str) -> None:
        self.process.stdin.write(line.encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def waitFor(self, text: str) -> None:
        """
        Wait until the client has printed C{text}.
        """
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while text not in self.printed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {text!r} printed:\n{self.printed}")
                self._changed.wait(remaining)

    def exit(self) -> None:
        self.type("exit")
        assert self.process.wait(TIMEOUT) == 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)


def greeting(printed: str) -> tuple[str, str]:
    """
    The guest nick the tutorial's client was given, and the rest of what it printed after
    its greeting: sent before the client had said anything, the greeting is in lines, each
    ending in CRLF, and C{print} adds a blank line after it (after the welcome too, when the
    join comes L{ENTRY_DELAY} later, in a packet of its own).
    """
    match = re.match(
        r"\*\*\* Welcome to chat, (guest\d+)! Type /help for the commands\.\r\n\n?"
        r"\*\*\* \1 has joined #lobby\r\n\n",
        printed,
    )
    assert match, printed
    return match.group(1), printed[match.end() :]


def test_theTutorialsClientNextToALineClient(daemons) -> None:
    daemon = daemons()
    port = daemon.ports[0]
    nc = joinAs(port, "nc")
    sender, listener = TutorialClient(port), None
    try:
        sender.waitFor("has joined #lobby")
        sender.type("/nick sender")
        sender.waitFor("is now known as sender")
        nc.readUntil("is now known as sender")
        listener = TutorialClient(port)
        listener.waitFor("has joined #lobby")
        listener.type("/nick listener")
        listener.waitFor("is now known as listener")
        sender.waitFor("is now known as listener")
        nc.readUntil("is now known as listener")

        sender.type("hello from the tutorial")
        assert nc.readLine() == "<sender> hello from the tutorial"
        listener.waitFor("<sender> hello from the tutorial")
        sender.waitFor("<sender> hello from the tutorial")
        nc.send("hello from nc")
        listener.waitFor("<nc> hello from nc")
        sender.waitFor("<nc> hello from nc")
        assert nc.readLine() == "<nc> hello from nc"

        listener.exit()
        # With print's own line end, written apart: exiting before it would cut it off.
        sender.waitFor("*** listener has quit (Connection closed)\n")
        sender.exit()
        assert nc.readUntil("sender has quit")[-2:] == [
            "*** listener has quit (Connection closed)",
            "*** sender has quit (Connection closed)",
        ]
    finally:
        for client in (sender, listener):
            if client is not None:
                client.stop()
    daemon.waitForLog(r"sends a message per packet", count=2)

    # What each printed reads as one line per message: no blank lines, no stray CRs.
    senderGuest, senderScreen = greeting(sender.printed)
    listenerGuest, listenerScreen = greeting(listener.printed)
    assert senderScreen.splitlines() == [
        f"*** {senderGuest} is now known as sender",
        f"*** {listenerGuest} has joined #lobby",
        f"*** {listenerGuest} is now known as listener",
        "<sender> hello from the tutorial",
        "<nc> hello from nc",
        "*** listener has quit (Connection closed)",
    ]
    assert listenerScreen.splitlines() == [
        f"*** {listenerGuest} is now known as listener",
        "<sender> hello from the tutorial",
        "<nc> hello from nc",
    ]
    assert senderScreen.endswith("\n") and "\n\n" not in senderScreen and "\r" not in senderScreen
    assert "\n\n" not in listenerScreen and "\r" not in listenerScreen

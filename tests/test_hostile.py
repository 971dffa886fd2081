"""
Hostile and broken clients against the real C{twistd chat}, over loopback sockets.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest


from daemon import TIMEOUT, LineSocket, joinAs as connect


def test_nonReadingClientIsCutOffWhileTheOthersGetEverything(daemons) -> None:
    daemon = daemons("--flood-rate", "0")
    port = daemon.ports[0]
    sender = connect(port, "sender")
    readers = [sender] + [connect(port, f"reader{n}") for n in range(20)]
    stalled = connect(port, "stalled", receiveBuffer=4096)
    # 6.7 MB to each: past what the kernel's socket buffers absorb (up to 4 MiB on Linux) plus
    # the 1 MiB cap.
    count, padding, step = 3500, "." * 1900, 250
    got: dict[int, list[str]] = {index: [] for index in range(len(readers))}
    progress = [-1] * len(readers)
    moved = threading.Condition()

    def read(index: int, reader: LineSocket) -> None:
        for checkpoint in range(step - 1, count, step):
            got[index] += reader.readBulk(f"line {checkpoint} ")
            with moved:
                progress[index] = checkpoint
                moved.notify_all()

    threads = [threading.Thread(target=read, args=pair) for pair in enumerate(readers)]
    for thread in threads:
        thread.start()
    for n in range(count):
        if n % step == 0 and n >= step:
            # The readers share this process's one interpreter: keep them within 1 MB of the
            # sender (two steps), under the 1 MiB send-queue cap even when the kernel's socket
            # buffers are still small, or the server would rightly cut them off as slow
            # readers too.
            with moved:
                assert moved.wait_for(lambda: min(progress) >= n - step - 1, TIMEOUT)
        sender.send(f"line {n} {padding}")
    for thread in threads:
        thread.join(TIMEOUT * 3)
    expected = [f"<sender> line {n} {padding}" for n in range(count)]
    assert progress == [count - 1] * len(readers)
    for lines in got.values():
        assert [line for line in lines if line.startswith("<sender> ")] == expected
        assert "*** stalled has quit (SendQ exceeded)" in lines
    daemon.waitForLog(r"\(stalled\) disconnected: SendQ exceeded")
    with pytest.raises(ConnectionResetError):  # held open, never read, and then cut off
        stalled.readAll()


def test_megabyteWithoutNewlineIsDisconnected(daemons) -> None:
    port = daemons().ports[0]
    attacker, bystander = connect(port, "attacker"), connect(port, "bystander")
    try:
        attacker.send(b"x" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before it has read it all
    lines = attacker.readAll()
    assert lines[-1] == "!!! Line too long: no end of line in 65536 bytes"
    assert bystander.readUntil("attacker has quit")[-1].startswith("*** attacker has quit")


def test_pasteArrivesWholeAndInOrderUnderTheFloodLimit(daemons) -> None:
    port = daemons("--flood-burst", "10", "--flood-rate", "50").ports[0]
    paster, reader = connect(port, "paster"), connect(port, "reader")
    paster.send(b"".join(b"paste %d\n" % n for n in range(50)))
    lines = reader.readUntil("paste 49")
    assert [line for line in lines if "paste" in line] == [f"<paster> paste {n}" for n in range(50)]


def test_escapeSequencesNeverReachAPeer(daemons) -> None:
    port = daemons().ports[0]
    attacker, victim = connect(port, "attacker"), connect(port, "victim")
    attacker.send(b"\x1b[2J clear \x1b]0;title\x07 osc \x1bP1;2q dcs \x1b\\ \xc2\x9b csi\n")
    line = victim.readUntil("csi")[-1]
    assert line == "<attacker> ^[[2J clear ^[]0;title^G osc ^[P1;2q dcs ^[\\ <U+009B> csi"
    assert not any(0 < ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line)


def test_wrongProtocolsAreTurnedAwayCleanly(daemons) -> None:
    daemon = daemons()
    port = daemon.ports[0]
    browser = LineSocket(port)
    browser.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert browser.readAll()[-1] == "!!! This is a chat server, not a web server"
    tls = LineSocket(port)
    tls.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 4)
    assert tls.readAll()[-1] == "!!! This port speaks plain text, not TLS"
    survivor = connect(port, "survivor")
    survivor.send("still up")
    assert survivor.readUntil("still up")[-1] == "<survivor> still up"


def test_resetConnectionsAreRemovedOnce(daemons) -> None:
    daemon = daemons()
    port = daemon.ports[0]
    watcher = connect(port, "watcher")
    for n in range(5):
        victim = connect(port, f"gone{n}")
        victim.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        victim.close()  # linger 0: the kernel sends a reset
        assert watcher.readUntil(f"gone{n} has quit")[-1].startswith(f"*** gone{n} has quit")
    watcher.send("/who")
    assert watcher.readUntil("In #lobby")[-1] == "*** In #lobby (1): watcher"


def test_tooManyFromOneAddress(daemons) -> None:
    daemon = daemons("--max-per-ip", "2", "--per-ip-exempt", "")
    port = daemon.ports[0]
    first, second = LineSocket(port), LineSocket(port)
    first.readUntil("has joined"), second.readUntil("has joined")
    third = LineSocket(port)
    assert third.readAll() == ["!!! Too many connections from 127.0.0.1"]
    first.close()
    daemon.waitForLog(r"\(guest1\) disconnected")
    assert "has joined" in LineSocket(port).readUntil("has joined")[-1]


def test_shutdownWithAClientThatNeverReads(daemons) -> None:
    daemon = daemons("--shutdown-grace", "1", "--flood-rate", "0")
    port = daemon.ports[0]
    talker, listener = connect(port, "talker"), connect(port, "listener")
    stalled = connect(port, "stalled", receiveBuffer=4096)
    for n in range(400):  # fill the stalled client's buffers, under the send-queue cap
        talker.send(f"line {n} " + "." * 1000)
    listener.readUntil("line 399 ")
    began = time.monotonic()
    assert daemon.terminate() == 0
    assert time.monotonic() - began < 1 + TIMEOUT / 2
    assert "*** Server shutting down" in listener.readAll()
    stalled.close()

"""
What the real daemon keeps across a restart: room history and accounts in its SQLite file,
whether it was stopped (SIGTERM) or killed (SIGKILL); and nothing with C{--state ''}.
"""

from __future__ import annotations

import signal

from daemon import TIMEOUT, LineSocket, connect


def sayAndSee(daemon, nick: str, *lines: str):
    """
    Connect as C{nick} and say C{lines}; return the client once C{/history} shows them, which
    means they are in the state file: the store reads after the writes queued before.
    """
    client = connect(daemon, nick)
    for line in lines:
        client.send(line)
        client.readUntil(line)
    client.send("/history")
    client.readUntil(f"<{nick}> {lines[-1]}")
    return client


def replayed(daemon) -> list[str]:
    """
    The history lines replayed to a new client on joining the default room, without their
    time stamps.
    """
    client = LineSocket(daemon.ports[0])
    client.send("/who")  # a marker after the replay
    lines = client.readUntil("In #lobby")
    client.close()
    return [line.split("] ", 1)[1] for line in lines if line.startswith("[history ")]


def test_historyAndAccountsSurviveSigterm(daemons, tmp_path) -> None:
    state = str(tmp_path / "state.sqlite3")
    first = daemons("--state", state)
    alice = sayAndSee(first, "alice", "before the restart", "second line")
    alice.send("/register secret123")
    alice.readUntil("registered")
    assert first.terminate() == 0

    second = daemons("--state", state)
    assert replayed(second) == [
        "<alice> before the restart",
        "<alice> second line",
    ]
    carol = connect(second, "carol")
    carol.send("/nick alice")
    assert "is registered" in carol.readUntil("registered")[-1]
    carol.send("/identify alice wrongpassword")
    carol.readUntil("Wrong password")
    carol.send("/identify alice secret123")
    assert carol.readUntil("now known as alice")[0] == "*** You are identified as alice"
    second.waitForLog(r"identified as alice")
    # Passwords, right or wrong, are never logged.
    assert "secret123" not in first.log() + second.log()
    assert "wrongpassword" not in second.log()


def test_historySurvivesSigkill(daemons, tmp_path) -> None:
    """
    A commit is durable against a killed process (WAL, synchronous=NORMAL): what the server
    wrote before the kill is there after it.
    """
    state = str(tmp_path / "state.sqlite3")
    first = daemons("--state", state)
    sayAndSee(first, "alice", "written before the kill")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(TIMEOUT)

    second = daemons("--state", state)
    assert replayed(second) == [
        "<alice> written before the kill"
    ]


def test_noStateKeepsNothing(daemons, tmp_path) -> None:
    first = daemons("--state", "")
    alice = sayAndSee(first, "alice", "forgotten")
    alice.send("/register secret123")
    alice.readUntil("registered")
    assert first.terminate() == 0
    assert list(tmp_path.glob("*.sqlite3*")) == []

    second = daemons("--state", "")
    assert replayed(second) == []
    carol = connect(second, "carol")
    carol.send("/nick alice")
    assert carol.readUntil("alice")[-1] == "*** carol is now known as alice"


def test_defaultStateFile(daemons, tmp_path) -> None:
    """
    Without C{--state}, the daemon keeps its state in chat.sqlite3 in its directory.
    """
    first = daemons()
    sayAndSee(first, "alice", "kept by default")
    assert first.terminate() == 0
    assert (tmp_path / "chat.sqlite3").exists()
    second = daemons()
    assert replayed(second) == [
        "<alice> kept by default"
    ]


def test_moderationSurvivesSigkill(daemons, tmp_path) -> None:
    """
    An owner and a ban, decided through the real daemon, hold after it is killed; the ban is
    in the audit log.
    """
    state = str(tmp_path / "state.sqlite3")
    first = daemons("--state", state, "--oper", "root")
    alice = connect(first, "alice")
    alice.send("/register secret123")
    alice.readUntil("is registered")
    alice.send("/join #dev")
    alice.readUntil("joined #dev")
    alice.send("/claim")
    alice.readUntil("alice claimed #dev")
    alice.send("/ban mallory 7d spam")
    alice.readUntil("alice banned nick:mallory from #dev")
    # /history reads the file after what was queued for it, the ban among it.
    alice.send("/history")
    alice.readUntil("Nothing was said in #dev")
    first.waitForLog(r"audit: alice ban nick:mallory in #dev for 1w \(spam\)")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(TIMEOUT)

    second = daemons("--state", state)
    mallory = connect(second, "mallory")
    mallory.send("/join #dev")
    assert mallory.readUntil("#dev")[-1] == "!!! You are banned from #dev (spam)"
    carol = connect(second, "carol")
    carol.send("/join #dev")
    carol.readUntil("joined #dev")
    carol.send("/claim")
    assert carol.readUntil("claim")[-1] == "!!! You must /identify to claim a room"

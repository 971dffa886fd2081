"""
A real IRC client, C{sic}, against the real C{twistd chat --irc}, talking with a raw line
client in C{#lobby} over loopback.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time

import pytest

from daemon import TIMEOUT, LineSocket, joinAs

SIC = shutil.which("sic")
pytestmark = pytest.mark.skipif(
    SIC is None and not os.environ.get("CI"),
    reason="sic is not installed: apt-get install sic (.ci/run installs it)",
)


class Sic:
    """
    C{sic} in a subprocess, its standard output read a line at a time.
    """

    def __init__(self, port: int, nick: str) -> None:
        argv = [SIC, "-h", "127.0.0.1", "-p", str(port), "-n", nick]
        stdbuf = shutil.which("stdbuf")
        if stdbuf is not None:  # sic writes through stdio: line-buffer it, not block-buffer it
            argv = [stdbuf, "-oL", *argv]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.process.stdout:
            self._lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self._lines.put(None)

    def send(self, line: str) -> None:
        self.process.stdin.write(line.encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def waitFor(self, wanted: str) -> str:
        """
        The first line from now on that contains C{wanted}, within the test timeout.
        """
        deadline = time.monotonic() + TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(f"sic printed no {wanted!r}:\n" + "\n".join(self.output))
            if line is None:
                raise AssertionError(f"sic exited before {wanted!r}:\n" + "\n".join(self.output))
            self.output.append(line)
            if wanted in line:
                return line

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)


@pytest.fixture
def sic():
    started: list[Sic] = []

    def start(port: int, nick: str) -> Sic:
        client = Sic(port, nick)
        started.append(client)
        return client

    yield start
    for client in started:
        client.stop()


def test_sicAndALineClientInTheLobby(daemons, sic) -> None:
    daemon = daemons("--irc", "tcp:0:interface=127.0.0.1")
    (line,) = daemon.waitForLog(r"LineFactory starting on (\d+)")
    (irc,) = daemon.waitForLog(r"IRCFactory starting on (\d+)")
    bob: LineSocket = joinAs(int(line.group(1)), "bob")

    client = sic(int(irc.group(1)), "sicky")
    client.waitFor("001 (sicky): Welcome to the chat IRC network")
    client.waitFor("422 (sicky)")
    client.send(":j #lobby")
    assert "sicky" in client.waitFor("353 (sicky = #lobby)") and "bob" in client.output[-1]
    assert bob.readUntil("sicky")[-1] == "*** sicky has joined #lobby"

    client.send("hello from sic")
    assert bob.readUntil("hello from sic")[-1] == "<sicky> hello from sic"
    bob.send("hi sicky")
    assert client.waitFor("<bob> hi sicky").startswith("#lobby")

    client.send(":m bob psst")
    assert bob.readUntil("psst")[-1] == "*sicky* psst"
    bob.send("/msg sicky secret")
    assert client.waitFor("<bob> secret").startswith("sicky ")  # sic shows the target

    bob.send("/topic Welcome all")
    assert client.waitFor(">< TOPIC (#lobby): Welcome all").startswith("bob")
    bob.send("/nick robert")
    assert client.waitFor(">< NICK (): robert").startswith("bob")

    client.send(":QUIT :bye now")
    assert bob.readUntil("sicky has quit")[-1] == "*** sicky has quit (Quit: bye now)"
    daemon.waitForLog(r"sicky\) disconnected")
    bob.close()

"""
A real files-based IRC client, C{ii}, against the real C{twistd chat --irc}, talking with a
raw line client over loopback: joining, lines both ways, a nick change, private messages
both ways, parting and quitting.  C{ii} is driven the way its users drive it: lines written
to its C{in} FIFOs, and its C{out} files read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from daemon import TIMEOUT, LineSocket, joinAs

II_BINARY = shutil.which("ii")
pytestmark = pytest.mark.skipif(
    II_BINARY is None and not os.environ.get("CI"),
    reason="ii is not installed: apt-get install ii (.ci/run installs it)",
)


class IIClient:
    """
    C{ii} in a subprocess, with its tree of FIFOs and files under C{root}.
    """

    def __init__(self, port: int, nick: str, root: Path) -> None:
        self.root = root
        self.server = root / "127.0.0.1"
        self.process = subprocess.Popen(
            [II_BINARY, "-s", "127.0.0.1", "-p", str(port), "-n", nick, "-i", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def write(self, line: str, where: str = "") -> None:
        """
        Write C{line} to the C{in} FIFO of C{where} (a channel or nick directory, or the
        server's), once C{ii} has made it.
        """
        fifo = self._waitForPath((self.server / where / "in") if where else self.server / "in")
        # ii holds its FIFOs open for reading: opening one for writing does not block.
        with open(fifo, "wb", buffering=0) as f:
            f.write(line.encode("utf-8") + b"\n")

    def waitFor(self, wanted: str, where: str = "") -> str:
        """
        The first line of the C{out} file of C{where} that contains C{wanted}, once there is
        one, within the test timeout.
        """
        out = self._waitForPath((self.server / where / "out") if where else self.server / "out")
        deadline = time.monotonic() + TIMEOUT
        while True:
            for line in out.read_text("utf-8", "replace").splitlines():
                if wanted in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"ii wrote no {wanted!r} to {out}:\n{out.read_text('utf-8', 'replace')}")
            if self.process.poll() is not None:
                raise AssertionError(f"ii exited before writing {wanted!r} to {out}")
            time.sleep(0.02)

    def _waitForPath(self, path: Path) -> Path:
        deadline = time.monotonic() + TIMEOUT
        while not path.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"ii made no {path}")
            time.sleep(0.02)
        return path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)


def test_iiAndALineClient(daemons, tmp_path: Path) -> None:
    daemon = daemons("--irc", "tcp:0:interface=127.0.0.1")
    (line,) = daemon.waitForLog(r"LineFactory starting on (\d+)")
    (irc,) = daemon.waitForLog(r"IRCFactory starting on (\d+)")
    bob: LineSocket = joinAs(int(line.group(1)), "bob")
    client = IIClient(int(irc.group(1)), "iris", tmp_path / "irc")
    try:
        client.waitFor("Welcome to the chat IRC network, iris!iris@chat")
        client.write("/j #lobby")
        assert bob.readUntil("iris")[-1] == "*** iris has joined #lobby"
        client.waitFor("iris(iris@chat) has joined #lobby", "#lobby")

        client.write("hello from ii", "#lobby")
        assert bob.readUntil("hello from ii")[-1] == "<iris> hello from ii"
        bob.send("hi iris")
        assert client.waitFor("hi iris", "#lobby").endswith("<bob> hi iris")

        bob.send("/msg iris a secret")
        assert client.waitFor("a secret", "bob").endswith("<bob> a secret")
        client.write("/j bob and one back")
        assert bob.readUntil("one back")[-1] == "*iris* and one back"

        client.write("/n irene")
        assert bob.readUntil("irene")[-1] == "*** iris is now known as irene"
        # ii keeps no list of who is in a room: it writes every nick change to the server's file.
        client.waitFor('changed nick to "irene"')
        bob.send("/nick robert")
        assert client.waitFor("robert").endswith("bob changed nick to robert")

        client.write("/l", "#lobby")
        assert bob.readUntil("irene")[-1] == "*** irene has left #lobby"
        client.write("/j #lobby")
        bob.readUntil("irene has joined")
        client.write("/q see you")
        assert bob.readUntil("irene has quit")[-1] == "*** irene has quit (Quit: see you)"
        daemon.waitForLog(r"irene\) disconnected")
    finally:
        client.stop()
        bob.close()

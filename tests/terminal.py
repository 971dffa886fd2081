"""
The real client (or another terminal program, such as telnet) on a pseudo-terminal, its
screen rendered by a terminal emulator (pyte), so that tests read what a person would see.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Sequence

import pyte

from daemon import ROOT, TIMEOUT


CHAT_CLIENT = (sys.executable, "-m", "chat.client")


def _takeTerminal() -> None:
    """
    In the child, a session leader by now: make its standard input, the pseudo-terminal, its
    controlling terminal, so that Ctrl-C typed there sends it C{SIGINT}.
    """
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class TerminalClient:
    def __init__(
        self,
        *argv: str,
        env: dict[str, str] | None = None,
        columns: int = 80,
        lines: int = 12,
        program: Sequence[str] = CHAT_CLIENT,
        controlling: bool = False,
    ):
        """
        Run C{program} with C{argv} on a new pseudo-terminal; with C{controlling}, as the
        terminal's controlling process, whose line discipline turns Ctrl-C into C{SIGINT}.
        """
        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        termios.tcsetwinsize(slave, (lines, columns))
        self.slave = slave
        self.modeBefore = termios.tcgetattr(slave)
        environment = {**os.environ, "TERM": "xterm"}
        environment.pop("NO_COLOR", None)
        environment.update(env or {})
        self.process = subprocess.Popen(
            [*program, *argv],
            stdin=slave, stdout=slave, stderr=subprocess.PIPE,
            cwd=ROOT, env=environment, start_new_session=True,
            preexec_fn=_takeTerminal if controlling else None,
        )
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def type(self, keys: str | bytes) -> None:
        os.write(self.master, keys.encode("utf-8") if isinstance(keys, str) else keys)

    def pump(self, seconds: float = 0.05) -> None:
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            readable, _, _ = select.select([self.master], [], [], remaining)
            if readable:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # the client has gone and the pty is closed
                    return
                self.raw += data
                self.stream.feed(data)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def waitFor(self, condition, what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} on the screen:\n" + "\n".join(self.lines()))
            self.pump()

    def waitForText(self, text: str) -> None:
        self.waitFor(lambda: any(text in line for line in self.lines()), repr(text))

    def inputLine(self) -> str:
        """
        The line the cursor is on: the prompt and what is typed.
        """
        return self.lines()[self.screen.cursor.y]

    def wait(self) -> int:
        deadline = time.monotonic() + TIMEOUT
        while self.process.poll() is None and time.monotonic() < deadline:
            self.pump()
        return self.process.wait(1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)

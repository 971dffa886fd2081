"""
The real thing for integration tests: C{twistd chat} in a subprocess, raw sockets and the
real client talking to it over loopback.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TWISTD = str(BIN / "twistd")
ROOT = Path(__file__).parent.parent
TIMEOUT = 10.0


class Daemon:
    """
    A running C{twistd -n chat}; C{ports} are the TCP ports it listens on, in order.
    """

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        # The checkout's chat package before the installed copy, so that the tests exercise
        # the working tree; the installed plugin file finds it there.
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.output: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in self.process.stdout:
            with self._changed:
                self.output.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def waitForLog(self, pattern: str, count: int = 1) -> list[re.Match[str]]:
        """
        Wait until C{count} log lines match C{pattern}; return their matches.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + TIMEOUT
        with self._changed:
            while True:
                matches = [m for m in map(regex.search, self.output) if m]
                if len(matches) >= count:
                    return matches
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"no {count} log lines matching {pattern!r}:\n" + self.log()
                    )
                self._changed.wait(min(remaining, 0.2))

    def log(self) -> str:
        with self._changed:
            return "\n".join(self.output)

    @property
    def ports(self) -> list[int]:
        return [int(m.group(1)) for m in self.waitForLog(r"starting on (\d+)")]

    def terminate(self) -> int:
        """
        Send SIGTERM and return the exit status.
        """
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)


def waitUntil(condition, what: str) -> None:
    """
    Wait, a bounded time, until C{condition()} holds: for what no log line or received line
    announces (a key in Redis, a file on disk).
    """
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.05)


def startDaemon(
    tmp_path: Path, *options: str, ports: int = 1, env: dict[str, str] | None = None
) -> Daemon:
    """
    Start C{twistd -n chat} with C{options} (by default on a free loopback TCP port) and wait
    until it listens on C{ports} ports; C{env} adds to its environment.
    """
    if not any(option in ("-p", "--port") for option in options):
        options = ("--port", "tcp:0:interface=127.0.0.1") + options
    daemon = Daemon([TWISTD, "-n", "--pidfile=", "chat", *options], tmp_path, env)
    daemon.waitForLog(r"starting on ", count=ports)
    return daemon


class LineSocket:
    """
    A raw TCP client, as C{nc} would be, reading whole lines.
    """

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        family: int = socket.AF_INET,
        receiveBuffer: int | None = None,
    ) -> None:
        """
        @param receiveBuffer: a small C{SO_RCVBUF}, for a client that stops reading to fill
            up the server's buffers quickly.
        """
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if receiveBuffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, port) if family != socket.AF_UNIX else host)
        self._buffer = b""

    @classmethod
    def unix(cls, path: str) -> LineSocket:
        return cls(0, path, socket.AF_UNIX)

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8") + b"\n"
        self.sock.sendall(data)

    def readLine(self) -> str:
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"connection closed; unterminated: {self._buffer!r}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8")

    def readUntil(self, wanted: str) -> list[str]:
        """
        Read lines up to and including the first that contains C{wanted}.
        """
        lines = []
        while not lines or wanted not in lines[-1]:
            lines.append(self.readLine())
        return lines

    def readBulk(self, wanted: str) -> list[str]:
        """
        L{readUntil} for megabytes: split into lines once, at the end, so that the reader
        keeps up with the server.
        """
        marker = wanted.encode("utf-8")
        chunks = [self._buffer]
        tail = self._buffer
        # Until the marker and the end of its line are in: a chunk may end inside that line.
        while (found := tail.find(marker)) < 0 or b"\r\n" not in tail[found:]:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError(f"connection closed before {wanted!r}")
            chunks.append(chunk)
            tail = (tail[found:] if found >= 0 else tail[-len(marker) :]) + chunk
        data = b"".join(chunks)
        end = data.index(b"\r\n", data.index(marker)) + 2
        self._buffer = data[end:]
        return data[:end].decode("utf-8").split("\r\n")[:-1]

    def readAll(self) -> list[str]:
        """
        Read every line until the server closes the connection.
        """
        lines = []
        try:
            while True:
                lines.append(self.readLine())
        except EOFError:
            return lines

    def close(self) -> None:
        self.sock.close()


def joinAs(port: int, nick: str, receiveBuffer: int | None = None) -> LineSocket:
    """
    A raw client that has connected and taken C{nick}, its earlier lines read.
    """
    client = LineSocket(port, receiveBuffer=receiveBuffer)
    client.readUntil("Welcome")
    client.send(f"/nick {nick}")
    client.readUntil(f"now known as {nick}")
    return client


def connect(daemon: Daemon, nick: str) -> LineSocket:
    """
    A raw client of C{daemon}'s first port that has taken C{nick}.
    """
    return joinAs(daemon.ports[0], nick)


def runClient(*argv: str, input: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "chat.client", *argv],
        input=input,
        capture_output=True,
        timeout=TIMEOUT * 2,
        cwd=ROOT,
    )

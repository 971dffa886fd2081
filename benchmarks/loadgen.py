"""
A load generator for line-based broadcast chat servers, in Python and bounded in time.

C{clients} connections to a loopback port; C{senders} of them send tagged lines at a fixed
total C{rate}; every client checks that it gets every sender's lines exactly once and in
order, and the time each took.  A tag is C{B<sender>:<seq>:<monotonic ns>} anywhere in a
line, so a server may add a prefix such as C{<nick> }.
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from dataclasses import dataclass, field

_TAG = re.compile(rb"B(\d+):(\d+):(\d+)")


@dataclass
class Result:
    expected: int = 0
    delivered: int = 0
    outOfOrder: int = 0
    duplicated: int = 0
    latenciesUs: list[float] = field(default_factory=list)
    # Deliveries from a sender on one server to a client on another (a cluster's nodes).
    crossLatenciesUs: list[float] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.expected - self.delivered

    def percentile(self, p: float, cross: bool = False) -> float:
        latencies = self.crossLatenciesUs if cross else self.latenciesUs
        if not latencies:
            return float("nan")
        ordered = sorted(latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class _Client:
    __slots__ = ("sock", "buffer", "lastSeq", "synced", "server")

    def __init__(self, port: int, server: int = 0) -> None:
        self.server = server
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buffer = b""
        self.lastSeq: dict[int, int] = {}
        self.synced = False


class LoadGenerator:
    """
    Connections to one server; L{connect} first, then L{drive} or L{hold}.
    """

    def __init__(self, ports: int | list[int], clients: int) -> None:
        """
        @param ports: the server's port, or the ports of several servers of one cluster:
            client I connects to C{ports[I % len(ports)]}.
        """
        self.ports = [ports] if isinstance(ports, int) else ports
        self.count = clients
        self.clients: list[_Client] = []
        self.selector = selectors.DefaultSelector()
        self.result = Result()

    def connect(self, timeout: float = 30) -> None:
        """
        Connect every client and wait until a line sent by the first reaches all of them.
        """
        for index in range(self.count):
            server = index % len(self.ports)
            client = _Client(self.ports[server], server)
            self.clients.append(client)
            self.selector.register(client.sock, selectors.EVENT_READ, client)
        if len(self.ports) > 1:
            time.sleep(0.5)  # let every node hear of every client before the sync line
        self.clients[0].sock.sendall(b"SYNC\n")
        deadline = time.monotonic() + timeout
        while not all(client.synced for client in self.clients):
            if time.monotonic() > deadline:
                raise TimeoutError("not every client got the sync line")
            self._poll(0.1)

    def drive(self, senders: int, rate: float, seconds: float, size: int = 64) -> Result:
        """
        Send C{rate} lines a second in all, for C{seconds}, spread over C{senders} clients;
        then wait (a bounded time) for the last deliveries.
        """
        interval = senders / rate
        total = int(rate * seconds)
        sequence = [0] * senders
        start = time.monotonic()
        sent = 0
        while sent < total:
            now = time.monotonic()
            due = min(total, int((now - start) / interval * senders) + 1)
            while sent < due:
                sender = sent % senders
                tag = b"B%d:%d:%d " % (sender, sequence[sender], time.monotonic_ns())
                self.clients[sender].sock.sendall(tag + b"x" * max(0, size - len(tag)) + b"\n")
                sequence[sender] += 1
                sent += 1
            self._poll(max(0.0, start + sent * interval / senders - time.monotonic()))
        self.result.expected = sent * len(self.clients)
        deadline = time.monotonic() + 10
        while self.result.delivered < self.result.expected and time.monotonic() < deadline:
            self._poll(0.05)
        return self.result

    def hold(self, seconds: float) -> None:
        """
        Keep the connections open and idle, reading whatever arrives.
        """
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._poll(0.1)

    def close(self) -> None:
        for client in self.clients:
            self.selector.unregister(client.sock)
            client.sock.close()
        self.selector.close()

    def _poll(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            client: _Client = key.data
            try:
                data = client.sock.recv(1 << 16)
            except BlockingIOError:
                continue
            if not data:
                raise ConnectionError("the server closed a connection")
            lines = (client.buffer + data).split(b"\n")
            client.buffer = lines.pop()
            received = time.monotonic_ns()
            for line in lines:
                self._check(client, line, received)

    def _check(self, client: _Client, line: bytes, received: int) -> None:
        match = _TAG.search(line)
        if match is None:
            if b"SYNC" in line:
                client.synced = True
            return
        sender, seq, sentAt = (int(group) for group in match.groups())
        last = client.lastSeq.get(sender, -1)
        if seq <= last:
            self.result.duplicated += 1
            return
        if seq != last + 1:
            self.result.outOfOrder += 1
        client.lastSeq[sender] = seq
        self.result.delivered += 1
        latency = (received - sentAt) / 1000
        self.result.latenciesUs.append(latency)
        if self.clients[sender].server != client.server:
            self.result.crossLatenciesUs.append(latency)

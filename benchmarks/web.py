"""
Benchmark the chat daemon's WebSocket fan-out against a Node.js broadcast server on the `ws`
package, at the same load.

    .venv/bin/python benchmarks/web.py [--clients 50] [--senders 5] [--rate 200] [--seconds 5]

Each server runs alone on CPU 0, the load generator (the `websockets` client, on asyncio) on
CPU 1 where there are two.  Every client sits in one room and hears every line: each line
sent is one delivery per client.  Printed: a Markdown table of server CPU per delivery,
latency and losses, with the ratio to the baseline.  The Node.js server is installed on first
use with `npm install` in `benchmarks/ws/`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import BIN, Server, freePort, pin  # noqa: E402

from websockets.asyncio.client import connect  # noqa: E402

HERE = Path(__file__).parent


def chatServer(port: int) -> Server:
    argv = [
        str(BIN / "twistd"), "-n", "--pidfile=", "--logfile=-", "chat",
        "--port", "tcp:0:interface=127.0.0.1", "--web", f"tcp:{port}:interface=127.0.0.1",
        "--flood-burst", "1000", "--flood-rate", "100000",
        # No state file: runs would pile up lines in one, and measure each other.
        "--state", "",
    ]
    return Server("chat daemon", argv, port)


def nodeServer(port: int) -> Server:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("needs Node.js: sudo apt-get install nodejs npm")
    if not (HERE / "ws" / "node_modules" / "ws").exists():
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=HERE / "ws", check=True)
    return Server("Node.js ws", [node, str(HERE / "ws" / "server.js"), str(port)], port)


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.delivered = 0
        self.expected = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else 0.0


async def drive(port: int, options: argparse.Namespace, server: Server) -> tuple[Result, float]:
    """
    Connect the clients, join them to C{#lobby}, and have the senders talk for a while.
    Return what was delivered and the server's CPU seconds over the run.
    """
    result = Result()
    url = f"ws://127.0.0.1:{port}/ws"
    sockets = []
    for _ in range(options.clients):
        socket = await connect(url, compression=None, max_queue=None, ping_interval=None)
        json.loads(await socket.recv())  # welcome
        await socket.send('{"type":"join","room":"#lobby"}')
        sockets.append(socket)
    done = asyncio.Event()

    async def read(socket) -> None:
        async for message in socket:
            if '"said"' not in message:
                continue
            sent = float(json.loads(message)["text"].split()[1])
            result.latencies.append(time.perf_counter() - sent)
            result.delivered += 1
            if result.delivered >= result.expected and sending.done():
                done.set()

    async def send(socket, rate: float, until: float) -> int:
        count = 0
        start = time.perf_counter()
        while (now := time.perf_counter()) < until:
            count += 1
            result.expected += options.clients
            await socket.send(json.dumps({"type": "say", "room": "#lobby", "text": f"{count} {now!r}"}))
            wait = start + count / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        return count

    await asyncio.sleep(0.5)  # every join answered
    readers = [asyncio.create_task(read(socket)) for socket in sockets]
    before = server.cpuSeconds()
    until = time.perf_counter() + options.seconds
    sending = asyncio.gather(*(send(s, options.rate / options.senders, until) for s in sockets[: options.senders]))
    await sending
    try:
        await asyncio.wait_for(done.wait(), 5)
    except TimeoutError:
        pass
    cpu = server.cpuSeconds() - before
    for socket in sockets:
        await socket.close()
    for reader in readers:
        reader.cancel()
    return result, cpu


def measure(start, options: argparse.Namespace) -> dict[str, float]:
    server = start(freePort())
    try:
        result, cpu = asyncio.run(drive(server.port, options, server))
    finally:
        server.stop()
    return {
        "cpu": cpu * 1e6 / max(1, result.delivered),
        "p50": result.percentile(50) * 1000,
        "p99": result.percentile(99) * 1000,
        "delivered": result.delivered,
        "lost": result.expected - result.delivered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--senders", type=int, default=5)
    parser.add_argument("--rate", type=float, default=200, help="lines a second, all senders")
    parser.add_argument("--seconds", type=float, default=5)
    options = parser.parse_args()
    pin(1)
    chat = measure(chatServer, options)
    node = measure(nodeServer, options)
    print(
        f"{options.clients} WebSocket clients in one room, {options.senders} senders, "
        f"{options.rate:g} lines/s for {options.seconds:g} s "
        f"({options.rate * options.clients:,.0f} deliveries/s); "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}\n"
    )
    print("| server | CPU µs / delivery | p50 ms | p99 ms | delivered | lost |")
    print("|---|---|---|---|---|---|")
    for name, row in (("chat daemon (--web)", chat), ("Node.js ws broadcast", node)):
        print(
            f"| {name} | {row['cpu']:.2f} | {row['p50']:.2f} | {row['p99']:.2f} | "
            f"{row['delivered']:,} | {row['lost']} |"
        )
    print(
        f"| ratio (daemon / Node.js) | {chat['cpu'] / node['cpu']:.2f} | "
        f"{chat['p50'] / node['p50']:.2f} | {chat['p99'] / node['p99']:.2f} | | |"
    )


if __name__ == "__main__":
    main()

"""
Benchmark the chat daemon against the naive Twisted broadcast server, at the same load.

    .venv/bin/python benchmarks/run.py [--clients 100] [--senders 10] [--rate 500]
        [--seconds 5] [--idle 10000]

Each server runs alone on CPU 0 (the load generator on CPU 1, where there are two), first at a
fixed offered load, then holding idle connections.  Printed: a Markdown table of server CPU
per delivery, latency, losses and memory per idle connection, with the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from loadgen import LoadGenerator  # noqa: E402

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > cpu:
        os.sched_setaffinity(0, {cpu})


class Server:
    def __init__(self, name: str, argv: list[str], port: int, cpu: int = 0) -> None:
        self.name = name
        self.port = port
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: pin(cpu),
            # This checkout's code, not the copy that `pip install .` left in the venv.
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{name} did not start") from None
                time.sleep(0.1)
        time.sleep(0.3)  # let it forget the probe connection

    def cpuSeconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def rssKiB(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def chatArgv(port: int, irc: bool = False) -> list[str]:
    """
    The daemon on C{port}: its line protocol, or with C{irc} its IRC front end (the line
    protocol then on another free port).
    """
    listen = ["--port", f"tcp:{port}:interface=127.0.0.1"]
    if irc:
        listen = [
            "--port", f"tcp:{freePort()}:interface=127.0.0.1",
            "--irc", f"tcp:{port}:interface=127.0.0.1",
        ]
    # Every sender sits on 127.0.0.1 and sends faster than a person: raise the flood limit.
    return [
        str(BIN / "twistd"), "-n", "--pidfile=", "--logfile=-", "chat", *listen,
        "--flood-burst", "1000", "--flood-rate", "100000",
        # No state file: runs would pile up lines in one, and measure each other.
        "--state", "",
    ]


def chatServer(port: int, irc: bool = False) -> Server:
    return Server("chat daemon", chatArgv(port, irc), port)


def naiveServer(port: int) -> Server:
    return Server("naive LineReceiver", [sys.executable, str(HERE / "naive_server.py"), str(port)], port)


def measure(start, options: argparse.Namespace) -> dict[str, float]:
    server = start(freePort())
    try:
        load = LoadGenerator(server.port, options.clients)
        load.connect()
        before = server.cpuSeconds()
        result = load.drive(options.senders, options.rate, options.seconds)
        cpu = server.cpuSeconds() - before
        load.close()
        time.sleep(0.5)
        baseline = server.rssKiB()
        idle = LoadGenerator(server.port, options.idle)
        idle.connect(timeout=60)
        idle.hold(1)
        perConnection = (server.rssKiB() - baseline) * 1024 / options.idle
        idle.close()
    finally:
        server.stop()
    return {
        "cpu": cpu * 1e6 / max(1, result.delivered),
        "p50": result.percentile(50) / 1000,
        "p99": result.percentile(99) / 1000,
        "delivered": result.delivered,
        "lost": result.lost,
        "outOfOrder": result.outOfOrder + result.duplicated,
        "idle": perConnection,
    }


def measureCluster(options: argparse.Namespace) -> dict[str, float] | None:
    """
    Two nodes sharing a Redis (node 1 on CPU 0, node 2 on CPU 1), clients spread over both.
    """
    redisServer = shutil.which("redis-server")
    if redisServer is None:
        return None
    redisPort = freePort()
    redis = subprocess.Popen(
        [redisServer, "--port", str(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    nodes: list[Server] = []
    try:
        time.sleep(0.5)
        for cpu in (0, 1):
            port = freePort()
            argv = chatArgv(port) + ["--redis", f"tcp:127.0.0.1:{redisPort}"]
            nodes.append(Server(f"node {cpu + 1}", argv, port, cpu=cpu))
        time.sleep(1)  # both in the cluster
        load = LoadGenerator([node.port for node in nodes], options.clients)
        load.connect()
        before = sum(node.cpuSeconds() for node in nodes)
        result = load.drive(options.senders, options.rate, options.seconds)
        cpu = sum(node.cpuSeconds() for node in nodes) - before
        load.close()
    finally:
        for node in nodes:
            node.stop()
        redis.terminate()
        redis.wait()
    return {
        "cpu": cpu * 1e6 / max(1, result.delivered),
        "p50": result.percentile(50) / 1000,
        "p99": result.percentile(99) / 1000,
        "crossP99": result.percentile(99, cross=True) / 1000,
        "cross": len(result.crossLatenciesUs),
        "delivered": result.delivered,
        "lost": result.lost,
        "outOfOrder": result.outOfOrder + result.duplicated,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500, help="lines a second, all senders")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--idle", type=int, default=10000, help="idle connections to hold")
    parser.add_argument(
        "--no-cluster", dest="cluster", action="store_false",
        help="skip the two-node cluster run (it needs redis-server)",
    )
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pin(1)
    chat = measure(chatServer, options)
    naive = measure(naiveServer, options)
    print(
        f"{options.clients} clients, {options.senders} senders, {options.rate:g} lines/s for "
        f"{options.seconds:g} s ({options.rate * options.clients:,.0f} deliveries/s); "
        f"{options.idle} idle connections; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    print("| server | CPU µs / delivery | p50 ms | p99 ms | delivered | lost | out of order | bytes / idle connection |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in (("chat daemon", chat), ("naive LineReceiver", naive)):
        print(
            f"| {name} | {row['cpu']:.2f} | {row['p50']:.2f} | {row['p99']:.2f} | "
            f"{row['delivered']:,} | {row['lost']} | {row['outOfOrder']} | {row['idle']:,.0f} |"
        )
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))  # the nodes have a CPU each now
    cluster = measureCluster(options) if options.cluster else None
    if cluster is not None:
        print(
            f"| two nodes + Redis (whole cluster) | {cluster['cpu']:.2f} | {cluster['p50']:.2f} | "
            f"{cluster['p99']:.2f} (cross-node {cluster['crossP99']:.2f}) | {cluster['delivered']:,} "
            f"({cluster['cross']:,} cross-node) | {cluster['lost']} | {cluster['outOfOrder']} | |"
        )
    print(
        f"| ratio (daemon / naive) | {chat['cpu'] / naive['cpu']:.2f} | "
        f"{chat['p50'] / naive['p50']:.2f} | {chat['p99'] / naive['p99']:.2f} | | | | "
        f"{chat['idle'] / naive['idle']:.2f} |"
    )


if __name__ == "__main__":
    main()

"""
The fan-out scenarios of the C load generator in C{../shared/bench}, against the daemon.

    gcc -O2 -Wall -o /tmp/loadgen ../shared/bench/loadgen.c
    .venv/bin/python benchmarks/scenarios.py /tmp/loadgen [--runs 3] [--proto irc]

A fresh daemon for every run, on CPU 0 (the load generator on CPU 1), with the flood limit
raised because every sender sits on 127.0.0.1; everything else (history, sanitising, send-queue
caps, nicks) as shipped.  Printed: a Markdown table of each scenario's median over the runs,
with every run's figure beside it.  About 30 s a run.

With C{--proto irc} the clients are IRC clients of the daemon's IRC front end (C{--irc}), and
InspIRCd, when installed, is measured in the same runs, scenario by scenario in turn with the
daemon, through the configuration in C{../shared/bench/peers}: machines differ by 2x from day
to day, and only a ratio measured in one run means anything.  The idle scenario is the line
protocol's alone.

With C{--cluster}, the cluster's scenarios: one node against two nodes sharing one
C{redis-server} over loopback, in the same runs.  The one node has CPU 0; the two nodes share
CPU 0, with Redis and the load generator on CPU 1; the load generator's C{--ports} spreads the
clients over both nodes, so half of all deliveries cross from one node to the other.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Server, chatArgv, chatServer, freePort, pin  # noqa: E402

IDLE_CLIENTS = 10000
PEERS = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "peers"

# The load generator's flags for the server being measured: set by main.
protocolFlags: tuple[object, ...] = ()


def loadgen(binary: str, server: Server, *flags: object) -> subprocess.Popen[str]:
    """
    The load generator against C{server}: its clients spread over all its ports, if it has
    several (the nodes of a cluster).
    """
    ports = getattr(server, "ports", [server.port])
    where = ("--ports", ",".join(map(str, ports))) if len(ports) > 1 else ("--port", server.port)
    return subprocess.Popen(
        [binary, *map(str, where), *map(str, protocolFlags), *map(str, flags)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: pin(1),
    )


def finish(run: subprocess.Popen[str]) -> dict[str, float]:
    output, _ = run.communicate(timeout=120)
    result = json.loads(output)
    if result.get("lost") or result.get("gaps") or result.get("out_of_order") or result.get("corrupt"):
        raise RuntimeError(f"lines lost, out of order or corrupt: {output}")
    return result


def throughput(clients: int, msgs: int) -> Callable[[str, Server], dict[str, float]]:
    def scenario(binary: str, server: Server) -> dict[str, float]:
        flags = ("--clients", clients, "--senders", 10, "--msgs", msgs, "--window", 16, "--size", 64)
        result = finish(loadgen(binary, server, *flags))
        return {"M deliveries/s": result["deliveries_per_s"] / 1e6}

    return scenario


def latency(binary: str, server: Server) -> dict[str, float]:
    flags = ("--clients", 100, "--senders", 10, "--msgs", 1000, "--rate", 1000, "--size", 64)
    before, started = server.cpuSeconds(), time.monotonic()
    result = finish(loadgen(binary, server, *flags))
    cpu = (server.cpuSeconds() - before) / (time.monotonic() - started)
    return {
        "p50 ms": result["lat_p50_us"] / 1000,
        "p99 ms": result["lat_p99_us"] / 1000,
        "server CPU %": 100 * cpu,
    }


def idle(binary: str, server: Server) -> dict[str, float]:
    """
    Connect 10000 clients at once and hold them: memory per connection, and the storm's time.
    """
    baseline = server.rssKiB()
    run = loadgen(binary, server, "--clients", IDLE_CLIENTS, "--idle-s", 6)
    time.sleep(5)  # all connected and in the room within 2 s, if the daemon does its job
    perConnection = (server.rssKiB() - baseline) * 1024 / IDLE_CLIENTS
    result = finish(run)
    if result["ready"] != IDLE_CLIENTS:
        raise RuntimeError(f"only {result['ready']} of {IDLE_CLIENTS} clients got in")
    return {"KB per connection": perConnection / 1000, "all in the room, s": result["ready_s"]}


def storm(binary: str, server: Server) -> dict[str, float]:
    """
    10000 clients connecting at once, as the peers' figures in C{../shared/bench} were taken
    (C{--connect-inflight 20000}): the time until every one is in (line: welcomed and in the
    room, its join announced; IRC: registered), and the server's CPU for it.
    """
    before = server.cpuSeconds()
    result = finish(
        loadgen(binary, server, "--clients", IDLE_CLIENTS, "--idle-s", 0, "--connect-inflight", 20000)
    )
    if result["ready"] != IDLE_CLIENTS:
        raise RuntimeError(f"only {result['ready']} of {IDLE_CLIENTS} clients got in")
    return {"all in, s": result["ready_s"], "server CPU s": server.cpuSeconds() - before}


SCENARIOS = {
    "fan-out, 100 clients, window 16": throughput(100, 2000),
    "big room, 1000 clients, window 16": throughput(1000, 500),
    "1000 lines/s to 100 clients": latency,
    f"{IDLE_CLIENTS} idle connections": idle,
    f"connect storm, {IDLE_CLIENTS} at once": storm,
}

IRC_SCENARIOS = {name: scenario for name, scenario in SCENARIOS.items() if scenario is not idle}

CLUSTER_SCENARIOS = {
    name: SCENARIOS[name] for name in ("fan-out, 100 clients, window 16", "1000 lines/s to 100 clients")
}


class Cluster:
    """
    A C{redis-server} on CPU 1 and C{count} nodes sharing CPU 0, quacking like a L{Server}:
    C{ports} are the nodes' line ports; the CPU and memory are the nodes' together.
    """

    def __init__(self, count: int = 2) -> None:
        redisServer = shutil.which("redis-server")
        if redisServer is None:
            raise SystemExit("--cluster needs redis-server (apt-get install redis-server)")
        self._redisArgv = [
            redisServer, "--port", str(freePort()), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no",
        ]
        redisPort = self._redisArgv[2]
        self.startRedis()
        self.nodes: list[Server] = []
        try:
            for index in range(count):
                port = freePort()
                argv = chatArgv(port) + ["--redis", f"tcp:127.0.0.1:{redisPort}"]
                self.nodes.append(Server(f"node {index + 1}", argv, port, cpu=0))
        except BaseException:
            self.stop()
            raise
        # The load generator's barrier waits until a line from one node reaches the clients of
        # every node, so a node still joining the cluster costs a sync round, not a lost line.
        self.ports = [node.port for node in self.nodes]
        self.port = self.ports[0]

    def startRedis(self) -> None:
        """
        Start C{redis-server}, empty (on its port of before, if it ran already).
        """
        self.redis = subprocess.Popen(
            self._redisArgv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, preexec_fn=lambda: pin(1),
        )

    def killRedis(self) -> None:
        self.redis.kill()
        self.redis.wait()

    def cpuSeconds(self) -> float:
        return sum(node.cpuSeconds() for node in self.nodes)

    def rssKiB(self) -> int:
        return sum(node.rssKiB() for node in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.redis.terminate()
        self.redis.wait()


def redisRestart(binary: str, down: float, after: float = 3.0) -> dict[str, float]:
    """
    The latency scenario's load (1000 lines/s to 100 clients over two nodes), with Redis
    killed C{after} seconds into it and started again, empty, C{down} seconds later: what
    the clients lose.  Every line reaches the clients of its own node; a line said while a
    node is cut off from Redis never reaches the other node's.
    """
    cluster = Cluster(2)
    try:
        # The timeout counts from the load generator's start: past the 10 s of lines, so
        # that only what never comes counts as lost, not the last lines still on their way.
        flags = ("--clients", 100, "--senders", 10, "--msgs", 1000, "--rate", 1000, "--size", 64,
                 "--timeout-s", 20)
        run = loadgen(binary, cluster, *flags)
        time.sleep(after)
        cluster.killRedis()
        time.sleep(down)
        cluster.startRedis()
        output, _ = run.communicate(timeout=120)
    finally:
        cluster.stop()
    result = json.loads(output)
    return {
        "expected": result["expected"],
        "delivered": result["delivered"],
        "lost": result["lost"],
        "out of order": result["out_of_order"],
        "corrupt": result["corrupt"],
        "lost, as lines (of 10000)": result["lost"] / 50,
    }


def inspircd(port: int) -> Server:
    """
    InspIRCd on C{port}, configured as in C{../shared/bench/peers}: flood control and send
    queues raised, so that what is measured is fan-out.
    """
    return Server("InspIRCd", ["sh", str(PEERS / "inspircd_run.sh"), str(port)], port)


def servers(
    proto: str, peer: bool, cluster: bool = False
) -> dict[str, tuple[Callable[[int], Server], tuple[object, ...]]]:
    """
    The servers to measure, each with how to start it on a port and its load generator flags:
    the daemon speaking C{proto}, and InspIRCd beside it (speaking IRC) for IRC or if C{peer};
    with C{cluster}, one node and two nodes over Redis.
    """
    if cluster:
        return {"one node": (chatServer, ()), "two nodes + Redis": (lambda port: Cluster(2), ())}
    irc: tuple[object, ...] = ("--proto", "irc", "--echo", 0)
    if proto == "line":
        measured = {"chat daemon": (chatServer, ())}
    else:
        measured = {"chat daemon (IRC)": (lambda port: chatServer(port, irc=True), irc)}
    if (proto == "irc" or peer) and (shutil.which("inspircd") or Path("/usr/sbin/inspircd").exists()):
        if (PEERS / "inspircd_run.sh").exists():
            # Its listener's backlog is small: connect the clients all at once, as it wants.
            measured["InspIRCd"] = (inspircd, (*irc, "--connect-inflight", 20000))
    return measured


def main() -> None:
    global protocolFlags
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("loadgen", help="the load generator built from ../shared/bench/loadgen.c")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--proto", choices=("line", "irc"), default="line")
    parser.add_argument(
        "--inspircd", action="store_true", help="with --proto line: measure InspIRCd beside it"
    )
    parser.add_argument(
        "--cluster", action="store_true",
        help="one node against two nodes over one redis-server, in the same runs (line protocol)",
    )
    parser.add_argument(
        "--redis-restart", type=float, metavar="SECONDS",
        help="instead: the two nodes under the latency scenario's load, Redis killed and "
        "started again (empty) this many seconds later; print what the clients lost",
    )
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    options = parser.parse_args()
    if options.redis_restart is not None:
        for _ in range(options.runs):
            print(json.dumps(redisRestart(options.loadgen, options.redis_restart)))
        return
    if options.cluster:
        scenarios = CLUSTER_SCENARIOS
    else:
        scenarios = SCENARIOS if options.proto == "line" else IRC_SCENARIOS
    if options.only:
        scenarios = {name: run for name, run in scenarios.items() if options.only in name}
    measured = servers(options.proto, options.inspircd, options.cluster)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {
        (name, server): [] for name in scenarios for server in measured
    }
    for _ in range(options.runs):
        for name, scenario in scenarios.items():
            for serverName, (start, flags) in measured.items():
                protocolFlags = flags
                server = start(freePort())
                try:
                    runs[name, serverName].append(scenario(options.loadgen, server))
                finally:
                    server.stop()
    printMedians(runs, list(scenarios), list(measured))
    print("\nEvery run: 0 lost, 0 out of order, 0 corrupt.")


def printMedians(
    runs: dict[tuple[str, str], list[dict[str, float]]], scenarios: list[str], names: list[str]
) -> None:
    """
    A Markdown table of each scenario's measures, the median of the C{runs} of each server
    in C{names}, every run's figure beside them, and with two servers the ratio of the first
    to the second.
    """
    ratio = len(names) == 2
    print(
        f"| scenario | measure | {' | '.join(f'{n}: median' for n in names)} |"
        f"{' ratio |' if ratio else ''} runs |"
    )
    print(f"|---|---|{'---|' * (len(names) + ratio)}---|")
    for name in scenarios:
        first = runs[name, names[0]]
        for measure in first[0]:
            medians = []
            each = []
            for serverName in names:
                figures = [result[measure] for result in runs[name, serverName]]
                medians.append(statistics.median(figures))
                each.append(", ".join(f"{figure:.2f}" for figure in figures))
            shown = " | ".join(f"{median:.2f}" for median in medians)
            if ratio:
                shown += f" | {medians[0] / medians[1]:.2f}" if medians[1] else " | "
            print(f"| {name} | {measure} | {shown} | {'; '.join(each)} |")


if __name__ == "__main__":
    main()

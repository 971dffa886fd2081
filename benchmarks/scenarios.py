"""
The fan-out scenarios of the C load generator in C{../shared/bench}, against the daemon.

    gcc -O2 -Wall -o /tmp/loadgen ../shared/bench/loadgen.c
    .venv/bin/python benchmarks/scenarios.py /tmp/loadgen [--runs 3]

A fresh daemon for every run, on CPU 0 (the load generator on CPU 1), with the flood limit
raised because every sender sits on 127.0.0.1; everything else (history, sanitising, send-queue
caps, nicks) as shipped.  Printed: a Markdown table of each scenario's median over the runs,
with every run's figure beside it.  About 30 s a run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Server, chatServer, freePort, pin  # noqa: E402

IDLE_CLIENTS = 10000


def loadgen(binary: str, port: int, *flags: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [binary, "--port", str(port), *map(str, flags)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: pin(1),
    )


def finish(run: subprocess.Popen[str]) -> dict[str, float]:
    output, _ = run.communicate(timeout=120)
    result = json.loads(output)
    if result.get("lost") or result.get("out_of_order") or result.get("corrupt"):
        raise RuntimeError(f"lines lost, out of order or corrupt: {output}")
    return result


def throughput(clients: int, msgs: int) -> Callable[[str, Server], dict[str, float]]:
    def scenario(binary: str, server: Server) -> dict[str, float]:
        flags = ("--clients", clients, "--senders", 10, "--msgs", msgs, "--window", 16, "--size", 64)
        result = finish(loadgen(binary, server.port, *flags))
        return {"M deliveries/s": result["deliveries_per_s"] / 1e6}

    return scenario


def latency(binary: str, server: Server) -> dict[str, float]:
    flags = ("--clients", 100, "--senders", 10, "--msgs", 1000, "--rate", 1000, "--size", 64)
    before, started = server.cpuSeconds(), time.monotonic()
    result = finish(loadgen(binary, server.port, *flags))
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
    run = loadgen(binary, server.port, "--clients", IDLE_CLIENTS, "--idle-s", 6)
    time.sleep(5)  # all connected and in the room within 2 s, if the daemon does its job
    perConnection = (server.rssKiB() - baseline) * 1024 / IDLE_CLIENTS
    result = finish(run)
    if result["ready"] != IDLE_CLIENTS:
        raise RuntimeError(f"only {result['ready']} of {IDLE_CLIENTS} clients got in")
    return {"KB per connection": perConnection / 1000, "all in the room, s": result["ready_s"]}


SCENARIOS = {
    "fan-out, 100 clients, window 16": throughput(100, 2000),
    "big room, 1000 clients, window 16": throughput(1000, 500),
    "1000 lines/s to 100 clients": latency,
    f"{IDLE_CLIENTS} idle connections": idle,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("loadgen", help="the load generator built from ../shared/bench/loadgen.c")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SCENARIOS}
    for _ in range(options.runs):
        for name, scenario in SCENARIOS.items():
            server = chatServer(freePort())
            try:
                runs[name].append(scenario(options.loadgen, server))
            finally:
                server.stop()
    print("| scenario | measure | median | runs |\n|---|---|---|---|")
    for name, results in runs.items():
        for measure in results[0]:
            figures = [result[measure] for result in results]
            each = ", ".join(f"{figure:.2f}" for figure in figures)
            print(f"| {name} | {measure} | {statistics.median(figures):.2f} | {each} |")
    print("\nEvery run: 0 lost, 0 out of order, 0 corrupt.")


if __name__ == "__main__":
    main()

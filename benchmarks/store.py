"""
What each state store costs on the hot path: one daemon under the same load with each.

    gcc -O2 -Wall -o /tmp/loadgen ../shared/bench/loadgen.c
    .venv/bin/python benchmarks/store.py /tmp/loadgen [--runs 3]

The stores: none (C{--state ''}), the SQLite file, and with C{--redis} (a cluster of one node,
Redis on CPU 1 beside the load generator) no store (C{--state ''}: the cluster's link keeps
each room's history in Redis itself, a LPUSH and a LTRIM a line) and the Redis store (the
default with C{--redis}: the lines of a reactor turn written together).  A fresh daemon and
store for every run, in turn, on CPU 0; the scenarios are C{scenarios.py}'s.  Printed: the
medians, every run's figure beside them.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Server, chatArgv, freePort, pin  # noqa: E402
from scenarios import latency, printMedians, throughput  # noqa: E402

SCENARIOS = {
    "throughput, 100 clients": throughput(100, 5000),
    "latency at 1000 lines/s, 100 clients": latency,
}


def stores(directory: str, redis: str) -> dict[str, list[str]]:
    """
    The options that choose each store.
    """
    return {
        "none": ["--state", ""],
        "SQLite": ["--state", str(Path(directory) / "state.sqlite3")],
        "--redis, no store": ["--redis", redis, "--state", ""],
        "--redis, Redis store": ["--redis", redis],
    }


def daemon(port: int, options: list[str]) -> Server:
    argv = chatArgv(port)
    at = argv.index("--state")
    del argv[at : at + 2]  # each store says its own
    return Server("chat daemon", argv + options, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("loadgen", help="the load generator built from ../shared/bench/loadgen.c")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    redisServer = shutil.which("redis-server")
    if redisServer is None:
        raise SystemExit("needs redis-server")
    directory = tempfile.mkdtemp()
    redisPort = freePort()
    redis = subprocess.Popen(
        [redisServer, "--port", str(redisPort), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: pin(1),
    )
    time.sleep(0.5)
    chosen = stores(directory, f"tcp:127.0.0.1:{redisPort}")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {
        (name, store): [] for name in SCENARIOS for store in chosen
    }
    try:
        for _ in range(options.runs):
            for name, scenario in SCENARIOS.items():
                for store, flags in chosen.items():
                    with socket.create_connection(("127.0.0.1", redisPort)) as emptying:
                        emptying.sendall(b"FLUSHALL\r\n")
                        emptying.recv(100)
                    for kept in Path(directory).glob("state.sqlite3*"):
                        kept.unlink()
                    server = daemon(freePort(), flags)
                    try:
                        runs[name, store].append(scenario(options.loadgen, server))
                    finally:
                        server.stop()
    finally:
        redis.terminate()
        redis.wait()
    printMedians(runs, list(SCENARIOS), list(chosen))
    print("\nEvery run: 0 lost, 0 out of order, 0 corrupt.")


if __name__ == "__main__":
    main()

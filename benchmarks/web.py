"""
Benchmark the chat daemon's WebSocket fan-out against a Node.js broadcast server on the `ws`
package, in the same run, at the same load.

    .venv/bin/python benchmarks/web.py [--runs 3] [--only NAME]

The load generator is C{ws/wsload.c}, a single-threaded epoll WebSocket client in C, built
here with C{gcc} into a temporary directory: it masks its frames as a browser does, tags every
message, and checks that each client hears every sender's messages once, in order,
uncorrupted.  A fresh server for every run, alone on CPU 0; the load generator on CPU 1.  Both
servers get the same clients and the same messages: every client in one room, each message
one delivery per client.  The daemon runs with the flood limit raised (every sender sits on
127.0.0.1), everything else as shipped.  The Node.js server is installed on first use with
C{npm install} in C{benchmarks/ws/}.

Printed: a Markdown table of each scenario's median over the runs, every run's figure beside
it, the ratio daemon / Node.js, and both sides' CPU during the run, which says which of them
was the limit.  About 4 min for 3 runs (Node.js is the slow part).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import BIN, Server, freePort, pin  # noqa: E402
from scenarios import printMedians  # noqa: E402

HERE = Path(__file__).parent

SCENARIOS: dict[str, tuple[object, ...]] = {
    "fan-out, 100 clients, window 16": (
        "--clients", 100, "--senders", 10, "--msgs", 1000, "--window", 16, "--size", 64,
    ),
    "big room, 1000 clients, window 16": (
        "--clients", 1000, "--senders", 10, "--msgs", 200, "--window", 16, "--size", 64,
    ),
    "1000 messages/s to 100 clients": (
        "--clients", 100, "--senders", 10, "--msgs", 1000, "--rate", 1000, "--size", 64,
    ),
}


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


SERVERS: dict[str, Callable[[int], Server]] = {
    "chat daemon (--web)": chatServer,
    "Node.js ws": nodeServer,
}


def build(directory: str) -> str:
    """
    Compile the load generator into C{directory}; return its path.
    """
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        raise SystemExit("needs a C compiler: sudo apt-get install gcc")
    binary = str(Path(directory) / "wsload")
    subprocess.run([compiler, "-O2", "-Wall", "-o", binary, str(HERE / "ws" / "wsload.c")], check=True)
    return binary


def drive(binary: str, server: Server, flags: tuple[object, ...]) -> dict[str, float]:
    """
    One run of the load generator against C{server}: its figures, and the server's share of
    CPU 0 while the messages flowed (from the load generator's C{RUN} line to its end).
    """
    run = subprocess.Popen(
        [binary, "--port", str(server.port), "--timeout-s", "120", *map(str, flags)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: pin(1),
    )
    assert run.stderr is not None and run.stdout is not None
    started = before = None
    diagnostics = []
    for line in run.stderr:  # ends when the load generator does
        if line.startswith("RUN "):
            before, started = server.cpuSeconds(), time.monotonic()
            break
        diagnostics.append(line)
    output = run.stdout.read()
    cpu = (server.cpuSeconds() - before) / (time.monotonic() - started) if before is not None else 0
    diagnostics.extend(run.stderr)
    run.wait(timeout=30)
    if not output:
        raise RuntimeError(f"{server.name}: the load generator said nothing: {''.join(diagnostics)}")
    result = json.loads(output)
    if result["lost"] or result["out_of_order"] or result["corrupt"] or result["errors"]:
        raise RuntimeError(f"{server.name}: lost, out of order, corrupt or failed: {output}{''.join(diagnostics)}")
    return {
        "M deliveries/s": result["deliveries_per_s"] / 1e6,
        "p50 ms": result["lat_p50_us"] / 1000,
        "p99 ms": result["lat_p99_us"] / 1000,
        "server CPU %": 100 * cpu,
        "loadgen CPU %": result["loadgen_cpu_pct"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    options = parser.parse_args()
    scenarios = {name: flags for name, flags in SCENARIOS.items() if not options.only or options.only in name}
    runs: dict[tuple[str, str], list[dict[str, float]]] = {
        (name, server): [] for name in scenarios for server in SERVERS
    }
    with tempfile.TemporaryDirectory() as directory:
        binary = build(directory)
        # Run after run, scenario by scenario, the servers in turn: a machine that slows down
        # for a while slows both.
        for _ in range(options.runs):
            for name, flags in scenarios.items():
                for serverName, start in SERVERS.items():
                    server = start(freePort())
                    try:
                        runs[name, serverName].append(drive(binary, server, flags))
                    finally:
                        server.stop()
    print(
        f"WebSocket fan-out, medians of {options.runs} runs; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, Node.js {nodeVersion()}\n"
    )
    printMedians(runs, list(scenarios), list(SERVERS))
    print("\nEvery run: 0 lost, 0 out of order, 0 corrupt, no error.")


def nodeVersion() -> str:
    node = shutil.which("node")
    if node is None:
        return "none"
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()

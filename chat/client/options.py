"""
The client's command line.
"""

from __future__ import annotations

import argparse
import os


def parseArguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chat.client",
        usage="%(prog)s (HOST PORT | --connect ENDPOINT) [options]",
        description="Connect to a chat server; type lines to send them, Ctrl-D or /quit to leave.",
    )
    parser.add_argument("host", nargs="?", help="the server's name or address")
    parser.add_argument("port", nargs="?", type=int, help="the server's port, e.g. 30000")
    parser.add_argument(
        "--connect", metavar="ENDPOINT",
        help="instead of HOST PORT: a Twisted client endpoint, e.g. unix:/run/chat/chat.sock,"
        " tcp:HOST:PORT or tls:HOST:PORT",
    )
    parser.add_argument("--nick", help="nick to take on connecting")
    parser.add_argument(
        "--tls", action="store_true", help="connect with TLS, checking the server's certificate"
    )
    parser.add_argument("--cafile", help="with --tls: trust the CA certificates in this PEM file")
    parser.add_argument(
        "--insecure", action="store_true", help="with --tls: do not check the certificate"
    )
    parser.add_argument(
        "--no-reconnect", dest="reconnect", action="store_false",
        help="exit when the connection drops instead of reconnecting",
    )
    parser.add_argument(
        "--no-color", dest="color", action="store_false",
        help="no colours on a terminal (also when NO_COLOR is set)",
    )
    parser.add_argument(
        "--no-timestamps", dest="timestamps", action="store_false",
        help="no time in front of incoming lines on a terminal",
    )
    parser.add_argument(
        "--welcome-timeout", metavar="SECONDS", type=float, default=5.0,
        help="give up on a server that sends no welcome line for this long (default 5)",
    )
    arguments = parser.parse_args(argv)
    if arguments.connect is not None:
        if arguments.host is not None:
            parser.error("give HOST PORT or --connect ENDPOINT, not both")
        if arguments.tls or arguments.cafile or arguments.insecure:
            parser.error("--tls, --cafile and --insecure go with HOST PORT; use a tls: endpoint")
    elif arguments.port is None:
        parser.error("give HOST PORT or --connect ENDPOINT")
    elif not 0 < arguments.port < 65536:
        parser.error(f"port must be from 1 to 65535, not {arguments.port}")
    if not arguments.welcome_timeout > 0:
        parser.error("--welcome-timeout must be more than 0 seconds")
    if (arguments.cafile or arguments.insecure) and not arguments.tls:
        parser.error("--cafile and --insecure go with --tls")
    if arguments.cafile and arguments.insecure:
        parser.error("--cafile and --insecure do not go together")
    if os.environ.get("NO_COLOR"):
        arguments.color = False
    return arguments

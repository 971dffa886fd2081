"""
The client's command line.
"""

from __future__ import annotations

import argparse
import os


def parseArguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chat.client",
        description="Connect to a chat server; type lines to send them, Ctrl-D or /quit to leave.",
    )
    parser.add_argument("host", help="the server's name or address")
    parser.add_argument("port", type=int, help="the server's port, e.g. 30000")
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
    arguments = parser.parse_args(argv)
    if not 0 < arguments.port < 65536:
        parser.error(f"port must be from 1 to 65535, not {arguments.port}")
    if (arguments.cafile or arguments.insecure) and not arguments.tls:
        parser.error("--cafile and --insecure go with --tls")
    if arguments.cafile and arguments.insecure:
        parser.error("--cafile and --insecure do not go together")
    if os.environ.get("NO_COLOR"):
        arguments.color = False
    return arguments

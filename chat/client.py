"""
The terminal client: C{python -m chat.client HOST PORT [--nick NAME] [--tls]}.

Each line read from standard input is sent to the server; each line from the server is
printed, with any control character made visible so that the server cannot drive the
terminal.  End of input (Ctrl-D, or the end of a pipe) sends C{/quit} and exits once the
server has closed the connection.
"""

from __future__ import annotations

import argparse
import sys

from twisted.internet import defer, stdio, task
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHalfCloseableProtocol, IStreamClientEndpoint
from twisted.internet.protocol import connectionDone
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chat.text import visible


def parseArguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chat.client",
        description="Connect to a chat server; type lines to send them, Ctrl-D or /quit to leave.",
    )
    parser.add_argument("host", help="the server's name or address")
    parser.add_argument("port", type=int, help="the server's port, e.g. 30000")
    parser.add_argument("--nick", help="nick to take on connecting")
    parser.add_argument("--tls", action="store_true", help="connect with TLS, checking the server's certificate")
    parser.add_argument("--cafile", help="with --tls: trust the CA certificates in this PEM file")
    arguments = parser.parse_args(argv)
    if not 0 < arguments.port < 65536:
        parser.error(f"port must be from 1 to 65535, not {arguments.port}")
    if arguments.cafile and not arguments.tls:
        parser.error("--cafile goes with --tls")
    return arguments


class ServerConnection(LineReceiver):
    """
    The connection to the server: shows what arrives, sends what is typed.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, show, nick: str | None) -> None:
        self._show = show
        self._nick = nick
        self.quitting = False
        self.finished: defer.Deferred[None] = defer.Deferred()
        self.lostReason: Failure | None = None

    def connectionMade(self) -> None:
        if self._nick:
            self.send(f"/nick {self._nick}".encode("utf-8"))

    def lineReceived(self, line: bytes) -> None:
        self._show(visible(line.rstrip(b"\r").decode("utf-8", "replace")))

    def send(self, line: bytes) -> None:
        if line.split(b" ", 1)[0].lower() == b"/quit":
            self.quitting = True
        self.transport.write(line + b"\r\n")

    def quit(self) -> None:
        """
        Ask the server to close the connection; L{finished} fires when it has.
        """
        if not self.quitting:
            self.send(b"/quit")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lostReason = reason
        self.finished.callback(None)


@implementer(IHalfCloseableProtocol)
class Console(LineReceiver):
    """
    Standard input and output.  Half-closeable, so that the end of input leaves output open
    for the server's last lines.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self) -> None:
        self.server: ServerConnection | None = None
        self.closed: defer.Deferred[None] = defer.Deferred()

    def show(self, text: str) -> None:
        self.transport.write(text.encode("utf-8", "replace") + b"\n")

    def lineReceived(self, line: bytes) -> None:
        if self.server is not None:
            self.server.send(line.rstrip(b"\r"))

    def readConnectionLost(self) -> None:
        if self.server is not None:
            self.server.quit()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)


def _endpoint(reactor, options: argparse.Namespace) -> IStreamClientEndpoint:
    endpoint = HostnameEndpoint(reactor, options.host, options.port)
    if not options.tls:
        return endpoint
    trustRoot = None
    if options.cafile:
        with open(options.cafile, "rb") as f:
            trustRoot = Certificate.loadPEM(f.read())
    return wrapClientTLS(optionsForClientTLS(options.host, trustRoot=trustRoot), endpoint)


def _fail(message: str) -> None:
    sys.stderr.write(f"chat: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


async def _run(reactor, options: argparse.Namespace) -> None:
    where = f"{options.host}:{options.port}"
    console = Console()
    try:
        endpoint = _endpoint(reactor, options)
    except Exception as e:
        _fail(f"cannot use the CA file {options.cafile}: {e}")
    server = ServerConnection(lambda text: console.show(text), options.nick)
    try:
        await connectProtocol(endpoint, server)
    except Exception as e:
        _fail(f"cannot connect to {where}: {e}")
    console.server = server
    stdio.StandardIO(console, reactor=reactor)
    await server.finished
    reason = server.lostReason
    console.transport.loseConnection()
    await console.closed
    if server.quitting and reason.check(ConnectionDone):
        return
    if _isTLSError(reason):
        _fail(f"TLS with {where} failed: {reason.getErrorMessage()}")
    if reason.check(ConnectionDone):
        _fail(f"the server at {where} closed the connection")
    _fail(f"lost the connection to {where}: {reason.getErrorMessage()}")


def _isTLSError(reason: Failure) -> bool:
    return any(name.startswith("OpenSSL.") for name in reason.parents)


def main(reactor, *argv: str) -> defer.Deferred[None]:
    return defer.ensureDeferred(_run(reactor, parseArguments(list(argv))))


if __name__ == "__main__":
    task.react(main, sys.argv[1:])

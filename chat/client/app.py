"""
The client put together: a session with the server and a front end on standard input and
output, a terminal screen when standard input is a terminal, plain lines otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys

from twisted.conch.insults.insults import ServerProtocol
from twisted.internet import defer, stdio, task
from twisted.internet.endpoints import HostnameEndpoint, clientFromString, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import Certificate, CertificateOptions, optionsForClientTLS

from chat.client.options import parseArguments
from chat.client.plain import PlainConsole
from chat.client.screen import Screen, rawTerminal
from chat.client.session import Session, SessionEnded
from chat.client.style import Styler


def endpointFor(reactor, options: argparse.Namespace) -> IStreamClientEndpoint:
    if options.connect is not None:
        return clientFromString(reactor, options.connect)
    endpoint = HostnameEndpoint(reactor, options.host, options.port)
    if not options.tls:
        return endpoint
    if options.insecure:
        return wrapClientTLS(CertificateOptions(), endpoint)
    trustRoot = None
    if options.cafile:
        with open(options.cafile, "rb") as f:
            trustRoot = Certificate.loadPEM(f.read())
    return wrapClientTLS(optionsForClientTLS(options.host, trustRoot=trustRoot), endpoint)


def hintFor(options: argparse.Namespace) -> str:
    """
    What is likely wrong when a server accepts the connection and never welcomes the client:
    without TLS, that it is a TLS port, waiting for a handshake; with TLS, that it is no chat
    server at all.
    """
    if options.connect is None:
        return "is it a chat server?" if options.tls else "is this a TLS port? try --tls"
    kind = options.connect.split(":", 1)[0].lower()
    if kind in ("tls", "ssl"):
        return "is it a chat server?"
    return "is this a TLS port? try --connect tls:HOST:PORT"


def fail(message: str) -> None:
    sys.stderr.write(f"chat: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


async def run(reactor, options: argparse.Namespace, interactive: bool) -> None:
    where = options.connect or f"{options.host}:{options.port}"
    try:
        endpoint = endpointFor(reactor, options)
    except Exception as e:
        if options.connect is not None:
            fail(f"cannot use the endpoint {options.connect}: {e}")
        fail(f"cannot use the CA file {options.cafile}: {e}")
    if options.insecure:
        sys.stderr.write("chat: warning: --insecure: the server's certificate is not checked\n")
    if interactive:
        view = Screen(Styler(colour=options.color, timestamps=options.timestamps))
    else:
        view = PlainConsole()
    session = Session(
        reactor, endpoint, view, where, options.nick, options.reconnect,
        welcomeTimeout=options.welcome_timeout, hint=hintFor(options),
    )
    view.session = session
    try:
        await session.start()
    except Exception as e:
        # Not from within the service's own failure handling, which is what fired this.
        await task.deferLater(reactor, 0, session.stop)
        fail(f"cannot connect to {where}: {e}")
    if interactive:
        terminal = ServerProtocol(lambda: view)

        def resized(width: int, height: int) -> None:
            # From a signal handler: redraw on the next reactor turn, not in the middle of one.
            reactor.callLater(0, view.terminalSize, width, height)

        with rawTerminal(sys.stdin.fileno(), resized):
            stdio.StandardIO(terminal, reactor=reactor)
            size = os.get_terminal_size(sys.stdin.fileno())
            view.terminalSize(size.columns, size.lines)
            problem = await _ended(session)
            view.leave()
            terminal.transport.loseConnection()
            await view.closed  # the cleared row written before the reactor stops
    else:
        io = stdio.StandardIO(view, reactor=reactor)
        problem = await _ended(session)
        io.loseConnection()
        await view.closed
    if problem is not None:
        fail(problem)


async def _ended(session: Session) -> str | None:
    """
    Wait for the session to end; return why if it failed.
    """
    try:
        await session.finished
    except SessionEnded as e:
        return str(e)
    return None


def main(reactor, *argv: str) -> defer.Deferred[None]:
    options = parseArguments(list(argv))
    return defer.ensureDeferred(run(reactor, options, interactive=os.isatty(0) and os.isatty(1)))


def console() -> None:
    """
    The C{chat-client} command that C{pip install} puts on the C{PATH}.
    """
    task.react(main, sys.argv[1:])

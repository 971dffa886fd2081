"""
The front end for piped or redirected standard input: lines in, lines out, no escape
sequences, so that the client stays scriptable.
"""

from __future__ import annotations

import sys

from twisted.internet import defer
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chat.client.session import Session


@implementer(IHalfCloseableProtocol)
class PlainConsole(LineReceiver):
    """
    Standard input and output.  Half-closeable, so that the end of input leaves output open
    for the server's last lines.  The client's own messages go to standard error.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self) -> None:
        self.session: Session | None = None
        self.closed: defer.Deferred[None] = defer.Deferred()

    # View

    def show(self, text: str) -> None:
        self.transport.write(text.encode("utf-8", "replace") + b"\n")

    def notify(self, text: str) -> None:
        sys.stderr.write(f"chat: {text}\n")
        sys.stderr.flush()

    def following(self, nick: str, room: str) -> None:
        pass

    # Input

    def lineReceived(self, line: bytes) -> None:
        if self.session is not None:
            self.session.send(line.rstrip(b"\r"))

    def readConnectionLost(self) -> None:
        if self.session is not None:
            self.session.quit()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)

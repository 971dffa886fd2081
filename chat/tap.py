"""
The C{twistd chat} command line and the service it runs; C{chat.tac} runs the same service.
"""

from __future__ import annotations

import signal

from twisted.application import internet, service
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger
from twisted.python import usage

from chat.hub import Hub
from chat.names import InvalidName, checkRoom
from chat.protocol import ChatFactory

DEFAULT_PORT = "tcp:30000"


def _nonNegative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"{value} is negative")
    return number


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError(f"{value} is not positive")
    return number


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "A chat server speaking UTF-8 lines: connect with nc, telnet or python -m chat.client."
    )

    optParameters = [
        ["name", None, "chat", "Name of this server, shown in the welcome line."],
        ["motd", None, None, "File whose lines greet every client after the welcome line."],
        ["history", None, 20, "Lines of a room's history replayed on joining it; 0 turns it off.",
         _nonNegative],
        ["default-room", None, "#lobby", "Room every client is put in on connecting."],
        ["shutdown-grace", None, 5.0,
         "Seconds clients get to receive the shutdown notice before they are cut off.", _positive],
    ]

    compData = usage.Completions(
        optActions={"motd": usage.CompleteFiles()}, multiUse=["port"]
    )

    def __init__(self) -> None:
        super().__init__()
        self["ports"] = []

    def opt_port(self, description: str) -> None:
        """
        Endpoint to listen on (tcp:30000, tcp6:30000, unix:/run/chat.sock, ssl:30001:privateKey=key.pem:certKey=cert.pem); repeat it to listen on several [default: tcp:30000]
        """
        self["ports"].append(description)

    opt_p = opt_port

    def postOptions(self) -> None:
        if not self["ports"]:
            self["ports"] = [DEFAULT_PORT]
        try:
            self["default-room"] = checkRoom(self["default-room"])
        except InvalidName as e:
            raise usage.UsageError(f"--default-room: {e}") from None
        self["motdLines"] = self._readMotd(self["motd"]) if self["motd"] else ()

    @staticmethod
    def _readMotd(path: str) -> tuple[str, ...]:
        try:
            with open(path, encoding="utf-8") as f:
                return tuple(line.rstrip("\r\n") for line in f)
        except (OSError, UnicodeDecodeError) as e:
            raise usage.UsageError(f"Cannot read the MOTD file {path}: {e}") from None


class ChatService(service.MultiService):
    """
    The listening ports and the clients behind them.  On stopping, it first stops listening,
    then says goodbye to the clients and waits (a bounded time) for them to go.
    """

    log = Logger()

    def __init__(self, reactor: IReactorCore, factory: ChatFactory, shutdownGrace: float) -> None:
        super().__init__()
        self.factory = factory
        self.shutdownGrace = shutdownGrace
        self._reactor = reactor

    def startService(self) -> None:
        super().startService()
        self._reactor.callWhenRunning(self._stopCleanlyOnSigterm)

    def _stopCleanlyOnSigterm(self) -> None:
        """
        Make SIGTERM an ordinary stop that exits 0.  twistd's own handler re-raises the signal
        after the shutdown so that the exit status is 143, which init systems and scripts read
        as a failure; for this daemon SIGTERM is the normal way to stop.
        """

        def stop(signum: int, frame: object) -> None:
            self.log.info("Received SIGTERM, shutting down.")
            self._reactor.callFromThread(self._reactor.stop)

        signal.signal(signal.SIGTERM, stop)

    def stopService(self) -> defer.Deferred[None]:
        stopped = defer.maybeDeferred(super().stopService)
        stopped.addCallback(lambda _: self.factory.shutdown(self.shutdownGrace))
        return stopped


def makeService(options: Options, reactor: IReactorCore | None = None) -> ChatService:
    """
    The chat service for C{options}: one hub, one factory, a listener per C{--port}.
    """
    if reactor is None:
        from twisted.internet import reactor
    hub = Hub(reactor, historySize=options["history"], defaultRoom=options["default-room"])
    factory = ChatFactory(hub, reactor, name=options["name"], motd=options["motdLines"])
    chat = ChatService(reactor, factory, options["shutdown-grace"])
    for description in options["ports"]:
        listener = internet.StreamServerEndpointService(
            serverFromString(reactor, description), factory
        )
        # Fail at start-up, not later, when a port cannot be bound (as strports.service does).
        listener._raiseSynchronously = True
        listener.setServiceParent(chat)
    return chat

"""
The C{twistd chat} command line and the service it runs; C{chat.tac} runs the same service.

Signals: C{SIGTERM} stops the daemon cleanly (exit 0); C{SIGHUP} reloads what can change
without dropping anyone (the MOTD, the limits; the log file is reopened) and logs what
changed; C{SIGUSR1} rotates the log file, as C{twistd} does.
"""

from __future__ import annotations

import ipaddress
import os
import resource
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from twisted.application import internet, service
from twisted.internet import defer
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import IAddress, IListeningPort, IReactorCore
from twisted.internet.protocol import Factory
from twisted.logger import ILogObserver, Logger
from twisted.python import usage

from chat.accepting import EagerAccepts
from chat.accounts import Accounts
from chat.cluster import ClusterLink
from chat.config import applyConfig, readConfig
from chat.errors import InvalidName
from chat.gate import Gate
from chat.hub import Hub
from chat.irc.protocol import IRCFactory
from chat.limits import Limits
from chat.line.protocol import LineFactory
from chat.logs import LogTarget, logFormat, logTarget
from chat.metrics import MetricsService
from chat.moderation import Moderation
from chat.names import checkNick, checkRoom
from chat.store import MemoryStore, SQLiteStore
from chat.store.service import StateService
from chat.web.protocol import WebFactory
from chat.web.site import ChatSite
from chat.systemd import Notifier

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


def _positiveInt(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"{value} is not positive")
    return number


def _nonNegativeFloat(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(f"{value} is negative")
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
        ["big-room", None, 1000,
         "Members from which a room stops announcing joins, leaves, quits and nick changes to "
         "everyone; 0: never.", _nonNegative],
        ["shutdown-grace", None, 5.0,
         "Seconds clients get to receive the shutdown notice before they are cut off.", _positive],
        ["max-line", None, 2048, "Longest line accepted, in bytes; longer ones are refused.",
         _positiveInt],
        ["max-recvq", None, 65536,
         "Bytes of an unfinished line after which the connection is closed.", _positiveInt],
        ["max-sendq", None, 1048576,
         "Bytes queued for a client that does not read before it is cut off.", _positiveInt],
        ["flood-burst", None, 10, "Lines a client may send at once before flood control.",
         _positiveInt],
        ["flood-rate", None, 5.0,
         "Lines per second a client may send after its burst; 0 turns flood control off.",
         _nonNegativeFloat],
        ["idle-timeout", None, 3600.0,
         "Seconds without a complete line before a connection is closed; 0: never.",
         _nonNegativeFloat],
        ["max-clients", None, 10000, "Connections accepted at once.", _positiveInt],
        ["max-per-ip", None, 16, "Connections from one address at once; 0: no limit.",
         _nonNegative],
        ["per-ip-exempt", None, "127.0.0.0/8,::1",
         "Comma-separated networks that --max-per-ip does not apply to; '' for none."],
        ["redis", None, None,
         "Redis server shared by the nodes of a cluster, as a client endpoint "
         "(tcp:HOST:PORT, unix:PATH); without it this server runs alone."],
        ["redis-password", None, None, "Password for the Redis server."],
        ["redis-db", None, 0, "Redis database number for this cluster's keys.", _nonNegative],
        ["node-ttl", None, 6.0,
         "Seconds after which a node that stopped answering counts as gone.", _positive],
        ["state", None, "chat.sqlite3",
         "SQLite file keeping room history and accounts across restarts; '' keeps nothing."],
        ["keep-days", None, 30, "Days a room's lines are kept; 0: forever.", _nonNegative],
        ["backlog", None, 4096,
         "Listen backlog for endpoints that do not set their own backlog=.", _positiveInt],
        ["metrics", None, None,
         "Endpoint to serve Prometheus metrics (/metrics) and health (/health) on over HTTP "
         "(tcp:9100:interface=127.0.0.1); without it, none."],
        ["log-format", None, "text", "Log format: text, or json (one object a line).",
         logFormat],
        ["config", "c", None,
         "TOML file of options, by the same names; the command line overrides it."],
    ]

    compData = usage.Completions(
        optActions={"motd": usage.CompleteFiles(), "config": usage.CompleteFiles()},
        multiUse=["port", "irc", "web", "web-origin", "oper"],
    )

    # Options that SIGHUP cannot change: they take a restart.
    RESTART_ONLY = (
        "ports", "ircPorts", "webPorts", "webOrigins", "name", "history", "default-room",
        "redis", "redis-password", "redis-db", "node-ttl", "backlog", "metrics", "log-format",
        "state", "keep-days",
    )
    # Options that SIGHUP changes: the limits (see L{Limits}), MOTD, big rooms, operators.
    RELOADABLE = (
        "motd", "big-room", "shutdown-grace", "max-line", "max-recvq", "max-sendq",
        "flood-burst", "flood-rate", "idle-timeout", "max-clients", "max-per-ip",
        "per-ip-exempt", "opers",
    )

    def __init__(self) -> None:
        self._given: set[str] | None = None
        super().__init__()
        self["ports"] = []
        self["ircPorts"] = []
        self["webPorts"] = []
        self["webOrigins"] = []
        self["opers"] = []
        self.argv: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        # While the command line is parsed, note what it sets: those win over --config.
        if self._given is not None:
            self._given.add(key)
        super().__setitem__(key, value)

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        if options is None:
            options = sys.argv[1:]
        self.argv = list(options)
        self._given = set()
        super().parseOptions(self.argv)

    def reparsed(self) -> Options:
        """
        These options read again, files included (for C{SIGHUP}).
        """
        fresh = Options()
        fresh.parent = getattr(self, "parent", None)
        fresh.parseOptions(self.argv)
        return fresh

    def opt_port(self, description: str) -> None:
        """
        Endpoint to listen on (tcp:30000, tcp6:30000, unix:/run/chat.sock, ssl:30001:privateKey=key.pem:certKey=cert.pem); repeat it to listen on several [default: tcp:30000]
        """
        self["ports"].append(description)

    opt_p = opt_port

    def opt_irc(self, description: str) -> None:
        """
        Endpoint to listen on for IRC clients (tcp:6667, ssl:6697:privateKey=key.pem:certKey=cert.pem); repeat it to listen on several [default: none]
        """
        self["ircPorts"].append(description)

    def opt_web(self, description: str) -> None:
        """
        Endpoint to serve the chat page and its WebSocket on (tcp:8080; ssl:8443:privateKey=key.pem:certKey=cert.pem for https and wss); repeat it to listen on several [default: none]
        """
        self["webPorts"].append(description)

    def opt_web_origin(self, origin: str) -> None:
        """
        Origin whose pages may open the WebSocket (https://chat.example.org); repeat it to allow several [default: the page's own origin]
        """
        self["webOrigins"].append(origin)

    def opt_oper(self, account: str) -> None:
        """
        Account that is a server operator once identified (/kill, /gban, /wall, /stats, and operator of every room); repeat it to name several [default: none]
        """
        self["opers"].append(account)

    def postOptions(self) -> None:
        given, self._given = self._given or set(), None
        if self["config"]:
            applyConfig(self, self["config"], readConfig(self["config"]), given)
        if not self["ports"]:
            self["ports"] = [DEFAULT_PORT]
        # Parse the endpoints now, so that a typo is a usage error rather than a traceback
        # from makeService; parsing needs no reactor.
        for option, parse, descriptions in (
            ("--port", serverFromString, self["ports"]),
            ("--irc", serverFromString, self["ircPorts"]),
            ("--web", serverFromString, self["webPorts"]),
            ("--redis", clientFromString, [self["redis"]] if self["redis"] else []),
            ("--metrics", serverFromString, [self["metrics"]] if self["metrics"] else []),
        ):
            for description in descriptions:
                try:
                    parse(None, description)
                except Exception as e:
                    raise usage.UsageError(f"{option} {description}: {e}") from None
        for account in self["opers"]:
            try:
                checkNick(account)
            except InvalidName as e:
                raise usage.UsageError(f"--oper {account}: {e}") from None
        try:
            self["default-room"] = checkRoom(self["default-room"])
        except InvalidName as e:
            raise usage.UsageError(f"--default-room: {e}") from None
        if self["state"]:
            # Absolute: twistd may change directory when it daemonizes.
            self["state"] = os.path.abspath(self["state"])
        self["motdLines"] = self._readMotd(self["motd"]) if self["motd"] else ()
        try:
            exempt = tuple(
                ipaddress.ip_network(network.strip())
                for network in self["per-ip-exempt"].split(",")
                if network.strip()
            )
        except ValueError as e:
            raise usage.UsageError(f"--per-ip-exempt: {e}") from None
        self["limits"] = Limits(
            maxLine=self["max-line"],
            maxRecvQ=self["max-recvq"],
            maxSendQ=self["max-sendq"],
            floodBurst=self["flood-burst"],
            floodRate=self["flood-rate"],
            idleTimeout=self["idle-timeout"],
            maxClients=self["max-clients"],
            maxPerIP=self["max-per-ip"],
            perIPExempt=exempt,
        )

    @staticmethod
    def _readMotd(path: str) -> tuple[str, ...]:
        try:
            with open(path, encoding="utf-8") as f:
                return tuple(line.rstrip("\r\n") for line in f)
        except (OSError, UnicodeDecodeError) as e:
            raise usage.UsageError(f"Cannot read the MOTD file {path}: {e}") from None


def withBacklog(description: str, backlog: int) -> str:
    """
    C{description} with C{backlog=} added, unless it names one already, so that a connect
    storm does not overflow the kernel's default listen queue.
    """
    kind = description.split(":", 1)[0].lower()
    if kind not in ("tcp", "tcp6", "ssl", "unix") or ":backlog=" in description:
        return description
    return f"{description}:backlog={backlog}"


def raiseOpenFilesLimit() -> tuple[int, int]:
    """
    Raise the soft limit on open files to the hard limit, so that the daemon can hold as many
    connections as the system lets it; return the (old, new) soft limits.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft, soft
    return soft, hard


def describeAddress(address: IAddress) -> str:
    """
    A listening address in full, for the log: C{tcp 0.0.0.0:30000}, C{tcp6 [::]:30000},
    C{unix /run/chat/chat.sock}.
    """
    if isinstance(address, IPv6Address):
        return f"tcp6 [{address.host}]:{address.port}"
    if isinstance(address, IPv4Address):
        return f"tcp {address.host}:{address.port}"
    if isinstance(address, UNIXAddress):
        name = address.name
        return f"unix {name.decode('utf-8', 'replace') if isinstance(name, bytes) else name}"
    return str(address)


class Listener(internet.StreamServerEndpointService):
    """
    One listening endpoint of a front end, which says where it listens, in full, once it does.
    """

    log = Logger()

    def __init__(self, endpoint: Any, factory: Factory, what: str, tls: bool = False) -> None:
        super().__init__(endpoint, factory)
        self.what = what
        self.tls = tls
        # Fail at start-up, not later, when a port cannot be bound (as strports.service does).
        self._raiseSynchronously = True

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self._waitingForPort.addCallback(self._listening)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        self.log.info(
            "{what} listening on {address}{tls}",
            what=self.what,
            address=describeAddress(port.getHost()),
            tls=" (TLS)" if self.tls else "",
        )
        return port


class ChatService(service.MultiService):
    """
    The listening ports of every front end and the clients behind them.  On stopping, it first
    stops listening, then says goodbye to the clients and waits (a bounded time) for them to go.

    @ivar options: the options in force, replaced by a reload.
    @ivar factories: every front end's factory, whose C{motd} a reload replaces.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorCore,
        gate: Gate,
        shutdownGrace: float,
        cluster: service.IService | None = None,
        state: StateService | None = None,
        options: Options | None = None,
        hub: Hub | None = None,
        factories: Sequence[Any] = (),
        logTarget: LogTarget | None = None,
    ) -> None:
        super().__init__()
        self.state = state
        self.gate = gate
        self.shutdownGrace = shutdownGrace
        self.cluster = cluster
        self.options = options
        self.hub = hub
        self.factories = list(factories)
        self.logTarget = logTarget
        self.notifier = Notifier(reactor)
        self._reactor = reactor

    def setServiceParent(self, parent: Any) -> None:
        """
        Also give the application this daemon's log observer, if it keeps its log itself:
        C{twistd} starts logging to it in place of its own (see L{chat.logs}).
        """
        super().setServiceParent(parent)
        if self.logTarget is not None and hasattr(parent, "setComponent"):
            parent.setComponent(ILogObserver, self.logTarget.observer())

    def privilegedStartService(self) -> None:
        old, new = raiseOpenFilesLimit()
        self.log.info("Open files limit: {old} raised to {new}", old=old, new=new)
        super().privilegedStartService()

    def startService(self) -> None:
        if self.state is not None:
            self.state.startService()
            self.gate.holdUntil(self.state.ready)
        super().startService()
        if self.cluster is not None:
            self.cluster.startService()
        self._reactor.callWhenRunning(self._running)

    def _running(self) -> None:
        """
        The reactor runs: take over the signals, and tell systemd the daemon is ready.
        """
        self._handleSignal(signal.SIGTERM, self._sigterm)
        self._handleSignal(signal.SIGHUP, self.reload)
        if self.logTarget is not None and self.logTarget.logFile is not None:
            self._handleSignal(signal.SIGUSR1, self.logTarget.rotate)
        self.notifier.ready()

    def _handleSignal(self, signum: int, handler: Callable[[], object]) -> None:
        """
        Run C{handler} in the reactor's thread when C{signum} comes; a signal handler may
        run between any two bytecodes, so it does nothing else itself.
        """
        signal.signal(signum, lambda number, frame: self._reactor.callFromThread(handler))

    def _sigterm(self) -> None:
        """
        Make SIGTERM an ordinary stop that exits 0.  twistd's own handler re-raises the signal
        after the shutdown so that the exit status is 143, which init systems and scripts read
        as a failure; for this daemon SIGTERM is the normal way to stop.
        """
        self.log.info("Received SIGTERM, shutting down.")
        self._reactor.stop()

    def reload(self) -> None:
        """
        Read the options (the command line, C{--config}, the MOTD file) again and apply what
        can change without dropping anyone; log what changed, and what waits for a restart.
        The new limits hold at once for the gate (C{--max-clients}, C{--max-per-ip}, the idle
        timeout) and C{--max-sendq}; the others for connections made from then on.
        """
        self.notifier.reloading()
        try:
            self._reload()
        finally:
            self.notifier.ready()

    def _reload(self) -> None:
        if self.logTarget is not None and self.logTarget.reopen():
            self.log.info("Reopened the log file {path}", path=self.logTarget.path)
        if self.options is None:
            return
        old = self.options
        try:
            new = old.reparsed()
        except usage.UsageError as e:
            self.log.error("Reload failed; nothing changed: {why}", why=str(e))
            return
        changed = [key for key in Options.RELOADABLE if new[key] != old[key]]
        if new["motdLines"] != old["motdLines"]:
            changed.append("MOTD")
            for factory in self.factories:
                factory.motd = new["motdLines"]
        self.gate.setLimits(new["limits"])
        self.shutdownGrace = new["shutdown-grace"]
        if self.hub is not None:
            self.hub.bigRoom = new["big-room"]
            self.hub.moderation.setOpers(new["opers"])
        self.options = new
        self.log.info(
            "Reloaded: {changes}",
            changes=", ".join(
                "MOTD" if key == "MOTD" else f"{key} {old[key]} -> {new[key]}" for key in changed
            )
            or "nothing changed",
        )
        waiting = [key for key in Options.RESTART_ONLY if new[key] != old[key]]
        if waiting:
            self.log.warn(
                "Changed, but only a restart applies it: {keys}", keys=", ".join(waiting)
            )

    def stopService(self) -> defer.Deferred[None]:
        self.notifier.stopService()
        stopped = defer.maybeDeferred(super().stopService)
        stopped.addCallback(lambda _: self.gate.shutdown(self.shutdownGrace))
        if self.cluster is not None:
            # Last: the other nodes hear of this node's clients leaving.
            stopped.addCallback(lambda _: self.cluster.stopService())
        if self.state is not None:
            # Last of all, whatever came before: every line said before the end is written.
            stopped.addBoth(lambda result: self.state.stopService().addCallback(lambda _: result))
        return stopped


def makeService(options: Options, reactor: IReactorCore | None = None) -> ChatService:
    """
    The chat service for C{options}: one hub and one gate, shared by every front end, and a
    listener per endpoint of each front end (C{--port}: the line protocol; C{--irc}: IRC;
    C{--web}: the chat page and its WebSocket), and of the metrics (C{--metrics}).
    """
    if reactor is None:
        from twisted.internet import reactor
    store = SQLiteStore(reactor, options["state"]) if options["state"] else MemoryStore()
    hub = Hub(
        reactor,
        historySize=options["history"],
        defaultRoom=options["default-room"],
        bigRoom=options["big-room"],
        store=store,
        accounts=Accounts(reactor, store),
        moderation=Moderation(reactor, options["opers"]),
    )
    gate = Gate(reactor, options["limits"])
    frontEnds = [
        ("line", options["ports"], LineFactory(hub, gate, name=options["name"], motd=options["motdLines"])),
        ("irc", options["ircPorts"], IRCFactory(hub, gate, name=options["name"], motd=options["motdLines"])),
        (
            "web",
            options["webPorts"],
            ChatSite(
                WebFactory(hub, gate, name=options["name"], motd=options["motdLines"]),
                tuple(options["webOrigins"]),
            ),
        ),
    ]
    cluster = None
    if options["redis"]:
        cluster = ClusterLink(
            reactor,
            hub,
            clientFromString(reactor, options["redis"]),
            options["redis"],
            password=options["redis-password"],
            db=options["redis-db"],
            ttl=options["node-ttl"],
        )
    state = StateService(reactor, hub, store, options["keep-days"])
    parent = getattr(options, "parent", None)
    chat = ChatService(
        reactor,
        gate,
        options["shutdown-grace"],
        cluster,
        state,
        options=options,
        hub=hub,
        factories=[factory for _, _, factory in frontEnds],
        logTarget=logTarget(options["log-format"], dict(parent) if parent is not None else None),
    )
    for what, descriptions, factory in frontEnds:
        for description in descriptions:
            Listener(
                EagerAccepts(serverFromString(reactor, withBacklog(description, options["backlog"]))),
                factory,
                what,
                tls=description.lower().startswith("ssl:"),
            ).setServiceParent(chat)
    if options["metrics"]:
        metrics = MetricsService(
            reactor,
            gate,
            hub,
            serving=lambda: chat.running,
            frontEnds=[what for what, descriptions, _ in frontEnds if descriptions],
            cluster=cluster,
        )
        metrics.setServiceParent(chat)
        Listener(serverFromString(reactor, options["metrics"]), metrics.site, "metrics").setServiceParent(chat)
    return chat

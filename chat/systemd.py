"""
Telling systemd how the daemon is doing (C{Type=notify}): L{Notifier}.

The protocol is one datagram per state change to the UNIX socket named by C{NOTIFY_SOCKET}
(see C{sd_notify(3)}): a few lines of the standard library, rather than a dependency on
libsystemd.  Without C{NOTIFY_SOCKET} (not started by systemd) every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from twisted.application import service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger


def notify(state: str, environ: Mapping[str, str] = os.environ) -> bool:
    """
    Send C{state} (C{READY=1}, C{STOPPING=1}, C{WATCHDOG=1}, ...) to systemd; return whether
    there was a socket to send it to.  The send never blocks: a state that systemd cannot
    take at once is dropped, as C{sd_notify} would.
    """
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(state.encode("utf-8"), address)
        except OSError:
            return False
    return True


def watchdogInterval(environ: Mapping[str, str] = os.environ) -> float | None:
    """
    How often to tell systemd this process is alive: half C{WATCHDOG_USEC}, if systemd asks
    this process (C{WATCHDOG_PID}, when set, is its pid) for it at all.
    """
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        return None


class Notifier(service.Service):
    """
    C{READY=1} once running, C{WATCHDOG=1} while the reactor turns, C{STOPPING=1} when
    stopping, and C{RELOADING=1} then C{READY=1} around a reload.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, environ: Mapping[str, str] = os.environ) -> None:
        self.environ = environ
        self._watchdog = LoopingCall(self.send, "WATCHDOG=1")
        self._watchdog.clock = clock

    def send(self, state: str) -> None:
        notify(state, self.environ)

    def ready(self) -> None:
        """
        The daemon listens and serves: let systemd start what waits for it.
        """
        if notify("READY=1", self.environ):
            self.log.info("Told systemd the daemon is ready")
        interval = watchdogInterval(self.environ)
        if interval and not self._watchdog.running:
            self._watchdog.start(interval, now=True)

    def reloading(self) -> None:
        self.send("RELOADING=1")

    def stopService(self) -> None:
        super().stopService()
        if self._watchdog.running:
            self._watchdog.stop()
        self.send("STOPPING=1")

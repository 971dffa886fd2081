"""
Where the daemon's log goes, when the daemon chooses: L{LogTarget}.

C{twistd} opens its log file itself and keeps it to itself, so the daemon could neither write
JSON there (C{--log-format json}, for log shippers) nor reopen the file on C{SIGHUP} after an
external tool (logrotate) moved it.  A L{LogTarget} opens the same file C{twistd} would have
(C{--logfile}, standard output with C{--nodaemon}, else C{twistd.log}) and gives C{twistd} its
observer through the application's C{ILogObserver} component, which C{twistd} uses in place of
its own.  It logs from C{info} up: C{twistd}'s own observer logs C{debug} events too, which
are for developers (a cluster event that no longer applies, a Redis command that failed and
is retried).
"""

from __future__ import annotations

import sys
from typing import IO

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    jsonFileLogObserver,
    textFileLogObserver,
)
from twisted.python.logfile import LogFile

FORMATS = ("text", "json")


def logFormat(value: str) -> str:
    """
    C{--log-format}: C{text} or C{json}.
    """
    if value not in FORMATS:
        raise ValueError(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


class LogTarget:
    """
    The log file (or standard output) and the format the daemon logs in.

    @ivar logFile: the file, when it is one that can be reopened and rotated.
    """

    def __init__(self, format: str, path: str | None) -> None:
        """
        @param path: the log file; L{None} for standard output.
        """
        self.format = format
        self.path = path
        self.logFile: LogFile | None = None

    def observer(self) -> ILogObserver:
        out: IO[str] | LogFile
        if self.path is None:
            out = sys.stdout
        else:
            out = self.logFile = LogFile.fromFullPath(self.path)
        write = jsonFileLogObserver(out) if self.format == "json" else textFileLogObserver(out)
        return FilteringLogObserver(write, [LogLevelFilterPredicate(LogLevel.info)])

    def reopen(self) -> bool:
        """
        Open the log file again, by name (after logrotate moved it away); return whether there
        was one to reopen.
        """
        if self.logFile is None:
            return False
        self.logFile.reopen()
        return True

    def rotate(self) -> None:
        """
        Rotate the log file as C{twistd} does on C{SIGUSR1}: C{chat.log} becomes C{chat.log.1}.
        """
        if self.logFile is not None:
            self.logFile.rotate()


def logTarget(format: str, twistdOptions: dict | None) -> LogTarget | None:
    """
    Where to log, given C{twistd}'s own options (L{None} when they are unknown, as under
    C{twistd -y chat.tac}): L{None} leaves the log to C{twistd}, as with C{--syslog}.
    """
    if twistdOptions is None:
        return LogTarget(format, None) if format == "json" else None
    if twistdOptions.get("syslog"):
        return None
    path = twistdOptions.get("logfile")
    if path == "-" or (not path and twistdOptions.get("nodaemon")):
        return LogTarget(format, None)
    return LogTarget(format, path or "twistd.log")

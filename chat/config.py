"""
C{--config FILE}: the daemon's options in a TOML file, by the same names as on the command
line (C{max-clients = 20000}, C{port = ["tcp:30000", "unix:/run/chat/chat.sock"]}).

An option given on the command line overrides the file's.  A key that is not an option is an
error that names it, rather than a setting silently ignored: a typo in a limit should not
leave the default in force.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection
from typing import Any

from twisted.python import usage

# Options that take several values: their key in the file, and their key in the Options.
MULTIPLE = {
    "port": "ports",
    "irc": "ircPorts",
    "web": "webPorts",
    "web-origin": "webOrigins",
    "oper": "opers",
}


def readConfig(path: str) -> dict[str, Any]:
    """
    The settings in the TOML file at C{path}, or a L{usage.UsageError} saying why not.
    """
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise usage.UsageError(f"Cannot read the configuration file {path}: {e}") from None


def applyConfig(
    options: usage.Options, path: str, settings: dict[str, Any], given: Collection[str]
) -> None:
    """
    Set C{options} from C{settings}, read from C{path}, except those C{given} on the command
    line; each value is checked as the command line's would be.
    """
    parameters: dict[str, Callable[[str], Any] | None] = {
        parameter[0]: parameter[4] if len(parameter) > 4 else None
        for parameter in options.optParameters
    }
    parameters.pop("config", None)
    for key, value in settings.items():
        where = f"{path}: {key}"
        if key in MULTIPLE:
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                what = "account" if key == "oper" else "endpoint"
                raise usage.UsageError(f"{where}: expected an {what} or a list of {what}s")
            if not options[MULTIPLE[key]]:  # none on the command line
                options[MULTIPLE[key]] = list(values)
            continue
        if key not in parameters:
            raise usage.UsageError(f"{where}: no such option")
        if key in given:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise usage.UsageError(f"{where}: expected a string or a number, not {value!r}")
        coerce = parameters[key]
        if coerce is None:
            if not isinstance(value, str):
                raise usage.UsageError(f"{where}: expected a string, not {value!r}")
        else:
            try:
                value = coerce(str(value))
            except ValueError as e:
                raise usage.UsageError(f"{where}: {e}") from None
        options[key] = value

"""
C{--config FILE}: the options in TOML, the command line over them, and the errors an operator
can act on; and C{docs/chat.toml}, which documents every key.
"""

from __future__ import annotations

import os

import re
import tomllib
from pathlib import Path

import pytest
from twisted.python import usage

from chat.config import MULTIPLE
from chat.tap import Options

EXAMPLE = Path(__file__).parent.parent / "docs" / "chat.toml"


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "chat.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_theFileSetsOptions(tmp_path) -> None:
    motd = tmp_path / "motd"
    motd.write_text("hi\n")
    config = write(
        tmp_path,
        f'port = ["tcp:1234", "unix:/tmp/chat.sock"]\nirc = "tcp:6667"\nname = "net"\n'
        f'max-clients = 20\nflood-rate = 2\nmotd = "{motd}"\n',
    )
    options = parse("--config", config)
    assert options["ports"] == ["tcp:1234", "unix:/tmp/chat.sock"]
    assert options["ircPorts"] == ["tcp:6667"]
    assert options["name"] == "net"
    assert options["limits"].maxClients == 20
    assert options["limits"].floodRate == 2.0
    assert options["motdLines"] == ("hi",)


def test_theCommandLineOverridesTheFile(tmp_path) -> None:
    config = write(tmp_path, 'port = "tcp:1234"\nmax-clients = 20\nname = "file"\n')
    # Before or after --config, and even when it gives the default value.
    options = parse("--max-clients", "10000", "--config", config, "--port", "tcp:99", "--name", "cli")
    assert options["limits"].maxClients == 10000
    assert options["ports"] == ["tcp:99"]
    assert options["name"] == "cli"


@pytest.mark.parametrize(
    "text, message",
    [
        ("max-client = 5\n", "max-client: no such option"),
        ("max-clients = 0\n", "max-clients: 0 is not positive"),
        ('max-clients = "many"\n', "max-clients: invalid literal"),
        ("max-clients = true\n", "max-clients: expected a string or a number"),
        ("name = 5\n", "name: expected a string"),
        ("port = 5\n", "port: expected an endpoint or a list of endpoints"),
        ('port = "bogus:1"\n', "--port bogus:1"),
        ("config = 'other.toml'\n", "config: no such option"),
        ("max-clients = \n", "Cannot read the configuration file"),
    ],
)
def test_errorsNameTheKey(tmp_path, text, message) -> None:
    with pytest.raises(usage.UsageError, match=re.escape(message)):
        parse("--config", write(tmp_path, text))


def test_aMissingFile(tmp_path) -> None:
    with pytest.raises(usage.UsageError, match="Cannot read the configuration file"):
        parse("--config", str(tmp_path / "nonexistent.toml"))


def test_theExampleDocumentsEveryOptionWithItsDefault() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([a-z-]+) = ", text, re.MULTILINE))
    options = {parameter[0] for parameter in Options.optParameters} - {"config"} | set(MULTIPLE)
    assert documented == options
    defaults = parse()
    for key, value in tomllib.loads(text).items():
        expected = defaults[MULTIPLE[key]] if key in MULTIPLE else defaults.get(key)
        if key == "state":  # made absolute, as the working directory may change
            value = os.path.abspath(value)
        assert value == expected, key
    assert parse("--config", str(EXAMPLE))["limits"] == defaults["limits"]


def test_chatTacReadsCHAT_CONFIG(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CHAT_CONFIG", write(tmp_path, 'name = "fromenv"\nport = "tcp:0"\n'))
    namespace: dict = {}
    exec(compile((EXAMPLE.parent.parent / "chat.tac").read_text(), "chat.tac", "exec"), namespace)
    assert namespace["options"]["name"] == "fromenv"


def test_opers(tmp_path) -> None:
    """
    C{oper} names server operators, one or a list, as C{--oper} does; a bad name is an error.
    """
    path = tmp_path / "chat.toml"
    path.write_text('oper = ["alice", "bob"]\n')
    options = Options()
    options.parseOptions(["--config", str(path)])
    assert options["opers"] == ["alice", "bob"]
    options = Options()
    options.parseOptions(["--config", str(path), "--oper", "carol"])
    assert options["opers"] == ["carol"]
    path.write_text('oper = "no good"\n')
    with pytest.raises(usage.UsageError, match="--oper no good"):
        Options().parseOptions(["--config", str(path)])

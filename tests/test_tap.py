"""
The twistd plugin's options and the service they build.
"""

from __future__ import annotations

import pytest
from twisted.application.service import IServiceMaker
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins
from twisted.python import usage

from chat.irc.protocol import IRCFactory
from chat.tap import ChatService, Options, makeService
from helpers import startService


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_defaults() -> None:
    options = parse()
    assert options["ports"] == ["tcp:30000"]
    assert options["history"] == 20
    assert options["name"] == "chat"
    assert options["motdLines"] == ()


def test_severalPorts() -> None:
    options = parse("--port", "tcp:1234", "-p", "unix:/tmp/chat.sock")
    assert options["ports"] == ["tcp:1234", "unix:/tmp/chat.sock"]


def test_ircEndpoints() -> None:
    assert parse()["ircPorts"] == []
    options = parse("--irc", "tcp:6667", "--irc", "unix:/tmp/irc.sock")
    assert options["ircPorts"] == ["tcp:6667", "unix:/tmp/irc.sock"]


def test_makeServiceListensForIRC() -> None:
    reactor = MemoryReactorClock()
    service = makeService(parse("-p", "tcp:1234", "--irc", "tcp:6667", "--name", "net"), reactor)
    service.privilegedStartService()
    service.startService()
    (_, line, _, _), (port, irc, _, _) = reactor.tcpServers
    assert isinstance(irc, IRCFactory) and port == 6667 and irc.name == "net"
    assert irc.hub is line.hub and irc.gate is line.gate


def test_motdFile(tmp_path) -> None:
    motd = tmp_path / "motd"
    motd.write_text("line one\nline two\n", encoding="utf-8")
    assert parse("--motd", str(motd))["motdLines"] == ("line one", "line two")


@pytest.mark.parametrize(
    "argv",
    [
        ["--history", "-1"],
        ["--history", "many"],
        ["--motd", "/nonexistent/motd"],
        ["--shutdown-grace", "0"],
        ["--default-room", "bad room"],
        ["--port", "bogus:1"],
        ["--port", "ssl:0:privateKey=/nonexistent.pem"],
        ["--redis", "tcp:127.0.0.1"],
        ["--redis", "bogus:1"],
        ["--irc", "bogus:1"],
    ],
)
def test_badOptions(argv) -> None:
    with pytest.raises(usage.UsageError):
        parse(*argv)


def test_pluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["chat"].options is Options


def test_makeServiceListensOnEveryPort() -> None:
    reactor = MemoryReactorClock()
    service = makeService(parse("-p", "tcp:1234", "-p", "tcp:1235:interface=127.0.0.1"), reactor)
    assert isinstance(service, ChatService)
    service.privilegedStartService()
    service.startService()
    assert [(port, interface) for port, _, _, interface in reactor.tcpServers] == [
        (1234, ""),
        (1235, "127.0.0.1"),
    ]


def test_stopServiceStopsListeningThenClosesClients() -> None:
    _, service, client = startService(parse("-p", "tcp:1234"))
    transport = client.transport
    client.received()
    results = []
    service.stopService().addCallback(results.append)
    assert client.received() == ["*** Server shutting down"]
    assert transport.disconnecting
    assert results == []
    client.disconnect()
    assert results == [None]

"""
IRC and line users in the same rooms across two real nodes of a cluster sharing a real
redis-server, over loopback: an IRC user on one node, a line user on the other.
"""

from __future__ import annotations

from daemon import LineSocket, joinAs
from test_cluster import needsRedis, nodes, redis, waitUntil  # noqa: F401 (fixtures)

pytestmark = needsRedis


def ircPort(node) -> int:
    (match,) = node.waitForLog(r"IRCFactory starting on (\d+)")
    return int(match.group(1))


def linePort(node) -> int:
    (match,) = node.waitForLog(r"LineFactory starting on (\d+)")
    return int(match.group(1))


def registerIRC(port: int, nick: str) -> LineSocket:
    """
    A raw IRC client that has registered as C{nick}, its welcome read.
    """
    client = LineSocket(port)
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.readUntil(" 422 ")  # the end of the welcome: no MOTD
    return client


def names(client: LineSocket, room: str = "#lobby") -> str:
    client.send(f"NAMES {room}")
    lines = client.readUntil(" 366 ")
    return " ".join(line.rsplit(":", 1)[-1] for line in lines if " 353 " in line)


def test_ircAndLineUsersAcrossNodes(nodes, redis) -> None:  # noqa: F811
    a = nodes("--irc", "tcp:0:interface=127.0.0.1")
    b = nodes("--irc", "tcp:0:interface=127.0.0.1")
    bob = joinAs(linePort(b), "bob")
    waitUntil(lambda: redis.command("KEYS", "chat:0:nick:guest*") == b"*0\r\n", "guests freed")
    iris = registerIRC(ircPort(a), "iris")

    # Joins: each sees the other's, and the IRC user's names list has the line user.
    iris.send("JOIN #lobby")
    assert bob.readUntil("iris")[-1] == "*** iris has joined #lobby"
    iris.readUntil(" 366 ")
    waitUntil(lambda: "bob" in names(iris).split(), "bob is in #lobby on a")

    # Lines both ways.
    iris.send("PRIVMSG #lobby :hello from irc")
    assert bob.readUntil("hello from irc")[-1] == "<iris> hello from irc"
    iris.send("PRIVMSG #lobby :\x01ACTION waves\x01")
    assert bob.readUntil("waves")[-1] == "* iris waves"
    bob.send("hi iris")
    assert iris.readUntil("hi iris")[-1] == ":bob!bob@chat PRIVMSG #lobby :hi iris"

    # Private messages both ways.
    bob.send("/msg iris psst")
    assert iris.readUntil("psst")[-1] == ":bob!bob@chat PRIVMSG iris :psst"
    iris.send("PRIVMSG bob :and back")
    assert bob.readUntil("and back")[-1] == "*iris* and back"

    # Nick changes both ways.
    iris.send("NICK irene")
    assert iris.readUntil("irene")[-1] == ":iris!iris@chat NICK :irene"
    assert bob.readUntil("irene")[-1] == "*** iris is now known as irene"
    bob.send("/nick robert")
    assert iris.readUntil("robert")[-1] == ":bob!bob@chat NICK :robert"
    bob.send("/msg irene still there?")
    assert iris.readUntil("still there")[-1] == ":robert!robert@chat PRIVMSG irene :still there?"

    # Joining another room, then leaving.
    bob.send("/join #dev")
    assert iris.readUntil("PART")[-1] == ":robert!robert@chat PART :#lobby"
    iris.send("JOIN #dev")
    assert bob.readUntil("irene has")[-1] == "*** irene has joined #dev"
    waitUntil(lambda: "robert" in names(iris, "#dev").split(), "robert is in #dev on a")
    iris.send("PART #dev")
    assert bob.readUntil("irene has")[-1] == "*** irene has left #dev"
    iris.send("JOIN #dev")
    bob.readUntil("irene has joined")
    iris.send("QUIT :bye")
    assert bob.readUntil("irene has")[-1] == "*** irene has quit (Quit: bye)"
    bob.close()
    iris.close()


def whoIsIn(client: LineSocket, room: str) -> str:
    client.send(f"/who {room}")
    return client.readUntil(f"In {room}")[-1]


def test_aBanOnOneNodeHoldsForIRCOnTheOther(nodes, redis) -> None:  # noqa: F811
    """
    An operator on node a bans a nick from #dev over the line protocol: the IRC user of that
    nick on node b is put out of #dev and cannot join it again (474), and the room on node b
    hears the ban.
    """
    a = nodes("--oper", "root")
    b = nodes("--irc", "tcp:0:interface=127.0.0.1")
    mallory = registerIRC(ircPort(b), "mallory")
    mallory.send("JOIN #dev")
    mallory.readUntil(" 366 ")
    root = joinAs(linePort(a), "root")
    root.send("/register secret123")
    root.readUntil("is registered")
    root.send("/join #dev")
    root.readUntil("joined #dev")
    waitUntil(lambda: "mallory" in whoIsIn(root, "#dev"), "node a knows mallory is in #dev")
    root.send("/ban mallory 1h spam")
    assert root.readUntil("banned")[-1].startswith("*** root banned nick:mallory from #dev until ")
    assert mallory.readUntil("KICK")[-1] == ":root!root@chat KICK #dev mallory :Banned"
    mallory.send("JOIN #dev")
    assert mallory.readUntil(" 474 ")[-1] == (
        ":chat 474 mallory #dev :Cannot join channel (+b): You are banned from #dev (spam)"
    )
    a.waitForLog(r"audit: root ban nick:mallory in #dev for 1h \(spam\)")
    b.waitForLog(r"audit: root ban nick:mallory in #dev for ")

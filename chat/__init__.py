"""
chat: a chat daemon built on Twisted, one hub with a front end per kind of client.

The package is laid out by layer, from the inside out.  The core knows nothing of sockets or
wire formats:

- L{chat.events}: what happens in the chat, as plain values.
- L{chat.errors}: why the hub refuses a request, as types each front end renders its own way.
- L{chat.names} and L{chat.text}: valid nicks, rooms and topics; the text every front end can
  carry.
- L{chat.hub}: rooms, members and who hears what.
- L{chat.relay} and L{chat.cluster}: how a hub shares its chat with other servers, and the
  relay that does it through Redis.
- L{chat.store}: what the server keeps across restarts (room history, accounts), in SQLite,
  in the Redis a cluster shares, or in memory, behind one interface of Deferreds;
  L{chat.store.service} opens it, loads it into the hub and prunes it.
- L{chat.accounts}: registered nicks, their argon2id passwords, who identified as which; the
  hub asks it who may take a nick.  L{chat.attempts} counts wrong passwords (in Redis, for
  every server of a cluster).
- L{chat.moderation}: room owners and operators, bans, mutes, topic locks, server operators
  and ignores; the hub asks it who may join, speak and be heard, the front ends call its
  actions.
- L{chat.limits} and L{chat.gate}: what one connection may cost the others; admission, idle
  sweep and shutdown for the connections of every front end.

What every front end shares, between the core and the bytes:

- L{chat.connection}: a client connection as the core sees it: a hub member, its writer and
  send-queue count, and closes that end within a bound.
- L{chat.fanout}: each event rendered once per front end, each connection written once a
  reactor turn, straight to its socket when it can take it.
- L{chat.reader}: the input rules of a line-based front end (line length, floods, waiting for
  a command).

The front ends, each a package that turns bytes into hub calls and events into bytes:

- L{chat.line}: UTF-8 lines, for nc, telnet and the terminal client.
- L{chat.irc}: IRC (the Modern IRC Client Protocol, with IRCv3 tags), for IRC clients.
- L{chat.web}: JSON over a WebSocket, for the chat page it serves to browsers.

And around them:

- L{chat.tap}: command-line options and the service that C{twistd chat} and C{chat.tac} run:
  one hub, one gate, a listener per front end endpoint (C{--port}, C{--irc}, C{--web}); its signals
  (C{SIGHUP} reloads).
- L{chat.stats} and L{chat.metrics}: what the daemon counts, as plain integers on the hot
  paths; C{--metrics}: Prometheus's C{/metrics}, computed when scraped, and C{/health}.
- L{chat.config}, L{chat.logs} and L{chat.systemd}: C{--config} (TOML); where the log goes,
  in what format (C{--log-format}); telling systemd the daemon is ready, alive, stopping.
- L{chat.client}: the terminal client, C{python -m chat.client}.
"""

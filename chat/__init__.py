"""
chat: a line-based chat daemon built on Twisted.

The package is laid out by layer, from the inside out:

- L{chat.text} and L{chat.names}: what counts as safe text, a valid nick or room name.
- L{chat.events} and L{chat.hub}: rooms, members and what happens in them; no sockets.
- L{chat.relay} and L{chat.cluster}: how a hub shares its chat with other servers, and the
  relay that does it through Redis.
- L{chat.wire}: how each event looks as a line of the text protocol.
- L{chat.commands}: the slash commands a line client can type.
- L{chat.limits}: what one connection may cost the others.
- L{chat.fanout} and L{chat.sending}: each line rendered once, each connection written once
  a reactor turn, straight to its socket when it can take it.
- L{chat.protocol}: bytes on a connection in, lines out; the factory wires it to the hub.
- L{chat.tap}: command-line options and the service that C{twistd chat} and C{chat.tac} run.
- L{chat.client}: the terminal client, C{python -m chat.client}.
"""

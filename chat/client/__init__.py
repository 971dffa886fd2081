"""
The terminal client: C{python -m chat.client HOST PORT [options]}, or C{--connect ENDPOINT}
for any Twisted client endpoint instead of C{HOST PORT}.

- L{chat.client.options}: the command line.
- L{chat.client.session}: the connection to the server, kept up across drops, and what the
  client knows of its own nick and room.
- L{chat.client.members}: the nicks of the client's room, for Tab completion.
- L{chat.client.style}: how a server line is shown on a terminal: time, colours.
- L{chat.client.screen}: the terminal front end: an input line that incoming lines never
  clobber, laid out in terminal columns, with readline's editing keys, history and nick
  completion (C{twisted.conch.recvline}).
- L{chat.client.plain}: the front end for piped input and output: lines in, lines out.
- L{chat.client.app}: puts them together.
"""

"""
The terminal client: C{python -m chat.client HOST PORT [options]}.

- L{chat.client.options}: the command line.
- L{chat.client.session}: the connection to the server, kept up across drops, and what the
  client knows of its own nick and room.
- L{chat.client.style}: how a server line is shown on a terminal: time, colours.
- L{chat.client.screen}: the terminal front end: an input line that incoming lines never
  clobber, with editing and history (C{twisted.conch.recvline}).
- L{chat.client.plain}: the front end for piped input and output: lines in, lines out.
- L{chat.client.app}: puts them together.
"""

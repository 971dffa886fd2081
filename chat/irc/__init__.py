"""
The IRC front end: the Modern IRC Client Protocol (U{https://modern.ircdocs.horse}), for
ordinary IRC clients, in the same rooms as the line protocol's users.

L{chat.irc.message} parses and writes IRC messages (with IRCv3 tags) as bytes,
L{chat.irc.numerics} names the numeric replies, L{chat.irc.render} turns hub events into IRC
lines, and L{chat.irc.protocol} turns a client's commands into hub calls.  C{docs/irc.md}
says what is supported.
"""

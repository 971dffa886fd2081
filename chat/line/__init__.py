"""
The line protocol front end: UTF-8 lines for nc, telnet and L{chat.client}.

L{chat.line.protocol} turns bytes into hub calls, L{chat.line.commands} holds the slash
commands, and L{chat.line.render} how each event looks as a line on a terminal.
L{chat.line.telnet} answers telnet's commands and takes them out of the input, and
L{chat.line.packets} serves clients that send one message per packet with no line ending.
"""

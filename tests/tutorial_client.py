"""
The client of the threaded socket chat tutorial that the daemon replaces, written the
tutorial's way: a plain socket, each typed line sent with C{send} and no line ending, C{exit}
to quit, and a reader thread that prints each C{recv()} as it comes.  Only the port is an
argument (the tutorial's is 30000), so that the tests can run it against any daemon.

Run it with C{python -u}: a test reads what it prints through a pipe.
"""

import socket
import sys
import threading

HOST = "127.0.0.1"


def receive(sock):
    while True:
        try:
            data = sock.recv(1024)
        except OSError:
            break
        if not data:
            break
        print(data.decode())


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 30000
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((HOST, port))
    threading.Thread(target=receive, args=(sock,), daemon=True).start()
    while True:
        text = input()
        if text == "exit":
            break
        sock.send(text.encode())
    sock.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A listener that is not imqd, on imqd's control socket path, for the fault tests.

  ctlimpostor.py SOCKET OUT SECONDS

Binds SOCKET (mode 0666), answers "ok" to every client after reading what
it sends, and appends what it read to the file OUT as it comes. Stops after
SECONDS without a client.
"""
import os
import socket
import sys


def listen(path):
    """A socket listening on PATH, which anyone may connect to."""
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    os.chmod(path, 0o666)
    ls.listen(8)
    return ls


def serve(ls, out, seconds):
    """Serve clients on LS until SECONDS pass without one; return how many came."""
    ls.settimeout(seconds)
    served = 0
    with open(out, "ab", buffering=0) as f:
        while True:
            try:
                c, _ = ls.accept()
            except socket.timeout:
                break
            served += 1
            c.settimeout(1)
            try:
                f.write(c.recv(4096))
                c.sendall(b"ok\n")
            except OSError:
                pass
            c.close()
    ls.close()
    return served


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: ctlimpostor.py SOCKET OUT SECONDS")
    serve(listen(argv[1]), argv[2], float(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

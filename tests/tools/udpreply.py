#!/usr/bin/env python3
"""A UDP exchange through NAT: one datagram out, N replies back to whatever
address and port the server saw, for tests/e2e/imq_nat_hooks.sh.

  udpreply.py serve PORT N
      Waits (10 s) for one datagram on PORT, sends N replies to its sender,
      prints the sender's address.
  udpreply.py ask ADDR PORT N
      Sends one datagram to ADDR:PORT and prints how many replies came (up
      to N; it stops 3 s after the last).
"""
import socket
import sys


def serve(port, n, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(timeout)
    _, peer = s.recvfrom(2048)
    for i in range(n):
        s.sendto(b"reply %d" % i, peer)
    return peer[0]


def ask(addr, port, n, timeout=3):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(b"hello", (addr, port))
    got = 0
    try:
        while got < n:
            s.recvfrom(2048)
            got += 1
    except socket.timeout:
        pass
    return got


def main(argv):
    if len(argv) == 4 and argv[1] == "serve":
        print(serve(int(argv[2]), int(argv[3])))
    elif len(argv) == 5 and argv[1] == "ask":
        print(ask(argv[2], int(argv[3]), int(argv[4])))
    else:
        sys.exit("usage: udpreply.py serve PORT N | ask ADDR PORT N")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

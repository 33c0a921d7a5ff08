#!/usr/bin/env python3
"""One UDP flow whose datagrams a qdisc can reorder by size, for
tests/e2e/reorder.sh.

  reorder.py send ADDR PORT PAIRS
      PAIRS pairs of datagrams, numbered in order: 1000 bytes (even
      numbers), then 200 bytes (odd), a pair a millisecond. Prints {"sent"}.
  reorder.py recv PORT COUNT SECONDS
      Says "listening" on stderr once bound, then receives until COUNT
      different datagrams came, 1.5 s passed without one after the first, or
      SECONDS. Prints {"received" (different numbers), "out_of_order" (those
      numbered below one that came before)}.
"""
import json
import socket
import struct
import sys
import time


def datagram(n, size):
    return struct.pack("!I", n).ljust(size, b"\0")


def send(addr, port, pairs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    for i in range(pairs):
        s.send(datagram(2 * i, 1000))
        s.send(datagram(2 * i + 1, 200))
        time.sleep(0.001)
    return {"sent": 2 * pairs}


class Tally:
    """Datagrams seen and how many came after a higher-numbered one."""

    def __init__(self):
        self.seen, self.late, self.top = set(), 0, -1

    def add(self, n):
        self.late += n < self.top
        self.top = max(self.top, n)
        self.seen.add(n)

    def result(self):
        return {"received": len(self.seen), "out_of_order": self.late}


def recv(port, count, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("listening", file=sys.stderr, flush=True)
    t, end = Tally(), time.time() + secs
    while len(t.seen) < count and time.time() < end:
        s.settimeout(max(0.01, min(1.5 if t.seen else secs, end - time.time())))
        try:
            t.add(struct.unpack("!I", s.recv(2048)[:4])[0])
        except socket.timeout:
            break
    return t.result()


def main(argv):
    if len(argv) == 5 and argv[1] == "send":
        print(json.dumps(send(argv[2], int(argv[3]), int(argv[4]))))
    elif len(argv) == 5 and argv[1] == "recv":
        print(json.dumps(recv(int(argv[2]), int(argv[3]), float(argv[4]))))
    else:
        sys.exit("usage: reorder.py send ADDR PORT PAIRS | recv PORT COUNT SECONDS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

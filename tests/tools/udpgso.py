#!/usr/bin/env python3
"""UDP GSO sender and receiver of numbered datagrams, for tests/e2e.

  udpgso.py send ADDR PORT SENDS SEGS SEGSIZE MBIT
      SENDS sends of SEGS datagrams of SEGSIZE bytes each, cut by the kernel
      (UDP_SEGMENT, as QUIC stacks use), paced to MBIT; prints {"sent", "errors"}.
  udpgso.py recv PORT COUNT SECONDS
      Says "listening" on stderr once bound, then receives until COUNT
      datagrams or SECONDS (2 s quiet after the first); prints
      {"received", "duplicates", "mbit", "gap_ms"}: mbit is the payload rate
      from the first datagram's arrival to the last's, gap_ms the longest
      time between two arrivals. Arrival times are the kernel's receive
      timestamps, so a receiver slow to read does not change them.
"""
import json
import socket
import struct
import sys
import time

SOL_UDP, UDP_SEGMENT = 17, 103
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python 3.11 lacks the name


def batch(i, segs, size):
    """Send I's buffer: SEGS datagrams of SIZE bytes, numbered from I * SEGS."""
    return b"".join(struct.pack("!I", i * segs + k).ljust(size, b"\0") for k in range(segs))


def send(addr, port, sends, segs, size, mbit):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(SOL_UDP, UDP_SEGMENT, size)  # the kernel cuts each send
    s.connect((addr, port))
    start, sent, errors = time.time(), 0, 0
    for i in range(sends):
        buf = batch(i, segs, size)
        try:
            s.send(buf)
        except OSError:
            errors += 1
        sent += len(buf)
        pause = start + sent * 8 / (mbit * 1e6) - time.time()
        if pause > 0:
            time.sleep(pause)
    return {"sent": sends * segs, "errors": errors}


def recv(port, count, secs):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind(("::", port))
    print("listening", file=sys.stderr, flush=True)
    seen, dups, nbytes, first, last, gap = set(), 0, 0, None, None, 0.0
    end = time.time() + secs
    while len(seen) < count and time.time() < end:
        s.settimeout(max(0.01, min(2.0 if first else secs, end - time.time())))
        try:
            d, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(16))
        except socket.timeout:
            break
        at = arrival(anc)
        if first is None:
            first = at
        else:
            nbytes += len(d)  # the bytes that arrived after the first
            gap = max(gap, at - last)
        last = at
        n = struct.unpack("!I", d[:4])[0]
        dups += n in seen
        seen.add(n)
    dur = last - first if first is not None and last > first else 0
    return {"received": len(seen), "duplicates": dups, "mbit": nbytes * 8 / dur / 1e6 if dur else 0,
            "gap_ms": round(gap * 1e3, 3)}


def arrival(anc):
    """The kernel's receive time in ANC (SO_TIMESTAMPNS), else now."""
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    return time.time()


def main(argv):
    if len(argv) == 8 and argv[1] == "send":
        out = send(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6]), float(argv[7]))
    elif len(argv) == 5 and argv[1] == "recv":
        out = recv(int(argv[2]), int(argv[3]), float(argv[4]))
    else:
        sys.exit("usage: udpgso.py send ADDR PORT SENDS SEGS SEGSIZE MBIT | recv PORT COUNT SECONDS")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

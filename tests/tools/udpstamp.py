#!/usr/bin/env python3
"""A UDP receiver that notes when each udpseq datagram arrived, for the
fault tests' rate and gap measurements.

  udpstamp.py PORT SECONDS IDLE OUT
      Receives on PORT for SECONDS, or until IDLE seconds pass without a
      datagram once one came (0: no idle limit). Writes OUT.ts, one
      "time flow seq" line per datagram (wall-clock time: the test's
      namespaces share the clock), and OUT.json: received, unique,
      duplicates and out_of_order (a datagram whose sequence number is
      below one already seen in its flow).
"""
import json
import socket
import struct
import sys
import time

SO_RCVBUFFORCE = 33


def flow_seq(data):
    """udpseq's flow and sequence numbers, (0xffffffff, 0) for a datagram too short to carry them."""
    return struct.unpack("!II", data[:8]) if len(data) >= 8 else (0xffffffff, 0)


def summary(arrivals):
    """The counts of OUT.json for ARRIVALS, a list of (time, flow, seq)."""
    seen, maxseq = set(), {}
    dups = ooo = 0
    for _, flow, seq in arrivals:
        if (flow, seq) in seen:
            dups += 1
            continue
        seen.add((flow, seq))
        if seq < maxseq.get(flow, -1):
            ooo += 1
        maxseq[flow] = max(seq, maxseq.get(flow, -1))
    return {"received": len(arrivals), "unique": len(seen), "duplicates": dups,
            "out_of_order": ooo}


def receive(s, secs, idle):
    """(time, flow, seq) of each datagram on socket S, within SECS and IDLE as above."""
    end = time.monotonic() + secs
    arrivals, last = [], None
    while True:
        now = time.monotonic()
        until = end if (not idle or last is None) else min(end, last + idle)
        if now >= until:
            return arrivals
        s.settimeout(until - now)
        try:
            data = s.recv(65535)
        except socket.timeout:
            continue
        last = time.monotonic()
        arrivals.append((time.time(),) + flow_seq(data))


def write(out, arrivals):
    with open(out + ".ts", "w") as f:
        for t, flow, seq in arrivals:
            f.write("%.6f %d %d\n" % (t, flow, seq))
    with open(out + ".json", "w") as f:
        f.write(json.dumps(summary(arrivals)) + "\n")


def main(argv):
    if len(argv) != 5:
        sys.exit("usage: udpstamp.py PORT SECONDS IDLE OUT")
    port, secs, idle, out = int(argv[1]), float(argv[2]), float(argv[3]), argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    s.bind(("0.0.0.0", port))
    write(out, receive(s, secs, idle))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

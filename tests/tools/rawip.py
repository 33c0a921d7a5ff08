#!/usr/bin/env python3
"""Numbered packets of any IP protocol through raw sockets, for the tests of
protocols this kernel has no driver for (GRE, ESP).

  rawip.py send PROTO ADDR N [SIZE [RATE]]
      N packets of IPv4 protocol PROTO to ADDR: a 4-byte protocol header
      (ESP: an SPI, others: GRE's flags and protocol 0x0800), the packet's
      number, the marker IMQT, zeros up to SIZE bytes (default 612), RATE
      a second (default 10000). Prints {"sent"}.
  rawip.py recv PROTO SRC N READY [SECONDS]
      Counts the marked packets of PROTO from SRC, creating the file READY
      once it listens, until N different ones came, 1 s passed without
      one, or SECONDS (default 20). Prints {"received" (different numbers),
      "packets", "duplicates", "other"}.
Run as root.
"""
import json
import socket
import sys
import time

MARK = b"IMQT"
SO_RCVBUFFORCE = 33


def payload(proto, i, size):
    """Packet I's payload for PROTO, SIZE bytes (at least 12)."""
    head = b"\x00\x00\x10\x01" if proto == 50 else b"\x00\x00\x08\x00"
    body = head + i.to_bytes(4, "big") + MARK
    return body + bytes(max(0, size - len(body)))


def number(packet):
    """The number a marked IPv4 packet (header included) carries, or None."""
    ihl = (packet[0] & 15) * 4
    body = packet[ihl:]
    if len(body) < 12 or body[8:12] != MARK:
        return None
    return int.from_bytes(body[4:8], "big")


def send(proto, addr, n, size, rate):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    start = time.monotonic()
    for i in range(n):
        s.sendto(payload(proto, i, size), (addr, 0))
        if i % 50 == 49:
            lag = start + (i + 1) / rate - time.monotonic()
            if lag > 0:
                time.sleep(lag)
    return {"sent": n}


def recv(proto, src, n, ready, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    open(ready, "w").close()
    seen, packets, other = set(), 0, 0
    deadline, last = time.monotonic() + secs, None
    while len(seen) < n:
        now = time.monotonic()
        end = deadline if last is None else min(deadline, last + 1.0)
        if now >= end:
            break
        s.settimeout(end - now)
        try:
            p, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        k = number(p) if peer[0] == src else None
        if k is None:
            other += 1
            continue
        packets += 1
        seen.add(k)
        last = time.monotonic()
    return {"received": len(seen), "packets": packets, "duplicates": packets - len(seen),
            "other": other}


def main(argv):
    if len(argv) in (5, 6, 7) and argv[1] == "send":
        out = send(int(argv[2]), argv[3], int(argv[4]), int(argv[5]) if len(argv) > 5 else 612,
                   float(argv[6]) if len(argv) > 6 else 10000)
    elif len(argv) in (6, 7) and argv[1] == "recv":
        out = recv(int(argv[2]), argv[3], int(argv[4]), argv[5],
                   float(argv[6]) if len(argv) > 6 else 20)
    else:
        sys.exit("usage: rawip.py send PROTO ADDR N [SIZE [RATE]] | recv PROTO SRC N READY [SECONDS]")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Packets imqd did not send, written straight onto imq0, for
tests/e2e/fault_stray.sh.

  straywrite.py SRC DST PORT N N6 NJUNK SPORT
      N IPv4 UDP packets from SRC:SPORT to DST:PORT that look like copies
      of the shaped stream (same addresses and ports, so the same flow key,
      but sequence numbers with the top bit set, which the stream never
      uses), then N6 IPv6 UDP packets, then NJUNK packets of 1 to 1400
      random bytes, 500 a second, through a packet socket on imq0. Prints
      how many it wrote. Run as root in the gateway's namespace.
"""
import random
import socket
import struct
import sys
import time

import pkt

RATE = 500  # packets a second


def lookalike(src, dst, sport, port, seq):
    """An IPv4 UDP packet as udpseq sends them: flow 0, sequence SEQ, 1000 bytes of payload."""
    payload = struct.pack("!II", 0, seq) + bytes(992)
    return pkt.ipv4(src, dst, 17, pkt.udp(sport, port, payload), ident=seq, frag=0x4000, ttl=63)


def ipv6_udp(port, i):
    payload = struct.pack("!II", 0, 1 << 30 | i) + bytes(100)
    return pkt.ipv6("fd00::1", "fd00::2", 17, pkt.udp(40000, port, payload))


def packets(src, dst, port, n, n6, njunk, sport, rng):
    """(packet, ethertype) in the order they are written."""
    for i in range(n):
        yield lookalike(src, dst, sport, port, 1 << 31 | i), 0x0800
    for i in range(n, n + n6):
        yield ipv6_udp(port, i), 0x86DD
    for _ in range(njunk):
        yield bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400))), 0x0800


def main(argv):
    if len(argv) != 8:
        sys.exit("usage: straywrite.py SRC DST PORT N N6 NJUNK SPORT")
    src, dst = argv[1], argv[2]
    port, n, n6, njunk, sport = map(int, argv[3:8])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    sent = 0
    start = time.monotonic()
    for i, (p, proto) in enumerate(packets(src, dst, port, n, n6, njunk, sport, random.Random(7))):
        while True:
            try:
                s.sendto(p, ("imq0", proto))
                sent += 1
                break
            except BlockingIOError:
                time.sleep(0.001)
        delay = start + (i + 1) / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Write the seed corpus of fuzz_packet: real packets wrapped in its script.

Each seed holds a packet, the next packet of its flow and a packet of
another flow, brings the second copy back (so the first is found older in
its flow), brings back a stray look-alike, and times out the rest; see
fuzz_packet.c for the format. Usage: make_packet_corpus.py [DIR]
"""
import os
import socket
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "packet")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(proto, payload, frag=0, opts=b"", tos=0, ident=1):
    ihl = 5 + len(opts) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, 20 + len(opts) + len(payload), ident, frag, 64, proto, 0,
                    socket.inet_aton("10.1.1.2"), socket.inet_aton("10.1.2.2")) + opts
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def ip6(nh, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64,
                       socket.inet_pton(socket.AF_INET6, "fd00:1::2"),
                       socket.inet_pton(socket.AF_INET6, "fd00:2::2")) + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport, dport, seq, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def ext6(nh, body=b"\x01\x04\x00\x00\x00\x00"):
    return bytes([nh, 0]) + body


def frag6(nh, offset, more, ident=7):
    return struct.pack("!BBHI", nh, 0, offset << 3 | more, ident)


def hold(pkt, extra=0, mark=0):
    return bytes([0, len(pkt) >> 8, len(pkt) & 0xFF, extra, mark]) + pkt


def script(a, a2, b, cap=8):
    s = bytes([cap - 1]) + hold(a) + hold(a2) + hold(b, mark=1)
    s += bytes([1, 1])                      # a2's copy comes back: a was dropped in the qdisc
    s += bytes([4, 40]) + a[:40]            # a stray 40-byte copy
    s += hold(a, extra=200)                 # a truncated copy (headers only)
    s += bytes([3, 0, 2])                   # one decided directly, the oldest times out
    return s


seeds = {
    "ipv4-tcp-syn": (ip4(6, tcp(40000, 80, 1, 0x02)), ip4(6, tcp(40000, 80, 2, 0x10, b"x" * 100)),
                     ip4(6, tcp(40001, 80, 1, 0x02))),
    "ipv4-udp": (ip4(17, udp(40000, 53, b"a" * 200)), ip4(17, udp(40000, 53, b"b" * 200)),
                 ip4(17, udp(40002, 53, b"c" * 10), tos=0xB8)),
    "ipv4-fragments": (ip4(17, udp(40000, 9000, b"f" * 64), frag=0x2000, ident=9),
                       ip4(17, b"g" * 64, frag=9, ident=9), ip4(17, b"h" * 16, frag=18, ident=9)),
    "ipv4-gre-esp": (ip4(47, b"\x00\x00\x08\x00" + b"G" * 60), ip4(47, b"\x00\x00\x08\x00" + b"H" * 60),
                     ip4(50, struct.pack("!II", 0x1234, 1) + b"E" * 48)),
    "ipv4-options-sctp": (ip4(17, udp(1, 2, b"o"), opts=b"\x01\x01\x01\x00"),
                          ip4(132, struct.pack("!HHI", 5000, 5001, 0) + b"S" * 32),
                          ip4(255, b"\xff" * 20)),
    "ipv6-tcp": (ip6(6, tcp(40000, 443, 1, 0x02)), ip6(6, tcp(40000, 443, 2, 0x18, b"y" * 300)),
                 ip6(6, tcp(40000, 443, 3, 0x01))),
    "ipv6-udp": (ip6(17, udp(40000, 53, b"q" * 100)), ip6(17, udp(40000, 53, b"r" * 100)),
                 ip6(17, udp(40001, 53, b"s"))),
    "ipv6-fragments": (ip6(44, frag6(17, 0, 1) + udp(40000, 9000, b"f" * 64)),
                       ip6(44, frag6(17, 9, 0) + b"g" * 32), ip6(44, frag6(17, 0, 0) + udp(1, 2, b"a"))),
    "ipv6-ext-chain": (ip6(0, ext6(60) + ext6(43) + udp(40000, 9000, b"e" * 20)),
                       ip6(60, ext6(51, b"\x00" * 10) + b"A" * 16), ip6(59, b"")),
}
os.makedirs(OUT, exist_ok=True)
for name, (a, a2, b) in seeds.items():
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(script(a, a2, b))
print("wrote %d seeds to %s" % (len(seeds), OUT))

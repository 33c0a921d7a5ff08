#!/usr/bin/env python3
"""Malformed and odd packets, for tests/e2e/fault_malformed.sh.

  malformed.py SRC_MAC DST_MAC SRC4 DST4 SRC6 DST6 PORT
      Sends each packet of packets() 20 times through a packet socket on
      s0 (Ethernet from SRC_MAC to DST_MAC), then 20 rounds of IPv4
      packets through the IP stack's raw sockets (IP_HDRINCL, and protocol
      47 without it). Prints {"total", "kinds", "sent": {kind: count}}.
      Run as root in the sender's namespace.
"""
import json
import random
import socket
import struct
import sys
import time

import pkt

REPEAT = 20


class Builder:
    """Packets from SRC4/SRC6 to DST4/DST6 with random parts drawn from RNG."""

    def __init__(self, src4, dst4, src6, dst6, port, rng):
        self.src4, self.dst4, self.src6, self.dst6, self.port, self.rng = \
            src4, dst4, src6, dst6, port, rng

    def ip4(self, proto, payload, **kw):
        return pkt.ipv4(self.src4, self.dst4, proto, payload, ident=self.rng.randrange(65536), **kw)

    def udp(self, payload, length=None):
        return pkt.udp(40000, self.port + 1, payload, length)

    def ip6(self, nh, payload, **kw):
        return pkt.ipv6(self.src6, self.dst6, nh, payload, **kw)

    def junk(self, n):
        return bytes(self.rng.getrandbits(8) for _ in range(n))


def packets(b):
    """(IPv4 packets, IPv6 packets) by name, built by Builder B."""
    ip4, ip6, udp, junk = b.ip4, b.ip6, b.udp, b.junk
    tcp_doff15 = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 15 << 4, 0x02, 1024, 0, 0)
    v4 = {
        "udp_1byte": ip4(17, udp(b"x")),
        "udp_1500": ip4(17, udp(bytes(1472))),
        "proto47_gre": ip4(47, b"\x00\x00\x08\x00" + junk(60)),
        "proto50_esp": ip4(50, struct.pack("!II", 0xdeadbeef, 1) + junk(64)),
        "proto132_sctp": ip4(132, struct.pack("!HHI", 40000, 80, 0) + junk(40)),
        "proto255": ip4(255, junk(30)),
        "proto0_empty": ip4(0, b""),
        "tcp_doff15_short": ip4(6, tcp_doff15),
        "tcp_3bytes": ip4(6, b"\x9c\x40\x00"),
        "udp_3bytes": ip4(17, b"\x9c\x40\x23"),
        "udp_len_too_big": ip4(17, udp(b"abcd", length=4000)),
        "udp_len_too_small": ip4(17, udp(bytes(100), length=3)),
        "frag_first": ip4(17, udp(bytes(64)), frag=0x2000),
        "frag_middle": ip4(17, junk(64), frag=0x2000 | 185),
        "frag_last": ip4(17, junk(40), frag=370),
        "frag_offset1_tiny": ip4(6, junk(8), frag=1),
        "ipopts_ihl15_nops": ip4(17, udp(b"opt"), opts=b"\x01" * 40),
        "ipopts_ihl15_junk": ip4(17, udp(b"opt"), opts=junk(40)),
        "ipopts_bad_len": ip4(17, udp(b"opt"), opts=b"\x07\xff\x04\x00"),
        "ttl1": ip4(17, udp(b"ttl"), ttl=1),
        "tot_len_short": ip4(17, udp(bytes(50)), tot=40),  # the gateway trims the tail
        # dropped by the gateway's IP stack before PREROUTING:
        "bad_checksum": ip4(17, udp(b"x"), good_csum=False),
        "tot_len_long": ip4(17, udp(b"x"), tot=1400),
        "ihl4": ip4(17, udp(b"x"), ihl=4),
        "version5": ip4(17, udp(b"x"), ver=5),
        "truncated_10": ip4(17, udp(b"x"))[:10],
        "truncated_19": ip4(17, udp(b"x"))[:19],
    }
    chain10 = b"".join(pkt.ext6(60 if i < 9 else 17, b"\x01\x04\x00\x00\x00\x00") for i in range(10))
    v6 = {
        "v6_udp_1byte": ip6(17, udp(b"x")),
        "v6_udp_1500": ip6(17, udp(bytes(1452))),
        "v6_frag_first": ip6(44, pkt.frag6(17, 0, 1) + udp(bytes(64))),
        "v6_frag_later": ip6(44, pkt.frag6(17, 100, 0) + junk(64)),
        "v6_frag_atomic": ip6(44, pkt.frag6(17, 0, 0) + udp(b"atomic")),
        "v6_frag_truncated": ip6(44, b"\x11\x00"),
        "v6_dstopt_too_long": ip6(60, bytes([17, 200]) + junk(14)),
        "v6_routing_junk": ip6(43, pkt.ext6(17, junk(22)) + udp(b"rt")),
        "v6_ah_bogus_len": ip6(51, bytes([17, 250]) + junk(22)),
        "v6_no_next": ip6(59, junk(20)),
        "v6_ext_chain_10": ip6(60, chain10 + udp(b"deep")),
        "v6_esp": ip6(50, struct.pack("!II", 0xfeedface, 7) + junk(40)),
        "v6_proto132": ip6(132, struct.pack("!HHI", 40000, 80, 0) + junk(20)),
        "v6_plen0": ip6(17, udp(b"zero"), plen=0),
        "v6_hlim1": ip6(17, udp(b"hl"), hlim=1),
        # dropped before PREROUTING:
        "v6_plen_long": ip6(17, udp(b"x"), plen=1400),
        "v6_truncated_30": ip6(17, udp(b"x"))[:30],
    }
    return v4, v6


def ethernet(dmac, smac, ethertype):
    """An Ethernet header from SMAC to DMAC ("aa:bb:..." strings)."""
    return bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + \
        struct.pack("!H", ethertype)


def send_link(b, smac, dmac, sent):
    """Every packet REPEAT times through a packet socket on s0."""
    v4, v6 = packets(b)
    ps = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    ps.bind(("s0", 0))
    for _ in range(REPEAT):
        for ethertype, group in ((0x0800, v4), (0x86DD, v6)):
            for name, p in group.items():
                ps.send(ethernet(dmac, smac, ethertype) + p)
                sent[name] = sent.get(name, 0) + 1
        time.sleep(0.01)


def send_raw(b, sent):
    """IPv4 through the IP stack's raw sockets, header included, and protocol 47 without."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    gre = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    for _ in range(REPEAT):
        for proto in (47, 50, 132, 255):
            raw.sendto(b.ip4(proto, b.junk(b.rng.randint(0, 100))), (b.dst4, 0))
            sent["raw_hdrincl_%d" % proto] = sent.get("raw_hdrincl_%d" % proto, 0) + 1
        raw.sendto(b.ip4(17, b.udp(bytes(32)), frag=0x2000 | 10), (b.dst4, 0))
        sent["raw_hdrincl_frag"] = sent.get("raw_hdrincl_frag", 0) + 1
        gre.sendto(b"\x00\x00\x08\x00" + b.junk(b.rng.randint(0, 1400)), (b.dst4, 0))
        sent["raw_proto47"] = sent.get("raw_proto47", 0) + 1
        time.sleep(0.01)


def main(argv):
    if len(argv) != 8:
        sys.exit("usage: malformed.py SRC_MAC DST_MAC SRC4 DST4 SRC6 DST6 PORT")
    smac, dmac, src4, dst4, src6, dst6, port = argv[1:8]
    b = Builder(src4, dst4, src6, dst6, int(port), random.Random(1))
    sent = {}
    send_link(b, smac, dmac, sent)
    send_raw(b, sent)
    print(json.dumps({"total": sum(sent.values()), "kinds": len(sent), "sent": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

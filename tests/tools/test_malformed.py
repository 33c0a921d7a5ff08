"""Tests of malformed.py: the packets it sends are the ones it names."""
import random
import struct
import unittest

import malformed
import pkt


def build():
    b = malformed.Builder("10.1.1.2", "10.1.2.2", "fd00:1:1::2", "fd00:1:2::2", 9181,
                          random.Random(1))
    return malformed.packets(b)


class TestPackets(unittest.TestCase):
    def test_reproducible(self):
        self.assertEqual(build(), build())

    def test_kinds(self):
        v4, v6 = build()
        self.assertEqual((len(v4), len(v6)), (27, 17))

    def test_checksums(self):
        v4, _ = build()
        for name, p in v4.items():
            if name.startswith("truncated") or name in ("ihl4", "version5"):
                continue
            ihl = (p[0] & 15) * 4
            self.assertEqual(pkt.csum(p[:ihl]) == 0, name != "bad_checksum", name)

    def test_lengths(self):
        v4, v6 = build()
        self.assertEqual(len(v4["udp_1500"]), 1500)
        self.assertEqual(len(v4["truncated_19"]), 19)
        self.assertEqual(struct.unpack("!H", v4["tot_len_long"][2:4])[0], 1400)
        self.assertEqual(len(v6["v6_udp_1500"]), 1500)
        self.assertEqual(struct.unpack("!H", v6["v6_plen0"][4:6])[0], 0)

    def test_ethernet(self):
        e = malformed.ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", 0x86DD)
        self.assertEqual(e.hex(), "02000000000202000000000186dd")


if __name__ == "__main__":
    unittest.main()

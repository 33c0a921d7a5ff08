"""Tests of straywrite.py: look-alike copies, IPv6 packets and garbage."""
import random
import struct
import unittest

import pkt
import straywrite


class TestPackets(unittest.TestCase):
    def test_order_and_counts(self):
        ps = list(straywrite.packets("10.1.1.2", "10.1.2.2", 9151, 3, 2, 4, 40001, random.Random(7)))
        self.assertEqual([proto for _, proto in ps], [0x0800] * 3 + [0x86DD] * 2 + [0x0800] * 4)
        for p, _ in ps[5:]:
            self.assertTrue(1 <= len(p) <= 1400)

    def test_lookalike(self):
        p = straywrite.lookalike("10.1.1.2", "10.1.2.2", 40001, 9151, 1 << 31 | 5)
        self.assertEqual(len(p), 1028)
        self.assertEqual(pkt.csum(p[:20]), 0)
        sport, dport = struct.unpack("!HH", p[20:24])
        flow, seq = struct.unpack("!II", p[28:36])
        self.assertEqual((sport, dport, flow, seq), (40001, 9151, 0, 1 << 31 | 5))


if __name__ == "__main__":
    unittest.main()

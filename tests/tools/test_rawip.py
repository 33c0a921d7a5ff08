"""Tests of rawip.py's packet layout (sending needs root and is left to tests/e2e)."""
import struct
import unittest

import pkt
import rawip


class TestLayout(unittest.TestCase):
    def test_payload(self):
        p = rawip.payload(50, 7, 612)
        self.assertEqual(len(p), 612)
        self.assertEqual(p[:12], b"\x00\x00\x10\x01" + struct.pack("!I", 7) + b"IMQT")
        self.assertEqual(rawip.payload(47, 0, 0)[:4], b"\x00\x00\x08\x00")

    def test_number(self):
        p = pkt.ipv4("10.0.0.1", "10.0.0.2", 47, rawip.payload(47, 1234, 100),
                     opts=b"\x01" * 4)
        self.assertEqual(rawip.number(p), 1234)
        self.assertIsNone(rawip.number(pkt.ipv4("10.0.0.1", "10.0.0.2", 47, bytes(20))))


if __name__ == "__main__":
    unittest.main()

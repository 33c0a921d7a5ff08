"""Tests of pkt.py: checksums and headers."""
import socket
import struct
import unittest

import pkt


class TestCsum(unittest.TestCase):
    def test_rfc1071_example(self):
        # RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2, its complement 220d.
        self.assertEqual(pkt.csum(bytes.fromhex("0001f203f4f5f6f7")), 0x220d)

    def test_odd_length(self):
        self.assertEqual(pkt.csum(b"\x01"), pkt.csum(b"\x01\x00"))


class TestIpv4(unittest.TestCase):
    def test_header(self):
        p = pkt.ipv4("10.0.0.1", "10.0.0.2", 17, pkt.udp(1, 2, b"abc"), ident=0x12345)
        self.assertEqual(len(p), 31)
        ver_ihl, _, tot, ident, _, ttl, proto = struct.unpack("!BBHHHBB", p[:10])
        self.assertEqual((ver_ihl, tot, ident, ttl, proto), (0x45, 31, 0x2345, 64, 17))
        self.assertEqual(p[12:16], socket.inet_aton("10.0.0.1"))
        self.assertEqual(pkt.csum(p[:20]), 0)

    def test_wrong_on_purpose(self):
        p = pkt.ipv4("10.0.0.1", "10.0.0.2", 6, b"", tot=1400, ihl=4, ver=5, good_csum=False)
        self.assertEqual(p[0], 0x54)
        self.assertEqual(struct.unpack("!H", p[2:4])[0], 1400)
        self.assertNotEqual(pkt.csum(p[:20]), 0)

    def test_options(self):
        p = pkt.ipv4("10.0.0.1", "10.0.0.2", 17, b"", opts=b"\x01" * 40)
        self.assertEqual(p[0] & 15, 15)
        self.assertEqual(pkt.csum(p[:60]), 0)


class TestUdpIpv6(unittest.TestCase):
    def test_udp_length(self):
        self.assertEqual(pkt.udp(1, 2, b"xyz")[4:6], b"\x00\x0b")
        self.assertEqual(pkt.udp(1, 2, b"xyz", length=3)[4:6], b"\x00\x03")

    def test_ipv6(self):
        p = pkt.ipv6("fd00::1", "fd00::2", 17, b"12345678")
        self.assertEqual(len(p), 48)
        self.assertEqual(p[0] >> 4, 6)
        self.assertEqual(struct.unpack("!HBB", p[4:8]), (8, 17, 64))

    def test_extension_padding(self):
        e = pkt.ext6(17, b"abc")
        self.assertEqual(len(e), 8)
        self.assertEqual(e[:2], b"\x11\x00")
        self.assertEqual(len(pkt.ext6(17, bytes(7))), 16)

    def test_fragment(self):
        self.assertEqual(pkt.frag6(17, 100, 1), struct.pack("!BBHI", 17, 0, 801, 0x1234))


if __name__ == "__main__":
    unittest.main()

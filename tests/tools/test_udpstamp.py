"""Tests of udpstamp.py: the counts, and a receiver on loopback."""
import json
import os
import socket
import struct
import tempfile
import unittest

import udpstamp


class TestSummary(unittest.TestCase):
    def test_duplicates_and_order(self):
        arrivals = [(1.0, 0, 0), (1.1, 0, 2), (1.2, 0, 1), (1.3, 0, 2), (1.4, 1, 0)]
        self.assertEqual(udpstamp.summary(arrivals),
                         {"received": 5, "unique": 4, "duplicates": 1, "out_of_order": 1})

    def test_short_datagram(self):
        self.assertEqual(udpstamp.flow_seq(b"abc"), (0xffffffff, 0))
        self.assertEqual(udpstamp.flow_seq(struct.pack("!II", 3, 9) + b"x"), (3, 9))


class TestReceive(unittest.TestCase):
    def test_loopback(self):
        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        r.bind(("127.0.0.1", 0))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for seq in (0, 1, 1):
            s.sendto(struct.pack("!II", 7, seq), r.getsockname())
        arrivals = udpstamp.receive(r, 5, 0.2)  # ends 0.2 s after the last
        self.assertEqual([(f, q) for _, f, q in arrivals], [(7, 0), (7, 1), (7, 1)])
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "rx")
            udpstamp.write(out, arrivals)
            with open(out + ".json") as f:
                self.assertEqual(json.load(f)["duplicates"], 1)
            with open(out + ".ts") as f:
                self.assertEqual(len(f.read().splitlines()), 3)


if __name__ == "__main__":
    unittest.main()

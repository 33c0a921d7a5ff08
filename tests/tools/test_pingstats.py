"""Tests of pingstats.py: percentiles of ping times."""
import unittest

import pingstats


PING = """PING 10.1.2.2 (10.1.2.2) 56(84) bytes of data.
64 bytes from 10.1.2.2: icmp_seq=1 ttl=63 time=0.100 ms
64 bytes from 10.1.2.2: icmp_seq=2 ttl=63 time=0.300 ms
64 bytes from 10.1.2.2: icmp_seq=3 ttl=63 time=0.200 ms
64 bytes from 10.1.2.2: icmp_seq=5 ttl=63 time=1.5 ms
"""


class TestPing(unittest.TestCase):
    def test_stats(self):
        self.assertEqual(pingstats.stats(PING, 5), (200, 300, 1500, 1))

    def test_no_reply(self):
        with self.assertRaises(ValueError):
            pingstats.stats("PING x\n", 3)


if __name__ == "__main__":
    unittest.main()

"""Tests of udpgso.py: GSO sends on loopback arrive as numbered datagrams."""
import contextlib
import io
import socket
import threading
import unittest

import udpgso


class TestUdpGso(unittest.TestCase):
    def test_batch(self):
        b = udpgso.batch(2, 3, 10)
        self.assertEqual(len(b), 30)
        self.assertEqual([b[i:i + 4] for i in (0, 10, 20)],
                         [(6).to_bytes(4, "big"), (7).to_bytes(4, "big"), (8).to_bytes(4, "big")])

    def test_loopback(self):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(("::", 0))
        port = s.getsockname()[1]
        s.close()
        out = []
        err = io.StringIO()

        def recv():
            with contextlib.redirect_stderr(err):
                out.append(udpgso.recv(port, 40, 5))
        t = threading.Thread(target=recv)
        t.start()
        threading.Event().wait(0.3)
        self.assertEqual(udpgso.send("::1", port, 4, 10, 1000, 100), {"sent": 40, "errors": 0})
        t.join()
        self.assertEqual((out[0]["received"], out[0]["duplicates"]), (40, 0))
        # 40 kB at 100 Mbit/s: 3.2 ms from the first send to the last.
        self.assertGreater(out[0]["mbit"], 10)
        self.assertGreater(out[0]["gap_ms"], 0)

    def test_arrival(self):
        ts = (1234).to_bytes(8, "little") + (500000000).to_bytes(8, "little")
        self.assertEqual(udpgso.arrival([(socket.SOL_SOCKET, udpgso.SO_TIMESTAMPNS, ts)]), 1234.5)


if __name__ == "__main__":
    unittest.main()

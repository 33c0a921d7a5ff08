"""Tests of udpreply.py on loopback."""
import socket
import threading
import unittest

import udpreply


class TestExchange(unittest.TestCase):
    def test_replies(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        peer = []
        t = threading.Thread(target=lambda: peer.append(udpreply.serve(port, 5, timeout=5)))
        t.start()
        got = 0
        for _ in range(50):  # until the server is bound
            got = udpreply.ask("127.0.0.1", port, 5, timeout=0.2)
            if got:
                break
        t.join()
        self.assertEqual((got, peer), (5, ["127.0.0.1"]))


if __name__ == "__main__":
    unittest.main()

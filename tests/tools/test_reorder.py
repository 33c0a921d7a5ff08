"""Tests of reorder.py: its count of reordered datagrams, and a loopback run."""
import socket
import threading
import unittest

import reorder


class TestTally(unittest.TestCase):
    def test_overtaken(self):
        t = reorder.Tally()
        for n in (1, 0, 3, 2, 2, 4):
            t.add(n)
        self.assertEqual(t.result(), {"received": 5, "out_of_order": 3})


class TestLoopback(unittest.TestCase):
    def test_in_order(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        out = []
        t = threading.Thread(target=lambda: out.append(reorder.recv(port, 20, 5)))
        t.start()
        threading.Event().wait(0.3)
        self.assertEqual(reorder.send("127.0.0.1", port, 10), {"sent": 20})
        t.join()
        self.assertEqual(out, [{"received": 20, "out_of_order": 0}])


if __name__ == "__main__":
    unittest.main()

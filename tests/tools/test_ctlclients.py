"""Tests of ctlclients.py against a small control-socket stand-in."""
import contextlib
import io
import os
import random
import socket
import tempfile
import threading
import unittest

import ctlclients


class Server(threading.Thread):
    """Answers each client "error: ..." at its first newline, at EOF or past 4 KB, then closes."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        self.ls.listen(64)
        self.ls.settimeout(5)

    def run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            data = b""
            c.settimeout(2)
            try:
                while b"\n" not in data and len(data) <= 4096:
                    b = c.recv(65536)
                    if not b:
                        break
                    data += b
                c.sendall(b"error: bad request\n")
            except OSError:
                pass
            c.close()


class TestAgainstServer(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "ctl.sock")
        self.server = Server(self.path)
        self.server.start()

    def tearDown(self):
        self.server.ls.close()
        self.dir.cleanup()

    def test_bad_requests(self):
        out = ctlclients.bad_requests(ctlclients.Connector(self.path), random.Random(3))
        self.assertEqual(len(out), len(ctlclients.BAD_REQUESTS) + 2)
        for name, (text, secs, closed) in out.items():
            self.assertTrue(text.startswith("error"), name)
            self.assertTrue(closed, name)

    def test_hog(self):
        stop = os.path.join(self.dir.name, "stop")
        open(stop, "w").close()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(ctlclients.hog(self.path, stop, n=3, secs=2), 3)
        self.assertEqual(out.getvalue(), "connected 3\n")


class Refuser(threading.Thread):
    """Closes every client at once: the first REFUSE with "error too many clients", the rest silently."""

    def __init__(self, path, refuse):
        super().__init__(daemon=True)
        self.refuse = refuse
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        self.ls.listen(64)

    def run(self):
        n = 0
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            if n < self.refuse:
                c.sendall(b"error too many clients\n")
            n += 1
            c.close()


class TestLockout(unittest.TestCase):
    def test_reconnects_and_counts(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ctl.sock")
            server = Refuser(path, 5)
            server.start()
            stats = ctlclients.lockout(path, 3, 0.5)
            server.ls.close()
        self.assertEqual(stats["refused"], 5)
        self.assertGreater(stats["cut"], 0)
        # Each client closed was replaced: 3 at the start, one more per close.
        self.assertEqual(stats["connections"], 3 + stats["refused"] + stats["cut"])


class TestTally(unittest.TestCase):
    def test_counts(self):
        ends = {("silent", 0): (2.1, ""), ("silent", 1): (0.0, "error: too many clients\n"),
                ("slow", 0): (2.5, "")}
        t = ctlclients.tally(ends, 1)
        self.assertEqual((t["silent_refused"], t["silent_cut"], t["silent_cut_max_s"]), (1, 1, 2.1))
        self.assertEqual((t["slow_cut"], t["slow_cut_max_s"], t["slow_refused"]), (1, 2.5, 0))
        self.assertEqual(t["still_open"], 1)


if __name__ == "__main__":
    unittest.main()

"""Tests of ctlimpostor.py: it answers "ok" and keeps what it was sent."""
import os
import socket
import stat
import tempfile
import threading
import unittest

import ctlimpostor


class TestImpostor(unittest.TestCase):
    def test_answers_ok_and_records(self):
        with tempfile.TemporaryDirectory() as d:
            path, out = os.path.join(d, "s"), os.path.join(d, "got")
            ls = ctlimpostor.listen(path)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o666)
            served = []
            t = threading.Thread(target=lambda: served.append(ctlimpostor.serve(ls, out, 1.0)))
            t.start()
            answers = []
            for req in (b"reload\n", b""):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(path)
                if req:
                    c.sendall(req)
                else:
                    c.shutdown(socket.SHUT_WR)
                answers.append(c.recv(64))
                c.close()
            t.join()
            self.assertEqual(served, [2])
            self.assertEqual(answers, [b"ok\n", b"ok\n"])
            with open(out, "rb") as f:
                self.assertEqual(f.read(), b"reload\n")


if __name__ == "__main__":
    unittest.main()

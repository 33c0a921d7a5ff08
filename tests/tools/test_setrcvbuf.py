"""Tests of setrcvbuf.py on a socket of this process (no root needed)."""
import contextlib
import io
import os
import socket
import unittest

import setrcvbuf


class TestSetRcvbuf(unittest.TestCase):
    def test_own_socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ino = str(os.fstat(s.fileno()).st_ino)
        self.assertEqual(setrcvbuf.find_fd(os.getpid(), ino), s.fileno())
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            setrcvbuf.main(["setrcvbuf.py", str(os.getpid()), ino, "65536"])
        # The kernel doubles what it is asked for (socket(7)).
        self.assertEqual(int(out.getvalue()), 131072)
        self.assertEqual(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF), 131072)

    def test_no_such_socket(self):
        self.assertIsNone(setrcvbuf.find_fd(os.getpid(), "1"))


if __name__ == "__main__":
    unittest.main()

"""Tests of notifyrec.py: the analysis, and a recording of a small notifier."""
import json
import os
import sys
import tempfile
import unittest

import notifyrec

NOTIFIER = """
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in ("READY=1\\nSTATUS=up", "WATCHDOG=1", "WATCHDOG=1", "RELOADING=1", "READY=1", "STOPPING=1"):
    s.sendto(m.encode(), os.environ["NOTIFY_SOCKET"])
    time.sleep(0.05)
raise SystemExit(3)
"""


class TestAnalyse(unittest.TestCase):
    def test_lines(self):
        recs = [{"t": 1.0, "msg": "READY=1\nSTATUS=ok", "at_ready": {"imq0": True, "queues": [0, 2]}},
                {"t": 1.2, "msg": "WATCHDOG=1"}, {"t": 1.5, "msg": "WATCHDOG=1"},
                {"t": 1.6, "msg": "STOPPING=1"}, {"exit": 0}]
        out = dict(line.split("=", 1) for line in notifyrec.analyse(json.dumps(r) for r in recs))
        self.assertEqual(out["events"], "READY,STOPPING")
        self.assertEqual((out["watchdogs"], out["wd_mean_ms"]), ("2", "300.0"))
        self.assertEqual((out["statuses"], out["ready_imq0"], out["ready_queues"]), ("1", "True", "0,2"))
        self.assertEqual(out["exit"], "0")

    def test_nothing(self):
        out = dict(line.split("=", 1) for line in notifyrec.analyse([]))
        self.assertEqual((out["events"], out["wd_mean_ms"], out["exit"]), ("", "-1.0", "none"))


class TestRecord(unittest.TestCase):
    def test_record(self):
        with tempfile.TemporaryDirectory() as d:
            rec, pidfile = os.path.join(d, "rec"), os.path.join(d, "pid")
            rc = notifyrec.record(os.path.join(d, "sock"), rec, pidfile, [sys.executable, "-c", NOTIFIER])
            self.assertEqual(rc, 3)
            with open(pidfile) as f:
                self.assertTrue(int(f.read()) > 0)
            with open(rec) as f:
                out = dict(line.split("=", 1) for line in notifyrec.analyse(f))
        self.assertEqual(out["events"], "READY,RELOADING,READY,STOPPING")
        self.assertEqual((out["watchdogs"], out["statuses"], out["exit"]), ("2", "1", "3"))
        self.assertEqual(out["ready_imq0"], "False")


if __name__ == "__main__":
    unittest.main()

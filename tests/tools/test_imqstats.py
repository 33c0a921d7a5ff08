"""Tests of imqstats.py: the S_* variables and the per-queue sums."""
import shlex
import unittest

import imqstats


def counters(received=0, accepted=0, **kw):
    c = {"received": received, "received_bytes": 0, "accepted": accepted, "accepted_bytes": 0,
         "dropped_enqueue": 0, "dropped_order": 0, "dropped_timeout": 0, "dropped_error": 0,
         "dropped_ecn": 0, "dropped_overflow": 0, "failopen": 0,
         "failopen_reasons": {"device_down": 0, "no_buffer": 0}, "held": 0, "peak_held": 0,
         "partial": 0, "id_gaps": 0, "kernel_passed": 0, "kernel_dropped": 0, "flooded": 0,
         "flood_dropping": 0, "watchdog": 0, "malformed": 0, "verdict_errors": 0}
    c.update(kw)
    c["dropped"] = sum(v for k, v in c.items() if k.startswith("dropped_"))
    return c


def doc():
    q0 = dict(counters(10, 8, dropped_enqueue=2, peak_held=5), queue=0)
    q1 = dict(counters(5, 5, peak_held=7), queue=1)
    d = dict(counters(15, 13, dropped_enqueue=2, peak_held=9), name="imq0", state="up",
             qdisc="tbf", queues=[0, 1], stray=1, unmatched=0, verdicts_batched=3,
             hold_us={"p50": 1, "p99": 2, "max": 3}, per_queue=[q0, q1])
    return {"devices": [d, dict(counters(), name="imq1", state="failed", qdisc="", queues=[9],
                                per_queue=[])]}


class TestDevice(unittest.TestCase):
    def test_missing_device(self):
        with self.assertRaisesRegex(ValueError, "no device imq7"):
            imqstats.device(doc(), "imq7")

    def test_missing_counter(self):
        d = doc()
        del d["devices"][0]["held"]
        with self.assertRaisesRegex(ValueError, "lacks numeric held"):
            imqstats.device(d, "imq0")


class TestVariables(unittest.TestCase):
    def setUp(self):
        self.v = imqstats.variables(imqstats.device(doc(), "imq0"))

    def test_device_counters(self):
        self.assertEqual(self.v["S_received"], 15)
        self.assertEqual(self.v["S_qdisc"], "tbf")
        self.assertEqual(self.v["S_failopen_device_down"], 0)
        self.assertEqual(self.v["S_dropped"], 2)

    def test_queues(self):
        self.assertEqual(self.v["S_queues"], "0,1")
        self.assertEqual(self.v["S_per_queue"], "0 1")
        self.assertEqual(self.v["S_q0_received"], 10)
        self.assertEqual(self.v["S_q1_peak_held"], 7)
        self.assertEqual(self.v["S_queue_peak_held_max"], 7)

    def test_failed_device(self):
        v = imqstats.variables(imqstats.device(doc(), "imq1"))
        self.assertEqual((v["S_state"], v["S_queues"], v["S_per_queue"]), ("failed", "9", ""))

    def test_shell_quotes(self):
        d = imqstats.device(doc(), "imq0")
        d["qdisc"] = "a b'c"
        lines = dict(line.split("=", 1) for line in imqstats.shell(d).splitlines())
        self.assertEqual(shlex.split(lines["S_qdisc"]), ["a b'c"])


class TestSums(unittest.TestCase):
    def test_consistent(self):
        self.assertEqual(imqstats.sums(imqstats.device(doc(), "imq0")), [])

    def test_counter_off(self):
        d = imqstats.device(doc(), "imq0")
        d["accepted"] = 14
        d["failopen_reasons"]["no_buffer"] = 1
        self.assertEqual(sorted(imqstats.sums(d)),
                         ["accepted: sum 13, device 14", "failopen_reasons.no_buffer: sum 0, device 1"])


if __name__ == "__main__":
    unittest.main()

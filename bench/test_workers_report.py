"""Tests of bench/workers_report.py on a made-up sample of bench/workers.sh's records."""

import io
import json
import os
import tempfile
import unittest

import workers_report

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "testdata", "workers-sample.jsonl")


class WorkersReportTest(unittest.TestCase):
    def test_report(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            text = io.StringIO()
            res = workers_report.report(SAMPLE, out, "6.18", "2", "5", "2", "0.1 0.1 0.1", text)
            self.assertEqual(json.load(open(out))["summary"], res["summary"])
        s = res["summary"]
        # Medians of the two rounds: (1000000 + 1100000) / 2 packets in 5 s.
        self.assertAlmostEqual(s["flood_unshaped_w1"]["intake_kpps"], 210.0)
        self.assertAlmostEqual(s["flood_unshaped_w1"]["imqd_ns_per_pkt"], 4000.0)
        self.assertAlmostEqual(s["flood_unshaped_w2"]["sender_cores"], 0.88)
        # Round by round: 4410 / 4000 and 4840 / 4400 ns per packet.
        r = s["flood_unshaped_ratio"]
        self.assertEqual([round(x, 3) for x in r["imqd_cpu_per_pkt_rounds"]], [1.05, 1.05])
        self.assertAlmostEqual(r["intake"], (1.05 + 1150 / 1100) / 2)
        self.assertAlmostEqual(s["tcp8_w2"]["delivered"], 11.0)
        # 2.2 s of CPU for 220000 packets of 64000 bytes: 156.25 ns per KB.
        self.assertAlmostEqual(s["tcp8_w2"]["imqd_ns_per_kb"], 2.2e12 / (220000 * 64000))
        self.assertIsNone(s["flood_shaped_w1"])
        self.assertIn("flood_unshaped", text.getvalue())
        self.assertIn("CPU/pkt 1.05 1.05", text.getvalue())

    def test_flood_and_times(self):
        with tempfile.TemporaryDirectory() as d:
            tx, rx = os.path.join(d, "tx"), os.path.join(d, "rx")
            open(tx, "w").write('{"sent":1000,"pps":200,"seconds":5.0,"errors":0}\n'
                                "0m0.001s 0m0.002s\n0m1.500s 0m2.250s\n")
            open(rx, "w").write('{"packets":900,"pps":180,"bytes":57600,"seconds":5.0}\n'
                                "0m0.000s 0m0.000s\n1m0.000s 0m0.500s\n")
            f = workers_report.flood(rx, tx, tx)
        self.assertEqual(f["delivered"], 900)
        self.assertAlmostEqual(f["sender_cpu_s"], 7.5)  # two senders
        self.assertEqual(f["sent"], 2000)
        self.assertAlmostEqual(f["receiver_cpu_s"], 60.5)

    def test_record(self):
        r = workers_report.record("2", "tcp8", "3", "100 1000 5 0 10.0", "350 1900 100005 0 16.5",
                                  '{"bps": 1e9}', "5", "100")
        self.assertAlmostEqual(r["elapsed"], 6.5)
        self.assertEqual(r["round"], 3)
        self.assertEqual(r["received"], 100000)
        self.assertAlmostEqual(r["imqd_cpu_s"], 2.5)
        self.assertAlmostEqual(r["machine_cpu_s"], 9.0)
        self.assertEqual(r["workers"], "2")


if __name__ == "__main__":
    unittest.main()

"""Tests of bench/ecn_report.py on a recorded sample of bench/ecn.sh's output."""

import io
import json
import os
import tempfile
import unittest

import ecn_report

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "testdata", "ecn-sample.json")


class EcnReportTest(unittest.TestCase):
    def test_report(self):
        out = io.StringIO()
        result = ecn_report.report(SAMPLE, out)
        self.assertAlmostEqual(result["tbf"], (47.7 / 47.8 + 48.0 / 47.9) / 2)
        self.assertAlmostEqual(result["pfifo"], 0.75)
        self.assertIn("imqd-tbf", out.getvalue())

    def test_medians(self):
        m = ecn_report.medians([json.loads(line) for line in open(SAMPLE)])
        self.assertEqual(m["imqd-tbf"]["rounds"], 2)
        self.assertEqual(m["imqd-tbf"]["marked"], 42)
        self.assertEqual(m["ifb-tbf"]["retransmits"], 1)

    def test_record(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"end": {"sum_received": {"bits_per_second": 47.8e6},
                               "sum_sent": {"retransmits": 3}}}, f)
            f.flush()
            args = ecn_report.argparse.Namespace(mode="imqd-tbf", round=2, iperf=f.name,
                                                 marked=41)
            r = ecn_report.record(args)
        self.assertEqual(r, {"mode": "imqd-tbf", "round": 2, "mbps": 47.8, "retransmits": 3,
                             "marked": 41})


if __name__ == "__main__":
    unittest.main()

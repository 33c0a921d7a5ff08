"""Tests of iperfjson.py: figures from iperf3 -J."""
import contextlib
import io
import json
import tempfile
import unittest

import iperfjson


def iperf_doc(error=None):
    d = {"end": {"sum_received": {"bits_per_second": 20e6, "bytes": 1000},
                 "sum_sent": {"retransmits": 3}},
         "intervals": [{"sum": {"start": float(i), "bits_per_second": 10e6 * (i + 1)}}
                       for i in range(4)]}
    if error:
        d["error"] = error
    return d


class TestIperf(unittest.TestCase):
    def test_rate(self):
        self.assertEqual(iperfjson.rate(iperf_doc()), 20.0)

    def test_mean_after(self):
        self.assertEqual(iperfjson.mean_after(iperf_doc(), 2), 35.0)
        self.assertEqual(iperfjson.mean_after(iperf_doc(), 9), 0.0)

    def test_main_retransmits(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(iperf_doc(), f)
            f.flush()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                iperfjson.main(["iperfjson.py", "retransmits", f.name])
        self.assertEqual(out.getvalue(), "3\n")

    def test_summary(self):
        self.assertEqual(iperfjson.summary(iperf_doc()),
                         "iperf3: 1000 bytes received, 3 retransmissions")


if __name__ == "__main__":
    unittest.main()

"""Tests of bench/flood_report.py on a recorded sample of bench/flood.sh's output."""

import io
import json
import os
import tempfile
import unittest

import flood_report

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "testdata", "flood-sample.json")


class FloodReportTest(unittest.TestCase):
    def test_medians_over_rounds(self):
        records = [json.loads(line) for line in open(SAMPLE)]
        m = flood_report.medians(records)
        self.assertEqual(m["imqd-htb"]["rounds"], 2)
        self.assertEqual(m["imqd-htb"]["intake_pps"], 185000.0)
        self.assertEqual(m["imqd-htb"]["ping_p99_ms"], 2.5)
        self.assertEqual(m["bare"]["intake_pps"], 200000.0)

    def test_targets(self):
        out = io.StringIO()
        m = flood_report.report(SAMPLE, out)
        text = out.getvalue()
        got = {what: (value, met) for what, value, met in flood_report.targets(m)}
        # 195 / 150 / 185 kpps: 23% apart, not within 10%.
        self.assertEqual(got["intake the same with pfifo, tbf and htb (spread <= 10%)"],
                         ("23.1%", False))
        self.assertEqual(got["intake >= 0.9 of the bare loop's"], ("0.75", False))
        self.assertEqual(got["imqd-htb: priority loss <= 1%"], ("1.25%", False))
        self.assertEqual(got["imqd-htb: priority p99 within 2 ms of IFB's"], ("+1.60 ms", True))
        self.assertEqual(got["imqd-htb: flood at dst <= 1.1 x IFB's"], ("1.03", True))
        self.assertIn("imqd-htb", text)
        self.assertIn("NOT MET", text)
        # imqd-tbf 150 kpps against the floor's 160; no floor runs for pfifo and htb.
        self.assertEqual(flood_report.floors(m), [("tbf", 0.9375)])
        self.assertIn("imqd-tbf: intake / floor-tbf's", text)

    @staticmethod
    def record(mode, rx, intake, cpu_ticks, ping=None, pings=0):
        """flood_report.record on src's 1000 datagrams in 4 s and dst's RX (its JSON)."""
        with tempfile.TemporaryDirectory() as d:
            tx, rxf, pingf = (os.path.join(d, n) for n in ("tx", "rx", "ping"))
            open(tx, "w").write('{"sent":1000,"pps":250,"seconds":4.0,"errors":0}\n')
            open(rxf, "w").write(rx)
            if ping is not None:
                open(pingf, "w").write(ping)
            args = flood_report.argparse.Namespace(
                mode=mode, round=1, secs=4.0, tx=tx, rx=rxf, intake=intake,
                cpu_ticks=cpu_ticks, hz=100, ping=pingf if ping is not None else None,
                pings=pings)
            return flood_report.record(args)

    def test_record_and_ping(self):
        r = self.record("imqd-htb", '{"packets":800,"pps":200,"bytes":51200,"seconds":4.0}\n',
                        1000, 50, "".join(
                            "64 bytes from 10.0.0.2: icmp_seq=%d ttl=63 time=%d.0 ms\n" % (i, i)
                            for i in range(1, 100)), 100)
        self.assertEqual(r["delivered"], 800)
        self.assertEqual(r["intake_pps"], 250.0)
        self.assertEqual(r["cpu_us_per_pkt"], 500.0)
        self.assertEqual(r["ping_loss_pct"], 1.0)
        self.assertEqual(r["ping_p99_ms"], 98.0)

    def test_floor_intake_is_what_the_queue_gave(self):
        r = self.record("floor-tbf", '{"packets":600}\n', 900, 30)
        # It dropped what the qdisc refused: intake and dst differ.
        self.assertEqual(r["intake"], 900)
        self.assertEqual(r["intake_pps"], 225.0)
        self.assertEqual(r["delivered"], 600)
        self.assertEqual(r["cpu_us_per_pkt"], 333.333)


if __name__ == "__main__":
    unittest.main()

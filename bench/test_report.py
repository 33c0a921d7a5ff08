"""Tests of report.py: its arithmetic, and the report of a recorded quick run
(testdata/quick: the records, anomalies and description `run.sh --quick
--rounds 2 --tcp-rounds 2 --shaped-rounds 1` left, and the results it wrote, recorded.json)."""
import io
import json
import os
import unittest

import report

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "quick")


def load(name):
    with open(os.path.join(DATA, name)) as f:
        if name.endswith(".jsonl"):
            return [json.loads(line) for line in f]
        if name.endswith(".json"):
            return json.load(f)
        return [line.rstrip("\n") for line in f if line.strip()]


def rendered(res):
    out = io.StringIO()
    report.render(res, out)
    return out.getvalue()


class TestArithmetic(unittest.TestCase):
    def test_pct(self):
        self.assertEqual(report.pct(list(range(1, 101)), 99), 99)
        self.assertEqual(report.pct([5, 1, 3], 50), 3)
        self.assertIsNone(report.pct([], 50))

    def test_paired_by_round(self):
        # Round 2 of A failed: rounds 1 and 3 pair, in round order.
        self.assertEqual(report.paired({1: 4.0, 3: 9.0}, {3: 3.0, 2: 1.0, 1: 2.0}), [2.0, 3.0])
        self.assertEqual(report.paired({"10": 2.0, "9": 1.0}, {"9": 1.0, "10": 1.0}), [1.0, 2.0])
        self.assertEqual(report.paired(None, {1: 1.0}), [])

    def test_median_run(self):
        runs = [{"bps": 3}, {"bps": 1}, {"bps": 2}, {"bps": 9}]
        self.assertEqual(report.median_run(runs), {"bps": 2, "runs_bps": [3, 1, 2, 9]})

    def test_with_cpu(self):
        d = report.with_cpu({"bps": 1}, "100 10 0", "300 1010 0", 4, 100)
        self.assertEqual((d["cpu_seconds"], d["cpu_percent"]), (2.0, 50.0))
        self.assertEqual((d["queued_packets"], d["cpu_ns_per_pkt"], d["imqd_received"]),
                         (1000, 2000000, None))
        # imqd's own count wins over the kernel's id sequence, which wraps at 2^32.
        d = report.with_cpu({}, "0 4294967290 5", "100 4 505", 1, 100)
        self.assertEqual((d["queued_packets"], d["imqd_received"], d["cpu_ns_per_pkt"]),
                         (10, 500, 2000000))


def rec(mode, test, data, rnd=0):
    return {"mode": mode, "test": test, "round": rnd, "data": data}


def run_meta():
    return {"date": "d", "kernel": "k", "cores": 2, "seconds": 1, "quick": True, "imqd": "i",
            "git": "g", "reps": 1, "loadavg": ["0", "0", "0"], "loadavg_end": ["0", "0", "0"],
            "shaped_seconds": 1}


class TestTargets(unittest.TestCase):
    def test_tcp_from_rounds(self):
        records = [rec(m, t, {"bps": v}) for m, t, v in
                   (("imqd", "tcp1", 9.0), ("bare-gso", "tcp1", 10.0), ("ifb", "tcp1", 8.0),
                    ("imqd", "tcp8", 9.0), ("bare-gso", "tcp8", 10.0), ("ifb", "tcp8", 8.0))]
        # The rounds say otherwise: 0.5 of bare-gso in each.
        for r in (1, 2):
            for m, v in (("imqd", 5.0), ("bare-gso", 10.0), ("ifb", 4.0)):
                records += [rec(m, "tcp1_round", {"bps": v}, r), rec(m, "tcp8_round", {"bps": v}, r)]
        res = report.build(records, [], run_meta())
        t = [x for x in res["targets"]
             if x["target"].startswith("unshaped TCP") and "(imqd)" in x["target"]][0]
        self.assertEqual(t["value"], [0.5, 0.5, 1.25, 1.25])
        self.assertFalse(t["met"])
        self.assertIn("medians of the interleaved rounds", t["detail"])
        self.assertEqual(res["ratios"]["imqd/bare-gso"]["tcp1"], 0.9)

    def test_shaped_and_memory(self):
        records = [rec("ifb", "tbf_10", {"bps": 1000.0}), rec("imqd", "tbf_10", {"bps": 1005.0}),
                   rec("rss", "summary", {"held_at_peak": 9500, "rss_kb": 6000})]
        res = report.build(records, ["odd"], run_meta())
        by = {t["target"]: t for t in res["targets"]}
        self.assertTrue(by["shaped within 1% of IFB (imqd)"]["met"])
        self.assertIsNone(by["shaped within 1% of IFB (imqd-seg)"]["met"])
        self.assertTrue(by["RSS <= 32 MB with 10,000 packets held"]["met"])
        self.assertIn("\nanomalies\n  odd\n", rendered(res))


class TestRecordedRun(unittest.TestCase):
    def setUp(self):
        self.recorded = load("recorded.json")
        run = load("meta.json")
        run["loadavg_end"] = self.recorded["meta"]["loadavg_end"]
        self.built = report.build(load("records.jsonl"), load("anomalies.txt"), run)

    def test_build_gives_the_recorded_results(self):
        self.assertEqual(json.loads(json.dumps(self.built, sort_keys=True)), self.recorded)

    def test_show_prints_what_the_run_printed(self):
        # The table printed at the end of a run and the one `show` prints from its JSON.
        self.assertEqual(rendered(self.built), rendered(self.recorded))

    def test_tables(self):
        text = rendered(self.recorded)
        for line in ("configuration", "ratio", "targets", "imqd/bare-gso"):
            self.assertIn(line, text)
        for m, name in report.NAMES:
            if m in self.recorded["modes"]:
                self.assertIn("\n" + name, text)


if __name__ == "__main__":
    unittest.main()

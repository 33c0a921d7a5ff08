"""Tests of tcclasses.py: class counters of tc, imqctl classes -j and Prometheus."""
import json
import unittest

import tcclasses

# tc -s class show of an htb with two classes, as iproute2 6.1 prints it.
TC = """class htb 1:10 parent 1:1 leaf 10: prio 0 rate 4Mbit ceil 4Mbit burst 1600b cburst 1600b
 Sent 3126 bytes 3 pkt (dropped 1, overlimits 48 requeues 0)
 backlog 0b 0p requeues 0
 lended: 0 borrowed: 0 giants: 0
 tokens: 100000 ctokens: 20000

class htb 1:1 root rate 10Mbit ceil 10Mbit burst 1600b cburst 1600b
 Sent 3168 bytes 4 pkt (dropped 0, overlimits 0 requeues 2)
 backlog 1514b 1p requeues 2
"""
TC_AFTER = TC.replace("3126 bytes 3 pkt", "4640 bytes 4 pkt").replace(
    "3168 bytes 4 pkt", "4682 bytes 5 pkt")


def view(**handles):
    return json.dumps({"devices": [{"name": "imq0", "interval_s": 1.0, "tree": [
        {"type": "qdisc", "handle": "1:", "bytes": 1, "packets": 1, "drops": 0,
         "overlimits": 0, "requeues": 0, "rate_bps": None, "rate_pps": None}] + [
        {"type": "class", "handle": h.replace("_", ":"), "bytes": b, "packets": 3, "drops": 1,
         "overlimits": 48, "requeues": 2, "rate_bps": 4e6, "rate_pps": 5.0}
        for h, b in handles.items()]}]})


class TestTcClasses(unittest.TestCase):
    def test_tc(self):
        c = tcclasses.tc_classes(TC)
        self.assertEqual(c["1:10"], {"bytes": 3126, "packets": 3, "drops": 1,
                                     "overlimits": 48, "requeues": 0})
        self.assertEqual(c["1:1"]["requeues"], 2)

    def test_compare(self):
        lines = tcclasses.compare(TC, view(**{"1_1": 4000, "1_10": 4000}), TC_AFTER)
        self.assertEqual(len(lines), 10)
        self.assertIn("1:10 bytes 3126 4000 4640", lines)
        self.assertIn("1:1 requeues 2 2 2", lines)

    def test_compare_left_out(self):
        lines = tcclasses.compare(TC, view(**{"1_10": 4000}), TC)
        self.assertIn("1:1 bytes 3168 -1 3168", lines)

    def test_compare_mismatch(self):
        with self.assertRaises(ValueError):
            tcclasses.compare(TC, view(**{"1_10": 1}), TC.split("\n\n")[0])
        with self.assertRaises(ValueError):
            tcclasses.compare(TC, view(**{"1_99": 1}), TC)

    def test_prometheus(self):
        text = ("# TYPE imqd_class_bytes_total counter\n"
                'imqd_class_bytes_total{device="imq0",class="1:10",parent="1:1",kind="htb"} 3500\n'
                'imqd_class_bytes_total{device="imq1",class="1:10",parent="1:1",kind="htb"} 9\n'
                'imqd_class_backlog_bytes{device="imq0",class="1:10",parent="1:1",kind="htb"} 7\n'
                'imqd_qdisc_bytes_total{device="imq0",qdisc="1:",parent="root",kind="htb"} 8\n')
        self.assertEqual(tcclasses.view_classes(text), {"1:10": {"bytes": 3500}})

    def test_rates(self):
        self.assertEqual(tcclasses.rates(view(**{"1_10": 1})), ["1:10 4000000.0 5.0"])

    def test_lines(self):
        self.assertEqual(tcclasses.lines(view() + "\n" + view() + "\n"), 2)
        with self.assertRaises(ValueError):
            tcclasses.lines('{"x": 1}\n')


if __name__ == "__main__":
    unittest.main()

"""Tests of promcheck.py: a good exposition passes, each kind of fault is named."""
import unittest

import promcheck
import test_imqstats


def render(doc, skip=None):
    """The exposition promcheck expects for DOC (less the series SKIP), in its format."""
    fams = {}
    for (name, labels), v in promcheck.expected(doc).items():
        if name != skip:
            fams.setdefault(name, []).append((labels, v))
    out = []
    for name, samples in fams.items():
        kind = "counter" if name.endswith("_total") else "gauge"
        out += ["# HELP %s Something." % name, "# TYPE %s %s" % (name, kind)]
        for labels, v in samples:
            out.append("%s{%s} %s" % (name, ",".join('%s="%s"' % kv for kv in labels), repr(v)))
    return "\n".join(out) + "\n"


class TestCheck(unittest.TestCase):
    def setUp(self):
        self.doc = {"devices": test_imqstats.doc()["devices"][:1]}

    def test_good(self):
        errs, notes, summary = promcheck.check(render(self.doc), self.doc)
        self.assertEqual(errs, [])
        self.assertTrue(summary.endswith(" 0 problems"))

    def test_value_and_missing(self):
        text = render(self.doc, skip="imqd_stray_packets_total")
        text = text.replace('imqd_received_packets_total{device="imq0"} 15.0',
                            'imqd_received_packets_total{device="imq0"} 16')
        errs, _, _ = promcheck.check(text, self.doc)
        self.assertEqual(len(errs), 2)
        self.assertIn("missing series imqd_stray_packets_total", errs[0] + errs[1])

    def test_format(self):
        text = ("imqd_x_total 1\n# HELP imqd_y Y.\n# TYPE imqd_y counter\nimqd_y 1\nimqd_y 1\n"
                "imqd_z{a=\"1\",a=\"2\"} 1\nimqd_w x")
        errs, _, _ = promcheck.parse(text)
        want = ["output does not end with a newline", "1: sample of imqd_x_total before its HELP",
                "4: counter imqd_y does not end in _total", "5: series imqd_y{} twice",
                "6: label a twice"]
        for w in want:
            self.assertTrue(any(e.startswith(w) for e in errs), (w, errs))

    def test_histogram(self):
        text = ("# HELP imqd_h H.\n# TYPE imqd_h histogram\nimqd_h_bucket{le=\"0.1\"} 1\n"
                "imqd_h_bucket{le=\"+Inf\"} 2\nimqd_h_sum 0.3\nimqd_h_count 2\nimqd_h_count 2\n")
        errs, fams, got = promcheck.parse(text)
        self.assertEqual(errs, ["7: series imqd_h_count{} twice"])
        self.assertEqual(got[("imqd_h_bucket", (("le", "+Inf"),))], 2.0)

    def test_extra_series_noted(self):
        text = render(self.doc) + "# HELP imqd_new N.\n# TYPE imqd_new gauge\nimqd_new 1\n"
        errs, notes, _ = promcheck.check(text, self.doc)
        self.assertEqual(errs, [])
        self.assertEqual(notes, ["series the JSON has no counterpart for (not checked): imqd_new"])


if __name__ == "__main__":
    unittest.main()

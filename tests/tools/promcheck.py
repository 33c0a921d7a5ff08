#!/usr/bin/env python3
"""Prometheus text exposition format (0.0.4) from `imqctl -o prometheus stats`,
checked on its own and against `imqctl stats -j` taken just after.

  promcheck.py STATS.prom STATS.json
      Prints each problem as "prometheus: ...", then a summary line; exits 1
      when there is any problem.
"""
import json
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
SAMPLE = re.compile(r"([^\s{]+)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
FIELDS = {"received_packets_total": "received", "received_bytes_total": "received_bytes",
          "accepted_packets_total": "accepted", "accepted_bytes_total": "accepted_bytes",
          "held_packets": "held", "peak_held_packets": "peak_held", "id_gaps_total": "id_gaps",
          "kernel_passed_packets_total": "kernel_passed",
          "kernel_dropped_packets_total": "kernel_dropped", "flooded_queues": "flooded",
          "flood_dropping_queues": "flood_dropping", "watchdog_failopen_total": "watchdog",
          "malformed_packets_total": "malformed", "verdict_errors_total": "verdict_errors"}
DROP_REASONS = ("enqueue", "order", "timeout", "error", "ecn", "overflow")


def unescape(v):
    return re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), v)


def parse_labels(text, n, errs):
    labels, rest = {}, text
    while rest.strip():
        lm = LABEL.match(rest)
        if not lm:
            errs.append("%d: bad labels %r" % (n, text))
            break
        if lm.group(1) in labels:
            errs.append("%d: label %s twice" % (n, lm.group(1)))
        labels[lm.group(1)] = unescape(lm.group(2))
        rest = rest[lm.end():]
    return labels


def parse_comment(line, n, fams, samples, errs):
    parts = line.split(None, 3)
    if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
        return
    name = parts[2]
    if not NAME.match(name):
        errs.append("%d: bad metric name %r" % (n, name))
    f = fams.setdefault(name, {})
    if parts[1] in f:
        errs.append("%d: second %s for %s" % (n, parts[1], name))
    if name in samples:
        errs.append("%d: %s of %s after its samples" % (n, parts[1], name))
    if parts[1] == "TYPE":
        t = parts[3] if len(parts) > 3 else ""
        if t not in TYPES:
            errs.append("%d: bad type %r" % (n, t))
        f["TYPE"] = t
    else:
        f["HELP"] = parts[3] if len(parts) > 3 else ""


def parse(text):
    """(problems, families {name: {HELP, TYPE}}, samples {(name, labels): value})."""
    errs, fams, samples = [], {}, {}
    done = set()  # families whose samples ended: no more may follow
    current = None
    if not text.endswith("\n"):
        errs.append("output does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            parse_comment(line, n, fams, samples, errs)
            continue
        if not line.strip():
            continue
        m = SAMPLE.match(line)
        if not m:
            errs.append("%d: not a sample: %r" % (n, line))
            continue
        name, value = m.group(1), m.group(4)
        if not NAME.match(name):
            errs.append("%d: bad metric name %r" % (n, name))
        labels = parse_labels(m.group(3) or "", n, errs)
        try:
            v = float(value)
            if math.isnan(v) and value != "NaN":
                raise ValueError
        except ValueError:
            errs.append("%d: value %r not numeric" % (n, value))
            continue
        # A histogram's samples are NAME_bucket, NAME_sum and NAME_count.
        fam = name
        m = re.match(r"(.+)_(bucket|sum|count)$", name)
        if name not in fams and m and fams.get(m.group(1), {}).get("TYPE") == "histogram":
            fam = m.group(1)
        f = fams.get(fam)
        if not f or "TYPE" not in f or "HELP" not in f:
            errs.append("%d: sample of %s before its HELP and TYPE" % (n, name))
            f = fams.setdefault(name, {})
        if f.get("TYPE") == "counter" and not name.endswith("_total"):
            errs.append("%d: counter %s does not end in _total" % (n, name))
        if fam != current:
            if fam in done:
                errs.append("%d: samples of %s are not together" % (n, fam))
            if current is not None:
                done.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in samples.setdefault(name, {}):
            errs.append("%d: series %s%s twice" % (n, name, labels))
        samples[name][key] = v
    flat = {}
    for s in samples.values():
        flat.update(s)
    return errs, fams, flat


def expected(doc):
    """(name, labels) -> value the JSON says the exposition must carry."""
    want = {}

    def put(name, labels, v):
        want[(name, tuple(sorted(labels.items())))] = float(v)

    for d in doc["devices"]:
        scopes = [("imqd_", {"device": d["name"]}, d)]
        scopes += [("imqd_queue_", {"device": d["name"], "queue": str(q["queue"])}, q)
                   for q in d["per_queue"]]
        for prefix, labels, c in scopes:
            for fam, key in FIELDS.items():
                put(prefix + fam, labels, c[key])
            for r in DROP_REASONS:
                put(prefix + "dropped_packets_total", dict(labels, reason=r), c["dropped_" + r])
            for r, v in c["failopen_reasons"].items():
                put(prefix + "failopen_packets_total", dict(labels, reason=r), v)
        dl = {"device": d["name"]}
        put("imqd_stray_packets_total", dl, d["stray"])
        put("imqd_unmatched_copies_total", dl, d["unmatched"])
        put("imqd_verdicts_batched_total", dl, d["verdicts_batched"])
        put("imqd_device_info", dict(dl, state=d["state"], qdisc=d["qdisc"]), 1)
        # Every packet accepted after shaping is one hold time in the histogram.
        put("imqd_hold_seconds_count", dl, d["accepted"])
        put("imqd_hold_seconds_bucket", dict(dl, le="+Inf"), d["accepted"])
    return want


def check(text, doc):
    """(problems, notes, summary) for exposition TEXT against stats document DOC."""
    errs, fams, got = parse(text)
    for name, f in fams.items():
        if "TYPE" not in f or "HELP" not in f:
            errs.append("%s lacks %s" % (name, "TYPE" if "TYPE" not in f else "HELP"))
    want = expected(doc)
    for key, v in want.items():
        if key not in got:
            errs.append("missing series %s%s (JSON %g)" % (key[0], dict(key[1]), v))
        elif abs(got[key] - v) > 1e-9:
            errs.append("%s%s = %s, JSON says %g" % (key[0], dict(key[1]), got[key], v))
    notes = []
    extra = sorted({k[0] for k in got if k not in want})
    if extra:
        notes.append("series the JSON has no counterpart for (not checked): %s" % ", ".join(extra))
    for d in doc["devices"]:
        if sum(q["failopen"] for q in d["per_queue"]) != d["failopen"]:
            errs.append("%s: failopen is not the sum of its queues'" % d["name"])
    return errs, notes, "%d series, %d compared with the JSON, %d problems" % (
        len(got), len(want), len(errs))


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: promcheck.py STATS.prom STATS.json")
    with open(argv[1]) as f:
        text = f.read()
    with open(argv[2]) as f:
        doc = json.load(f)
    errs, notes, summary = check(text, doc)
    for line in notes:
        print(line)
    for e in errs:
        print("prometheus: " + e)
    print("prometheus: " + summary)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

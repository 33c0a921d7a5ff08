#!/usr/bin/env python3
"""Class counters from `tc -s class show`, `imqctl classes -j` and Prometheus text.

Used by tests/e2e/classes.sh, which does the asserting:

  tcclasses.py compare TC_BEFORE VIEW TC_AFTER
      one line per class and counter: "HANDLE FIELD BEFORE VIEW AFTER", where
      VIEW is imqctl classes -j output or Prometheus text (imqd_class_*), -1
      for a class it leaves out, and the tc files were read just before and
      just after it
  tcclasses.py rates VIEW
      one line per class of imqctl classes -j output: "HANDLE RATE_BPS RATE_PPS"
  tcclasses.py lines FILE
      the number of JSON documents in FILE (imqctl classes -w -j), or exit 1
      if a line is not one
"""

import json
import re
import sys

FIELDS = ("bytes", "packets", "drops", "overlimits", "requeues")

SENT = re.compile(
    r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+) requeues (\d+)\)")
PROM = re.compile(
    r'^imqd_class_(\w+)_total\{device="([^"]*)",class="([^"]*)",[^}]*\} (\d+)$')


def tc_classes(path):
    """{handle: {field: value}} from tc -s class show."""
    out, handle = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if len(words) >= 3 and words[0] == "class":
                handle = words[2]
                continue
            m = SENT.search(line)
            if m and handle is not None:
                out[handle] = dict(zip(FIELDS, map(int, m.groups())))
                handle = None
    return out


def view_classes(path, device="imq0"):
    """{handle: {field: value}} from imqctl classes -j or Prometheus text."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = {}
    if text.lstrip().startswith("{"):
        for dev in json.loads(text)["devices"]:
            if dev["name"] != device:
                continue
            for node in dev["tree"]:
                if node["type"] == "class":
                    out[node["handle"]] = {k: node[k] for k in FIELDS}
        return out
    for line in text.splitlines():
        m = PROM.match(line)
        if m and m.group(2) == device and m.group(1) in FIELDS:
            out.setdefault(m.group(3), {})[m.group(1)] = int(m.group(4))
    return out


def compare(before_path, view_path, after_path):
    before, view, after = (tc_classes(before_path), view_classes(view_path),
                           tc_classes(after_path))
    if not before or set(before) != set(after):
        sys.exit("tc showed different classes before (%s) and after (%s)"
                 % (sorted(before), sorted(after)))
    for handle in sorted(before):
        for field in FIELDS:
            print(handle, field, before[handle][field],
                  view.get(handle, {}).get(field, -1), after[handle][field])
    extra = set(view) - set(before)
    if extra:
        sys.exit("%s shows classes tc does not: %s" % (view_path, sorted(extra)))


def rates(view_path):
    with open(view_path, encoding="utf-8") as f:
        doc = json.load(f)
    for dev in doc["devices"]:
        for node in dev["tree"]:
            if node["type"] == "class":
                print(node["handle"], node["rate_bps"], node["rate_pps"])


def lines(path):
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if "devices" not in doc:
                sys.exit("not a classes document: %s" % line.strip())
            n += 1
    print(n)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "compare":
        compare(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "rates":
        rates(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "lines":
        lines(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

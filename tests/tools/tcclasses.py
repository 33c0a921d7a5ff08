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


def tc_classes(text):
    """{handle: {field: value}} from the text of tc -s class show."""
    out, handle = {}, None
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "class":
            handle = words[2]
            continue
        m = SENT.search(line)
        if m and handle is not None:
            out[handle] = dict(zip(FIELDS, map(int, m.groups())))
            handle = None
    return out


def view_classes(text, device="imq0"):
    """{handle: {field: value}} from imqctl classes -j or Prometheus text."""
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


def compare(before_text, view_text, after_text):
    """Lines "HANDLE FIELD BEFORE VIEW AFTER"; ValueError if the readings do not match up."""
    before, view, after = tc_classes(before_text), view_classes(view_text), tc_classes(after_text)
    if not before or set(before) != set(after):
        raise ValueError("tc showed different classes before (%s) and after (%s)"
                         % (sorted(before), sorted(after)))
    extra = set(view) - set(before)
    if extra:
        raise ValueError("the view shows classes tc does not: %s" % sorted(extra))
    return ["%s %s %d %d %d" % (h, f, before[h][f], view.get(h, {}).get(f, -1), after[h][f])
            for h in sorted(before) for f in FIELDS]


def rates(view_text):
    """Lines "HANDLE RATE_BPS RATE_PPS" of the classes in imqctl classes -j output."""
    return ["%s %s %s" % (n["handle"], n["rate_bps"], n["rate_pps"])
            for dev in json.loads(view_text)["devices"] for n in dev["tree"]
            if n["type"] == "class"]


def lines(text):
    """How many JSON documents, one a line, TEXT holds; ValueError if a line is not one."""
    n = 0
    for line in text.splitlines():
        if "devices" not in json.loads(line):
            raise ValueError("not a classes document: %s" % line.strip())
        n += 1
    return n


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def main(argv):
    try:
        if len(argv) == 5 and argv[1] == "compare":
            print("\n".join(compare(read(argv[2]), read(argv[3]), read(argv[4]))))
        elif len(argv) == 3 and argv[1] == "rates":
            print("\n".join(rates(read(argv[2]))))
        elif len(argv) == 3 and argv[1] == "lines":
            print(lines(read(argv[2])))
        else:
            sys.exit(__doc__)
    except (ValueError, KeyError) as e:
        sys.exit("tcclasses.py: %s" % e)


if __name__ == "__main__":
    main(sys.argv)

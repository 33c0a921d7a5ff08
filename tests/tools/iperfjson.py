#!/usr/bin/env python3
"""Figures from the JSON output of `iperf3 -J`, for the end-to-end tests.

  iperfjson.py rate FILE
      The receiver's rate over the whole run, in Mbit/s; exits 1 when iperf3
      reported an error or wrote no result.
  iperfjson.py mean-after FILE SECONDS
      The mean of the receiver's per-second rates from SECONDS into the run
      on, in Mbit/s (0 when there is none).
  iperfjson.py summary FILE
      One line: bytes received and the sender's retransmissions.
  iperfjson.py retransmits FILE
      The sender's retransmissions.
"""
import json
import sys


def load(path):
    """The iperf3 document; ValueError when it is not one or reports an error."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError("bad iperf3 JSON: %s" % e)
    if doc.get("error"):
        raise ValueError("iperf3 error: %s" % doc["error"])
    return doc


def rate(doc):
    """Mbit/s the receiver got."""
    return doc["end"]["sum_received"]["bits_per_second"] / 1e6


def mean_after(doc, start):
    """Mean Mbit/s of the intervals that start at START seconds or later."""
    xs = [i["sum"]["bits_per_second"] for i in doc.get("intervals", [])
          if i["sum"]["start"] >= start]
    return sum(xs) / len(xs) / 1e6 if xs else 0.0


def summary(doc):
    e = doc["end"]
    return "iperf3: %d bytes received, %d retransmissions" % (
        e["sum_received"]["bytes"], e["sum_sent"].get("retransmits", -1))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("rate", "mean-after", "summary", "retransmits") or \
            (argv[1] == "mean-after") != (len(argv) == 4):
        sys.exit("usage: iperfjson.py rate|summary|retransmits FILE | mean-after FILE SECONDS")
    try:
        doc = load(argv[2])
        if argv[1] == "rate":
            print("%.3f" % rate(doc))
        elif argv[1] == "mean-after":
            print("%.3f" % mean_after(doc, float(argv[3])))
        elif argv[1] == "retransmits":
            print(doc["end"]["sum_sent"]["retransmits"])
        else:
            print(summary(doc))
    except (ValueError, KeyError) as e:
        sys.exit("%s: %s" % (argv[2], e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

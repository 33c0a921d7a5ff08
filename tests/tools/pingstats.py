#!/usr/bin/env python3
"""Round-trip times from the output of `ping -n`, for the end-to-end tests.

  pingstats.py FILE SENT
      Prints "P50 P99 MAX LOST": the median, the 99th percentile and the
      largest of the replies' times in microseconds, and SENT less the
      replies; exits 1 when there was no reply.
"""
import re
import sys


def rtts_us(text):
    """Each reply's time=, in microseconds, sorted."""
    return sorted(float(m.group(1)) * 1000 for m in re.finditer(r"time=([0-9.]+) ms", text))


def stats(text, sent):
    """(p50, p99, max, lost): the lower median and the 99th percentile by rank."""
    v = rtts_us(text)
    if not v:
        raise ValueError("no replies")
    n = len(v)
    return round(v[(n - 1) // 2]), round(v[(n - 1) * 99 // 100]), round(v[-1]), sent - n


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: pingstats.py FILE SENT")
    try:
        with open(argv[1]) as f:
            print("%d %d %d %d" % stats(f.read(), int(argv[2])))
    except (OSError, ValueError) as e:
        sys.exit("%s: %s" % (argv[1], e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

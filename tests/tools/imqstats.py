#!/usr/bin/env python3
"""One device's counters from `imqctl stats -j`, for the end-to-end tests.

  imqstats.py shell STATS.json DEV
      Shell assignments: S_<key> for each number and string of DEV (S_dropped
      is all drops together), S_failopen_<reason> for each fail-open reason,
      S_queues (its queue numbers, comma-separated), S_per_queue (the queues
      per_queue lists, space-separated), S_q<N>_<key> for the counters of
      queue N, and S_queue_peak_held_max. Exits 1 when DEV is missing or
      lacks a counter every device has.
  imqstats.py sums STATS.json DEV
      Every counter summed over DEV's per_queue equals DEV's own (all but
      peak_held, which is no sum); prints each that does not, exits 1 then.
"""
import json
import shlex
import sys

NEEDED = ("received", "accepted", "dropped", "dropped_enqueue", "dropped_order", "dropped_timeout",
          "dropped_error", "failopen", "held")


def device(doc, name):
    """The device NAME of a stats document; ValueError if it is missing or incomplete."""
    devs = [d for d in doc.get("devices", []) if d.get("name") == name]
    if not devs:
        raise ValueError("no device %s in imqctl output" % name)
    d = devs[0]
    missing = [k for k in NEEDED if not isinstance(d.get(k), int)]
    if missing:
        raise ValueError("imqctl stats -j: %s lacks numeric %s" % (name, ", ".join(missing)))
    return d


def scalars(d, prefix):
    """PREFIX<key> -> value for the numbers and strings of D and its fail-open reasons."""
    out = {}
    for k, v in d.items():
        if isinstance(v, bool):
            out[prefix + k] = int(v)
        elif isinstance(v, (int, float, str)):
            out[prefix + k] = v
    for k, v in (d.get("failopen_reasons") or {}).items():
        out[prefix + "failopen_" + k] = v
    return out


def variables(d):
    """The S_* variables of device D, in a stable order."""
    out = scalars(d, "S_")
    queues = d.get("per_queue", [])
    out["S_queues"] = ",".join(str(q) for q in d.get("queues", []))
    out["S_per_queue"] = " ".join(str(q["queue"]) for q in queues)
    out["S_queue_peak_held_max"] = max((int(q.get("peak_held", 0)) for q in queues), default=0)
    for q in queues:
        out.update(scalars(q, "S_q%d_" % q["queue"]))
    return {k.replace("-", "_"): v for k, v in out.items()}


def shell(d):
    """Lines NAME=VALUE a shell can eval."""
    return "".join("%s=%s\n" % (k, shlex.quote(str(v))) for k, v in variables(d).items())


def sums(d):
    """Counters whose per-queue sum differs from the device's, as messages."""
    bad = []
    qs = d.get("per_queue", [])
    if not qs:
        return bad
    for k, v in d.items():
        if k == "peak_held" or k not in qs[0]:
            continue
        if isinstance(v, dict):
            for r, rv in v.items():
                s = sum(q[k][r] for q in qs)
                if s != rv:
                    bad.append("%s.%s: sum %d, device %d" % (k, r, s, rv))
        elif isinstance(v, int) and not isinstance(v, bool):
            s = sum(q[k] for q in qs)
            if s != v:
                bad.append("%s: sum %d, device %d" % (k, s, v))
    return bad


def main(argv):
    if len(argv) != 4 or argv[1] not in ("shell", "sums"):
        sys.exit("usage: imqstats.py shell|sums STATS.json DEV")
    try:
        with open(argv[2]) as f:
            d = device(json.load(f), argv[3])
    except (OSError, ValueError) as e:
        sys.exit(str(e))
    if argv[1] == "shell":
        sys.stdout.write(shell(d))
        return 0
    bad = sums(d)
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

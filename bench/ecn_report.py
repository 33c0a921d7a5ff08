"""Records and report of bench/ecn.sh: TCP with ECN under marking, imqd against IFB.

    ecn_report.py record --mode M --round N --iperf IPERF.json --marked N
        prints one JSON line: goodput, the sender's retransmissions, and the
        packets imqd passed on marked CE
    ecn_report.py report FILE.json
        prints the medians over the rounds and imqd's ratio to IFB, per qdisc
"""

import argparse
import json
import statistics
import sys


def record(args):
    doc = json.load(open(args.iperf))
    end = doc["end"]
    return {"mode": args.mode, "round": args.round,
            "mbps": round(end["sum_received"]["bits_per_second"] / 1e6, 3),
            "retransmits": end["sum_sent"].get("retransmits", 0),
            "marked": args.marked}


def medians(records):
    """Per mode, the median goodput and retransmissions, and the rounds."""
    by_mode = {}
    for r in records:
        by_mode.setdefault(r["mode"], []).append(r)
    return {mode: {"rounds": len(rs),
                   "mbps": statistics.median(r["mbps"] for r in rs),
                   "retransmits": statistics.median(r["retransmits"] for r in rs),
                   "marked": statistics.median(r["marked"] for r in rs)}
            for mode, rs in by_mode.items()}


def paired_ratios(records, qdisc):
    """imqd's goodput over IFB's in each round, for QDISC."""
    by_round = {}
    for r in records:
        by_round.setdefault(r["round"], {})[r["mode"]] = r
    out = []
    for rnd in sorted(by_round):
        pair = by_round[rnd]
        i, m = pair.get("ifb-" + qdisc), pair.get("imqd-" + qdisc)
        if i and m and i["mbps"]:
            out.append(m["mbps"] / i["mbps"])
    return out


def report(path, out=sys.stdout):
    records = [json.loads(line) for line in open(path) if line.strip()]
    m = medians(records)
    out.write("%-11s %6s %10s %12s %8s\n" % ("mode", "rounds", "Mbit/s", "retransmits", "marked"))
    for mode in sorted(m, key=lambda k: (k.split("-")[1], k)):
        r = m[mode]
        out.write("%-11s %6d %10.2f %12g %8g\n" % (mode, r["rounds"], r["mbps"], r["retransmits"],
                                                   r["marked"]))
    out.write("\n")
    result = {}
    for q in ("pfifo", "tbf"):
        ratios = paired_ratios(records, q)
        if ratios:
            med = statistics.median(ratios)
            result[q] = med
            out.write("%-5s imqd / IFB goodput, median of %d rounds: %.3f (rounds %s)\n" % (
                q, len(ratios), med, ", ".join("%.3f" % x for x in ratios)))
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--mode", required=True)
    r.add_argument("--round", type=int, required=True)
    r.add_argument("--iperf", required=True)
    r.add_argument("--marked", type=int, default=0)
    rp = sub.add_parser("report")
    rp.add_argument("file")
    a = p.parse_args(argv)
    if a.cmd == "record":
        print(json.dumps(record(a)))
    else:
        report(a.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

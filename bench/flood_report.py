"""Records and report of bench/flood.sh: imqd under a flood of small packets.

    flood_report.py record --mode M --round N --secs S --tx TX.json --rx RX.json
                           --intake N --cpu-ticks N --hz N [--ping PING.txt --pings N]
        prints one JSON line for the run (what src sent, what dst got, the
        consumer's intake and CPU time, the pings' loss and round trips)
    flood_report.py report FILE.json
        prints the table of the medians over the rounds, the targets of
        issue #21 read from them, and imqd's intake against the design's floor
"""

import argparse
import json
import re
import statistics
import sys


def pct(values, p):
    """The P-th percentile of VALUES (nearest rank), None when there are none."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int((len(v) - 1) * p / 100))]


def ping_stats(text, sent):
    """Loss (%) and round trips (ms: p50, p99) of ping's output TEXT for SENT pings."""
    rtts = [float(m) for m in re.findall(r"time=([0-9.]+) ms", text)]
    loss = 100.0 * (sent - len(rtts)) / sent if sent else None
    return {"ping_loss_pct": round(loss, 2) if loss is not None else None,
            "ping_p50_ms": pct(rtts, 50), "ping_p99_ms": pct(rtts, 99)}


def record(args):
    tx = json.load(open(args.tx))
    rx = json.load(open(args.rx)) if open(args.rx).read().strip() else {}
    cpu_s = args.cpu_ticks / args.hz
    rec = {"mode": args.mode, "round": args.round, "secs": args.secs,
           "sent": tx.get("sent", 0), "sent_pps": tx.get("pps", 0),
           "delivered": rx.get("packets", 0),
           "delivered_pps": rx.get("packets", 0) / args.secs,
           "intake": args.intake, "intake_pps": args.intake / args.secs,
           "cpu_s": round(cpu_s, 3)}
    # imqd counts its intake, the floor's is read from the queue; the bare loop's is
    # what it passed to dst.
    if rec["mode"] == "bare":
        rec["intake"], rec["intake_pps"] = rec["delivered"], rec["delivered_pps"]
    if rec["intake"]:
        rec["cpu_us_per_pkt"] = round(cpu_s * 1e6 / rec["intake"], 3)
    if args.ping:
        rec.update(ping_stats(open(args.ping).read(), args.pings))
    return rec


def medians(records):
    """Per mode, the median of each numeric field over the rounds."""
    by_mode = {}
    for r in records:
        by_mode.setdefault(r["mode"], []).append(r)
    out = {}
    for mode, rs in by_mode.items():
        keys = {k for r in rs for k, v in r.items() if isinstance(v, (int, float))}
        out[mode] = {k: statistics.median([r[k] for r in rs if r.get(k) is not None])
                     for k in keys if any(r.get(k) is not None for r in rs)}
        out[mode]["rounds"] = len(rs)
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def targets(m):
    """Issue #21's targets, each as (what, value, met)."""
    out = []
    imq = [m[k]["intake_pps"] for k in ("imqd-pfifo", "imqd-tbf", "imqd-htb") if k in m]
    if len(imq) == 3:
        spread = (max(imq) - min(imq)) / max(imq)
        out.append(("intake the same with pfifo, tbf and htb (spread <= 10%)",
                    "%.1f%%" % (spread * 100), spread <= 0.10))
    if "bare" in m and imq:
        low = min(imq) / m["bare"]["intake_pps"]
        out.append(("intake >= 0.9 of the bare loop's", "%.2f" % low, low >= 0.9))
    for mode in ("imqd-htb", "imqd-htb-drop", "imqd-htb-queue", "imqd-htb-queue-mq"):
        if mode not in m or "ifb-htb" not in m:
            continue
        r, i = m[mode], m["ifb-htb"]
        loss = r.get("ping_loss_pct")
        out.append((mode + ": priority loss <= 1%", fmt(loss, ".2f") + "%",
                    loss is not None and loss <= 1))
        if r.get("ping_p99_ms") is not None and i.get("ping_p99_ms") is not None:
            d = r["ping_p99_ms"] - i["ping_p99_ms"]
            out.append((mode + ": priority p99 within 2 ms of IFB's", "%+.2f ms" % d, d <= 2))
        f = ratio(r["delivered_pps"], i["delivered_pps"])
        out.append((mode + ": flood at dst <= 1.1 x IFB's", fmt(f, ".2f"),
                    f is not None and f <= 1.1))
    return out


def floors(m):
    """Per qdisc, imqd's intake as a share of the floor's: (qdisc, share)."""
    out = []
    for q in ("pfifo", "tbf", "htb"):
        imqd, floor = m.get("imqd-" + q), m.get("floor-" + q)
        if imqd and floor:
            out.append((q, ratio(imqd.get("intake_pps"), floor.get("intake_pps"))))
    return out


def report(path, out=sys.stdout):
    records = [json.loads(line) for line in open(path) if line.strip()]
    m = medians(records)
    out.write("%-21s %6s %10s %7s %11s %7s %8s %8s %8s %9s\n" % (
        "mode", "rounds", "intake kpps", "/bare", "dst kpps", "/IFB", "ping loss",
        "p50 ms", "p99 ms", "us/packet"))
    bare = m.get("bare", {}).get("intake_pps")
    for mode in sorted(m, key=lambda k: (k != "bare", k.split("-")[1:], k)):
        r = m[mode]
        ifb = m.get("ifb-" + mode.split("-")[1], {}) if mode != "bare" else {}
        out.write("%-21s %6d %11s %7s %11s %7s %8s %8s %8s %9s\n" % (
            mode, r["rounds"], fmt(r.get("intake_pps", 0) / 1e3 if mode[:3] != "ifb" else None, ".1f"),
            fmt(ratio(r.get("intake_pps"), bare) if mode[:3] != "ifb" else None, ".2f"),
            fmt(r["delivered_pps"] / 1e3, ".1f"),
            fmt(ratio(r["delivered_pps"], ifb.get("delivered_pps")) if mode[:3] == "imq" else None, ".2f"),
            fmt(r.get("ping_loss_pct"), ".2f"), fmt(r.get("ping_p50_ms"), ".3f"),
            fmt(r.get("ping_p99_ms"), ".3f"), fmt(r.get("cpu_us_per_pkt"), ".2f")))
    out.write("\n")
    for what, value, met in targets(m):
        out.write("%-55s %12s  %s\n" % (what, value, "met" if met else "NOT MET"))
    for q, share in floors(m):
        out.write("%-55s %12s\n" % ("imqd-%s: intake / floor-%s's" % (q, q), fmt(share, ".2f")))
    return m


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--mode", required=True)
    r.add_argument("--round", type=int, required=True)
    r.add_argument("--secs", type=float, required=True)
    r.add_argument("--tx", required=True)
    r.add_argument("--rx", required=True)
    r.add_argument("--intake", type=int, default=0)
    r.add_argument("--cpu-ticks", type=int, default=0)
    r.add_argument("--hz", type=int, default=100)
    r.add_argument("--ping")
    r.add_argument("--pings", type=int, default=0)
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

"""Records and report of bench/workers.sh: imqd with one and two workers.

  workers_report.py flood RX.out TX.out...  udpflood's JSON and `times` -> JSON
  workers_report.py tcp IPERF.json          iperf3 -J -> JSON
  workers_report.py record W TEST ROUND BEFORE AFTER JSON SECONDS HZ
                                             one run, with imqd's and the machine's CPU
  workers_report.py report RECORDS OUT KERNEL CPUS SECONDS REPS LOADAVG
                                             the table on stdout, every run in OUT
"""
import json
import re
import statistics
import sys


def times_children(text):
    """CPU seconds (user + system) of the children, from bash's `times` (its last line)."""
    lines = [ln for ln in text.splitlines() if re.match(r"^\d+m[\d.]+s \d+m[\d.]+s$", ln.strip())]
    if not lines:
        return None
    total = 0.0
    for m, s in re.findall(r"(\d+)m([\d.]+)s", lines[-1]):
        total += int(m) * 60 + float(s)
    return total


def first_json(text):
    for line in text.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return {}


def flood(rx_path, *tx_paths):
    """The receiver's count and CPU time, and the senders' together."""
    rx = open(rx_path).read()
    r = first_json(rx)
    sent, cpu = 0, 0.0
    for p in tx_paths:
        tx = open(p).read()
        sent += first_json(tx).get("sent") or 0
        c = times_children(tx)
        cpu = None if c is None or cpu is None else cpu + c
    return {"sent": sent, "senders": len(tx_paths), "delivered": r.get("packets"),
            "delivered_pps": r.get("pps"), "sender_cpu_s": cpu, "receiver_cpu_s": times_children(rx)}


def tcp(path):
    try:
        j = json.load(open(path))
    except ValueError:
        return {"error": "no iperf3 JSON"}
    end = j.get("end", {})
    secs = end.get("sum_received", {}).get("seconds") or 0
    cpu = end.get("cpu_utilization_percent", {})
    out = {"bps": end.get("sum_received", {}).get("bits_per_second"), "error": j.get("error")}
    if secs and cpu:
        out["sender_cpu_s"] = cpu.get("host_total", 0) / 100 * secs
        out["receiver_cpu_s"] = cpu.get("remote_total", 0) / 100 * secs
    return out


def record(workers, test, rnd, before, after, data, secs, hz):
    """One run: BEFORE and AFTER are imqd's CPU ticks, the machine's busy ticks, the packets
    and bytes imqd received and the time, DATA the traffic's JSON."""
    a, b = [float(x) for x in before.split()], [float(x) for x in after.split()]
    d = json.loads(data)
    d.update(workers=workers, test=test, round=int(rnd), seconds=float(secs),
             imqd_cpu_s=(b[0] - a[0]) / float(hz), machine_cpu_s=(b[1] - a[1]) / float(hz),
             received=int(b[2] - a[2]), received_bytes=int(b[3] - a[3]) if len(b) > 3 else None,
             elapsed=b[4] - a[4] if len(b) > 4 else float(secs))
    return d


def per(num, den, scale=1.0):
    return num * scale / den if num is not None and den else None


def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def summary(runs):
    """Medians over the rounds of what the table shows."""
    def med(key):
        v = [key(r) for r in runs]
        v = [x for x in v if x is not None]
        return statistics.median(v) if v else None
    return {
        "intake_kpps": med(lambda r: per(r["received"], r["seconds"], 1e-3)),
        "delivered": med(lambda r: r["bps"] / 1e9 if r.get("bps")
                         else per(r.get("delivered"), r["seconds"], 1e-3)),
        "imqd_ns_per_pkt": med(lambda r: per(r["imqd_cpu_s"], r["received"], 1e9)),
        "imqd_ns_per_kb": med(lambda r: per(r["imqd_cpu_s"], r.get("received_bytes"), 1e12)),
        "imqd_cores": med(lambda r: per(r["imqd_cpu_s"], r.get("elapsed", r["seconds"]))),
        "sender_cores": med(lambda r: per(r.get("sender_cpu_s"), r["seconds"])),
        "receiver_cores": med(lambda r: per(r.get("receiver_cpu_s"), r.get("elapsed", r["seconds"]))),
        "machine_cores": med(lambda r: per(r["machine_cpu_s"], r.get("elapsed", r["seconds"]))),
        "machine_ns_per_pkt": med(lambda r: per(r["machine_cpu_s"], r["received"], 1e9)),
    }


def paired(runs1, runs2, key):
    """Round by round: KEY of the second runs over the first, their median and the list."""
    by_round = {r.get("round"): r for r in runs1}
    out = []
    for b in runs2:
        a = by_round.get(b.get("round"))
        x, y = (key(a), key(b)) if a else (None, None)
        if x and y:
            out.append(y / x)
    return (statistics.median(out) if out else None), out


def report(records, out, kernel, cpus, secs, reps, loadavg, text=None):
    """Print the table of the runs in RECORDS to TEXT (stdout); the whole of it as JSON to OUT."""
    runs = [json.loads(line) for line in open(records) if line.strip()]
    tests = ["flood_unshaped", "flood_shaped", "tcp8"]
    res = {"meta": {"kernel": kernel, "cpus": int(cpus), "seconds": float(secs), "rounds": int(reps),
                    "loadavg_start": loadavg, "loadavg_end": open("/proc/loadavg").read().split()[:3]},
           "runs": runs, "summary": {}}

    def P(*args):
        print(*args, file=text or sys.stdout)
    P()
    ws = sorted({str(r["workers"]) for r in runs}, key=lambda w: (int(w.rstrip("n")), w[-1] != "n"))
    P("imqd, configurations taking turns (N: N workers, multiqueue imq0 with a tree per worker;"
      " Nn: N workers, imq0 one shard): kernel %s, %s CPUs, %ss per run, %s rounds, medians" % (
          kernel, cpus, secs, reps))
    P("load average at start %s, at end %s" % (loadavg, " ".join(res["meta"]["loadavg_end"])))
    P()
    P("%-16s %7s %9s %10s %9s %8s %8s %8s %8s %9s" % (
        "", "workers", "intake", "delivered", "imqd", "imqd", "sender", "receiver", "machine", "machine"))
    P("%-16s %7s %9s %10s %9s %8s %8s %8s %8s %9s" % (
        "test", "", "kpps", "kpps|Gb/s", "ns/pkt|KB", "cores", "cores", "cores", "cores", "ns/pkt"))
    for t in tests:
        by = {w: [r for r in runs if r["test"] == t and str(r["workers"]) == w] for w in ws}
        for w in ws:
            s = summary(by[w]) if by[w] else None
            res["summary"]["%s_w%s" % (t, w)] = s
            if not s:
                continue
            P("%-16s %7s %9s %10s %9s %8s %8s %8s %8s %9s" % (
                t if w == ws[0] else "", w, fmt(s["intake_kpps"]),
                fmt(s["delivered"], "%.2f" if t == "tcp8" else "%.0f"),
                fmt(s["imqd_ns_per_kb"] if t == "tcp8" else s["imqd_ns_per_pkt"]),
                fmt(s["imqd_cores"], "%.2f"), fmt(s["sender_cores"], "%.2f"),
                fmt(s["receiver_cores"], "%.2f"), fmt(s["machine_cores"], "%.2f"),
                fmt(s["machine_ns_per_pkt"])))
        for w in ws:
            if w == "1" or not by.get("1") or not by[w]:
                continue
            ri, li = paired(by["1"], by[w], lambda r: per(r["received"], r["seconds"]))
            unit = "received_bytes" if t == "tcp8" else "received"
            rc, lc = paired(by["1"], by[w], lambda r: per(r["imqd_cpu_s"], r.get(unit)))
            key = t + "_ratio" + ("" if w == "2" else "_w%s" % w)
            res["summary"][key] = {"intake": ri, "intake_rounds": li, "imqd_cpu_per_pkt": rc,
                                   "imqd_cpu_per_pkt_rounds": lc}
            P("%-16s %7s %9s %10s %9s   (%s over 1, per round: intake %s; CPU/pkt %s)" % (
                "", "%s/1" % w, fmt(ri, "%.2f"), "", fmt(rc, "%.2f"), w,
                " ".join("%.2f" % x for x in li), " ".join("%.2f" % x for x in lc)))
    P()
    P("intake: packets imqd received per second; imqd ns/pkt|KB: its CPU time (every thread, user")
    P("and system) per packet received (TCP: per KB, its GSO packets vary); cores: CPU seconds per")
    P("second (imqd, receiver, machine: over the run and the drain after it; senders: over the")
    P("run); machine: every CPU's busy time, softirq included. JSON: %s" % out)
    with open(out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    return res


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "flood":
        print(json.dumps(flood(*args)))
    elif cmd == "tcp":
        print(json.dumps(tcp(*args)))
    elif cmd == "record":
        print(json.dumps(record(*args)))
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)

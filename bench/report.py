#!/usr/bin/env python3
"""The benchmark's parsing and report, for bench/run.sh.

Measurements, each printed as one JSON object:
  report.py iperf FILE                 an iperf3 -J run: bps, bytes, seconds, retransmits
  report.py ping FILE...               ping output, pooled: sent, received, p50/p99/mean/max us
  report.py udp RX.json TX.json        udpflood's receiver result with the sender's sent and pps
  report.py cpu JSON BEFORE AFTER SECS HZ
                                       JSON with the consumer's CPU use between two snapshots
                                       ("ticks id_sequence imq_received")
  report.py tbf JSON MBIT              JSON with configured_bps
  report.py imqdev STATS.json          imq0's counters from imqctl stats -j, per_queue left out
  report.py meta DATE SECONDS QUICK IMQD GIT PINGS REPS SHAPED_SECONDS
                                       the run's description
  report.py imqstats STATS.json        "received held accepted failopen dropped id_gaps
                                       verdict_errors" of imq0, or nothing
The report:
  report.py report RECORDS ANOMALIES META OUT
      Results from the measurements (RECORDS, one {"mode", "test", "round",
      "data"} per line), the anomalies and the run's description: written to
      OUT as JSON and printed as tables, ratios and targets.
  report.py show RESULTS.json
      Prints the tables of results written earlier.
"""
import json
import math
import os
import re
import statistics
import sys

NAMES = [("plain", "plain forwarding"), ("bare", "bare NFQUEUE loop"),
         ("bare-gso", "bare loop, F_GSO"), ("bare-gso-x2", "bare F_GSO, 2 threads"),
         ("bare-tun", "bare loop + TUN trip"),
         ("ifb", "IFB, pfifo"),
         ("imqd", "imqd, pfifo"), ("imqd-full", "imqd copy=full, pfifo"),
         ("imqd-seg", "imqd gso=no, pfifo")]
PAIRS = [("imqd", "bare-gso"), ("imqd", "ifb"), ("imqd", "bare-tun"),
         ("bare-gso-x2", "bare-gso"), ("imqd-full", "bare-gso"),
         ("imqd-full", "ifb"), ("imqd-seg", "bare"), ("imqd-seg", "ifb")]

# ---------------------------------------------------------------- measurements


def pct(v, p):
    """The P-th percentile of V, nearest rank; None for no values."""
    if not v:
        return None
    s = sorted(v)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def iperf(path):
    try:
        with open(path) as f:
            j = json.load(f)
    except Exception as e:
        return {"error": "no iperf3 JSON (%s)" % e.__class__.__name__}
    if "error" in j:
        return {"error": j["error"]}
    e = j.get("end", {})
    r, s = e.get("sum_received", {}), e.get("sum_sent", {})
    return {"bps": r.get("bits_per_second"), "bytes": r.get("bytes"),
            "seconds": r.get("seconds"), "retransmits": s.get("retransmits")}


def ping(*paths):
    txt = ""
    for p in paths:
        with open(p) as f:
            txt += f.read()
    rtt = [float(x) * 1000 for x in re.findall(r"time=([0-9.]+) ms", txt)]
    sent = sum(int(x) for x in re.findall(r"(\d+) packets transmitted", txt))
    out = {"sent": sent, "received": len(rtt)}
    if rtt:
        out.update(p50_us=round(pct(rtt, 50), 1), p99_us=round(pct(rtt, 99), 1),
                   mean_us=round(sum(rtt) / len(rtt), 1), max_us=round(max(rtt), 1))
    return out


def load_or_empty(path):
    """The JSON object in PATH, {} when the file is empty."""
    with open(path) as f:
        text = f.read()
    return json.loads(text) if text.strip() else {}


def udp(rx_path, tx_path):
    r = load_or_empty(rx_path)
    t = load_or_empty(tx_path)
    r["sent"] = t.get("sent")
    r["sent_pps"] = t.get("pps")
    return r


def with_cpu(d, before, after, secs, hz):
    """D with the consumer's CPU use between two snapshots "ticks id_sequence imq_received"."""
    a, b = before.split(), after.split()
    cpu = (int(b[0]) - int(a[0])) / hz
    seq = (int(b[1]) - int(a[1])) % 2**32
    recv = int(b[2]) - int(a[2])
    pk = recv if recv > 0 else seq
    d = dict(d)
    d.update(cpu_seconds=round(cpu, 3), cpu_percent=round(100 * cpu / secs, 1),
             queued_packets=seq, imqd_received=recv if recv > 0 else None,
             cpu_ns_per_pkt=round(cpu * 1e9 / pk) if pk else None)
    return d


def imq0(path):
    with open(path) as f:
        return [x for x in json.load(f)["devices"] if x.get("name") == "imq0"][0]


def imqstats(path):
    """received held accepted failopen dropped id_gaps verdict_errors, or nothing."""
    try:
        d = imq0(path)
    except Exception:
        return ""
    drop = sum(v for k, v in d.items() if k.startswith("dropped_") and isinstance(v, int))
    return " ".join(str(d.get(k, 0)) for k in ("received", "held", "accepted", "failopen")) + \
        " %d %d %d" % (drop, d.get("id_gaps", 0), d.get("verdict_errors", 0))


def imqdev(path):
    d = imq0(path)
    d.pop("per_queue", None)
    return d


def meta(date, seconds, quick, imqd, git, pings, reps, shaped_seconds):
    with open("/proc/loadavg") as f:
        load = f.read().split()[0:3]
    return {"date": date, "kernel": os.uname().release, "cores": os.cpu_count(),
            "seconds": int(seconds), "quick": quick == "1", "imqd": imqd, "git": git,
            "reps": int(reps), "loadavg": load, "tcp_streams": [1, 8], "shaped_streams": 4,
            "udp_payload": 64, "pings": int(pings), "shaped_seconds": int(shaped_seconds)}

# ---------------------------------------------------------------- results


def g(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def fmt(v, f="%.2f", none="-"):
    return none if v is None else f % v


def paired(a, b):
    """A / B for each round both have a number for, in round order."""
    a, b = a or {}, b or {}
    rs = (ratio(a[k], b[k]) for k in sorted(set(a) & set(b), key=int))
    return [x for x in rs if x is not None]


def median_run(runs):
    """The run with the median throughput (lower median), the others' rates alongside."""
    if len(runs) == 1:
        return runs[0]
    key = "pps" if "pps" in runs[0] else "bps"
    ok = [r for r in runs if isinstance(r.get(key), (int, float))]
    if not ok:
        return runs[0]
    ok.sort(key=lambda r: r[key])
    d = dict(ok[(len(ok) - 1) // 2])
    d["runs_" + key] = [r.get(key) for r in runs]
    return d


def group(records):
    """(modes, shaped, shaped rounds, rss and perf) from the measurement records."""
    modes, shaped, extra, reps, srounds = {}, {}, {}, {}, {}
    for r in records:
        reps.setdefault((r["mode"], r["test"]), []).append(r["data"])
        r["data"]["round"] = r.get("round", 0)
    for (mode, test), runs in reps.items():
        if test == "ping_round":
            p50 = [r["p50_us"] for r in runs if "p50_us" in r]
            p99 = [r["p99_us"] for r in runs if "p99_us" in r]
            if p50:
                modes.setdefault(mode, {})["ping_rounds"] = {
                    "p50_us": statistics.median(p50), "p99_us": statistics.median(p99),
                    "rounds_p50_us": p50, "rounds_p99_us": p99}
            continue
        # Rounds by number: a round in which a turn failed has no pair.
        if test in ("udp_round", "tcp1_round", "tcp8_round"):
            key = "pps" if test == "udp_round" else "bps"
            modes.setdefault(mode, {})[test + "s"] = {r["round"]: r.get(key) for r in runs}
            continue
        if test.startswith("tbfround_"):
            srounds.setdefault(test[9:], {})[mode] = {r["round"]: r.get("bps") for r in runs}
            continue
        d = median_run(runs)
        if test.startswith("tbf_"):
            shaped.setdefault(test[4:], {})[mode] = d
        elif mode in ("rss", "perf"):
            extra[mode] = d
        else:
            modes.setdefault(mode, {})[test] = d
    return modes, shaped, srounds, extra


class Targets:
    """The targets and the ratios they come from, over MODES."""

    def __init__(self, modes):
        self.modes = modes
        self.list = []
        self.ratios = {}
        for a, b in PAIRS:
            self.ratios["%s/%s" % (a, b)] = {
                "tcp1": ratio(self.M(a, "tcp1", "bps"), self.M(b, "tcp1", "bps")),
                "tcp8": ratio(self.M(a, "tcp8", "bps"), self.M(b, "tcp8", "bps")),
                "udp_pps": ratio(self.M(a, "udp", "pps"), self.M(b, "udp", "pps"))}

    def M(self, m, *k):
        return g(self.modes, m, *k)

    def target(self, name, value, ok, detail):
        self.list.append({"target": name, "value": value, "met": ok, "detail": detail})

    def idle_over(self, a, b, k):
        """Idle latency of A over B: the interleaved rounds' medians when both have them."""
        src = "ping_rounds" if self.M(a, "ping_rounds") and self.M(b, "ping_rounds") else "ping_idle"
        x, y = self.M(a, src, k), self.M(b, src, k)
        return None if x is None or y is None else x - y

    def tcp_over(self, a, b, test):
        """A / B for TEST: the median of the interleaved rounds' ratios when both
        took part in them (and those ratios), else the main pass's medians."""
        rr = paired(self.M(a, test + "_rounds"), self.M(b, test + "_rounds"))
        if rr:
            return statistics.median(rr), rr
        return ratio(self.M(a, test, "bps"), self.M(b, test, "bps")), None

    def unshaped(self, a, b):
        """The TCP, small-packet and idle-latency targets of A against the bare loop B."""
        (r1, rr1), (r8, rr8) = self.tcp_over(a, b, "tcp1"), self.tcp_over(a, b, "tcp8")
        (i1, ri1), (i8, ri8) = self.tcp_over(a, "ifb", "tcp1"), self.tcp_over(a, "ifb", "tcp8")
        for k, rr in (("tcp1_rounds", rr1), ("tcp8_rounds", rr8)):
            if rr:
                self.ratios[a + "/" + b][k] = rr
        for k, rr in (("tcp1_rounds", ri1), ("tcp8_rounds", ri8)):
            if rr:
                self.ratios.setdefault(a + "/ifb", {})[k] = rr
        v = [r1, r8, i1, i8]
        ok = None if None in v else (r1 >= .85 and r8 >= .85 and i1 >= 1 and i8 >= 1)
        self.target("unshaped TCP >= 85%% of %s and >= IFB (%s)" % (b, a), v, ok,
                    "vs %s: 1 stream %s, 8 streams %s; vs IFB: %s, %s%s" %
                    (b, fmt(r1), fmt(r8), fmt(i1), fmt(i8),
                     "" if not (rr1 or rr8 or ri1 or ri8) else
                     ", medians of the interleaved rounds" if rr1 and rr8 and ri1 and ri8 else
                     ", medians of the interleaved rounds where both took part in them"))
        ru = self.ratios[a + "/" + b]["udp_pps"]
        # The interleaved rounds, when both took part: each round's ratio, their median.
        rr = paired(self.M(a, "udp_rounds"), self.M(b, "udp_rounds"))
        if rr:
            ru = statistics.median(rr)
            self.ratios[a + "/" + b]["udp_pps_rounds"] = rr
        self.target("small packets >= 70%% of %s pps (%s)" % (b, a), ru,
                    None if ru is None else ru >= .70,
                    "ratio %s%s" % (fmt(ru), ", median of the interleaved rounds (%s)" %
                                    " ".join(fmt(x) for x in rr) if rr else ""))
        d50, d99 = self.idle_over(a, b, "p50_us"), self.idle_over(a, b, "p99_us")
        rounds = self.M(a, "ping_rounds") is not None and self.M(b, "ping_rounds") is not None
        self.target("idle latency added over %s: p50 <= 30us, p99 <= 150us (%s)" % (b, a),
                    [d50, d99], None if d50 is None or d99 is None else d50 <= 30 and d99 <= 150,
                    "p50 %s us, p99 %s us%s" % (fmt(d50, "%+.1f"), fmt(d99, "%+.1f"),
                                                ", medians of the interleaved rounds" if rounds else ""))

    def shaped(self, shaped, sround):
        for a in ("imqd", "imqd-seg"):
            devs = {}
            rates = sorted(set(shaped) | (set(sround) if a == "imqd" else set()), key=int)
            for rate in rates:
                if a == "imqd" and rate in sround:
                    devs[rate] = sround[rate]["ratio"]
                else:
                    devs[rate] = ratio(g(shaped, rate, a, "bps"), g(shaped, rate, "ifb", "bps"))
            vals = list(devs.values())
            ok = None if not vals or None in vals else all(abs(x - 1) <= 0.01 for x in vals)
            self.target("shaped within 1%% of IFB (%s)" % a, devs, ok,
                        ", ".join("%s Mbit/s %s" % (k, fmt(None if v is None else (v - 1) * 100, "%+.2f%%"))
                                  for k, v in devs.items()) +
                        (", medians of the interleaved rounds" if a == "imqd" and sround else ""))

    def memory(self, rss):
        held = rss.get("held_at_peak")
        self.target("RSS <= 32 MB with 10,000 packets held", rss.get("rss_kb"),
                    None if rss.get("rss_kb") is None or not held or held < 9000
                    else rss["rss_kb"] <= 32 * 1024,
                    "VmRSS %s MB with %s held (imqctl), %s in the kernel queue" %
                    (fmt(None if rss.get("rss_kb") is None else rss["rss_kb"] / 1024, "%.1f"),
                     held, rss.get("kernel_queue_at_peak")))


def shaped_rounds(srounds):
    """Each round's imqd run against the IFB run just before it, the median per rate."""
    sround = {}
    for rate, by in srounds.items():
        rs = paired(by.get("imqd"), by.get("ifb"))
        if rs:
            sround[rate] = {"ratio": statistics.median(rs), "rounds_ratio": rs,
                            "ifb_bps": list((by.get("ifb") or {}).values()),
                            "imqd_bps": list((by.get("imqd") or {}).values())}
    return sround


def build(records, anomalies, run):
    """The results: the measurement RECORDS grouped and compared, with the
    ANOMALIES and RUN, the run's description."""
    modes, shaped, srounds, extra = group(records)
    sround = shaped_rounds(srounds)
    t = Targets(modes)
    for a, b in (("imqd", "bare-gso"), ("imqd-seg", "bare")):
        t.unshaped(a, b)
    t.shaped(shaped, sround)
    rss = extra.get("rss", {})
    t.memory(rss)
    # What the design itself costs: the bare loop with the same TUN round trip as imqd.
    floor = {"bare-tun_over_bare-gso_us": [t.idle_over("bare-tun", "bare-gso", "p50_us"),
                                           t.idle_over("bare-tun", "bare-gso", "p99_us")],
             "imqd_over_bare-tun_us": [t.idle_over("imqd", "bare-tun", "p50_us"),
                                       t.idle_over("imqd", "bare-tun", "p99_us")],
             "bare-tun/bare-gso_udp_pps": ratio(t.M("bare-tun", "udp", "pps"),
                                                t.M("bare-gso", "udp", "pps")),
             "imqd/bare-tun_udp_pps": t.ratios["imqd/bare-tun"]["udp_pps"]}
    return {"meta": run, "modes": modes, "shaped_mbit": shaped, "shaped_rounds": sround,
            "rss": rss, "perf": extra.get("perf"), "ratios": t.ratios, "targets": t.list,
            "floor": floor, "anomalies": anomalies}

# ---------------------------------------------------------------- tables


def render(res, out):
    """The report of results RES (as build makes them, or as read back from
    their JSON), as lines written to OUT."""
    def P(*a):
        print(*a, file=out)
    meta, modes, shaped, sround = res["meta"], res["modes"], res["shaped_mbit"], res["shaped_rounds"]
    ratios, rss, targets, floor = res["ratios"], res["rss"], res["targets"], res["floor"]

    def M(m, *k):
        return g(modes, m, *k)
    P()
    P("imqd benchmark: %s, kernel %s, %s cores, %ss per run%s" % (
        meta["date"], meta["kernel"], meta["cores"], meta["seconds"],
        " (--quick)" if meta["quick"] else ""))
    P("imqd %s (tree %s); %d repetitions, median shown" % (meta["imqd"], meta["git"], meta["reps"]))
    P("load average at start %s, at end %s (other work on the machine skews every number)" % (
        " ".join(meta["loadavg"]), " ".join(meta["loadavg_end"])))
    P()
    P("%-22s %9s %9s %9s %15s %15s %14s %11s" % ("", "TCP 1", "TCP 8", "UDP 64B", "ping idle",
                                                 "ping loaded", "CPU/pkt ns", "core %"))
    P("%-22s %9s %9s %9s %15s %15s %14s %11s" % ("configuration", "Gbit/s", "Gbit/s", "kpps",
                                                 "p50/p99 us", "p50/p99 us", "TCP8 / UDP",
                                                 "TCP8 / UDP"))
    for m, name in NAMES:
        if m not in modes:
            continue

        def lat(t):
            return "%s/%s" % (fmt(M(m, t, "p50_us"), "%.0f"), fmt(M(m, t, "p99_us"), "%.0f"))

        def gb(t):
            return fmt(None if M(m, t, "bps") is None else M(m, t, "bps") / 1e9)
        P("%-22s %9s %9s %9s %15s %15s %14s %11s" % (
            name, gb("tcp1"), gb("tcp8"),
            fmt(None if M(m, "udp", "pps") is None else M(m, "udp", "pps") / 1e3, "%.0f"),
            lat("ping_idle"), lat("ping_load"),
            "%s / %s" % (fmt(M(m, "tcp8", "cpu_ns_per_pkt"), "%.0f"),
                         fmt(M(m, "udp", "cpu_ns_per_pkt"), "%.0f")),
            "%s / %s" % (fmt(M(m, "tcp8", "cpu_percent"), "%.0f"),
                         fmt(M(m, "udp", "cpu_percent"), "%.0f"))))
    P()
    P("%-22s %9s %9s %9s" % ("ratio", "TCP 1", "TCP 8", "UDP pps"))
    order = ["%s/%s" % p for p in PAIRS]
    for k in order + [k for k in ratios if k not in order]:
        v = ratios.get(k)
        if v and "tcp1" in v:
            P("%-22s %9s %9s %9s" % (k, fmt(v["tcp1"]), fmt(v["tcp8"]), fmt(v["udp_pps"])))
    if shaped:
        P()
        P("shaped, tbf on imq0 / ifb0, TCP 4 streams, Mbit/s (delta vs IFB)")
        P("%-10s %9s %18s %18s" % ("tbf rate", "IFB", "imqd", "imqd gso=no"))
        for rate in sorted(shaped, key=int):
            s = shaped[rate]
            ifb = g(s, "ifb", "bps")

            def cell(m):
                return "-" if g(s, m, "bps") is None else "%.2f (%s)" % (
                    s[m]["bps"] / 1e6, fmt(None if not ifb else (s[m]["bps"] / ifb - 1) * 100, "%+.2f%%"))
            P("%-10s %9s %18s %18s" % (rate, fmt(None if ifb is None else ifb / 1e6),
                                       cell("imqd"), cell("imqd-seg")))
    if sround:
        P()
        P("shaped, IFB and imqd taking turns, %ss per run: imqd / IFB per round (median)" %
          meta.get("shaped_seconds", "?"))
        for rate in sorted(sround, key=int):
            v = sround[rate]
            each = " ".join(fmt((x - 1) * 100, "%+.2f%%") for x in v["rounds_ratio"])
            P("  %-6s Mbit/s  %s  (%s)" % (rate, fmt((v["ratio"] - 1) * 100, "%+.2f%%"), each))
    trounded = [m for m, _ in NAMES if M(m, "tcp1_rounds") or M(m, "tcp8_rounds")]
    if trounded:
        P()
        P("unshaped TCP, configurations taking turns, Gbit/s by round, 1 stream | 8 streams")

        def by_round(d):
            return " ".join("%s:%s" % (r, fmt(None if v is None else v / 1e9))
                            for r, v in sorted((d or {}).items(), key=lambda kv: int(kv[0])))
        for m in trounded:
            P("  %-12s %s | %s" % (m, by_round(M(m, "tcp1_rounds")), by_round(M(m, "tcp8_rounds"))))
        for b in ("bare-gso", "ifb"):
            k = "imqd/" + b
            r1, r8 = g(ratios, k, "tcp1_rounds"), g(ratios, k, "tcp8_rounds")
            if r1 or r8:
                P("  %-12s %s | %s  (ratios of the rounds both took part in)" % (
                    k, " ".join(fmt(x) for x in r1 or []), " ".join(fmt(x) for x in r8 or [])))
    if rss:
        P()
        P("imqd memory: VmRSS %s MB with %s packets held (idle %s MB, VmHWM %s MB)" % (
            fmt(None if rss.get("rss_kb") is None else rss["rss_kb"] / 1024, "%.1f"),
            rss.get("held_at_peak"),
            fmt(None if rss.get("idle_rss_kb") is None else rss["idle_rss_kb"] / 1024, "%.1f"),
            fmt(None if rss.get("hwm_kb") is None else rss["hwm_kb"] / 1024, "%.1f")))
    P()
    P("targets")
    for t in targets:
        P("  [%s] %s: %s" % ({True: "met", False: "NOT met", None: "no data"}[t["met"]],
                             t["target"], t["detail"]))
    rounded = [m for m, _ in NAMES if M(m, "ping_rounds")]
    if rounded:
        P()
        P("idle latency, configurations taking turns, median of %d rounds of 1000 pings" %
          len(M(rounded[0], "ping_rounds", "rounds_p50_us")))
        for m in rounded:
            P("  %-12s p50 %5.0f us  p99 %5.0f us   (rounds: p50 %s)" % (
                m, M(m, "ping_rounds", "p50_us"), M(m, "ping_rounds", "p99_us"),
                " ".join("%.0f" % v for v in M(m, "ping_rounds", "rounds_p50_us"))))
        P("UDP 64 B in the same rounds, kpps")
        for m in rounded:
            P("  %-12s %s" % (m, " ".join(fmt(None if v is None else v / 1e3, "%.0f")
                                          for v in (M(m, "udp_rounds") or {}).values())))
    if "bare-tun" in modes:
        P()
        P("the design's floor (bare loop + TUN trip), idle latency p50/p99 and UDP pps")

        def lat2(v):
            return "%s/%s us" % (fmt(v[0], "%+.0f"), fmt(v[1], "%+.0f"))
        P("  bare-tun over bare-gso: %s, pps ratio %s" % (
            lat2(floor["bare-tun_over_bare-gso_us"]), fmt(floor["bare-tun/bare-gso_udp_pps"])))
        P("  imqd over bare-tun:     %s, pps ratio %s" % (
            lat2(floor["imqd_over_bare-tun_us"]), fmt(floor["imqd/bare-tun_udp_pps"])))
    if res["anomalies"]:
        P()
        P("anomalies")
        for a in res["anomalies"]:
            P("  " + a)


def report(records_path, anomalies_path, meta_path, out_path):
    with open(records_path) as f:
        records = [json.loads(line) for line in f]
    with open(anomalies_path) as f:
        anomalies = [line.rstrip("\n") for line in f if line.strip()]
    with open(meta_path) as f:
        run = json.load(f)
    with open("/proc/loadavg") as f:
        run["loadavg_end"] = f.read().split()[0:3]
    res = build(records, anomalies, run)
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    render(res, sys.stdout)
    print()
    print("JSON: %s" % out_path)


def show(path):
    with open(path) as f:
        render(json.load(f), sys.stdout)


COMMANDS = {
    "iperf": (1, lambda a: print(json.dumps(iperf(a[0])))),
    "ping": (None, lambda a: print(json.dumps(ping(*a)))),
    "udp": (2, lambda a: print(json.dumps(udp(a[0], a[1])))),
    "cpu": (5, lambda a: print(json.dumps(with_cpu(json.loads(a[0]), a[1], a[2], float(a[3]),
                                                   float(a[4]))))),
    "tbf": (2, lambda a: print(json.dumps(dict(json.loads(a[0]), configured_bps=int(a[1]) * 1000000)))),
    "imqdev": (1, lambda a: print(json.dumps(imqdev(a[0])))),
    "meta": (8, lambda a: print(json.dumps(meta(*a)))),
    "imqstats": (1, lambda a: print(imqstats(a[0]))),
    "report": (4, lambda a: report(*a)),
    "show": (1, lambda a: show(a[0])),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        sys.exit("usage: report.py %s ... (see the file's opening comment)" % "|".join(COMMANDS))
    n, run = COMMANDS[argv[1]]
    if (n is None and len(argv) < 3) or (n is not None and len(argv) != n + 2):
        sys.exit("report.py %s: wrong number of arguments" % argv[1])
    run(argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

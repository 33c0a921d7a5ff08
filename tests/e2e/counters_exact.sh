#!/usr/bin/env bash
# imqd's counters are exact. Two sources send 1500 UDP datagrams each, about
# 7 Mbit/s together, into imq0's tbf 2mbit with a 6000-byte queue; only those
# datagrams are queued (-p udp --dport PORT): src's to queue 0, src2's (to
# another port) to queue 1. Afterwards, for imq0:
#   received = datagrams sent, held = 0, and
#   received = accepted + dropped_enqueue + dropped_order + dropped_timeout + dropped_ecn
#              + dropped_error + failopen;
#   accepted = datagrams the receivers got (failopen 0), dropped_enqueue > 0;
#   every counter of per_queue sums to the device's, and each queue
#   received its source's 1500 and accepted what its receiver got;
#   `imqctl -o prometheus stats` is well-formed text exposition format and
#   says the same as the JSON;
# and the control socket answers a user in control-group, and refuses
# (permission denied, exit 1) a user who is not.
. "$(dirname "$0")/lib.sh"
e2e_init counters_exact

PER_SRC=1500
N=$((2 * PER_SRC))
PORT=7600 PORT2=7601
GROUP=imqg$$ USER_IN=imqi$$ USER_OUT=imqo$$

topo_create 2

# A group and two users for the socket's permissions, removed at exit.
at_exit "userdel $USER_IN; userdel $USER_OUT; groupdel $GROUP"
groupadd "$GROUP" || fail "groupadd $GROUP failed"
useradd -M -N -s /usr/sbin/nologin -G "$GROUP" "$USER_IN" || fail "useradd $USER_IN failed"
useradd -M -N -s /usr/sbin/nologin "$USER_OUT" || fail "useradd $USER_OUT failed"
# The users must reach the socket in our temporary directory, and imqctl.
chmod 0711 "$T_TMP"
install -m 0755 "$IMQCTL" "$T_TMP/imqctl" || fail "cannot copy imqctl"

imqd_conf "$T_TMP/imqd.conf" "$T_TMP/imqd.sock" "control-group = $GROUP" <<EOF
[imq0]
queues = 0-1
EOF
start_imqd_conf "$T_TMP/imqd.conf"
G() { nsx "$GW" "$@"; }
G tc qdisc replace dev imq0 root tbf rate 2mbit burst 3000 limit 6000 || fail "tc tbf on imq0 failed"
G iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "NFQUEUE rule failed"
G iptables -t mangle -A PREROUTING -i "$GW_IN2" -p udp --dport "$PORT2" \
	-j NFQUEUE --queue-num 1 --queue-bypass || fail "NFQUEUE rule failed"

bg "$DST" timeout 40 "$UDPSEQ" recv -p "$PORT" -n "$PER_SRC" -t 30 -i >"$T_TMP/recv1.json"
r1=$BG_PID
bg "$DST" timeout 40 "$UDPSEQ" recv -p "$PORT2" -n "$PER_SRC" -t 30 -i >"$T_TMP/recv2.json"
r2=$BG_PID
wait_listen "$DST" udp "$PORT"
wait_listen "$DST" udp "$PORT2"
# 2 x 2000 datagrams/s of 214 bytes on the wire: about 7 Mbit/s into 2 Mbit/s.
bg "$SRC" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$PER_SRC" -s 200 -f 4 -r 2000 -t 10 \
	>"$T_TMP/send1.json"
s1=$BG_PID
bg "$SRC2" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT2" -n "$PER_SRC" -s 200 -f 4 -r 2000 -t 10 \
	>"$T_TMP/send2.json"
s2=$BG_PID
wait_pid "$s1" 25 || fail "udpseq send from src failed"
wait_pid "$s2" 25 || fail "udpseq send from src2 failed"
assert_eq "datagrams sent by src" "$PER_SRC" "$(json_field "$T_TMP/send1.json" sent)"
assert_eq "datagrams sent by src2" "$PER_SRC" "$(json_field "$T_TMP/send2.json" sent)"
wait_pid "$r1" 45 || fail "udpseq recv (port $PORT) did not finish"
wait_pid "$r2" 45 || fail "udpseq recv (port $PORT2) did not finish"
got1=$(json_field "$T_TMP/recv1.json" received)
got2=$(json_field "$T_TMP/recv2.json" received)
got=$((got1 + got2))
log "receiver, from src: $(cat "$T_TMP/recv1.json")"
log "receiver, from src2: $(cat "$T_TMP/recv2.json")"
G tc -s qdisc show dev imq0 >&2

check_counters
assert_eq "imqd received = datagrams sent" "$N" "$S_received"
assert_eq "imqd received = accepted + dropped_* + failopen (held 0)" "$S_received" \
	"$((S_accepted + S_dropped_enqueue + S_dropped_order + S_dropped_timeout + S_dropped_error + S_dropped_ecn + S_failopen))"
assert_eq "imqd failopen" 0 "$S_failopen"
assert_eq "imqd accepted = datagrams at dst" "$got" "$S_accepted"
assert_gt "imqd dropped_enqueue (the tbf dropped some)" 0 "$S_dropped_enqueue"
for i in 1 2; do
	assert_eq "duplicates at dst (src$i)" 0 "$(json_field "$T_TMP/recv$i.json" duplicates)"
	assert_eq "datagrams out of order at dst (src$i)" 0 "$(json_field "$T_TMP/recv$i.json" out_of_order)"
done

# Every counter summed over per_queue equals the device's.
python3 - "$T_TMP/stats.json" "$got1" "$got2" "$PER_SRC" >"$T_TMP/perq.out" <<'EOF' || { cat "$T_TMP/perq.out" >&2; mismatch "per_queue sums differ from device totals"; }
import json, sys
dev = [d for d in json.load(open(sys.argv[1]))["devices"] if d["name"] == "imq0"][0]
bad = []
qs = dev["per_queue"]
if [q["queue"] for q in qs] != [0, 1]:
    bad.append("per_queue queues %s, expected [0, 1]" % [q["queue"] for q in qs])
for q, got in zip(qs, sys.argv[2:4]):
    if q["received"] != int(sys.argv[4]):
        bad.append("queue %d received %d, sent %s" % (q["queue"], q["received"], sys.argv[4]))
    if q["accepted"] != int(got):
        bad.append("queue %d accepted %d, its receiver got %s" % (q["queue"], q["accepted"], got))
for k, v in dev.items():
    if k == "peak_held" or k not in qs[0]:
        continue  # a device-wide peak is no sum of per-queue peaks
    if isinstance(v, dict):
        for r, rv in v.items():
            s = sum(q[k][r] for q in qs)
            if s != rv:
                bad.append("%s.%s: sum %d, device %d" % (k, r, s, rv))
    elif isinstance(v, int):
        s = sum(q[k] for q in qs)
        if s != v:
            bad.append("%s: sum %d, device %d" % (k, s, v))
print("\n".join(bad) if bad else "per_queue: %s" % ", ".join(
    "queue %d received %d accepted %d dropped_enqueue %d" % (q["queue"], q["received"], q["accepted"],
                                                             q["dropped_enqueue"]) for q in qs))
sys.exit(1 if bad else 0)
EOF
log "$(cat "$T_TMP/perq.out")"

# Prometheus: format, then the same numbers as the JSON taken right after.
"$IMQCTL" -s "$IMQD_SOCK" -o prometheus stats >"$T_TMP/stats.prom" || fail "imqctl -o prometheus stats failed"
"$IMQCTL" -s "$IMQD_SOCK" stats -j >"$T_TMP/stats2.json" || fail "imqctl stats -j failed"
cat >"$T_TMP/promcheck.py" <<'EOF'
"""Check Prometheus text exposition format (0.0.4) and compare with imqctl's JSON."""
import json, math, re, sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}

def parse(text):
    errs, fams, samples, order = [], {}, {}, []
    done = set()  # families whose samples ended: no more may follow
    current = None
    if not text.endswith("\n"):
        errs.append("output does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
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
            continue
        if not line.strip():
            continue
        m = re.match(r"([^\s{]+)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$", line)
        if not m:
            errs.append("%d: not a sample: %r" % (n, line))
            continue
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        if not NAME.match(name):
            errs.append("%d: bad metric name %r" % (n, name))
        labels, rest = {}, labels_text
        while rest.strip():
            lm = LABEL.match(rest)
            if not lm:
                errs.append("%d: bad labels %r" % (n, labels_text))
                break
            if lm.group(1) in labels:
                errs.append("%d: label %s twice" % (n, lm.group(1)))
            labels[lm.group(1)] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1),
                                         lm.group(2))
            rest = rest[lm.end():]
        try:
            v = float(value)
            if math.isnan(v) and value != "NaN":
                raise ValueError
        except ValueError:
            errs.append("%d: value %r not numeric" % (n, value))
            continue
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
        order.append(key)
    flat = {}
    for name, s in samples.items():
        flat.update(s)
    return errs, fams, flat

def expected(doc):
    """(name, labels) -> value the JSON says the exposition must carry."""
    fields = {"received_packets_total": "received", "received_bytes_total": "received_bytes",
              "accepted_packets_total": "accepted", "accepted_bytes_total": "accepted_bytes",
              "held_packets": "held", "peak_held_packets": "peak_held", "id_gaps_total": "id_gaps",
              "malformed_packets_total": "malformed", "verdict_errors_total": "verdict_errors"}
    want = {}
    def put(name, labels, v):
        want[(name, tuple(sorted(labels.items())))] = float(v)
    for d in doc["devices"]:
        scopes = [("imqd_", {"device": d["name"]}, d)]
        scopes += [("imqd_queue_", {"device": d["name"], "queue": str(q["queue"])}, q) for q in d["per_queue"]]
        for prefix, labels, c in scopes:
            for fam, key in fields.items():
                put(prefix + fam, labels, c[key])
            for r in ("enqueue", "order", "timeout", "error"):
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

text = open(sys.argv[1]).read()
doc = json.load(open(sys.argv[2]))
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
extra = sorted({k[0] for k in got if k not in want})
if extra:
    print("series the JSON has no counterpart for (not checked): %s" % ", ".join(extra))
for d in doc["devices"]:
    if sum(q["failopen"] for q in d["per_queue"]) != d["failopen"]:
        errs.append("%s: failopen is not the sum of its queues'" % d["name"])
for e in errs:
    print("prometheus: " + e)
print("prometheus: %d series, %d compared with the JSON, %d problems" % (len(got), len(want), len(errs)))
sys.exit(1 if errs else 0)
EOF
if python3 "$T_TMP/promcheck.py" "$T_TMP/stats.prom" "$T_TMP/stats2.json" >"$T_TMP/prom.out" 2>&1; then
	pass_msg "$(tail -n 1 "$T_TMP/prom.out")"
else
	cat "$T_TMP/prom.out" >&2
	mismatch "imqctl -o prometheus stats: $(grep -v ' problems$' "$T_TMP/prom.out" | head -n 3 | tr '\n' ';')"
fi
if command -v promtool >/dev/null 2>&1; then
	if promtool check metrics <"$T_TMP/stats.prom" >"$T_TMP/promtool.out" 2>&1; then
		pass_msg "promtool check metrics"
	else
		mismatch "promtool check metrics: $(head -n 3 "$T_TMP/promtool.out" | tr '\n' ';')"
	fi
fi

# The control socket: mode 0660, group control-group.
read -r mode group < <(stat -c '%a %G' "$IMQD_SOCK")
assert_eq "control socket mode" 660 "$mode"
assert_eq "control socket group" "$GROUP" "$group"
if runuser -u "$USER_IN" -- "$T_TMP/imqctl" -s "$IMQD_SOCK" stats -j >"$T_TMP/in.json" 2>"$T_TMP/in.err" &&
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))["devices"][0]["received"]' "$T_TMP/in.json"; then
	pass_msg "user $USER_IN (in $GROUP) reads the counters"
else
	mismatch "user $USER_IN (in $GROUP) cannot use imqctl: $(cat "$T_TMP/in.err")"
fi
runuser -u "$USER_OUT" -- "$T_TMP/imqctl" -s "$IMQD_SOCK" stats -j >"$T_TMP/out.json" 2>"$T_TMP/out.err"
rc=$?
assert_eq "imqctl exit status for $USER_OUT (not in $GROUP)" 1 "$rc"
assert_eq "imqctl output for $USER_OUT" "" "$(cat "$T_TMP/out.json")"
if grep -q 'Permission denied' "$T_TMP/out.err"; then
	pass_msg "user $USER_OUT refused: $(cat "$T_TMP/out.err")"
else
	mismatch "user $USER_OUT not refused with 'Permission denied': $(cat "$T_TMP/out.err")"
fi

check_nothing_queued
stop_imqd
finish

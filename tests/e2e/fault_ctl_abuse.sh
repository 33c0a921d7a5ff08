#!/usr/bin/env bash
# Control-socket abuse while imqd shapes a UDP stream (tbf 4mbit, stream at
# 4x that): garbage bytes, unknown and malformed requests, a request cut
# short, 100 KB requests (with and without a newline), 50 clients that
# connect and send nothing, 5 that send one byte every 0.2 s and never end
# their line, then 300 connect-and-close in a row. imqd answers each bad
# request with an error and closes, refuses clients beyond its limit, cuts
# off the silent and the slow ones within its client timeout (2 s) plus a
# margin, keeps shaping at the tbf rate throughout, leaks no descriptor, and
# answers a normal `imqctl stats` within 1 s afterwards.
. "$(dirname "$0")/lib.sh"
e2e_init fault_ctl_abuse

PORT=9191
SIZE=1000
PPS=2000
SHAPED=480
SECS=7

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 4mbit burst 8k latency 100ms ||
	fail "tc tbf on imq0 failed"
queue_rule "$PORT"
fds0=$(ls "/proc/$IMQD_PID/fd" | wc -l)

cat >"$T_TMP/abuse.py" <<'EOF'
import json, os, random, select, socket, sys, time
path = sys.argv[1]
rng = random.Random(3)
out = {}

backlog_full = 0

def client(timeout=3.0):
    """Connect; a full listen backlog (32) answers EAGAIN at once: retry for 2 s."""
    global backlog_full
    deadline = time.monotonic() + 2
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            backlog_full += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)

def answer(s, limit=5.0):
    """Everything the server sends until EOF, and the seconds it took."""
    t0 = time.monotonic()
    data = b""
    s.settimeout(limit)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data.decode(errors="replace"), round(time.monotonic() - t0, 3), True
            data += b
    except ConnectionResetError:
        # closed with our unread request bytes still queued: a reset is a close
        return data.decode(errors="replace"), round(time.monotonic() - t0, 3), True
    except socket.timeout:
        return data.decode(errors="replace"), round(time.monotonic() - t0, 3), False

def send_quiet(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass

# A. Bad requests, one client each.
cases = {
    "garbage": bytes(rng.getrandbits(8) | 0x80 for _ in range(300)) + b"\n",
    "nul_bytes": b"stats\0\0\0\n",
    "unknown": b"frobnicate\n",
    "two_args": b"stats imq0 imq1\n",
    "reload_arg": b"reload now\n",
    "bad_device": b"stats nosuchdev\n",
    "oversized_newline": b"a" * 100000 + b"\n",
    "oversized_no_newline": b"b" * 100000,
}
for name, req in cases.items():
    s = client()
    send_quiet(s, req)
    out[name] = answer(s)
    s.close()
s = client()
s.sendall(b"stats")
s.shutdown(socket.SHUT_WR)
out["unterminated"] = answer(s)
s.close()

# B. 5 slow clients and 50 silent ones at once.
t0 = time.monotonic()
slow = [client() for _ in range(5)]
silent = [client() for _ in range(50)]
ends = {}
pending = {s: ("silent", i) for i, s in enumerate(silent)}
pending.update({s: ("slow", i) for i, s in enumerate(slow)})
got = {}
next_byte = time.monotonic()
while pending and time.monotonic() - t0 < 8:
    now = time.monotonic()
    if now >= next_byte:
        for s in slow:
            if s in pending:
                try:
                    s.send(b"x")
                except OSError:
                    pass
        next_byte = now + 0.2
    r, _, _ = select.select(list(pending), [], [], max(0.01, next_byte - time.monotonic()))
    for s in r:
        try:
            b = s.recv(4096)
        except ConnectionResetError:
            b = b""
        if b:
            got[s] = got.get(s, b"") + b
            continue
        ends[pending.pop(s)] = (round(time.monotonic() - t0, 3), got.get(s, b"").decode(errors="replace"))
out["silent_refused"] = sum(1 for (k, i), (t, d) in ends.items() if k == "silent" and "too many" in d)
out["silent_cut"] = sum(1 for (k, i), (t, d) in ends.items() if k == "silent" and "too many" not in d)
out["silent_cut_max_s"] = max([t for (k, i), (t, d) in ends.items() if k == "silent" and "too many" not in d] or [0])
out["slow_cut"] = sum(1 for (k, i) in ends if k == "slow")
out["slow_cut_max_s"] = max([t for (k, i), (t, d) in ends.items() if k == "slow"] or [0])
out["slow_refused"] = sum(1 for (k, i), (t, d) in ends.items() if k == "slow" and "too many" in d)
out["still_open"] = len(pending)
for s in silent + slow:
    s.close()

# C. Connect-and-close flood.
t0 = time.monotonic()
ok = 0
for _ in range(300):
    try:
        client(1.0).close()
        ok += 1
    except OSError:
        pass
out["flood_connects"] = ok
out["backlog_full_retries"] = backlog_full
out["flood_s"] = round(time.monotonic() - t0, 3)
print(json.dumps(out))
EOF

stamp_recv "$DST" "$PORT" $((SECS + 4)) rx 2
udp_stream "$SRC" "$DST_IP" "$PORT" $((PPS * SECS)) "$SIZE" "$PPS" "$SECS"
sleep 2
t_abuse=$(now)
timeout 60 python3 "$T_TMP/abuse.py" "$IMQD_SOCK" >"$T_TMP/abuse.json" || fail "abuse client failed"
t_done=$(now)
log "abuse took $(calc %.1f "$t_done - $t_abuse") s: $(cat "$T_TMP/abuse.json")"
imqd_alive
t0=$(now)
"$IMQCTL" -s "$IMQD_SOCK" stats >"$T_TMP/stats.txt" 2>&1 || mismatch "imqctl stats failed after the abuse"
assert_le "imqctl stats answered after the abuse (s)" 1 "$(calc %.2f "$(now) - $t0")"
wait_pid "$SEND_PID" $((SECS + 5))
stamp_wait rx 10

# a KEY [INDEX]: a field of the abuse client's result (INDEX into a list: 0 answer, 2 closed).
a() {
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(v[int(sys.argv[3])] if len(sys.argv) > 3 else v)' "$T_TMP/abuse.json" "$@"
}
for c in garbage nul_bytes unknown two_args reload_arg bad_device oversized_newline oversized_no_newline unterminated; do
	ans=$(a "$c" 0)
	closed=$(a "$c" 2)
	if [[ $ans == error* ]] && [ "$closed" = True ]; then
		pass_msg "bad request $c: answered '${ans%%$'\n'*}' and closed"
	else
		mismatch "bad request $c: expected an error line and EOF, got '${ans:0:60}' (closed: $closed)"
	fi
done
assert_eq "silent clients refused or cut off (of 50)" 50 "$(($(a silent_refused) + $(a silent_cut)))"
assert_le "silent clients cut off after (s)" 3 "$(a silent_cut_max_s)"
assert_eq "slow clients cut off (of 5)" 5 "$(a slow_cut)"
assert_eq "slow clients refused (they came first)" 0 "$(a slow_refused)"
assert_le "slow clients cut off after (s)" 3 "$(a slow_cut_max_s)"
assert_eq "clients still open after 8 s" 0 "$(a still_open)"
assert_eq "connect-and-close flood: connections made" 300 "$(a flood_connects)"

shaped=$(stamp_pps rx "$t_abuse" "$t_done")
assert_within "rate during the abuse (datagrams/s)" "$SHAPED" 15 "$shaped"
sleep 0.5
fds1=$(ls "/proc/$IMQD_PID/fd" | wc -l)
assert_eq "imqd's open descriptors after the abuse (before: $fds0)" "$fds0" "$fds1"
check_counters
check_nothing_queued
sent=$(stream_sent "$PORT")
got=$(json_field "$T_TMP/rx.json" received)
result "test=fault_ctl_abuse sent=$sent received=$got lost=$((sent - got)) pps_during_abuse=$shaped" \
	"silent_refused=$(a silent_refused) silent_cut=$(a silent_cut) cut_after_s=$(a silent_cut_max_s)"
stop_imqd
finish

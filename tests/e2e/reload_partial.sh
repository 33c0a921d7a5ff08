#!/usr/bin/env bash
# What reloads and drop-timeout leave in the counters and the log.
#  A. A valid file that cannot be applied in full: queue 9 is held by a
#     second imqd, and the new file adds imq1 on queue 9 and changes imq0.
#     `imqctl reload` exits 1 with "reload applied in part" and names imq1,
#     the log says "reloaded in part", imqctl shows imq1 as failed on queue
#     9 (show, JSON, Prometheus), imq0's change is in effect and imq0 still
#     shapes. imqd retries on its own: while queue 9 is taken the retries
#     fail and say so; once the other process is gone one starts imq1 with
#     no reload, with gso = no and an MTU under IPv6's 1280.
#  B. A queue moved to another device while imq0 holds ~250 packets behind a
#     slow tbf: every datagram arrives, and imq0's counters keep what queue 0
#     did there: received stays 300, the released packets count as
#     failopen shutdown, received = accepted + dropped + failopen.
#  C. drop-timeout 200ms on a tbf that releases copies for seconds: the
#     copies that come back late count as unmatched, none as stray, the
#     queue's peak_held is its real peak, and the log's timeout lines add
#     up to dropped_timeout.
#  D. copy = full, then copy-bytes = 1024, by reload while 1000-byte
#     datagrams stream in: every one arrives, none fails open, the kernel's
#     copy range follows.
#  E. queue-maxlen shrinks to 256 while ~550 packets are held: every one
#     still gets its verdict and arrives.
#  F. The same on queue 0 of two, then traffic on the idle queue 1: it is
#     held and shaped up to its own 256, none passes unshaped for want of
#     room in imqd's table.
#  G. A device removed by a reload and added back by the next while its down
#     hook (2 s) still holds its TUN device: that reload names it as not
#     started, and a retry starts it once the hook has ended, with no reload.
#  H. A reload adds to imq0 a queue another process holds: imq0 runs on,
#     "partial" in show, JSON and Prometheus, and a retry binds the queue
#     once it is free ("up" again).
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init reload_partial

CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
PORT=9200
OTHER_PID=

# start_other QUEUES: a second imqd (imq7) that binds QUEUES, the first of them checked.
start_other() {
	printf '[global]\ncontrol-socket = %s\n[imq7]\nqueues = %s\n' "$T_TMP/other.sock" "$1" \
		>"$T_TMP/other.conf"
	ip netns exec "$GW" "$IMQD" -c "$T_TMP/other.conf" 2>"$T_TMP/other.log" &
	OTHER_PID=$!
	for _ in $(seq 50); do
		nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue | grep -qx "${1%%[-,]*}" &&
			return 0
		sleep 0.1
	done
	fail "the second imqd did not bind queue ${1%%[-,]*}: $(cat "$T_TMP/other.log")"
}

stop_other() {
	[ -n "$OTHER_PID" ] || return 0
	kill -TERM "$OTHER_PID" 2>/dev/null
	wait_pid "$OTHER_PID" 5 || { kill -KILL "$OTHER_PID" 2>/dev/null; wait "$OTHER_PID" 2>/dev/null; }
	OTHER_PID=
}
at_exit stop_other

# stats_json NAME [DEV]: imqctl stats -j saved as $T_TMP/NAME.json, and
# DEV's (default imq0) counters from it in S_* (imqd_counters' variables).
stats_json() {
	"$IMQCTL" -s "$SOCK" stats -j >"$T_TMP/$1.json" || fail "imqctl stats -j failed"
	stats_vars "$T_TMP/$1.json" "${2:-imq0}"
}

topo_create
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

# ---- A: applied in part
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
EOF
start_imqd_conf "$CONF"
start_other 9

# The metrics file, written at each reload and only hourly otherwise: a
# retry that starts a device rewrites it too.
METRICS=$T_TMP/metrics.prom
imqd_conf "$CONF" "$SOCK" "metrics-file = $METRICS
metrics-interval = 1h" <<EOF
[imq0]
queues = 0
drop-timeout = 3s

[imq1]
queues = 9
gso = no
mtu = 1000
overhead = 0
EOF
out=$("$IMQCTL" -s "$SOCK" reload 2>&1)
rc=$?
log "imqctl reload with queue 9 taken: status $rc: $out"
assert_eq "imqctl reload applied in part: exit status" 1 "$rc"
grep -q 'reload applied in part' <<<"$out" || mismatch "imqctl reload does not say 'reload applied in part': $out"
grep -q '^imq1: could not be started' <<<"$out" || mismatch "imqctl reload does not name imq1: $out"
wait_log "$IMQD_LOG" 'configuration reloaded in part' 1 5 ||
	mismatch "the log lacks 'configuration reloaded in part'"
wait_log "$IMQD_LOG" 'imq1: cannot bind NFQUEUE queue 9: another process has it' 1 1 ||
	mismatch "the log lacks 'imq1: cannot bind NFQUEUE queue 9: another process has it'"
assert_eq "log lines 'kernel refused request' (noise after a failed bind)" 0 \
	"$(log_count "$IMQD_LOG" 'kernel refused request')"
dev_exists imq1 && mismatch "imq1 exists although it could not be started"
show=$("$IMQCTL" -s "$SOCK" show)
log "imqctl show: $show"
grep -q '^imq0 up .* queues 0$' <<<"$show" || mismatch "imqctl show lacks imq0 up: $show"
grep -qx 'imq1 failed - queues 9' <<<"$show" || mismatch "imqctl show lacks 'imq1 failed - queues 9': $show"
show=$("$IMQCTL" -s "$SOCK" show imq1) || mismatch "imqctl show imq1 failed: $show"
stats_json a0 imq1
assert_eq "imqctl stats -j: imq1's state" failed "$S_state"
assert_eq "imqctl stats -j: imq1's queues" 9 "$S_queues"
assert_eq "imqctl stats -j: imq1's packets" 0 "$S_received"
assert_eq "imqctl stats -j: imq1's per-queue counters (it never started)" "" "$S_per_queue"
grep -q '^imqd_device_info{device="imq1",state="failed"' "$METRICS" ||
	mismatch "the metrics file does not show imq1 failed after the reload"
"$IMQCTL" -s "$SOCK" -o prometheus stats | grep -q '^imqd_device_info{device="imq1",state="failed"' ||
	mismatch "the Prometheus text lacks imqd_device_info for the failed imq1"
"$IMQD" -T -c "$CONF" >/dev/null || mismatch "imqd -T rejects the file"
kill -0 "$OTHER_PID" 2>/dev/null || mismatch "the second imqd died"
nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue | grep -qx 9 ||
	mismatch "queue 9 is no longer bound (the second imqd lost it)"
# imq0 still passes traffic.
udp_recv a "$PORT" 500 15
udp_send a "$PORT" 500 10 -s 500 -r 2000 -f 2 || mismatch "udpseq send (A) failed"
udp_check a 500
# While queue 9 is taken, imqd's own retries fail and say when the next is.
wait_log "$IMQD_LOG" '1 device not applied in full yet; next try in [0-9]+ s' 1 5 ||
	mismatch "the log lacks a failed retry's '1 device not applied in full yet; next try in'"
show=$("$IMQCTL" -s "$SOCK" show)
grep -qx 'imq1 failed - queues 9' <<<"$show" || mismatch "imqctl show after a failed retry: $show"
# Once it is free, a retry starts imq1 without a reload (within 1 + 2 + 4 s of it).
stop_other
wait_log "$IMQD_LOG" 'imq1: started on a retry' 1 10 ||
	mismatch "imq1 was not started by a retry once queue 9 was free"
wait_log "$IMQD_LOG" 'configuration applied in full: 2 devices' 1 2 ||
	mismatch "the log lacks 'configuration applied in full: 2 devices'"
dev_exists imq1 || mismatch "imq1 does not exist after the retry"
grep -q '^imqd_device_info{device="imq1",state="up"' "$METRICS" ||
	mismatch "the metrics file does not show imq1 up after the retry: $(grep imq1 "$METRICS" | head -3)"
"$IMQCTL" -s "$SOCK" show imq1 | grep -q '^imq1 up .* queues 9$' ||
	mismatch "imqctl show imq1 after the retry: $("$IMQCTL" -s "$SOCK" show imq1)"
out=$("$IMQCTL" -s "$SOCK" reload 2>&1)
rc=$?
log "imqctl reload of the same file, queue 9 free: status $rc: $out"
assert_eq "imqctl reload once queue 9 is free: exit status" 0 "$rc"
assert_eq "imq1 MTU (mtu 1000 + overhead 0, under IPv6's minimum)" 1000 \
	"$(nsx "$GW" cat /sys/class/net/imq1/mtu 2>/dev/null)"
nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue | grep -qx 9 ||
	mismatch "queue 9 not bound after the second reload"
imqd_alive

# ---- B: a queue moved away while imq0 holds packets
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 500kbit burst 5k latency 10s ||
	fail "tc tbf on imq0 failed"
stats_json b0
base_recv=$S_received
udp_recv b "$PORT" 300 20
udp_send b "$PORT" 300 5 -s 1000 -r 3000 -f 3 || mismatch "udpseq send (B) failed"
sleep 0.3
stats_json b1
held=$S_held
log "imq0 holds $held packets before the reload"
assert_ge "packets held by imq0 before the reload" 200 "$held"
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 5

[imq1]
queues = 0
EOF
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload (queue 0 to imq1) failed: $out"
udp_check b 300
stats_json b2
log "imq0 after the move: received $S_received, accepted $S_accepted, held $S_held," \
	"failopen $S_failopen (shutdown $S_failopen_shutdown)"
assert_eq "imq0 received after its queue moved (counts kept)" "$((base_recv + 300))" "$S_received"
# The tbf lets ~60 packets a second out meanwhile: the reload releases fewer than were held.
shutdown=$S_failopen_shutdown
assert_ge "imq0 failopen shutdown (packets its released queue held)" 150 "$shutdown"
assert_ge "packets held before the reload >= failopen shutdown" "$shutdown" "$held"
assert_balance "imq0 after its queue moved"
check_nothing_queued

# ---- C: drop-timeout; late copies are unmatched, not stray
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
drop-timeout = 200ms
EOF
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload (C) failed: $out"
# A new tbf, not a change of the old one, which still holds B's copies.
nsx "$GW" tc qdisc del dev imq0 root
nsx "$GW" tc qdisc add dev imq0 root tbf rate 1mbit burst 5k latency 5s ||
	fail "tc tbf on imq0 failed"
stats_json c0
t0=$S_dropped_timeout u0=$S_unmatched s0=$S_stray
lines0=$(log_count "$IMQD_LOG" 'copies did not come back')
udp_recv c "$PORT" 200 4
udp_send c "$PORT" 200 5 -s 1000 -r 2000 -f 4 || mismatch "udpseq send (C) failed"
wait_pid "$RECV_PID" 20 || mismatch "udpseq recv (C) did not finish"
# 200 KB at 1 Mbit/s: the tbf lets the last copies out after ~1.7 s.
# Then each late copy is read back; poll until they are all counted.
wait_until 5 '[ "$(qdisc_backlog imq0)" = 0 ]' || mismatch "C: copies still in the tbf after 5 s"
wait_until 2 'stats_json c1; [ $((S_unmatched - u0)) = $((S_dropped_timeout - t0)) ]'
timeouts=$((S_dropped_timeout - t0)) unmatched=$((S_unmatched - u0)) stray=$((S_stray - s0))
peak=$S_q0_peak_held
log "C: dropped_timeout $timeouts, unmatched $unmatched, stray $stray, queue 0 peak_held $peak"
assert_ge "packets dropped by drop-timeout" 50 "$timeouts"
assert_eq "late copies counted as unmatched" "$timeouts" "$unmatched"
assert_eq "late copies counted as stray" 0 "$stray"
assert_ge "queue 0 peak_held" 20 "$peak"
assert_ge "device peak_held >= queue 0 peak_held" "$peak" "$S_peak_held"
# The timeout lines: at most one per 10 s, together every packet.
for _ in $(seq 130); do
	logged=$(grep -E 'copies did not come back' "$IMQD_LOG" | tail -n +$((lines0 + 1)) |
		awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "copies") s += $i } END { print s + 0 }')
	[ "$logged" = "$timeouts" ] && break
	sleep 0.1
done
grep -E 'copies did not come back' "$IMQD_LOG" | tail -n +$((lines0 + 1)) >&2
assert_eq "packets counted in the log's timeout lines (within 13 s)" "$timeouts" "$logged"
check_counters
check_nothing_queued

# ---- D: the copy range grows by reload while packets stream in
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 20mbit burst 32k latency 200ms ||
	fail "tc tbf on imq0 failed"
stats_json d0
fo_d0=$S_failopen
udp_recv d "$PORT" 6000 15
bg "$SRC" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n 6000 -s 1000 -r 2000 -f 4 -t 10 \
	>"$T_TMP/d.send.json"
send_d=$BG_PID
sleep 1
for copy in "copy = full" "copy = headers
copy-bytes = 1024"; do
	imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
$copy
EOF
	out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload ($copy) failed: $out"
	sleep 1
done
wait_pid "$send_d" 15 || mismatch "udpseq send (D) failed"
udp_check d 6000
stats_json d1
assert_eq "D: packets failed open around the copy range changes" 0 "$((S_failopen - fo_d0))"
assert_eq "D: copy range of queue 0 in the kernel" 1024 \
	"$(nsx "$GW" awk '$1 == 0 { print $5 }' /proc/net/netfilter/nfnetlink_queue)"
check_counters
check_nothing_queued

# ---- E: queue-maxlen shrinks below what is held
nsx "$GW" tc qdisc del dev imq0 root
nsx "$GW" tc qdisc add dev imq0 root tbf rate 500kbit burst 5k latency 10s ||
	fail "tc tbf on imq0 failed"
udp_recv e "$PORT" 600 15
udp_send e "$PORT" 600 5 -s 200 -r 5000 -f 4 || mismatch "udpseq send (E) failed"
stats_json e0
held=$S_held
assert_ge "E: packets held before queue-maxlen shrinks to 256" 400 "$held"
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
queue-maxlen = 256
EOF
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload (queue-maxlen 256) failed: $out"
udp_check e 600
check_counters
check_nothing_queued

# ---- F: the same with a second queue that was idle: it still gets its 256
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0-1
queue-maxlen = 512
drop-timeout = 20s
EOF
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload (queues 0-1) failed: $out"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$((PORT + 1))" \
	-j NFQUEUE --queue-num 1 --queue-bypass || fail "iptables NFQUEUE rule (queue 1) failed"
nsx "$GW" tc qdisc del dev imq0 root
# 200 kbit/s lets ~110 of these 200-byte datagrams out a second: queue 0's
# 500 take ~4.5 s, so queue 1's copies are still behind them when counted,
# however slow the build; all 750 take ~7 s, hence drop-timeout 20s.
nsx "$GW" tc qdisc add dev imq0 root tbf rate 200kbit burst 5k latency 30s ||
	fail "tc tbf on imq0 failed"
udp_recv f0 "$PORT" 500 25
recv_f0=$RECV_PID
udp_send f0 "$PORT" 500 5 -s 200 -r 5000 -f 4 || mismatch "udpseq send (F, queue 0) failed"
stats_json f0
held=$S_q0_held
assert_ge "F: packets queue 0 holds before queue-maxlen shrinks to 256" 400 "$held"
fo0=$S_failopen
# conf_f [QUEUES [SECTION]]: imq0 on QUEUES (0-1) with queue-maxlen 256, and SECTION.
conf_f() {
	imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = ${1:-0-1}
queue-maxlen = 256
drop-timeout = 20s
${2:-}
EOF
}
conf_f
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload (queue-maxlen 256, F) failed: $out"
udp_recv f1 "$((PORT + 1))" 250 25
udp_send f1 "$((PORT + 1))" 250 5 -s 200 -r 5000 -f 2 || mismatch "udpseq send (F, queue 1) failed"
stats_json f1
log "F: after 250 on queue 1: queue 0 holds $S_q0_held (failopen $S_q0_failopen)," \
	"queue 1 holds $S_q1_held (failopen $S_q1_failopen)"
assert_eq "F: packets passed unshaped (failopen) since the shrink" 0 \
	"$((S_failopen - fo0))"
assert_ge "F: packets queue 1 holds (up to its own 256, beside queue 0's backlog)" 200 \
	"$S_q1_held"
udp_check f1 250
RECV_PID=$recv_f0
udp_check f0 500
check_counters
check_nothing_queued

# ---- G: a device removed by a reload and added back while its down hook runs
# The hook holds the old imq3 for 2 s: the reload that adds it back cannot
# start it (EBUSY), and a retry does once the hook has ended, with no reload.
imq3="[imq3]
queues = 12
down = /bin/sleep 2"
conf_f 0-1 "$imq3"
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload (imq3 added, G) failed: $out"
conf_f
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload (imq3 removed, G) failed: $out"
conf_f 0-1 "$imq3"
out=$("$IMQCTL" -s "$SOCK" reload 2>&1)
rc=$?
log "G: imqctl reload adding imq3 back while its down hook runs: status $rc: $out"
assert_eq "G: imqctl reload adding imq3 back during its down hook: exit status" 1 "$rc"
grep -q '^imq3: could not be started' <<<"$out" || mismatch "G: imqctl reload does not name imq3: $out"
wait_log "$IMQD_LOG" 'imq3: started on a retry' 1 8 ||
	mismatch "G: imq3 was not started by a retry once its down hook had ended"
"$IMQCTL" -s "$SOCK" show imq3 | grep -q '^imq3 up .* queues 12$' ||
	mismatch "G: imqctl show imq3 after the retry: $("$IMQCTL" -s "$SOCK" show imq3)"
nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue | grep -qx 12 ||
	mismatch "G: queue 12 not bound after the retry"

# ---- H: a running device that cannot bind one of its new queues
# The second imqd holds queue 13; a reload adds it to imq0, which runs on
# short of it: "partial" in show, JSON and Prometheus until a retry binds it.
start_other 13
conf_f 0-1,13 "$imq3"
out=$("$IMQCTL" -s "$SOCK" reload 2>&1)
rc=$?
log "H: imqctl reload adding queue 13 (taken) to imq0: status $rc: $out"
assert_eq "H: imqctl reload adding a taken queue: exit status" 1 "$rc"
grep -q '^imq0: could not be changed in full' <<<"$out" || mismatch "H: imqctl reload does not name imq0: $out"
show=$("$IMQCTL" -s "$SOCK" show imq0)
grep -q '^imq0 partial .* queues 0-1,13$' <<<"$show" || mismatch "H: imqctl show imq0: $show"
stats_json h0
assert_eq "H: imqctl stats -j: imq0's state" partial "$S_state"
"$IMQCTL" -s "$SOCK" -o prometheus stats | grep -q '^imqd_device_info{device="imq0",state="partial"' ||
	mismatch "H: the Prometheus text does not show imq0 partial"
stop_other
wait_log "$IMQD_LOG" 'imq0: configuration applied in full on a retry' 1 8 ||
	mismatch "H: no retry bound queue 13 once it was free"
show=$("$IMQCTL" -s "$SOCK" show imq0)
grep -q '^imq0 up .* queues 0-1,13$' <<<"$show" || mismatch "H: imqctl show imq0 after the retry: $show"
nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue | grep -qx 13 ||
	mismatch "H: queue 13 not bound after the retry"

stop_imqd
finish

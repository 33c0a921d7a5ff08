#!/usr/bin/env bash
# A queue that moves between devices while its traffic runs. Queue 0 feeds
# imq0 (tbf 40mbit) throughout; queue 1 alternates, by reload, between imq1
# (tbf 5mbit, slower than its 6.4 Mbit/s of datagrams, so a backlog of held
# packets builds there) and imq0 (fast). Eight moves in each direction
# while numbered datagrams run on both queues (the senders stop after the
# last move). Each move releases the
# queue from its old device: the packets it held are accepted first, oldest
# first, then the queue carries on in its new device. So every datagram of
# both streams arrives once and in order (at most a handful out of order),
# the log says "queue 1 released" and "queue 1 bound" once per move, the
# counters of both devices balance with failopen only for "shutdown" (the
# packets a move released), nothing stays queued in the kernel, and the old
# device's copies that drain after a move count as unmatched, never stray.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init reload_move

SEND_MAX=60 # seconds the senders may run; they are stopped after the moves
R0=2000     # datagrams a second on queue 0, 16 Mbit/s
# On queue 1, 6.4 Mbit/s: imq1's tbf (5 Mbit/s) falls behind by ~200 a
# second while the queue is there and catches up on what it still holds
# while the queue is on imq0, however long the reloads take; at 8 Mbit/s a
# slow run's backlog grew from stay to stay until the tbf dropped copies.
R1=800
PORT0=9200
PORT1=9201
MOVES=16
CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
MAX_OOO=20

# Config 0: queue 1 on imq1. Config 1: queue 1 on imq0 (imq1 keeps queue 2).
write_conf() {
	if [ "$1" = 0 ]; then
		imqd_conf "$CONF" "$SOCK" "log-level = info" <<EOF
[imq0]
queues = 0

[imq1]
queues = 1
EOF
	else
		imqd_conf "$CONF" "$SOCK" "log-level = info" <<EOF
[imq0]
queues = 0-1

[imq1]
queues = 2
EOF
	fi
}

# queue_dev Q: the device imqctl show lists queue Q under.
queue_dev() {
	"$IMQCTL" -s "$SOCK" show | awk -v q="$1" '
		{ for (i = 1; i < NF; i++) if ($i == "queues") { n = split($(i + 1), a, ",");
			for (j = 1; j <= n; j++) { split(a[j], r, "-"); hi = (r[2] == "" ? r[1] : r[2]);
				if (q >= r[1] && q <= hi) print $1 } } }'
}

topo_create
write_conf 0
start_imqd_conf "$CONF"
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 40mbit burst 20k latency 1s ||
	fail "tc tbf on imq0 failed"
nsx "$GW" tc qdisc replace dev imq1 root tbf rate 5mbit burst 10k latency 3s ||
	fail "tc tbf on imq1 failed"
for q in 0 1; do
	port=$PORT0
	[ "$q" = 1 ] && port=$PORT1
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$port" \
		-j NFQUEUE --queue-num "$q" --queue-bypass || fail "iptables NFQUEUE rule (queue $q) failed"
done
assert_eq "queue 1's device at the start" imq1 "$(queue_dev 1)"

# The receivers wait out gaps of up to 5 s: after a move back to imq1 its
# new packets queue behind the copies of those the move released, which
# imq1's tbf still sends (slowly: they were a backlog).
udp_recv q0 "$PORT0" $((SEND_MAX * R0)) $((SEND_MAX + 30)) -w 5
recv0=$RECV_PID
udp_recv q1 "$PORT1" $((SEND_MAX * R1)) $((SEND_MAX + 30)) -w 5
recv1=$RECV_PID
udp_send_bg q0 "$PORT0" $((SEND_MAX * R0)) "$SEND_MAX" -s 1000 -r "$R0" -f 4
send0=$SEND_PID
udp_send_bg q1 "$PORT1" $((SEND_MAX * R1)) "$SEND_MAX" -s 1000 -r "$R1" -f 2
send1=$SEND_PID

# Move i: to imq0 when i is odd, back to imq1 when even; 0.4 s apart, so the
# eight stays on imq1 build a backlog of ~100 held packets each (more when
# reloads are slow).
sleep 0.4
held_max=0
for ((i = 1; i <= MOVES; i++)); do
	c=$((i % 2))
	# What imq1 holds just before queue 1 leaves it.
	if [ "$c" = 1 ]; then
		imqd_counters imq1
		[ "$S_held" -gt "$held_max" ] && held_max=$S_held
	fi
	write_conf "$c"
	out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "move $i: imqctl reload failed: $out"
	imqd_alive
	want=imq1
	[ "$c" = 1 ] && want=imq0
	assert_eq "move $i: queue 1's device" "$want" "$(queue_dev 1)"
	sleep 0.4
done
log "$MOVES moves done; imq1 held at most $held_max packets just before a move"
assert_ge "packets imq1 held just before a move (at most)" 30 "$held_max"
still=0
kill -0 "$send1" 2>/dev/null && still=1
assert_eq "queue 1's sender still running after the last move" 1 "$still"
udp_stop q0 "$send0"
N0=$SENT
udp_stop q1 "$send1"
N1=$SENT
RECV_PID=$recv0
udp_check q0 "$N0"
RECV_PID=$recv1
udp_check q1 "$N1"
assert_le "queue 0: datagrams out of order" "$MAX_OOO" "$(json_field "$T_TMP/q0.recv.json" out_of_order)"
assert_le "queue 1: datagrams out of order" "$MAX_OOO" "$(json_field "$T_TMP/q1.recv.json" out_of_order)"

assert_eq "log lines 'imq1: queue 1 released'" $((MOVES / 2)) "$(log_count "$IMQD_LOG" 'imq1: queue 1 released')"
assert_eq "log lines 'imq0: queue 1 released'" $((MOVES / 2)) "$(log_count "$IMQD_LOG" 'imq0: queue 1 released')"
assert_eq "log lines 'imq0: queue 1 bound'" $((MOVES / 2)) "$(log_count "$IMQD_LOG" 'imq0: queue 1 bound')"
assert_eq "log lines 'imq1: queue 1 bound'" $((MOVES / 2)) "$(log_count "$IMQD_LOG" 'imq1: queue 1 bound')"

# Both devices: balanced, held 0, failopen for shutdown only, no stray
# copies; together they received every datagram.
total=0
fo_shutdown=0
for d in imq0 imq1; do
	imqd_counters "$d"
	for _ in $(seq 20); do
		[ "$S_held" = 0 ] && break
		sleep 0.1
		imqd_counters "$d"
	done
	show_counters
	assert_eq "$d held after traffic" 0 "$S_held"
	assert_eq "$d: received = accepted + dropped + failopen" "$S_received" \
		"$((S_accepted + S_dropped + S_failopen))"
	assert_eq "$d: dropped" 0 "$S_dropped"
	assert_eq "$d: failopen other than shutdown" 0 "$((S_failopen - ${S_failopen_shutdown:-0}))"
	assert_eq "$d: stray copies" 0 "$S_stray"
	assert_eq "$d: verdict errors" 0 "$S_verdict_errors"
	assert_ge "$d: device peak_held >= each queue's" "$S_queue_peak_held_max" "$S_peak_held"
	total=$((total + S_received))
	fo_shutdown=$((fo_shutdown + ${S_failopen_shutdown:-0}))
done
# From the moment a move drains queue 1 in its old device until the new one
# has bound it, the kernel passes its packets itself, unshaped (a fraction of
# a millisecond each time, ~1 datagram here): imqd never sees them.
rule0=$(ipt_pkts "$GW" iptables mangle PREROUTING 1)
rule1=$(ipt_pkts "$GW" iptables mangle PREROUTING 2)
assert_eq "datagrams the queue rules matched" $((N0 + N1)) "$((rule0 + rule1))"
assert_eq "queue 0's datagrams, all received by imq0" "$N0" "$rule0"
passed=$((N0 + N1 - total))
log "queue 1: $passed of $N1 datagrams passed unshaped during the $MOVES moves"
assert_ge "datagrams received by imq0 and imq1 together" $((N0 + N1 - N1 / 20)) "$total"
assert_le "datagrams received by imq0 and imq1 together" $((N0 + N1)) "$total"
assert_ge "packets released by the moves (failopen shutdown)" "$held_max" "$fo_shutdown"
check_nothing_queued

stop_imqd
finish

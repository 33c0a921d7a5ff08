#!/usr/bin/env bash
# A qdisc that reorders a flow. imqd infers drops the qdisc does not report
# from flow order: a copy that comes back after a later one of its flow was
# dropped. Some qdiscs reorder a flow instead (netem with jitter, classes by
# packet length); reorder-window gives the overtaken copies that long to
# come back. Here htb puts the 1000-byte datagrams of one UDP flow in a
# 2 Mbit/s class and its 200-byte ones in a fast class, so the small ones
# overtake the large ones by up to ~250 ms.
#  A. reorder-window = 1s: all 120 datagrams arrive, some out of order (the
#     qdisc's order, as on IFB); no dropped_order, no late copies.
#  B. reorder-window = 0 (by reload): overtaken packets are dropped at once;
#     what arrives is exactly what imqd accepted, and the late copies count
#     as unmatched, not stray.
#  C. reorder-window = 100ms (drop-timeout 10s): the large datagrams that
#     fall more than 100 ms behind are dropped when the window ends, well
#     before drop-timeout (nothing held 2 s after the traffic), and the
#     others arrive.
# Every packet gets its verdict: counters balance, nothing stays queued.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by check_counters
. "$(dirname "$0")/lib.sh"
e2e_init reorder

PORT=9500
PAIRS=60

# run NAME: PAIRS pairs through imq0; sets R_RECEIVED R_LATE.
run() {
	bg "$DST" timeout 20 "$PYTHON" "$TOOLS/reorder.py" recv "$PORT" $((2 * PAIRS)) 10 \
		>"$T_TMP/$1.recv.json" 2>"$T_TMP/$1.recv.err"
	local rpid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 10 ip netns exec "$SRC" "$PYTHON" "$TOOLS/reorder.py" send "$DST_IP" "$PORT" "$PAIRS" \
		>/dev/null || mismatch "$1: the sender failed"
	wait_pid "$rpid" 20 || mismatch "$1: the receiver did not finish"
	R_RECEIVED=$(json_field "$T_TMP/$1.recv.json" received)
	R_LATE=$(json_field "$T_TMP/$1.recv.json" out_of_order)
	log "$1: $(cat "$T_TMP/$1.recv.json")"
}

topo_create
start_imqd 0 "reorder-window = 1s"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"
G() { nsx "$GW" "$@" || fail "$* failed"; }
G tc qdisc replace dev imq0 root handle 1: htb default 10
G tc class add dev imq0 parent 1: classid 1:10 htb rate 100mbit quantum 1514
G tc class add dev imq0 parent 1: classid 1:20 htb rate 2mbit burst 2k
# IPv4 total length 1028: the 1000-byte datagrams.
G tc filter add dev imq0 parent 1: protocol ip prio 1 u32 match u16 1028 0xffff at 2 flowid 1:20

# A. A window longer than the reordering.
run window
check_counters
assert_eq "window 1s: datagrams at dst" $((2 * PAIRS)) "$R_RECEIVED"
assert_gt "window 1s: datagrams out of order at dst (the qdisc reordered)" 0 "$R_LATE"
assert_eq "window 1s: imqd dropped_order" 0 "$S_dropped_order"
assert_eq "window 1s: imqd accepted" $((2 * PAIRS)) "$S_accepted"
assert_eq "window 1s: late copies (unmatched)" 0 "$S_unmatched"
assert_eq "window 1s: stray copies" 0 "$S_stray"
check_nothing_queued

# B. No window: an overtaken packet is taken for dropped at once.
sed -i 's/^reorder-window = .*/reorder-window = 0/' "$T_TMP/imqd.conf"
"$IMQCTL" -s "$IMQD_SOCK" reload >/dev/null || fail "imqctl reload failed"
accepted_before=$S_accepted
run none
# The last late copies: out of the qdisc and read back.
wait_until 3 '[ "$(qdisc_backlog imq0)" = 0 ] && imqd_counters && [ "$S_unmatched" = "$S_dropped_order" ]'
check_counters
log "window 0: dropped_order $S_dropped_order, unmatched $S_unmatched"
assert_gt "window 0: imqd dropped_order (overtaken packets)" 9 "$S_dropped_order"
assert_eq "window 0: datagrams at dst = packets imqd accepted" $((S_accepted - accepted_before)) "$R_RECEIVED"
assert_eq "window 0: late copies (unmatched) = packets dropped" "$S_dropped_order" "$S_unmatched"
assert_eq "window 0: stray copies" 0 "$S_stray"
check_nothing_queued

# C. A window shorter than the reordering: decided when it ends, not at drop-timeout.
sed -i 's/^reorder-window = .*/reorder-window = 100ms\ndrop-timeout = 10s/' "$T_TMP/imqd.conf"
"$IMQCTL" -s "$IMQD_SOCK" reload >/dev/null || fail "imqctl reload failed"
order_before=$S_dropped_order accepted_before=$S_accepted unmatched_before=$S_unmatched
run short
wait_until 3 '[ "$(qdisc_backlog imq0)" = 0 ] && imqd_counters &&
	[ $((S_unmatched - unmatched_before)) = $((S_dropped_order - order_before)) ]'
check_counters
dropped=$((S_dropped_order - order_before))
log "window 100ms: dropped_order $dropped, unmatched $((S_unmatched - unmatched_before))"
assert_gt "window 100ms: overtaken packets dropped when the window ended" 0 "$dropped"
assert_gt "window 100ms: large datagrams that came back within it (arrived)" $PAIRS "$R_RECEIVED"
assert_eq "window 100ms: datagrams at dst = packets imqd accepted" $((S_accepted - accepted_before)) "$R_RECEIVED"
assert_eq "window 100ms: late copies (unmatched) = packets dropped" "$dropped" $((S_unmatched - unmatched_before))
assert_eq "imqd dropped_timeout" 0 "$S_dropped_timeout"
assert_eq "imqd failopen" 0 "$S_failopen"
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# No silent bypass: a flood far beyond what the queue and the shaper take,
# and every packet the queue rule matched is accounted for by imqd, as
# decided by imqd (accepted, dropped, passed unshaped) or by the kernel
# without it (kernel_passed, kernel_dropped): the rule's packet counter
# equals received + kernel_passed + kernel_dropped. queue-maxlen is 64 and
# the tbf passes ~1/30 of the flood; imqd keeps queue-maxlen itself, so
# the kernel's queue never fills (nfnetlink_queue queue_dropped stays 0).
#  1. on-overflow = accept: the overflow passes unshaped, counted as
#     failopen overflow; dst gets accepted + failopen + kernel_passed.
#  2. on-overflow = drop: the overflow is dropped, counted as
#     dropped_overflow; nothing passes unshaped, dst gets accepted.
# What the kernel decides itself when imqd's receive buffer is full
# (kernel_passed, kernel_dropped) is checked by fault_overrun.
. "$(dirname "$0")/lib.sh"
e2e_init overflow_count

PORT=7950
N=20000

topo_create

# phase NAME ON_OVERFLOW: the flood through tbf 2mbit with queue-maxlen 64.
phase() {
	local name=$1 policy=$2
	start_imqd 0 "queue-maxlen = 64
on-overflow = $policy"
	nsx "$GW" tc qdisc replace dev imq0 root tbf rate 2mbit burst 4k limit 16k ||
		fail "$name: tc tbf on imq0 failed"
	nsx "$GW" iptables -t mangle -F PREROUTING
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
		-j NFQUEUE --queue-num 0 --queue-bypass || fail "$name: iptables NFQUEUE rule failed"
	bg "$DST" timeout 40 "$UDPSEQ" recv -p "$PORT" -n "$N" -t 30 -w 3 -i >"$T_TMP/recv-$name.json"
	local recv_pid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 30 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -s 64 -f 8 \
		-r 100000 -t 20 >"$T_TMP/send-$name.json" || fail "$name: udpseq send failed"
	wait_pid "$recv_pid" 40
	check_counters
	local rule got qdrop
	rule=$(ipt_pkts "$GW" iptables mangle PREROUTING 1)
	got=$(json_field "$T_TMP/recv-$name.json" received)
	qdrop=$(nsx "$GW" awk '$1 == 0 { print $6 }' /proc/net/netfilter/nfnetlink_queue)
	log "$name: rule matched $rule; imqd received $S_received, failopen overflow" \
		"${S_failopen_overflow:-0}, dropped_overflow ${S_dropped_overflow:-0}, kernel" \
		"passed ${S_kernel_passed:-0} dropped ${S_kernel_dropped:-0}; dst got $got"
	assert_eq "$name: rule counter = received + kernel_passed + kernel_dropped" "$rule" \
		"$((S_received + S_kernel_passed + S_kernel_dropped))"
	assert_eq "$name: kernel queue_dropped (its queue never full)" 0 "$qdrop"
	assert_le "$name: packets held at once (queue-maxlen 64)" 64 "$S_peak_held"
	if [ "$policy" = accept ]; then
		assert_gt "$name: passed unshaped for a full queue (failopen overflow)" 0 \
			"${S_failopen_overflow:-0}"
		assert_eq "$name: datagrams at dst = accepted + failopen + kernel_passed" \
			"$((S_accepted + S_failopen + S_kernel_passed))" "$got"
	else
		assert_gt "$name: dropped for a full queue (dropped_overflow)" 0 "${S_dropped_overflow:-0}"
		assert_eq "$name: passed unshaped" 0 "$((S_failopen + S_kernel_passed))"
		assert_eq "$name: datagrams at dst = accepted" "$S_accepted" "$got"
	fi
	grep -q "queue 0 is full (queue-maxlen 64)" "$IMQD_LOG" && pass_msg "$name: a full queue logged" ||
		mismatch "$name: no log line about the full queue"
	check_nothing_queued
}

phase accept accept
stop_imqd
phase drop drop

stop_imqd
finish

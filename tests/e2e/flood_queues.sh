#!/usr/bin/env bash
# A priority flow in a queue of its own keeps its place under a flood
# beyond what imqd can take in: imq0 serves queues 0 and 1, the pings (200
# a second) are queued to 1 and go to the priority class of an htb of
# 10mbit, and a 64-byte UDP flood as fast as src can send (8 flows, many
# times imqd's intake on two cores) is queued to 0 and goes to the bulk
# class. Each queue has its own socket and receive buffer: the kernel passes
# or drops the flood's excess on queue 0 (on-overflow) and never a ping on
# queue 1. With on-overflow = accept and with drop: the pings lose at most
# 1%, their p99 stays near IFB's under the same flood, queue 1's
# kernel_passed and kernel_dropped stay 0 while queue 0's are not, and with
# drop the flood reaches dst at no more than 1.1 times IFB's rate. Counters
# balance, nothing queued.
. "$(dirname "$0")/lib.sh"
e2e_init flood_queues 170

[ -n "${UDPFLOOD:-}" ] && [ -x "$UDPFLOOD" ] || fail "UDPFLOOD=${UDPFLOOD:-} is not an executable file (set by CMake)"
PORT=9610
SECS=5
PINGS=$((SECS * 200 - 100))
P99_MARGIN=${P99_MARGIN:-20}

topo_create
nsx "$DST" iptables -A INPUT -p udp --dport "$PORT" -j DROP || fail "iptables in dst failed"

# htb DEV: the tree, pings (ICMP) to 1:10, everything else to 1:20.
htb() {
	local dev=$1
	nsx "$GW" tc qdisc replace dev "$dev" root handle 1: htb default 20 || fail "htb on $dev failed"
	nsx "$GW" tc class add dev "$dev" parent 1: classid 1:1 htb rate 10mbit
	nsx "$GW" tc class add dev "$dev" parent 1:1 classid 1:10 htb rate 1mbit ceil 10mbit prio 0
	nsx "$GW" tc class add dev "$dev" parent 1:1 classid 1:20 htb rate 9mbit ceil 10mbit prio 1
	nsx "$GW" tc qdisc add dev "$dev" parent 1:10 pfifo limit 100
	nsx "$GW" tc qdisc add dev "$dev" parent 1:20 pfifo limit 1000
	nsx "$GW" tc filter add dev "$dev" parent 1: protocol ip prio 1 u32 match ip protocol 1 0xff \
		flowid 1:10 || fail "tc filter on $dev failed"
}

# run NAME: the flood and the pings together; sets LOSS (%), P99 (ms), FLOOD (datagrams at dst).
run() {
	local name=$1 tx before got
	before=$(ipt_pkts "$DST" iptables filter INPUT 1)
	bg "$SRC" timeout $((SECS + 10)) "$UDPFLOOD" -d "$DST_IP" -p "$PORT" -s 64 -t "$SECS" -F 8 \
		>"$T_TMP/tx-$name.json"
	tx=$BG_PID
	sleep 0.3
	timeout $((SECS + 10)) ip netns exec "$SRC" ping -n -i 0.005 -c "$PINGS" -W 1 "$DST_IP" \
		>"$T_TMP/ping-$name.txt" 2>&1
	wait_pid "$tx" $((SECS + 10))
	sleep 1
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p' "$T_TMP/ping-$name.txt" | sort -n >"$T_TMP/rtt-$name"
	got=$(wc -l <"$T_TMP/rtt-$name")
	LOSS=$(calc %.2f "100 * ($PINGS - $got) / $PINGS")
	P99=$(awk -v n="$got" 'NR == int((n - 1) * 0.99) + 1 { print $1 }' "$T_TMP/rtt-$name")
	FLOOD=$(($(ipt_pkts "$DST" iptables filter INPUT 1) - before))
	log "$name: flood sent $(json_field "$T_TMP/tx-$name.json" sent), received $FLOOD;" \
		"pings $got of $PINGS (loss $LOSS%), p99 ${P99:-none} ms"
}

# IFB: gw's ingress from src redirected to ifb0.
nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0 in $GW"
nsx "$GW" ip link set ifb0 up
htb ifb0
nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress || fail "tc ingress on $GW_IN failed"
nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
	action mirred egress redirect dev ifb0 || fail "tc mirred redirect to ifb0 failed"
run ifb
ifb_flood=$FLOOD ifb_p99=$P99
assert_le "IFB: priority pings lost (%)" 1 "$LOSS"
nsx "$GW" tc qdisc del dev "$GW_IN" ingress || fail "cannot remove the IFB redirect"
nsx "$GW" ip link del ifb0

for policy in accept drop; do
	start_imqd 0-1 "on-overflow = $policy"
	htb imq0
	nsx "$GW" iptables -t mangle -F PREROUTING
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p icmp -j NFQUEUE --queue-num 1 \
		--queue-bypass &&
		nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 \
			--queue-bypass || fail "iptables NFQUEUE rules failed"
	run "imqd-$policy"
	check_counters
	beyond=$((${S_q0_kernel_passed:-0} + ${S_q0_kernel_dropped:-0}))
	log "imqd, on-overflow = $policy: queue 0 received $S_q0_received, kernel decided $beyond;" \
		"queue 1 received $S_q1_received"
	assert_ge "imqd, on-overflow = $policy: flood packets the kernel decided on queue 0" 1 "$beyond"
	assert_eq "imqd, on-overflow = $policy: pings the kernel passed on queue 1" 0 "${S_q1_kernel_passed:-x}"
	assert_eq "imqd, on-overflow = $policy: pings the kernel dropped on queue 1" 0 "${S_q1_kernel_dropped:-x}"
	assert_le "imqd, on-overflow = $policy: priority pings lost (%)" 1 "$LOSS"
	assert_le "imqd, on-overflow = $policy: ping p99 (ms; IFB $ifb_p99)" \
		"$(calc %.3f "$ifb_p99 + $P99_MARGIN")" "${P99:-1000}"
	if [ "$policy" = drop ]; then
		assert_le "imqd, on-overflow = drop: flood at dst (IFB $ifb_flood)" \
			"$(calc %.0f "int($ifb_flood * 1.1)")" "$FLOOD"
	fi
	check_queue_sums imq0
	check_nothing_queued
	stop_imqd
done
finish

#!/usr/bin/env bash
# Shaping that protects, under a flood: htb 10mbit with a priority class
# (1mbit, prio 0) for 200 pings a second and the bulk class for a flood of
# 64-byte UDP datagrams at 2.2 times the link (30,000 a second, 8 flows),
# first on IFB, then on imq0 with on-overflow = accept (the default) and
# with on-overflow = drop. Each time: the priority flow loses at most 1% of
# its pings, its p99 round trip stays near IFB's (within 20 ms here, on two
# cores shared by sender, gateway and dst; the benchmark gives the figures),
# and the flood reaches dst at no more than 1.1 times IFB's rate: nothing of
# it passes unshaped. dst counts the flood with a rule that drops it, as a
# router's next hop would take it, without a receiving program to wake per
# datagram. Counters balance, nothing queued. The flood is beyond the link
# but within what a Debug or ASan build of imqd takes in on two busy cores:
# this test is about the shaper, not about intake. bench/flood.sh gives what
# floods beyond imqd's intake do: the kernel then decides the rest.
. "$(dirname "$0")/lib.sh"
e2e_init flood_priority 170

[ -n "${UDPFLOOD:-}" ] && [ -x "$UDPFLOOD" ] || fail "UDPFLOOD=${UDPFLOOD:-} is not an executable file (set by CMake)"
PORT=9600
SECS=6
PINGS=$((SECS * 200 - 100))
RATE=30000

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
	local name=$1 tx before
	before=$(ipt_pkts "$DST" iptables filter INPUT 1)
	bg "$SRC" timeout $((SECS + 10)) "$UDPFLOOD" -d "$DST_IP" -p "$PORT" -s 64 -t "$SECS" -F 8 \
		-r "$RATE" >"$T_TMP/tx-$name.json"
	tx=$BG_PID
	sleep 0.5
	timeout $((SECS + 10)) ip netns exec "$SRC" ping -n -i 0.005 -c "$PINGS" -W 1 "$DST_IP" \
		>"$T_TMP/ping-$name.txt" 2>&1
	wait_pid "$tx" $((SECS + 10))
	sleep 1
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p' "$T_TMP/ping-$name.txt" | sort -n >"$T_TMP/rtt-$name"
	local got
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
	start_imqd 0 "on-overflow = $policy"
	htb imq0
	nsx "$GW" iptables -t mangle -F PREROUTING
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
		fail "iptables NFQUEUE rule failed"
	run "imqd-$policy"
	assert_le "imqd, on-overflow = $policy: priority pings lost (%)" 1 "$LOSS"
	assert_le "imqd, on-overflow = $policy: ping p99 (ms; IFB $ifb_p99)" \
		"$(calc %.3f "$ifb_p99 + 20")" "${P99:-1000}"
	assert_le "imqd, on-overflow = $policy: flood at dst (IFB $ifb_flood)" \
		"$(calc %.0f "int($ifb_flood * 1.1)")" "$FLOOD"
	check_counters
	log "imqd, on-overflow = $policy: kernel_passed ${S_kernel_passed:-0}, failopen $S_failopen," \
		"dropped_enqueue $S_dropped_enqueue, dropped_overflow ${S_dropped_overflow:-0}"
	check_nothing_queued
	stop_imqd
done
finish

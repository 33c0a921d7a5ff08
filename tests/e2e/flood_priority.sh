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

# IFB: gw's ingress from src redirected to ifb0.
ifb_redirect prio_htb
flood_pings ifb "$PORT" "$SECS" "$PINGS" "$RATE"
ifb_flood=$FLOOD ifb_p99=$P99
assert_le "IFB: priority pings lost (%)" 1 "$LOSS"
ifb_remove

for policy in accept drop; do
	start_imqd 0 "on-overflow = $policy"
	prio_htb imq0
	nsx "$GW" iptables -t mangle -F PREROUTING
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
		fail "iptables NFQUEUE rule failed"
	flood_pings "imqd-$policy" "$PORT" "$SECS" "$PINGS" "$RATE"
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

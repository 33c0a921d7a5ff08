#!/usr/bin/env bash
# Two ingress interfaces of gw queued to the same NFQUEUE 0, one tbf 20mbit on
# imq0: TCP from both sources at once shares 20 Mbit/s, each gets some.
. "$(dirname "$0")/lib.sh"
e2e_init shared_queue

RATE=20 # Mbit/s
SECS=8

topo_create 2
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root tbf rate ${RATE}mbit burst 32k latency 100ms ||
	fail "tc tbf on imq0 failed"
for ifc in "$GW_IN" "$GW_IN2"; do
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$ifc" -j NFQUEUE --queue-num 0 --queue-bypass ||
		fail "iptables NFQUEUE rule for $ifc failed"
done
iperf_server "$DST" 5201
iperf_server "$DST" 5202
bg "$SRC" timeout $((SECS + 15)) iperf3 -c "$DST_IP" -p 5201 -t "$SECS" -J >"$T_TMP/src1.json" 2>&1
pid1=$BG_PID
bg "$SRC2" timeout $((SECS + 15)) iperf3 -c "$DST_IP" -p 5202 -t "$SECS" -J >"$T_TMP/src2.json" 2>&1
pid2=$BG_PID
wait_pid "$pid1" $((SECS + 20))
wait_pid "$pid2" $((SECS + 20))
rate1=$(iperf_rate "$T_TMP/src1.json") || exit 1
rate2=$(iperf_rate "$T_TMP/src2.json") || exit 1
sum=$(calc %.3f "$rate1 + $rate2")
log "src1 $rate1 Mbit/s + src2 $rate2 Mbit/s = $sum Mbit/s"

check_counters
assert_eq "imqd failopen (accepted unshaped)" 0 "$S_failopen"
check_nothing_queued
stop_imqd

assert_within "sum of both rates (Mbit/s)" "$RATE" 10 "$sum"
# "Some": at least 5% of the shared rate each.
assert_ge "src1 rate (Mbit/s)" "$(calc %.3f "$RATE * 0.05")" "$rate1"
assert_ge "src2 rate (Mbit/s)" "$(calc %.3f "$RATE * 0.05")" "$rate2"
finish

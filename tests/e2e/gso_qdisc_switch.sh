#!/usr/bin/env bash
# A TCP upload through imq0 while its qdisc changes from pfifo, which takes
# GSO copies whole, to tbf 20mbit with a 16 KB burst, which cuts them into
# segments (imqd matches those to their packets). After the switch the rate
# must follow the tbf; every packet must be decided, nothing left held or
# queued, and no segment taken for a packet imqd did not send.
. "$(dirname "$0")/lib.sh"
e2e_init gso_qdisc_switch

RATE=20 # Mbit/s
SECS=10
SWITCH=3 # s after the start

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root pfifo limit 10000 || fail "tc pfifo on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p tcp -j NFQUEUE --queue-num 0 \
	--queue-bypass || fail "iptables NFQUEUE rule failed"
iperf_server "$DST" 5203
timeout $((SECS + 15)) ip netns exec "$SRC" iperf3 -c "$DST_IP" -p 5203 -t "$SECS" -J \
	>"$T_TMP/iperf.json" 2>&1 &
client=$!
T_PIDS+=("$client")
sleep "$SWITCH"
nsx "$GW" tc qdisc replace dev imq0 root tbf rate "${RATE}mbit" burst 16k latency 100ms ||
	fail "tc tbf on imq0 failed"
log "imq0 switched to tbf ${RATE}mbit burst 16k"
wait_pid "$client" $((SECS + 15))
iperf_rate "$T_TMP/iperf.json" >/dev/null
# Goodput per second from the receiver's intervals, from 2 s after the switch.
late=$("$PYTHON" "$TOOLS/iperfjson.py" mean-after "$T_TMP/iperf.json" "$((SWITCH + 2))") ||
	fail "no intervals in $T_TMP/iperf.json"
log "TCP goodput under tbf ${RATE}mbit: $late Mbit/s"

check_counters
check_nothing_queued
assert_gt "imqd accepted packets" 0 "$S_accepted"
assert_eq "imqd failopen" 0 "$S_failopen"
assert_eq "qdisc reported by imqctl" tbf "$S_qdisc"
assert_eq "packets imqd did not send read from imq0" 0 "$S_stray"
stop_imqd
# tbf counts Ethernet and TCP/IP headers: goodput is ~95.6% of its rate.
assert_within "goodput after the switch (Mbit/s)" "$(calc %.3f "$RATE * 0.956")" 10 "$late"
finish

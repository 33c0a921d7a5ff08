#!/usr/bin/env bash
# (a) Traffic generated on gw itself, queued in POSTROUTING and shaped by tbf
# 10mbit on imq0. (b) 2000 packets of IP protocol 47 (GRE-like; this kernel
# has no GRE driver) forwarded src -> dst through imqd with an unshaped imq0:
# all arrive and imqd accepted exactly those.
. "$(dirname "$0")/lib.sh"
e2e_init local_gre

RATE=10 # Mbit/s
SECS=8
N=2000

topo_create
start_imqd 0

# (a) local TCP from gw to dst.
nsx "$GW" tc qdisc replace dev imq0 root tbf rate ${RATE}mbit burst 32k latency 100ms ||
	fail "tc tbf on imq0 failed"
nsx "$GW" iptables -t mangle -A POSTROUTING -o "$GW_OUT" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"
iperf_server "$DST" 5201
local_rate=$(iperf_client "$GW" "$DST_IP" 5201 "$SECS" "$T_TMP/local.json") || exit 1
log "local TCP from gw, tbf ${RATE}mbit: $local_rate Mbit/s"
check_counters
assert_gt "imqd accepted packets, local traffic" 0 "$S_accepted"
assert_within "local TCP rate (Mbit/s)" "$RATE" 10 "$local_rate"

# (b) protocol 47 from src to dst, forwarded and queued in PREROUTING.
nsx "$GW" iptables -t mangle -F POSTROUTING
nsx "$GW" tc qdisc del dev imq0 root 2>/dev/null
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p 47 -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule for protocol 47 failed"
base_received=$S_received
base_accepted=$S_accepted

# Receiver: counts protocol-47 packets from src carrying our marker.
bg "$DST" timeout 30 "$PYTHON" "$TOOLS/rawip.py" recv 47 "$SRC_IP" "$N" "$T_TMP/gre.ready" \
	>"$T_TMP/gre-recv.json"
recv_pid=$BG_PID
wait_until 5 '[ -e "$T_TMP/gre.ready" ]' || fail "protocol-47 receiver not ready"

# Sender: N packets of 1000 bytes (20 IP + 4 GRE + number, marker, padding), 10,000 a second.
timeout 20 ip netns exec "$SRC" "$PYTHON" "$TOOLS/rawip.py" send 47 "$DST_IP" "$N" 980 10000 \
	>"$T_TMP/gre-send.json" || fail "protocol-47 sender failed"
wait_pid "$recv_pid" 25 || fail "protocol-47 receiver did not finish"
log "protocol 47: sender $(cat "$T_TMP/gre-send.json"), receiver $(cat "$T_TMP/gre-recv.json")"

assert_eq "protocol-47 packets sent" "$N" "$(json_field "$T_TMP/gre-send.json" sent)"
assert_eq "protocol-47 packets received at dst" "$N" "$(json_field "$T_TMP/gre-recv.json" received)"
check_counters
assert_eq "imqd received, protocol 47" "$N" "$((S_received - base_received))"
assert_eq "imqd accepted, protocol 47" "$N" "$((S_accepted - base_accepted))"
check_nothing_queued
stop_imqd
finish

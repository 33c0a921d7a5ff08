#!/usr/bin/env bash
# Packets imqd did not send come out of imq0 while it shapes a UDP stream:
#  - forwarded ones: gw routes a prefix to imq0, src sends UDP to it;
#  - written ones: a packet socket on imq0 in gw sends copies that look like
#    the shaped stream's (same addresses and ports, so the same flow key,
#    sequence numbers it never uses), IPv6 packets, and garbage of 1 to 1400 bytes.
# imqd counts each as stray and never matches one to a held packet: the
# shaped stream arrives whole, in order, accepted one for one; counters add up.
. "$(dirname "$0")/lib.sh"
e2e_init fault_stray

PORT=9151
N=4000
PPS=1000
N_ROUTED=1500
N_WRITTEN=1500   # look-alike copies
N_V6=200
N_JUNK=100

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 20mbit burst 64k limit 2m ||
	fail "tc tbf on imq0 failed"
queue_rule "$PORT"
STRAY_NET=10.$X.99
nsx "$GW" ip route add "$STRAY_NET.0/24" dev imq0 || fail "cannot route $STRAY_NET.0/24 to imq0"

stamp_recv "$DST" "$PORT" 20 rx 2
udp_stream "$SRC" "$DST_IP" "$PORT" "$N" 1000 "$PPS" 10
sleep 0.3
# The stream's own source port: the written copies share its flow key.
sport=$(nsx "$SRC" ss -H -u -a -n -p | awk '/udpseq/ { n = split($4, a, ":"); print a[n]; exit }')
[ -n "$sport" ] || fail "cannot find the stream's source port"
# What src sends to the routed prefix: 100-byte datagrams, 500 a second.
bg "$SRC" timeout 15 "$UDPSEQ" send -d "$STRAY_NET.7" -p 9152 -n "$N_ROUTED" -s 100 -r 500 -t 10 \
	>"$T_TMP/send-9152.json"
routed_pid=$BG_PID
timeout 20 ip netns exec "$GW" "$PYTHON" "$TOOLS/straywrite.py" "$SRC_IP" "$DST_IP" "$PORT" \
	"$N_WRITTEN" "$N_V6" "$N_JUNK" "$sport" >"$T_TMP/written" || fail "packet writer on imq0 failed"
wait_pid "$routed_pid" 10 || fail "sender to the routed prefix failed"
wait_pid "$SEND_PID" 10
stamp_wait rx 20
written=$(cat "$T_TMP/written")
routed=$(stream_sent 9152)
log "strays: $routed forwarded to $STRAY_NET.0/24, $written written on imq0"
nsx "$GW" tc -s qdisc show dev imq0 >&2

check_counters
check_nothing_queued
got=$(json_field "$T_TMP/rx.json" received)
assert_eq "stray packets counted" "$((routed + written))" "${S_stray:-missing}"
assert_eq "imqd received (strays are not received packets)" "$N" "$S_received"
assert_eq "imqd accepted" "$N" "$S_accepted"
assert_eq "imqd dropped" 0 "$S_dropped"
assert_eq "shaped datagrams at dst" "$N" "$got"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/rx.json" duplicates)"
assert_eq "datagrams out of order" 0 "$(json_field "$T_TMP/rx.json" out_of_order)"
assert_log "strays logged" 'that imqd did not send'
result "test=fault_stray sent=$N received=$got lost=$((N - got)) strays_sent=$((routed + written))" \
	"stray=${S_stray:-?} unmatched=${S_unmatched:-?}"
stop_imqd
finish

#!/usr/bin/env bash
# A fast burst of 5000 UDP datagrams into a tbf 5mbit with a 3000-byte queue
# on imq0: the qdisc refuses most copies, imqd drops those packets, and what
# arrives at dst is exactly what imqd let through.
. "$(dirname "$0")/lib.sh"
e2e_init drops_pfifo

N=5000
PORT=9001

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root handle 1: tbf rate 5mbit burst 5k limit 3000 ||
	fail "tc tbf on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

bg "$DST" timeout 30 "$UDPSEQ" recv -p "$PORT" -n "$N" -t 20 -i >"$T_TMP/recv.json"
recv_pid=$BG_PID
wait_listen "$DST" udp "$PORT"
# No rate limit: as fast as the sender goes.
timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -f 4 -s 200 -t 10 \
	>"$T_TMP/send.json" || { cat "$T_TMP/send.json" >&2; fail "udpseq send did not send $N datagrams"; }
wait_pid "$recv_pid" 25 || fail "udpseq recv did not finish"
log "sender: $(cat "$T_TMP/send.json")"
log "receiver: $(cat "$T_TMP/recv.json")"
nsx "$GW" tc -s qdisc show dev imq0 >&2

got=$(json_field "$T_TMP/recv.json" received)
check_counters
assert_gt "imqd received" 0 "$S_received"
assert_gt "imqd dropped_enqueue" 0 "$S_dropped_enqueue"
# Accepted and failed-open packets both get NF_ACCEPT: those are what arrive.
assert_eq "datagrams at dst = imqd accepted + failopen" "$((S_accepted + S_failopen))" "$got"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/recv.json" duplicates)"
assert_eq "datagrams out of order" 0 "$(json_field "$T_TMP/recv.json" out_of_order)"
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# SIGTERM while imqd holds packets behind a slow tbf: it accepts every held
# packet before exiting, so all datagrams reach dst; exit 0, imq0 removed.
. "$(dirname "$0")/lib.sh"
e2e_init shutdown_held

N=300
PORT=9002

topo_create
start_imqd 0
# 100 kbit/s: 300 datagrams of 500 bytes need ~12 s, so most are still held.
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 100kbit burst 2k latency 30s ||
	fail "tc tbf on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

bg "$DST" timeout 30 "$UDPSEQ" recv -p "$PORT" -n "$N" -t 20 -i >"$T_TMP/recv.json"
recv_pid=$BG_PID
wait_listen "$DST" udp "$PORT"
timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -f 2 -s 500 -r 2000 -t 10 \
	>"$T_TMP/send.json" || { cat "$T_TMP/send.json" >&2; fail "udpseq send did not send $N datagrams"; }
wait_until 3 'imqd_counters; [ "$S_received" = "$N" ]'
show_counters
assert_eq "imqd received before SIGTERM" "$N" "$S_received"
assert_gt "imqd held before SIGTERM" $((N / 2)) "$S_held"
held=$S_held

stop_imqd
wait_pid "$recv_pid" 25 || fail "udpseq recv did not finish"
log "receiver: $(cat "$T_TMP/recv.json")"
assert_eq "datagrams at dst after SIGTERM (held $held were accepted)" "$N" \
	"$(json_field "$T_TMP/recv.json" received)"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/recv.json" duplicates)"
assert_eq "packets in the kernel queue after exit" 0 "$(queued_now)"
finish

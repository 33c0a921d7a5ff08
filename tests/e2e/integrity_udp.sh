#!/usr/bin/env bash
# 10,000 numbered UDP datagrams in 8 flows through imqd with an unshaped imq0:
# every one arrives, none reordered or duplicated, and imqd accounts for each;
# passes with nothing held accept in one batch verdict message.
. "$(dirname "$0")/lib.sh"
e2e_init integrity_udp

N=10000
PORT=9000

topo_create
start_imqd 0
# Only this test's datagrams are queued, so imqd's counters are theirs alone.
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

bg "$DST" timeout 30 "$UDPSEQ" recv -p "$PORT" -n "$N" -t 20 -i >"$T_TMP/recv.json"
recv_pid=$BG_PID
wait_listen "$DST" udp "$PORT"
timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -f 8 -r 20000 -s 200 -t 10 \
	>"$T_TMP/send.json" || { cat "$T_TMP/send.json" >&2; fail "udpseq send did not send $N datagrams"; }
wait_pid "$recv_pid" 25 || fail "udpseq recv did not finish"
log "sender: $(cat "$T_TMP/send.json")"
log "receiver: $(cat "$T_TMP/recv.json")"

assert_eq "datagrams received at dst" "$N" "$(json_field "$T_TMP/recv.json" received)"
assert_eq "datagrams out of order" 0 "$(json_field "$T_TMP/recv.json" out_of_order)"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/recv.json" duplicates)"
assert_eq "flows seen at dst" 8 "$(json_field "$T_TMP/recv.json" flows)"

check_counters
assert_ge "imqd received" "$N" "$S_received"
assert_eq "imqd accepted" "$N" "$S_accepted"
assert_eq "imqd failopen" 0 "$S_failopen"
# Unshaped, a pass's copies all come back at once and nothing stays held:
# its accepts go as one batch verdict message (check_counters saw no refusal).
assert_gt "packets accepted in batch verdict messages" 0 "$S_verdicts_batched"
check_nothing_queued
stop_imqd
finish

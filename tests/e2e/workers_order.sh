#!/usr/bin/env bash
# Two workers, four queues, eight flows: every datagram arrives once and in
# its flow's order, and imqd counts each exactly. imq0 is multiqueue, so its
# queues 0-1 and 2-3 are two shards on the two workers, each with its own TX
# queue and a tbf 10mbit under mq; the sender's eight flows go to eight
# addresses of dst, four to queues 0-1 and four to 2-3 (--queue-balance over
# each pair), at about 15 Mbit/s per tree, so both trees hold a backlog.
# Afterwards: received = accepted = datagrams sent, no drop, no failopen,
# nothing held or queued; queues 0-1 received exactly the first four flows'
# datagrams, 2-3 the others'; the per-queue counters sum to the device's.
# shellcheck disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init workers_order

FLOWS=8
PER_FLOW=2500
N=$((FLOWS * PER_FLOW))
PORT=9300
IMQD_WORKERS=2

topo_create
for i in $(seq 1 $((FLOWS - 1))); do
	nsx "$DST" ip addr add "10.$X.2.$((i + 2))/24" dev d0 || fail "cannot add a dst address"
done
start_imqd 0-3 "multiqueue = yes"
G() { nsx "$GW" "$@"; }
G tc qdisc replace dev imq0 root handle 7fff: mq || fail "tc mq on imq0 failed"
for t in 1 2; do
	G tc qdisc add dev imq0 parent "7fff:$t" tbf rate 10mbit burst 16k limit 4mb ||
		fail "tc tbf under 7fff:$t failed"
done
G tc qdisc show dev imq0 >&2
# Flows 0-3 (dst .2-.5) to queues 0-1, flows 4-7 (dst .6-.9) to queues 2-3.
for i in $(seq 0 $((FLOWS - 1))); do
	qs=0:1
	[ "$i" -ge 4 ] && qs=2:3
	G iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp -d "10.$X.2.$((i + 2))" --dport $((PORT + i)) \
		-j NFQUEUE --queue-balance "$qs" --queue-bypass || fail "NFQUEUE rule for flow $i failed"
done

recv=() send=()
for i in $(seq 0 $((FLOWS - 1))); do
	bg "$DST" timeout 40 "$UDPSEQ" recv -p $((PORT + i)) -n "$PER_FLOW" -t 30 -i -w 5 >"$T_TMP/recv$i.json"
	recv+=("$BG_PID")
done
for i in $(seq 0 $((FLOWS - 1))); do wait_listen "$DST" udp $((PORT + i)); done
# 8 x 2000 datagrams/s of 228 bytes on the wire: about 15 Mbit/s into each 10 Mbit/s tree.
for i in $(seq 0 $((FLOWS - 1))); do
	bg "$SRC" timeout 20 "$UDPSEQ" send -d "10.$X.2.$((i + 2))" -p $((PORT + i)) -n "$PER_FLOW" \
		-s 200 -r 2000 -t 10 >"$T_TMP/send$i.json"
	send+=("$BG_PID")
done
for i in $(seq 0 $((FLOWS - 1))); do
	wait_pid "${send[$i]}" 25 || fail "udpseq send of flow $i failed"
	assert_eq "datagrams sent in flow $i" "$PER_FLOW" "$(json_field "$T_TMP/send$i.json" sent)"
done
got=0
for i in $(seq 0 $((FLOWS - 1))); do
	wait_pid "${recv[$i]}" 45 || fail "udpseq recv of flow $i did not finish"
	log "flow $i: $(cat "$T_TMP/recv$i.json")"
	assert_eq "datagrams of flow $i at dst" "$PER_FLOW" "$(json_field "$T_TMP/recv$i.json" received)"
	assert_eq "datagrams of flow $i out of order" 0 "$(json_field "$T_TMP/recv$i.json" out_of_order)"
	assert_eq "duplicates in flow $i" 0 "$(json_field "$T_TMP/recv$i.json" duplicates)"
	got=$((got + $(json_field "$T_TMP/recv$i.json" received)))
done
G tc -s qdisc show dev imq0 >&2

check_counters
assert_eq "imqd received = datagrams sent" "$N" "$S_received"
assert_eq "imqd accepted = datagrams at dst" "$got" "$S_accepted"
assert_eq "imqd dropped" 0 "$S_dropped"
assert_eq "imqd failopen" 0 "$S_failopen"
assert_eq "copies taken for strays" 0 "$S_stray"
# Both trees held a backlog: each worker held packets, and they waited.
assert_gt "imqd peak_held (a backlog in the trees)" 100 "$S_peak_held"

# Each pair of queues got its four flows' datagrams, and every counter
# summed over per_queue equals the device's (the snapshot check_counters read).
assert_eq "per_queue lists" "0 1 2 3" "$S_per_queue"
assert_eq "queues 0-1 received (flows 0-3)" "$((4 * PER_FLOW))" "$((S_q0_received + S_q1_received))"
assert_eq "queues 2-3 received (flows 4-7)" "$((4 * PER_FLOW))" "$((S_q2_received + S_q3_received))"
check_queue_sums imq0
grep -q 'TX queue 1 takes queues 2-3 on worker' "$IMQD_LOG" ||
	mismatch "imqd's log does not say that TX queue 1 takes queues 2-3"
check_nothing_queued
stop_imqd
finish

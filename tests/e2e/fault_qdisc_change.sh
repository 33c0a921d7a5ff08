#!/usr/bin/env bash
# imq0's root qdisc replaced under load (a UDP stream of 4 flows at 2000
# datagrams/s): tbf 4mbit -> pfifo -> htb 8mbit -> root deleted. The copies
# a replaced qdisc held are gone; imqd must still decide every packet
# (dropped_order / dropped_timeout), leave nothing held nor queued in the
# kernel, keep its counters consistent, and the rate must follow each qdisc.
. "$(dirname "$0")/lib.sh"
e2e_init fault_qdisc_change

PORT=9121
SIZE=1000
PPS=2000
STAGE=3        # seconds per qdisc
DROP_TIMEOUT=2 # s

topo_create
start_imqd 0 "drop-timeout = ${DROP_TIMEOUT}s"
queue_rule "$PORT"
q() { nsx "$GW" tc "$@" || fail "tc $* failed"; }
q qdisc replace dev imq0 root tbf rate 4mbit burst 8k latency 100ms

stamp_recv "$DST" "$PORT" $((4 * STAGE + 6)) rx 2
udp_stream "$SRC" "$DST_IP" "$PORT" $((PPS * 4 * STAGE)) "$SIZE" "$PPS" $((4 * STAGE)) 4
t0=$(now)
sleep "$STAGE"
t1=$(now)
q qdisc replace dev imq0 root pfifo limit 1000
sleep "$STAGE"
t2=$(now)
q qdisc replace dev imq0 root handle 1: htb default 10
q class add dev imq0 parent 1: classid 1:10 htb rate 8mbit burst 16k
sleep "$STAGE"
t3=$(now)
q qdisc del dev imq0 root
wait_pid "$SEND_PID" $((STAGE + 5))
t4=$(now)
stamp_wait rx 10
log "default qdisc after delete: $(nsx "$GW" tc qdisc show dev imq0 | head -1)"

# Rates, skipping 0.7 s after each change for the old backlog to drain.
r_tbf=$(stamp_pps rx "$(calc %.6f "$t0 + 0.7")" "$t1")
r_pfifo=$(stamp_pps rx "$(calc %.6f "$t1 + 0.7")" "$t2")
r_htb=$(stamp_pps rx "$(calc %.6f "$t2 + 0.7")" "$t3")
r_none=$(stamp_pps rx "$(calc %.6f "$t3 + 0.7")" "$(calc %.6f "$t4 - 0.2")")
log "rates (datagrams/s): tbf $r_tbf, pfifo $r_pfifo, htb $r_htb, no root qdisc $r_none"
assert_within "tbf 4mbit rate (datagrams/s)" 480 15 "$r_tbf"
assert_within "pfifo rate, unshaped (datagrams/s)" "$PPS" 10 "$r_pfifo"
assert_within "htb 8mbit rate (datagrams/s)" 960 15 "$r_htb"
assert_within "rate with the root qdisc deleted (datagrams/s)" "$PPS" 10 "$r_none"

# Whatever the replaced qdiscs took with them is decided by drop-timeout at the latest.
wait_until $((DROP_TIMEOUT + 1)) 'imqd_counters; [ "$S_held" = 0 ]'
check_counters
imqd_counters
assert_balance "after the qdisc changes"
check_nothing_queued
assert_eq "imqd failopen" 0 "$S_failopen"
assert_eq "stray copies" 0 "${S_stray:-0}"
sent=$(stream_sent "$PORT")
got=$(json_field "$T_TMP/rx.json" received)
assert_eq "datagrams at dst = imqd accepted + failopen" "$((S_accepted + S_failopen))" "$got"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/rx.json" duplicates)"
assert_eq "datagrams out of order" 0 "$(json_field "$T_TMP/rx.json" out_of_order)"
result "test=fault_qdisc_change sent=$sent received=$got lost=$((sent - got))" \
	"dropped_enqueue=$S_dropped_enqueue dropped_order=$S_dropped_order dropped_timeout=$S_dropped_timeout" \
	"pps_tbf=$r_tbf pps_pfifo=$r_pfifo pps_htb=$r_htb pps_none=$r_none"
stop_imqd
finish

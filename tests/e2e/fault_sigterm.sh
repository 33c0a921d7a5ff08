#!/usr/bin/env bash
# SIGTERM under load: a UDP stream at 4 Mbit/s into a tbf 1mbit with a large
# limit, so hundreds of packets are held when the signal arrives and more keep
# coming. imqd accepts every held packet before it exits (the receiver gets
# all that was sent less what the qdisc dropped: nothing here), in order and
# ahead of the packets the kernel then passes itself, exits 0 within 5 s, and
# leaves nothing in the kernel queue; the stream goes on unshaped after it.
. "$(dirname "$0")/lib.sh"
e2e_init fault_sigterm

PORT=9171
SIZE=500
PPS=1000
SECS=4

topo_create
start_imqd 0 "drop-timeout = 60s"
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 1mbit burst 4k limit 4m ||
	fail "tc tbf on imq0 failed"
queue_rule "$PORT"

stamp_recv "$DST" "$PORT" $((SECS + 8)) rx 2
udp_stream "$SRC" "$DST_IP" "$PORT" $((PPS * SECS)) "$SIZE" "$PPS" "$SECS" 4
sleep 1.5
imqd_counters
show_counters
held=$S_held
assert_gt "packets held when SIGTERM is sent" 300 "$held"
drops=$S_dropped
t_term=$(now)
stop_imqd
log "imqd exited $(calc %.2f "$(now) - $t_term") s after SIGTERM, holding $held"
wait_pid "$SEND_PID" $((SECS + 5))
stamp_wait rx 15
sent=$(stream_sent "$PORT")
got=$(json_field "$T_TMP/rx.json" unique)
after=$(stamp_count rx "$(calc %.6f "$t_term + 1")" "$(now)")
assert_eq "datagrams at dst = sent - qdisc drops" "$((sent - drops))" "$got"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/rx.json" duplicates)"
assert_gt "datagrams arriving after imqd exited (unshaped)" 0 "$after"
assert_eq "packets in the kernel queue after exit" 0 "$(queued_now)"
assert_eq "queue 0 unbound after exit" "" "$(nfq_col 0 1)"
assert_log "shutdown logged" 'stopping'
# Held packets go out before the kernel passes new ones itself: only what sat
# unread in the kernel queue at that moment (a few at 1000/s) can fall behind.
ooo=$(json_field "$T_TMP/rx.json" out_of_order)
assert_le "datagrams out of order at dst (the $held held ones went first)" 20 "$ooo"
result "test=fault_sigterm sent=$sent received=$got lost=$((sent - got)) held_at_sigterm=$held" \
	"out_of_order=$ooo"
finish

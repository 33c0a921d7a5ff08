#!/usr/bin/env bash
# imqd killed with SIGKILL while it shapes a UDP stream (tbf 4mbit, stream at
# 16 Mbit/s, rule with --queue-bypass): within 1 s the stream flows again at
# its unshaped rate and ping answers; a restarted imqd (its up hook puts the
# tbf back) limits the stream to the shaped rate again.
. "$(dirname "$0")/lib.sh"
e2e_init fault_sigkill

PORT=9101
SIZE=1000     # UDP payload: 1028-byte IP packets, 1042 bytes as the qdisc counts them
PPS=2000      # offered: ~16.5 Mbit/s
SHAPED=480    # tbf 4mbit: 4e6 / 8 / 1042 datagrams per second
SECS=13

topo_create
hook=$(up_hook up-tbf tbf rate 4mbit burst 8k latency 100ms)
start_imqd 0 "up = $hook"
wait_until 3 '[ "$(qdisc_kind)" = tbf ]' || fail "up hook did not put a tbf on imq0"
# Everything from src is queued, ping included, as with IMQ on an interface.
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"

stamp_recv "$DST" "$PORT" $((SECS + 3)) rx 2
t_start=$(now)
udp_stream "$SRC" "$DST_IP" "$PORT" $((PPS * SECS)) "$SIZE" "$PPS" "$SECS"

sleep 3
t_kill=$(now)
kill_imqd KILL
log "imqd killed with SIGKILL (status $IMQD_RC)"
# Ping until one answers: the time it took is how long traffic was cut.
ping_answered "$t_kill" 30 0.5
ping_ms=$PING_MS
sleep 3
t_restart=$(now)
start_imqd 0 "up = $hook"
wait_until 3 '[ "$(hook_runs up-tbf)" -ge 2 ]' || mismatch "up hook did not run after the restart"
sleep 4
t_end=$(now)
stamp_wait rx 20
wait_pid "$SEND_PID" 5

shaped_before=$(stamp_pps rx "$(calc %.6f "$t_start + 1")" "$t_kill")
gap=$(stamp_gap rx "$t_kill" "$(calc %.6f "$t_kill + 2")")
unshaped=$(stamp_pps rx "$(calc %.6f "$t_kill + 1")" "$t_restart")
shaped_after=$(stamp_pps rx "$(calc %.6f "$t_restart + 1.5")" "$t_end")
log "rates (datagrams/s): shaped $shaped_before, after SIGKILL $unshaped, after restart $shaped_after;" \
	"longest gap after the kill ${gap}s, ping answered after ${ping_ms:-never} ms"

assert_within "shaped rate before SIGKILL (datagrams/s)" "$SHAPED" 15 "$shaped_before"
assert_within "rate 1-3 s after SIGKILL, unshaped (datagrams/s)" "$PPS" 10 "$unshaped"
assert_le "longest gap in arrivals after SIGKILL (s)" 1 "$gap"
if [ -z "$ping_ms" ]; then mismatch "no ping answer after SIGKILL"; else assert_le "ping answered after SIGKILL (ms)" 1000 "$ping_ms"; fi
assert_within "shaped rate after restart (datagrams/s)" "$SHAPED" 15 "$shaped_after"
assert_eq "qdisc on imq0 after restart (reapplied by the up hook)" tbf "$(qdisc_kind)"

check_counters
assert_gt "restarted imqd accepted packets" 0 "$S_accepted"
assert_gt "restarted imqd dropped at enqueue (it shapes)" 0 "$S_dropped_enqueue"
check_nothing_queued
stop_imqd
sent=$(stream_sent "$PORT")
got=$(json_field "$T_TMP/rx.json" received)
result "test=fault_sigkill sent=$sent received=$got lost=$((sent - got)) ping_ms=$ping_ms" \
	"pps_shaped=$shaped_before pps_killed=$unshaped pps_restarted=$shaped_after gap_s=$gap"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/rx.json" duplicates)"
finish

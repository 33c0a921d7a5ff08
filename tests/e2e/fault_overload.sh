#!/usr/bin/env bash
# Overload: a UDP stream at 5x the tbf rate for 10 s, into a tbf whose byte
# limit holds more copies than the queue may (queue-maxlen 1024,
# on-overflow = drop), so queue-maxlen is the bound that is hit. imqd keeps
# it itself: it holds at most queue-maxlen packets and drops the rest,
# counted as dropped_overflow, while the kernel's queue never fills
# (nfnetlink_queue column 6, queue_dropped, stays 0: nothing is decided
# where no counter sees it). Sampled every 0.5 s: imqd's VmRSS stays below
# a bound derived from the config; the shaped rate holds; once the load
# stops, held reaches 0 within drop-timeout + 1 s and the counters add up.
. "$(dirname "$0")/lib.sh"
e2e_init fault_overload

PORT=9131
SIZE=1000
SHAPED=480       # tbf 4mbit: 4e6 / 8 / 1042 datagrams per second
PPS=$((SHAPED * 5))
SECS=10
MAXLEN=1024
MTU=1500
DROP_TIMEOUT=3   # s; the tbf backlog the queue allows is MAXLEN / SHAPED = 2.1 s
# imqd keeps no packet data of its own: per held packet a table entry, a flow
# and hash buckets (< 256 bytes); per receive batch 64 messages of mtu + 512
# bytes. Allow 8 MB for code, libraries and the event loop besides.
RSS_BOUND_KB=$((8192 + (MAXLEN * 256 + 64 * (MTU + 512)) / 1024))

topo_create
start_imqd 0 "queue-maxlen = $MAXLEN
on-overflow = drop
drop-timeout = ${DROP_TIMEOUT}s
mtu = $MTU"
queue_rule "$PORT"
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 4mbit burst 8k limit 4m ||
	fail "tc tbf on imq0 failed"
rss0=$(rss_kb "$IMQD_PID")
log "imqd VmRSS at start: $rss0 kB; bound $RSS_BOUND_KB kB"

stamp_recv "$DST" "$PORT" $((SECS + 10)) rx 2
udp_stream "$SRC" "$DST_IP" "$PORT" $((PPS * SECS)) "$SIZE" "$PPS" "$SECS"
t0=$(now)
max_rss=0 max_q=0 samples=0
while kill -0 "$SEND_PID" 2>/dev/null; do
	rss=$(rss_kb "$IMQD_PID")
	[ -n "$rss" ] || imqd_alive
	qt=$(nfq_col 0 3)
	((rss > max_rss)) && max_rss=$rss
	((${qt:-0} > max_q)) && max_q=${qt:-0}
	samples=$((samples + 1))
	sleep 0.5
done
t_stop=$(now)
wait_pid "$SEND_PID" 1
imqd_counters
log "at the end of the load: held=$S_held peak_held=$S_peak_held kernel queue=$(nfq_col 0 3)" \
	"queue_dropped=$(nfq_col 0 6) user_dropped=$(nfq_col 0 7)"
held_zero=
for i in $(seq $(((DROP_TIMEOUT + 2) * 10))); do
	imqd_counters
	if [ "$S_held" = 0 ]; then held_zero=$(now); break; fi
	sleep 0.1
done
stamp_wait rx 15

log "$samples samples: max VmRSS $max_rss kB (bound $RSS_BOUND_KB), max kernel queue $max_q (queue-maxlen $MAXLEN)"
if imqd_is_asan; then
	log "imqd is built with AddressSanitizer: its shadow memory and quarantine put VmRSS out of reach of the bound"
else
	assert_le "imqd VmRSS under load (kB)" "$RSS_BOUND_KB" "$max_rss"
fi
assert_le "packets imqd held at once (queue-maxlen $MAXLEN)" "$MAXLEN" "$S_peak_held"
assert_gt "kernel queue filled up (the bound was reached)" $((MAXLEN / 2)) "$max_q"
if [ -n "$held_zero" ]; then
	assert_le "held reached 0 after the load stopped (s)" $((DROP_TIMEOUT + 1)) \
		"$(calc %.2f "$held_zero - $t_stop")"
else
	mismatch "held still $S_held $((DROP_TIMEOUT + 2)) s after the load stopped"
fi
shaped=$(stamp_pps rx "$(calc %.6f "$t0 + 3")" "$t_stop")
assert_within "accepted rate under overload (datagrams/s)" "$SHAPED" 15 "$shaped"
check_counters
check_nothing_queued
assert_eq "imqd failopen" 0 "$S_failopen"
assert_gt "imqd dropped_overflow (on-overflow = drop)" 0 "$S_dropped_overflow"
assert_eq "kernel queue_dropped (the kernel's queue never filled)" 0 "$(nfq_col 0 6)"
assert_eq "packets the kernel decided without imqd" 0 "$((S_kernel_passed + S_kernel_dropped))"
sent=$(stream_sent "$PORT")
got=$(json_field "$T_TMP/rx.json" received)
assert_eq "datagrams at dst = imqd accepted" "$S_accepted" "$got"
assert_eq "imqd received = sent" "$sent" "$S_received"
result "test=fault_overload sent=$sent received=$got lost=$((sent - got)) dropped_overflow=$S_dropped_overflow" \
	"dropped_enqueue=$S_dropped_enqueue dropped_timeout=$S_dropped_timeout max_rss_kb=$max_rss" \
	"rss_bound_kb=$RSS_BOUND_KB max_queue=$max_q pps_shaped=$shaped"
stop_imqd
finish

#!/usr/bin/env bash
# Control-socket abuse while imqd shapes a UDP stream (tbf 4mbit, stream at
# 4x that): garbage bytes, unknown and malformed requests, a request cut
# short, 100 KB requests (with and without a newline), 50 clients that
# connect and send nothing, 5 that send one byte every 0.2 s and never end
# their line, then 300 connect-and-close in a row. imqd answers each bad
# request with an error and closes, refuses clients beyond its limit, cuts
# off the silent and the slow ones within its client timeout (2 s) plus a
# margin, keeps shaping at the tbf rate throughout, leaks no descriptor, and
# answers a normal `imqctl stats` within 1 s afterwards.
. "$(dirname "$0")/lib.sh"
e2e_init fault_ctl_abuse

PORT=9191
SIZE=1000
PPS=2000
SHAPED=480
SECS=7

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 4mbit burst 8k latency 100ms ||
	fail "tc tbf on imq0 failed"
queue_rule "$PORT"
fds0=$(ls "/proc/$IMQD_PID/fd" | wc -l)

stamp_recv "$DST" "$PORT" $((SECS + 4)) rx 2
udp_stream "$SRC" "$DST_IP" "$PORT" $((PPS * SECS)) "$SIZE" "$PPS" "$SECS"
sleep 2
t_abuse=$(now)
timeout 60 "$PYTHON" "$TOOLS/ctlclients.py" abuse "$IMQD_SOCK" >"$T_TMP/abuse.json" || fail "abuse client failed"
t_done=$(now)
log "abuse took $(calc %.1f "$t_done - $t_abuse") s: $(cat "$T_TMP/abuse.json")"
imqd_alive
t0=$(now)
"$IMQCTL" -s "$IMQD_SOCK" stats >"$T_TMP/stats.txt" 2>&1 || mismatch "imqctl stats failed after the abuse"
assert_le "imqctl stats answered after the abuse (s)" 1 "$(calc %.2f "$(now) - $t0")"
wait_pid "$SEND_PID" $((SECS + 5))
stamp_wait rx 10

# a KEY [INDEX]: a field of the abuse client's result (INDEX into a list: 0 answer, 2 closed).
a() { json_field "$T_TMP/abuse.json" "$@"; }
for c in garbage nul_bytes unknown two_args reload_arg bad_device oversized_newline oversized_no_newline unterminated; do
	ans=$(a "$c" 0)
	closed=$(a "$c" 2)
	if [[ $ans == error* ]] && [ "$closed" = True ]; then
		pass_msg "bad request $c: answered '${ans%%$'\n'*}' and closed"
	else
		mismatch "bad request $c: expected an error line and EOF, got '${ans:0:60}' (closed: $closed)"
	fi
done
assert_eq "silent clients refused or cut off (of 50)" 50 "$(($(a silent_refused) + $(a silent_cut)))"
assert_le "silent clients cut off after (s)" 3 "$(a silent_cut_max_s)"
assert_eq "slow clients cut off (of 5)" 5 "$(a slow_cut)"
assert_eq "slow clients refused (they came first)" 0 "$(a slow_refused)"
assert_le "slow clients cut off after (s)" 3 "$(a slow_cut_max_s)"
assert_eq "clients still open after 8 s" 0 "$(a still_open)"
assert_eq "connect-and-close flood: connections made" 300 "$(a flood_connects)"

shaped=$(stamp_pps rx "$t_abuse" "$t_done")
assert_within "rate during the abuse (datagrams/s)" "$SHAPED" 15 "$shaped"
wait_until 2 '[ "$(ls "/proc/$IMQD_PID/fd" | wc -l)" = "$fds0" ]'
fds1=$(ls "/proc/$IMQD_PID/fd" | wc -l)
assert_eq "imqd's open descriptors after the abuse (before: $fds0)" "$fds0" "$fds1"
check_counters
check_nothing_queued
sent=$(stream_sent "$PORT")
got=$(json_field "$T_TMP/rx.json" received)
result "test=fault_ctl_abuse sent=$sent received=$got lost=$((sent - got)) pps_during_abuse=$shaped" \
	"silent_refused=$(a silent_refused) silent_cut=$(a silent_cut) cut_after_s=$(a silent_cut_max_s)"
stop_imqd
finish

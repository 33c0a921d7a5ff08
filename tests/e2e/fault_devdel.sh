#!/usr/bin/env bash
# imq0 taken away under load (a UDP stream at 4x the tbf rate):
#  A. `ip link del imq0`: packets fail open (failopen device_down, logged),
#     those the tbf held first, in order; imqd recreates imq0 within ~3 s,
#     its up hook reruns and puts the tbf back, and the stream is shaped
#     again.
#  B. `ip link set imq0 down`: packets fail open the same way, imq0 is up
#     again within ~3 s and the stream is shaped again.
#  C. on-error = drop, `ip link del imq0`: those packets are dropped instead
#     (dropped_error), none is passed unshaped, and the log says so.
#  D. `ip link set imq0 txqueuelen 0` (every copy would be dropped): imqd
#     sets it back within ~1 s, logs it, and the stream goes on shaped.
#     Then `ip link set imq0 mtu 1400`, seconds later: set back and logged
#     as well (the two lines are rate-limited apart).
. "$(dirname "$0")/lib.sh"
e2e_init fault_devdel

SIZE=1000
PPS=2000
SHAPED=480     # tbf 4mbit: 4e6 / 8 / 1042 datagrams per second
SECS=7

topo_create
hook=$(up_hook up-tbf tbf rate 4mbit burst 8k latency 100ms)

# phase NAME PORT FAULT_CMD...: stream for SECS s, FAULT at 2 s; sets
# T_FAULT, T_BACK (imq0 up again, empty if not within 3 s) and T_END.
phase() {
	local name=$1 port=$2
	shift 2
	queue_rule "$port"
	stamp_recv "$DST" "$port" $((SECS + 3)) "$name" 2
	udp_stream "$SRC" "$DST_IP" "$port" $((PPS * SECS)) "$SIZE" "$PPS" "$SECS"
	sleep 2
	T_FAULT=$(now)
	nsx "$GW" "$@" || fail "$name: '$*' failed"
	log "$name: '$*' done"
	T_BACK=
	sleep 0.05
	if wait_until 3 dev_up; then T_BACK=$(now); fi
	wait_pid "$SEND_PID" $((SECS + 5))
	T_END=$(now)
	stamp_wait "$name" 10
	imqd_counters
	show_counters
}

# A. device deleted.
start_imqd 0 "up = $hook"
wait_until 3 '[ "$(qdisc_kind)" = tbf ]' || fail "up hook did not put a tbf on imq0"
phase del 9111 ip link del imq0
if [ -n "$T_BACK" ]; then
	pass_msg "A: imq0 recreated and up $(calc %.2f "$T_BACK - $T_FAULT") s after deletion"
	shaped=$(stamp_pps del "$(calc %.6f "$T_BACK + 1")" "$T_END")
	assert_within "A: rate after recreation (datagrams/s)" "$SHAPED" 15 "$shaped"
else
	mismatch "A: imq0 not back up within 3 s of 'ip link del imq0'"
fi
assert_eq "A: up hook runs (start + recreation)" 2 "$(hook_runs up-tbf)"
assert_eq "A: qdisc on recreated imq0" tbf "$(qdisc_kind)"
assert_gt "A: failopen device_down" 0 "${S_failopen_device_down:-0}"
assert_eq "A: dropped_error (on-error = accept)" 0 "$S_dropped_error"
assert_log "A: device loss logged" 'imq0: device is gone'
assert_log "A: unshaped packets logged" 'passed unshaped: device_down'
assert_log "A: recreation logged" 'imq0: recreated'
assert_eq "A: datagrams out of order at dst (the held ones go before newer ones)" 0 \
	"$(json_field "$T_TMP/del.json" out_of_order)"
# The deletion is told by the warning above, not by an error about the fd it detached.
if grep -q 'reading copies' "$IMQD_LOG"; then
	mismatch "A: an error about reading copies was logged: $(grep -m 1 'reading copies' "$IMQD_LOG")"
else
	pass_msg "A: no error about reading copies from the deleted device"
fi
check_counters
check_nothing_queued
a_sent=$(stream_sent 9111) a_got=$(json_field "$T_TMP/del.json" received) a_fo=${S_failopen_device_down:-0}

# B. device set down.
fo_before=${S_failopen_device_down:-0}
runs_before=$(hook_runs up-tbf)
phase down 9112 ip link set imq0 down
if [ -n "$T_BACK" ]; then
	pass_msg "B: imq0 up again $(calc %.2f "$T_BACK - $T_FAULT") s after 'ip link set imq0 down'"
	shaped=$(stamp_pps down "$(calc %.6f "$T_BACK + 1")" "$T_END")
	assert_within "B: rate once imq0 is up again (datagrams/s)" "$SHAPED" 15 "$shaped"
else
	mismatch "B: imq0 not up again within 3 s of 'ip link set imq0 down'"
	unshaped=$(stamp_pps down "$(calc %.6f "$T_FAULT + 1")" "$T_END")
	log "B: imq0 stayed down; rate since then $unshaped datagrams/s (offered $PPS): passing unshaped"
	imqd_counters
	log "B: imqd reports state '$S_state'"
fi
assert_gt "B: failopen device_down added" "$fo_before" "${S_failopen_device_down:-0}"
assert_log "B: device down logged" 'imq0: device is down'
assert_eq "B: datagrams out of order at dst" 0 "$(json_field "$T_TMP/down.json" out_of_order)"
assert_eq "B: qdisc on imq0 afterwards" tbf "$(qdisc_kind)"
log "B: up hook ran $(( $(hook_runs up-tbf) - runs_before )) more time(s)"
check_counters
check_nothing_queued
b_sent=$(stream_sent 9112) b_got=$(json_field "$T_TMP/down.json" received) b_fo=$((S_failopen_device_down - fo_before))
stop_imqd

# C. on-error = drop.
start_imqd 0 "up = $hook
on-error = drop"
wait_until 3 '[ "$(qdisc_kind)" = tbf ]' || fail "up hook did not put a tbf on imq0"
phase drop 9113 ip link del imq0
[ -n "$T_BACK" ] || mismatch "C: imq0 not back up within 3 s of 'ip link del imq0'"
assert_gt "C: dropped_error (on-error = drop)" 0 "$S_dropped_error"
# Held packets too: their copies went with the qdisc, none may pass unshaped.
assert_eq "C: failopen, all reasons (on-error = drop)" 0 "$S_failopen"
assert_log "C: dropped packets logged" 'dropped, not passed unshaped: device_down'
assert_log "C: device loss logged as dropping" 'imq0: device is gone: dropping packets'
check_counters
check_nothing_queued
c_sent=$(stream_sent 9113) c_got=$(json_field "$T_TMP/drop.json" received) c_derr=$S_dropped_error
assert_eq "C: datagrams at dst = imqd accepted + failopen" "$((S_accepted + S_failopen))" "$c_got"
stop_imqd

# D. txqueuelen 0 by hand.
start_imqd 0 "up = $hook"
wait_until 3 '[ "$(qdisc_kind)" = tbf ]' || fail "up hook did not put a tbf on imq0"
phase txq 9114 ip link set imq0 txqueuelen 0
txq() { nsx "$GW" cat /sys/class/net/imq0/tx_queue_len; }
assert_eq "D: imq0 txqueuelen after the health check" 1000 "$(txq)"
assert_log "D: the change by hand logged" 'imq0: txqueuelen was changed by hand to 0; setting it back to 1000'
d_got=$(json_field "$T_TMP/txq.json" received)
# Shaped throughout, but for at most ~1 s of copies dropped: a black hole would stop at ~2 s.
assert_ge "D: datagrams at dst (shaped rate over $((SECS - 2)) s)" $((SHAPED * (SECS - 2))) "$d_got"
# An MTU changed by hand right after: set back and logged too, not hidden by the line above.
mtu() { nsx "$GW" cat /sys/class/net/imq0/mtu; }
nsx "$GW" ip link set imq0 mtu 1400 || fail "ip link set imq0 mtu 1400 failed"
wait_until 3 '[ "$(mtu)" = 65535 ]' || mismatch "D: imq0 MTU not set back to 65535 within 3 s: $(mtu)"
assert_log "D: the MTU change by hand logged" 'imq0: mtu was changed by hand to 1400; setting it back to 65535'
check_counters
check_nothing_queued
stop_imqd

result "test=fault_devdel del_sent=$a_sent del_received=$a_got del_failopen=$a_fo" \
	"down_sent=$b_sent down_received=$b_got down_failopen=$b_fo" \
	"drop_sent=$c_sent drop_received=$c_got drop_dropped_error=$c_derr" \
	"txq_sent=$(stream_sent 9114) txq_received=$d_got"
finish

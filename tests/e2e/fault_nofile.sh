#!/usr/bin/env bash
# imqd out of file descriptors: started with a limit of 32, then idle
# control-socket clients take every free descriptor while a UDP stream at 4x
# the tbf rate goes through imq0. imqd cannot open the sockets its health
# check asks the kernel with; not knowing must not take imq0 down: imq0 and
# its tbf stay, the stream stays shaped, nothing fails open, the log says
# why. Once the clients are gone, imqctl works again.
. "$(dirname "$0")/lib.sh"
e2e_init fault_nofile

SIZE=1000
PPS=2000
SHAPED=480 # tbf 4mbit: 4e6 / 8 / 1042 datagrams per second
SECS=6
PORT=9120

topo_create
hook=$(up_hook up-tbf tbf rate 4mbit burst 8k latency 100ms)
start_imqd 0 "up = $hook"
wait_until 3 '[ "$(qdisc_kind)" = tbf ]' || fail "up hook did not put a tbf on imq0"
ifindex=$(nsx "$GW" cat /sys/class/net/imq0/ifindex)
prlimit --pid "$IMQD_PID" --nofile=32:32 || fail "prlimit on imqd failed"
log "imqd has $(ls "/proc/$IMQD_PID/fd" | wc -l) descriptors open, limit 32"

# Idle clients, in the background, until the file says stop.
"$PYTHON" "$TOOLS/ctlclients.py" hog "$IMQD_SOCK" "$T_TMP/stop" >"$T_TMP/hog.out" 2>&1 &
HOG=$!
T_PIDS+=("$HOG")
wait_until 5 "grep -q connected '$T_TMP/hog.out'" || fail "the idle clients did not connect"
sleep 0.5
log "idle clients: $(cat "$T_TMP/hog.out"); imqd has $(ls "/proc/$IMQD_PID/fd" | wc -l) descriptors open"
imqd_counters
fo_before=$S_failopen

queue_rule "$PORT"
stamp_recv "$DST" "$PORT" $((SECS + 3)) nofile 2
udp_stream "$SRC" "$DST_IP" "$PORT" $((PPS * SECS)) "$SIZE" "$PPS" "$SECS"
wait_pid "$SEND_PID" $((SECS + 5))
stamp_wait nofile 10
got=$(json_field "$T_TMP/nofile.json" received)

assert_log "health check without descriptors logged, with why" 'imq0: cannot check the device: Too many open files'
assert_eq "imq0 still the device imqd made (ifindex)" "$ifindex" "$(nsx "$GW" cat /sys/class/net/imq0/ifindex 2>/dev/null)"
assert_eq "qdisc on imq0" tbf "$(qdisc_kind)"
assert_within "datagrams at dst (shaped: $SHAPED/s for $SECS s)" $((SHAPED * SECS)) 15 "$got"

touch "$T_TMP/stop"
wait_pid "$HOG" 5
sleep 0.5
imqd_alive
imqd_counters
assert_eq "failopen during the shortage" "$fo_before" "$S_failopen"
check_counters
check_nothing_queued
stop_imqd
result "test=fault_nofile sent=$(stream_sent "$PORT") received=$got"
finish

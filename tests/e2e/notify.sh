#!/usr/bin/env bash
# sd_notify: imqd started with NOTIFY_SOCKET (a datagram socket this test's
# recorder, tests/tools/notifyrec.py, listens on) and WATCHDOG_USEC=400000 sends READY=1 once imq0
# and its queue are up, RELOADING=1 then READY=1 around a SIGHUP reload,
# STOPPING=1 on SIGTERM, in that order, and WATCHDOG=1 about every 200 ms.
# With WATCHDOG_PID naming another process it sends no WATCHDOG=1; without
# NOTIFY_SOCKET it starts and stops normally.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init notify

CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
NSOCK=$T_TMP/notify.sock

# analyse RECORDS: key=value lines about the recorded datagrams.
analyse() { "$PYTHON" "$TOOLS/notifyrec.py" analyse "$1"; }

# run_helper NAME [ENV...]: start imqd in $GW under the helper (with ENV),
# which records its notifications in $T_TMP/NAME.rec; waits until imqd is ready.
run_helper() {
	local name=$1
	shift
	rm -f "$NSOCK" "$T_TMP/$name.pid"
	IMQD_PIDFILE=$T_TMP/$name.pid start_imqd_conf "$CONF" env -u WATCHDOG_PID -u WATCHDOG_USEC "$@" \
		"$PYTHON" "$TOOLS/notifyrec.py" record "$NSOCK" "$T_TMP/$name.rec" "$T_TMP/$name.pid" --
}

ns_new g GW
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
EOF

# 1. The whole life: start, SIGHUP, SIGTERM.
run_helper main WATCHDOG_USEC=400000
sleep 1.5
kill -HUP "$IMQD_PID"
wait_log "$IMQD_LOG" 'configuration reloaded' 1 5 || mismatch "no 'configuration reloaded' in the log within 5 s of SIGHUP"
sleep 1
stop_imqd
log "datagrams: $(grep -c '"msg"' "$T_TMP/main.rec") recorded"
eval "$(analyse "$T_TMP/main.rec")" || fail "cannot analyse $T_TMP/main.rec"
log "events $events; $watchdogs WATCHDOG=1, gaps mean $wd_mean_ms ms (min $wd_min_ms, max $wd_max_ms); $statuses STATUS"
assert_eq "READY/RELOADING/STOPPING sequence" "READY,RELOADING,READY,STOPPING" "$events"
assert_ge "WATCHDOG=1 pings in about 2.5 s" 6 "$watchdogs"
if num_test "$wd_mean_ms" '>=' 100 && num_test "$wd_mean_ms" '<=' 300; then
	pass_msg "mean gap between WATCHDOG=1 pings: $wd_mean_ms ms (100 to 300)"
else
	mismatch "mean gap between WATCHDOG=1 pings: expected 100 to 300 ms, measured $wd_mean_ms"
fi
assert_gt "STATUS= messages" 0 "$statuses"
assert_eq "imq0 existed when READY=1 arrived" True "$ready_imq0"
assert_eq "queues bound when READY=1 arrived" 0 "$ready_queues"
assert_eq "imqd exit status (main run)" 0 "$exit"

# 2. WATCHDOG_PID of another process: no WATCHDOG=1, still READY and STOPPING.
run_helper otherpid WATCHDOG_USEC=400000 WATCHDOG_PID=1
sleep 1
stop_imqd
eval "$(analyse "$T_TMP/otherpid.rec")" || fail "cannot analyse $T_TMP/otherpid.rec"
log "WATCHDOG_PID=1: events $events; $watchdogs WATCHDOG=1"
assert_eq "WATCHDOG=1 pings with WATCHDOG_PID=1" 0 "$watchdogs"
assert_eq "READY/STOPPING sequence with WATCHDOG_PID=1" "READY,STOPPING" "$events"
assert_eq "imqd exit status (WATCHDOG_PID=1)" 0 "$exit"

# 3. No NOTIFY_SOCKET at all: a normal start and stop.
start_imqd_conf "$CONF" env -u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID
sleep 0.5
imqd_alive
stop_imqd
finish

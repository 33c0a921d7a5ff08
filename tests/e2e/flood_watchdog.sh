#!/usr/bin/env bash
# A flood beyond imqd's intake with the defaults (on-overflow = accept,
# on-flood = drop): imqd switches the queue's kernel fail-open off, so what
# it cannot take is dropped and not passed unshaped, and its watchdog makes
# sure that never black-holes the queue.
#  1. A 64-byte UDP flood as fast as src sends (8 flows) and pings, all in
#     queue 0, into a tbf of 10mbit. Once imqd reports the queue
#     flood_dropping, it is stopped (SIGSTOP) for 3 s: pings sent meanwhile
#     get through once the watchdog has switched the fail-open back on
#     (0.5 s), at least a third of them where none would; the watchdog logs
#     it, imqd counts it (watchdog 1) and, continued, switches the fail-open
#     off again. The ids the kernel dropped last are counted within 4 s of
#     the flood's end though no packet follows them, and packets sent then
#     are counted without a new flood logged or begun for them.
#     At the end the rule's packet counter equals received +
#     kernel_passed + kernel_dropped, kernel_dropped is the kernel's own
#     count (nfnetlink_queue user_dropped) to within 0.5%, counters balance
#     and nothing is left queued.
#  2. The same flood, and the watchdog killed: within 1.5 s imqd switches
#     the fail-open back on itself (flood_dropping 0 while the flood goes
#     on) and logs it, as nothing would guard the queue should imqd stall;
#     it logs that the watchdog is gone and reaps it.
#  3. A flood that ends while imqd is stopped, then a reload that moves its
#     queue to imq1 before imqd read past the last ids the kernel skipped:
#     they are counted when the queue is released (the rule's counter
#     equals received + kernel_passed + kernel_dropped of both devices).
#  4. The same flood under a new imqd, killed (SIGKILL) while the fail-open
#     is off: the watchdog exits with it, the queue is unbound (the rule's
#     --queue-bypass lets packets through) and a ping answers within 1 s.
. "$(dirname "$0")/lib.sh"
e2e_init flood_watchdog 170

[ -n "${UDPFLOOD:-}" ] && [ -x "$UDPFLOOD" ] || fail "UDPFLOOD=${UDPFLOOD:-} is not an executable file (set by CMake)"
PORT=9620
PINGS=300 # 3 s at 100 a second

topo_create
nsx "$DST" iptables -A INPUT -p udp --dport "$PORT" -j DROP || fail "iptables in dst failed"
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 10mbit burst 20k limit 100k ||
	fail "tc tbf on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"

# flood SECS: the flood in the background (FLOOD_PID).
flood() {
	bg "$SRC" timeout $(($1 + 10)) "$UDPFLOOD" -d "$DST_IP" -p "$PORT" -s 64 -t "$1" -F 8 \
		>"$T_TMP/flood.json"
	FLOOD_PID=$BG_PID
}

# dropping NAME: wait up to 3 s for imqd to report queue 0 flood_dropping.
dropping() {
	local i
	for ((i = 0; i < 30; i++)); do
		imqd_counters
		[ "${S_q0_flood_dropping:-0}" = 1 ] && break
		sleep 0.1
	done
	assert_eq "$1: queue 0 flood_dropping (its kernel fail-open off)" 1 "${S_q0_flood_dropping:-x}"
}

# 1. SIGSTOP in the middle of the flood.
flood 8
dropping "1, flooded"
kill_imqd STOP
timeout 10 ip netns exec "$SRC" ping -n -i 0.01 -c "$PINGS" -W 1 "$DST_IP" >"$T_TMP/ping-stop.txt" 2>&1
kill_imqd CONT
ping_stats "$T_TMP/ping-stop.txt"
log "pings sent while imqd was stopped: $GOT of $PINGS answered"
assert_ge "1: pings answered while imqd was stopped (of $PINGS)" $((PINGS / 3)) "$GOT"
wait_log "$IMQD_LOG" "watchdog: queue 0: imqd has not run for [0-9]+ ms: the kernel's fail-open is back on" 1 2 ||
	mismatch "1: no watchdog line in the log"
wait_log "$IMQD_LOG" "imq0: queue 0: imqd did not tend the queue for 500 ms or more \\(stopped, stalled, or busy with a reload\\), and its watchdog" 1 2 ||
	mismatch "1: imqd did not log that the watchdog had switched the fail-open on"
wait_log "$IMQD_LOG" "imq0: queue 0: flooded: the kernel drops" 2 3 ||
	mismatch "1: imqd did not switch the fail-open off again once continued"
wait_pid "$FLOOD_PID" 20 || fail "1: the flood did not end"
wait_until 5 'imqd_counters && [ "${S_q0_flooded:-1}${S_q0_flood_dropping:-1}" = 00 ]' ||
	mismatch "1: queue 0 still flooded 5 s after the flood"
# The ids the kernel skipped last are counted though no packet follows them.
# all_counted: the rule's counter equals received + kernel_passed + kernel_dropped.
all_counted() {
	imqd_counters && [ "$(ipt_pkts "$GW" iptables mangle PREROUTING 1)" = \
		"$((S_received + S_kernel_passed + S_kernel_dropped))" ]
}
wait_until 4 all_counted ||
	mismatch "1: 4 s after the flood, with no packet since, the rule matched" \
		"$(ipt_pkts "$GW" iptables mangle PREROUTING 1), imqd counted" \
		"$((S_received + S_kernel_passed + S_kernel_dropped))"
# Packets sent then: counted, and no new flood begins with them. (By now the
# health check has counted the flood's last ids, so these find no gap; that a
# gap read after a flood starts no new one is unit_device_flood's to check.)
shut=$(log_count "$IMQD_LOG" "imq0: queue 0: flooded: the kernel drops")
timeout 10 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n 20 -s 64 -r 1000 -t 5 \
	>/dev/null || fail "1: udpseq send failed"
sleep 0.3
imqd_counters
assert_eq "1: queue 0 flood_dropping after the flood's last gap was read" 0 "${S_q0_flood_dropping:-x}"
assert_eq "1: 'flooded' lines after the flood's last gap was read" "$shut" \
	"$(log_count "$IMQD_LOG" "imq0: queue 0: flooded: the kernel drops")"
check_counters
rule=$(ipt_pkts "$GW" iptables mangle PREROUTING 1)
user_dropped=$(nfq_col 0 7)
log "1: rule matched $rule; imqd received $S_received, kernel passed $S_kernel_passed," \
	"dropped $S_kernel_dropped (the kernel's count $user_dropped); watchdog $S_watchdog"
assert_eq "1: watchdog (times it switched the fail-open on)" 1 "$S_watchdog"
assert_eq "1: rule counter = received + kernel_passed + kernel_dropped" "$rule" \
	"$((S_received + S_kernel_passed + S_kernel_dropped))"
assert_gt "1: kernel_passed (while imqd was stopped)" 0 "$S_kernel_passed"
assert_within "1: kernel_dropped against nfnetlink_queue user_dropped" "$user_dropped" 0.5 \
	"$S_kernel_dropped"
check_nothing_queued

# 2. The watchdog killed while the fail-open is off.
flood 4
dropping "2, flooded"
wd=$(pgrep -P "$IMQD_PID" -x imqd-watchdog) || fail "2: no imqd-watchdog process under imqd"
kill -KILL "$wd"
wait_log "$IMQD_LOG" "imq0: queue 0: the watchdog is not running: the kernel's fail-open is back on" 1 2 ||
	mismatch "2: imqd did not switch the fail-open back on when its watchdog was killed"
imqd_counters
assert_eq "2: queue 0 flood_dropping with the watchdog gone" 0 "${S_q0_flood_dropping:-x}"
kill -0 "$FLOOD_PID" 2>/dev/null && pass_msg "2: checked while the flood went on" ||
	mismatch "2: the flood ended before the check"
wait_log "$IMQD_LOG" "the watchdog is gone \(signal 9\)" 1 2 || mismatch "2: imqd did not log that its watchdog is gone"
wait_until 2 '! pgrep -P "$IMQD_PID" -x imqd-watchdog >/dev/null' ||
	mismatch "2: the killed watchdog was not reaped"
wait_pid "$FLOOD_PID" 20
stop_imqd

# 3. A flood that ends while imqd is stopped, and a reload that moves the
# queue to imq1 before imqd read past the ids the kernel skipped last.
MOVE_CONF=$T_TMP/move.conf
move_conf() {
	imqd_conf "$MOVE_CONF" "$T_TMP/move.sock" <<EOC
[imq0]
queues = $1

[imq1]
queues = $2
EOC
	imqd_conf_read "$MOVE_CONF"
}
move_conf 0 1
nsx "$GW" iptables -t mangle -Z PREROUTING
start_imqd_conf "$MOVE_CONF"
for d in imq0 imq1; do
	nsx "$GW" tc qdisc replace dev "$d" root tbf rate 10mbit burst 20k limit 100k ||
		fail "3: tc tbf on $d failed"
done
flood 4
sleep 2.5
kill_imqd STOP
wait_pid "$FLOOD_PID" 15
kill_imqd CONT
sleep 0.5
move_conf 2 0,1
"$IMQCTL" -s "$IMQD_SOCK" reload >/dev/null || mismatch "3: imqctl reload failed"
timeout 10 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n 20 -s 64 -r 1000 -t 5 \
	>/dev/null || fail "3: udpseq send failed"
sleep 1
rule=$(ipt_pkts "$GW" iptables mangle PREROUTING 1)
imqd_counters imq0
moved=$((S_received + S_kernel_passed + S_kernel_dropped))
imqd_counters imq1
log "3: rule matched $rule; imq0 counted $moved, imq1 $((S_received + S_kernel_passed + S_kernel_dropped))"
assert_eq "3: rule counter = received + kernel_passed + kernel_dropped of imq0 and imq1" "$rule" \
	"$((moved + S_received + S_kernel_passed + S_kernel_dropped))"
check_nothing_queued
stop_imqd

# 4. SIGKILL while the fail-open is off.
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 10mbit burst 20k limit 100k ||
	fail "4: tc tbf on imq0 failed"
flood 4
dropping "4, flooded"
wd=$(pgrep -P "$IMQD_PID" -x imqd-watchdog) || fail "4: no imqd-watchdog process under imqd"
t_kill=$(now)
kill_imqd KILL
# Exited (a zombie until its new parent reaps it, which is no matter).
wait_until 1 '[ ! -e "/proc/$wd" ] || grep -q "^State:.*Z" "/proc/$wd/status"' ||
	mismatch "4: imqd-watchdog still running 1 s after imqd was killed"
ping_answered "$t_kill" 20 0.2
ping_ms=$PING_MS
[ -z "$(nfq_col 0 1)" ] || mismatch "4: queue 0 still bound after imqd was killed"
if [ -z "$ping_ms" ]; then mismatch "4: no ping answer after SIGKILL"; else
	assert_le "4: ping answered after SIGKILL (ms)" 1000 "$ping_ms"
fi
wait_pid "$FLOOD_PID" 20
finish

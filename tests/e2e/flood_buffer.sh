#!/usr/bin/env bash
# A standing flood does not leave a full receive buffer in front of the
# qdisc: a 64-byte UDP flood as fast as src sends (8 flows, many times
# imqd's intake on two cores) and 200 pings a second, all on queue 0 of
# imq0 (htb 10mbit, pings in the priority class), on-overflow = drop. The
# kernel decides the excess itself; once it has done so for 100 ms imqd
# cuts the queue's receive buffer (logged), so the pings imqd shapes wait
# there milliseconds, not the quarter of a second and more a buffer sized
# for the whole queue holds at full flood: from a second after the cut
# (what came before it has been read by then), their p99 stays under 100 ms.
# During the flood `imqctl stats` shows the queue flooded; a second after
# it the buffer is whole again (logged) and the queue not flooded. Counters
# balance, nothing queued.
. "$(dirname "$0")/lib.sh"
e2e_init flood_buffer 120

[ -n "${UDPFLOOD:-}" ] && [ -x "$UDPFLOOD" ] || fail "UDPFLOOD=${UDPFLOOD:-} is not an executable file (set by CMake)"
PORT=9620
SECS=6
PINGS=500 # 2.5 s, from a second after the cut

topo_create
nsx "$DST" iptables -A INPUT -p udp --dport "$PORT" -j DROP || fail "iptables in dst failed"
start_imqd 0 "on-overflow = drop"
prio_htb imq0
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"

bg "$SRC" timeout $((SECS + 10)) "$UDPFLOOD" -d "$DST_IP" -p "$PORT" -s 64 -t "$SECS" -F 8 >"$T_TMP/tx.json"
tx=$BG_PID
# What came before the cut still waits behind the whole buffer until imqd
# has read it: a second for that, then the pings.
wait_log "$IMQD_LOG" "imq0: queue 0: more arrives than imqd takes in .*receive buffer cut" 1 3 ||
	mismatch "no log line saying the receive buffer was cut 3 s into the flood"
sleep 1
bg "$SRC" timeout $((SECS + 10)) ping -n -i 0.005 -c "$PINGS" -W 2 "$DST_IP" >"$T_TMP/ping.txt" 2>&1
pinger=$BG_PID
sleep 1
imqd_counters
assert_eq "queue 0 flooded during the flood (imqctl stats)" 1 "${S_q0_flooded:-x}"
assert_eq "device imq0: queues flooded during the flood" 1 "${S_flooded:-x}"
wait_pid "$tx" $((SECS + 10))
wait_pid "$pinger" 10
ping_stats "$T_TMP/ping.txt"
log "flood sent $(json_field "$T_TMP/tx.json" sent); pings $GOT of $PINGS, p99 ${P99:-none} ms"

assert_ge "pings that came back (the rest were dropped with the flood in front of the qdisc)" 20 "$GOT"
assert_le "ping p99 (ms) through a cut buffer" 100 "${P99:-1000}"
wait_log "$IMQD_LOG" "imq0: queue 0: .*receive buffer back to" 1 5 ||
	mismatch "no log line saying the receive buffer is whole again 5 s after the flood"
check_counters
assert_eq "queue 0 flooded after the flood" 0 "${S_q0_flooded:-x}"
assert_gt "packets the kernel dropped itself (kernel_dropped)" 0 "${S_kernel_dropped:-0}"
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# A copy the qdisc released decides its packet, never drop-timeout, however
# long imqd was stalled before it read the copy back.
#  1. SIGSTOP for 6 s (longer than drop-timeout, 5 s) while 900 small
#     datagrams go through a 2 Mbit/s tbf that releases them all within a
#     second: every datagram arrives, none dropped_timeout or unmatched.
#  2. A reload that starts imq1 with an up hook taking 6 s, while a burst of
#     3000 datagrams goes through imq0's tbf (txqueuelen 4000 holds what it
#     releases meanwhile): every datagram arrives.
# Both times the counters balance and nothing is left queued.
. "$(dirname "$0")/lib.sh"
e2e_init fault_stall

PORT=7700
PORT2=7701

topo_create
start_imqd 0 "txqueuelen = 4000"
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 2mbit burst 16k limit 16m ||
	fail "tc tbf on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp -m multiport --dports "$PORT,$PORT2" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

# recv_start PORT N NAME: a receiver of N numbered datagrams in dst.
recv_start() {
	bg "$DST" timeout 40 "$UDPSEQ" recv -p "$1" -n "$2" -t 30 -w 5 -i >"$T_TMP/recv-$3.json"
	RECV_PID=$BG_PID
	wait_listen "$DST" udp "$1"
}

# recv_check NAME N: the receiver got all N, once each.
recv_check() {
	wait_pid "$RECV_PID" 40 || fail "$1: udpseq recv did not finish"
	log "$1: receiver: $(cat "$T_TMP/recv-$1.json")"
	assert_eq "$1: datagrams at dst" "$2" "$(json_field "$T_TMP/recv-$1.json" received)"
	assert_eq "$1: duplicates at dst" 0 "$(json_field "$T_TMP/recv-$1.json" duplicates)"
}

# 1. SIGSTOP while the copies are in the qdisc and the TUN ring.
N=900
recv_start "$PORT" "$N" stop
bg "$SRC" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -s 64 -r 20000 -t 10 \
	>"$T_TMP/send-stop.json"
send_pid=$BG_PID
sleep 0.1
kill -STOP "$IMQD_PID" || fail "cannot stop imqd"
sleep 6
kill -CONT "$IMQD_PID" || fail "cannot continue imqd"
wait_pid "$send_pid" 20 || fail "stop: udpseq send failed"
assert_eq "stop: datagrams sent" "$N" "$(json_field "$T_TMP/send-stop.json" sent)"
recv_check stop "$N"
check_counters
assert_eq "stop: dropped_timeout" 0 "$S_dropped_timeout"
assert_eq "stop: unmatched copies" 0 "$S_unmatched"
assert_eq "stop: accepted" "$N" "$S_accepted"
check_nothing_queued

# 2. A reload whose new device's up hook takes 6 s, during a burst through imq0.
N2=3000
cat >>"$T_TMP/imqd.conf" <<EOF

[imq1]
queues = 1
up = /bin/sleep 6
EOF
recv_start "$PORT2" "$N2" hook
bg "$SRC" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT2" -n "$N2" -s 64 -r 20000 -t 10 \
	>"$T_TMP/send-hook.json"
send_pid=$BG_PID
sleep 0.05
kill -HUP "$IMQD_PID" || fail "cannot send SIGHUP to imqd"
wait_pid "$send_pid" 20 || fail "hook: udpseq send failed"
assert_eq "hook: datagrams sent" "$N2" "$(json_field "$T_TMP/send-hook.json" sent)"
recv_check hook "$N2"
check_counters
assert_eq "hook: dropped_timeout" 0 "$S_dropped_timeout"
assert_eq "hook: unmatched copies" 0 "$S_unmatched"
assert_eq "hook: accepted" "$((N + N2))" "$S_accepted"
IMQD_QUEUES=(0 1)
check_nothing_queued
stop_imqd
finish

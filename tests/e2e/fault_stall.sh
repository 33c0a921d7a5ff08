#!/usr/bin/env bash
# A copy the qdisc released decides its packet, never drop-timeout, however
# long imqd was stalled before it read the copy back.
#  1. SIGSTOP for 6 s (longer than drop-timeout, 5 s) just after imqd took
#     in 3000 small datagrams, which a 2 Mbit/s tbf releases within 1.3 s
#     into the TUN ring (txqueuelen 4000): every datagram arrives, none
#     dropped_timeout or unmatched. A pass reads at most 1024 copies: before
#     the fix, the timer expired the packets of the copies still in the ring.
#  2. A reload that starts imq1 with an up hook taking 6 s, just after the
#     same burst went into imq0's tbf: every datagram arrives.
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
	bg "$DST" timeout 40 "$UDPSEQ" recv -p "$1" -n "$2" -t 30 -w 10 -i >"$T_TMP/recv-$3.json"
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

# burst PORT N NAME: N datagrams of 64 bytes at 20,000/s (0.15 s; the tbf takes 1.3 s).
burst() {
	timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$1" -n "$2" -s 64 -r 20000 \
		-t 10 >"$T_TMP/send-$3.json" || fail "$3: udpseq send failed"
	sleep 0.05
}

# stalled NAME: the burst must still be in the kernel queue when imqd stalls.
stalled() {
	local q
	q=$(queued_now)
	assert_eq "$1: datagrams sent" "$N" "$(json_field "$T_TMP/send-$1.json" sent)"
	assert_ge "$1: packets held when imqd stalled" 1500 "$q"
}

# 1. SIGSTOP while the copies are in the qdisc and the TUN ring.
N=3000
recv_start "$PORT" "$N" stop
burst "$PORT" "$N" stop
kill -STOP "$IMQD_PID" || fail "cannot stop imqd"
stalled stop
sleep 6
kill -CONT "$IMQD_PID" || fail "cannot continue imqd"
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
burst "$PORT2" "$N2" hook
kill -HUP "$IMQD_PID" || fail "cannot send SIGHUP to imqd"
N=$N2 stalled hook
recv_check hook "$N2"
check_counters
assert_eq "hook: dropped_timeout" 0 "$S_dropped_timeout"
assert_eq "hook: unmatched copies" 0 "$S_unmatched"
assert_eq "hook: accepted" "$((N + N2))" "$S_accepted"
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# Verdicts a send fails to deliver are kept and sent again, never lost.
# strace, attached to the running imqd, makes 300 of its sendto(2) calls (the
# NFQUEUE verdict messages) fail with ENOMEM while 4000 datagrams go through
# imq0. imqd retries each send 100 times, keeps what still failed, sends it
# with a later flush, and meanwhile sends no batch verdict (one could accept
# packets whose kept verdict is a drop). Afterwards: every datagram arrived,
# the counters balance, nothing is left in the kernel queue, the log tells
# both the failure and the delivery, and batch verdicts resume.
. "$(dirname "$0")/lib.sh"
e2e_init fault_verdicts

command -v strace >/dev/null || fail "strace not found (apt-get install strace)"
N=4000
N2=1000
PORT=7800

topo_create
start_imqd 0
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

# send_recv NAME N: N numbered datagrams at 20000/s, all awaited at dst.
send_recv() {
	bg "$DST" timeout 40 "$UDPSEQ" recv -p "$PORT" -n "$2" -t 30 -w 5 -i >"$T_TMP/recv-$1.json"
	local recv_pid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 30 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$2" -s 100 -f 4 \
		-r 20000 -t 20 >"$T_TMP/send-$1.json" || fail "$1: udpseq send failed"
	wait_pid "$recv_pid" 40 || fail "$1: udpseq recv did not finish"
	log "$1: receiver: $(cat "$T_TMP/recv-$1.json")"
	assert_eq "$1: datagrams at dst" "$2" "$(json_field "$T_TMP/recv-$1.json" received)"
	assert_eq "$1: duplicates at dst" 0 "$(json_field "$T_TMP/recv-$1.json" duplicates)"
}

ip netns exec "$GW" strace -qq -o /dev/null -p "$IMQD_PID" -e trace=sendto \
	-e inject=sendto:error=ENOMEM:when=30..329 &
strace_pid=$!
T_PIDS+=("$strace_pid")
for i in $(seq 50); do
	[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$IMQD_PID/status")" != 0 ] && break
	sleep 0.1
done
[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$IMQD_PID/status")" != 0 ] ||
	fail "strace did not attach to imqd"
send_recv faulty "$N"
kill -TERM "$strace_pid"
wait "$strace_pid" 2>/dev/null
imqd_alive
check_counters
assert_eq "faulty: accepted" "$N" "$S_accepted"
check_nothing_queued
grep -q 'keeping them to send again' "$IMQD_LOG" && pass_msg "failed verdict sends logged" ||
	mismatch "no log line about verdicts kept after a failed send"
grep -q 'verdicts kept after failed sends are delivered' "$IMQD_LOG" &&
	pass_msg "their delivery logged" || mismatch "no log line about the kept verdicts' delivery"

# Batch verdicts again, now that nothing is kept.
batched=$S_verdicts_batched
send_recv after "$N2"
check_counters
assert_gt "verdicts sent in batches after the faults" "$batched" "$S_verdicts_batched"
check_nothing_queued
stop_imqd
finish

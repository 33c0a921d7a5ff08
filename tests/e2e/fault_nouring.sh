#!/usr/bin/env bash
# io_uring turned off (kernel.io_uring_disabled = 2, as hardened hosts set
# it): imqd says so once in its log and reads its copies back one read(2)
# each; shaping and every verdict are as with io_uring. The same traffic runs
# first with io_uring on, then off: numbered datagrams through tbf on imq0,
# all arrive once and in order, the counters balance, nothing stays queued.
# The sysctl is put back when the test ends, also when it fails.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init nouring

SYSCTL=/proc/sys/kernel/io_uring_disabled
# CMake registers this test only where the sysctl exists; by hand it fails instead.
[ -w "$SYSCTL" ] || fail "this kernel cannot turn io_uring off (no writable $SYSCTL)"
CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
PORT=9300
N=3000

topo_create
imqd_conf "$CONF" "$SOCK" "log-level = info" <<EOC
[imq0]
queues = 0
EOC
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

# run TAG: N datagrams at 6000 a second (48 Mbit/s) into tbf 20mbit: a backlog
# builds in imq0 and drains, every copy read back as the qdisc releases it.
run() {
	local tag=$1
	nsx "$GW" tc qdisc replace dev imq0 root tbf rate 20mbit burst 16k latency 2s ||
		fail "$tag: tc tbf on imq0 failed"
	udp_recv "$tag" "$PORT" "$N" 30
	local recv=$RECV_PID
	udp_send "$tag" "$PORT" "$N" 10 -s 1000 -r 6000 -f 4 || mismatch "$tag: udpseq send failed"
	RECV_PID=$recv
	udp_check "$tag" "$N"
	assert_eq "$tag: datagrams out of order" 0 "$(json_field "$T_TMP/$tag.recv.json" out_of_order)"
	imqd_counters imq0
	show_counters
	assert_eq "$tag: imqd received" "$N" "$S_received"
	assert_eq "$tag: imqd accepted" "$N" "$S_accepted"
	assert_eq "$tag: imqd failopen" 0 "$S_failopen"
	assert_ge "$tag: packets imqd held at once (a backlog)" 100 "$S_peak_held"
	check_nothing_queued
}

old=$(cat "$SYSCTL")
echo 0 >"$SYSCTL" || fail "cannot write $SYSCTL"
at_exit "echo $old >$SYSCTL"
start_imqd_conf "$CONF"
run uring
# Not even a fallback at the first read: the run above went through io_uring.
assert_eq "log lines about io_uring with io_uring on" 0 "$(log_count "$IMQD_LOG" 'io_uring')"
stop_imqd

echo 2 >"$SYSCTL" || fail "cannot write $SYSCTL"
start_imqd_conf "$CONF"
run read
assert_eq "log lines 'imq0: no io_uring' with io_uring off" 1 "$(log_count "$IMQD_LOG" 'imq0: no io_uring')"
stop_imqd
echo "$old" >"$SYSCTL"
finish

#!/usr/bin/env bash
# Reloads that change on-overflow in the middle of a flood beyond imqd's
# intake: the ids the kernel skipped are counted as it decided them, under
# the setting in force when it did, however late imqd reads past them.
# A 64-byte UDP flood as fast as src sends (8 flows) into a tbf of 10mbit on
# imq0 for 6 s, on-overflow switched drop -> accept -> drop -> accept ->
# drop by four reloads, one a second; the third is asked while imqd is
# stopped for a second, so that it comes before imqd reads past the ids the
# kernel dropped meanwhile. Twice: with on-flood = accept (what imqd cannot
# take passes unshaped under accept) and with on-flood = drop. At the end
# (nothing sent since):
#  - the rule's packet counter equals received + kernel_passed +
#    kernel_dropped;
#  - kernel_dropped is the kernel's own count (nfnetlink_queue user_dropped:
#    the ids it dropped on a full socket, its fail-open off) to within a
#    few hundred packets per switch;
#  - what reached dst is what imqd says passed (accepted + failopen +
#    kernel_passed), to within the same.
# Before, the gaps read after a reload were counted under the new setting:
# 20,000 to 365,000 packets of a few million were put on the wrong side.
. "$(dirname "$0")/lib.sh"
e2e_init flood_reload_split 120

[ -n "${UDPFLOOD:-}" ] && [ -x "$UDPFLOOD" ] || fail "UDPFLOOD=${UDPFLOOD:-} is not an executable file (set by CMake)"
PORT=9640
SECS=6
SLACK=3000 # packets either way: a few hundred per switch of the fail-open, at full flood

topo_create
nsx "$DST" iptables -A INPUT -p udp --dport "$PORT" -j DROP || fail "iptables in dst failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"

rule() { ipt_pkts "$GW" iptables mangle PREROUTING 1; }
all_counted() {
	imqd_counters && [ "$(rule)" = "$((S_received + S_kernel_passed + S_kernel_dropped))" ]
}

# conf ON_OVERFLOW ON_FLOOD: imq0's section.
conf() {
	imqd_conf "$T_TMP/imqd.conf" "$T_TMP/imqd.sock" <<CONF
[imq0]
queues = 0
on-overflow = $1
on-flood = $2
CONF
}

# reload N: the Nth reload (the third asked while imqd is stopped).
reload() {
	if [ "$1" = 3 ]; then
		kill_imqd STOP
		sleep 1
		timeout 20 "$IMQCTL" -s "$IMQD_SOCK" reload >/dev/null &
		local pid=$!
		sleep 0.2
		kill_imqd CONT
		wait "$pid"
	else
		timeout 20 "$IMQCTL" -s "$IMQD_SOCK" reload >/dev/null
	fi
}

# run ON_FLOOD
run() {
	local onflood=$1 n=1 policy
	conf drop "$onflood"
	start_imqd_conf "$T_TMP/imqd.conf"
	nsx "$GW" tc qdisc replace dev imq0 root tbf rate 10mbit burst 20k limit 100k ||
		fail "tc tbf on imq0 failed"
	nsx "$GW" iptables -t mangle -Z PREROUTING && nsx "$DST" iptables -Z INPUT ||
		fail "cannot zero the rules' counters"
	bg "$SRC" timeout $((SECS + 10)) "$UDPFLOOD" -d "$DST_IP" -p "$PORT" -s 64 -t "$SECS" -F 8 \
		>"$T_TMP/flood.json"
	local flood_pid=$BG_PID
	for policy in accept drop accept drop; do
		sleep 1
		conf "$policy" "$onflood"
		reload "$n" || mismatch "$onflood: reload $n to on-overflow = $policy failed"
		n=$((n + 1))
	done
	wait_pid "$flood_pid" $((SECS + 10)) || fail "$onflood: the flood did not end"
	wait_until 5 all_counted
	sleep 1 # what the qdisc still holds
	check_counters
	local at_dst user_dropped passed
	at_dst=$(ipt_pkts "$DST" iptables filter INPUT 1)
	user_dropped=$(nsx "$GW" awk '$1 == 0 { print $7 }' /proc/net/netfilter/nfnetlink_queue)
	passed=$((S_accepted + S_failopen + S_kernel_passed))
	log "$onflood: rule matched $(rule); imqd received $S_received, kernel passed" \
		"$S_kernel_passed, dropped $S_kernel_dropped (the kernel's count $user_dropped);" \
		"dst got $at_dst, imqd says $passed passed"
	assert_eq "$onflood: rule counter = received + kernel_passed + kernel_dropped" "$(rule)" \
		"$((S_received + S_kernel_passed + S_kernel_dropped))"
	assert_gt "$onflood: kernel_dropped" 0 "$S_kernel_dropped"
	[ "$onflood" = accept ] && assert_gt "$onflood: kernel_passed" 0 "$S_kernel_passed"
	assert_le "$onflood: kernel_dropped against nfnetlink_queue user_dropped: packets apart" \
		"$SLACK" "$((S_kernel_dropped > user_dropped ? S_kernel_dropped - user_dropped :
			user_dropped - S_kernel_dropped))"
	assert_le "$onflood: dst's datagrams against accepted + failopen + kernel_passed: apart" \
		"$SLACK" "$((at_dst > passed ? at_dst - passed : passed - at_dst))"
	check_nothing_queued
	stop_imqd
}

run accept
run drop
finish

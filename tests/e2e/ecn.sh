#!/usr/bin/env bash
# ECN marks from the qdisc. An AQM (fq_codel, cake, red ecn) marks an
# ECN-capable packet Congestion Experienced where it would drop another.
# On imq0 it marks the copy; imqd cannot mark the real packet (a verdict
# replaces a packet whole, and imqd holds its headers only), so it drops it,
# the signal the sender gets from a qdisc without ECN, and counts it in
# dropped_ecn. This kernel has no marking qdisc: a tc program on imq0's
# egress (tests/tools/cemark) sets CE on copies carrying ECT(0) before pfifo.
#  A. UDP, IPv4 and IPv6, 300 datagrams of each ECN codepoint: Not-ECT and
#     ECT(1) arrive unmarked; ECT(0) copies all come back marked and their
#     packets are dropped (dropped_ecn, not stray nor dropped_order); packets
#     sent with CE already pass (their copy's mark is not the qdisc's).
#  B. TCP with ECN negotiated, 1 in 64 ECT(0) copies marked (whole GSO
#     copies included): the transfer goes on, the marked packets are
#     dropped, no copy is taken for a stray or cut-up one.
# Every packet gets its verdict: counters balance, nothing stays queued.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by check_counters
. "$(dirname "$0")/lib.sh"
e2e_init ecn

[ -n "${CEMARK:-}" ] && [ -x "$CEMARK" ] || fail "CEMARK=${CEMARK:-} is not an executable file (set by CMake)"
PORT=9400
N=300

topo_create
start_imqd 0
for ipt in iptables ip6tables; do
	nsx "$GW" "$ipt" -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
		fail "$ipt NFQUEUE rule failed"
done
nsx "$GW" tc qdisc replace dev imq0 root pfifo limit 1000 || fail "tc pfifo on imq0 failed"

# The marker, pinned on a bpf file system of this test's own.
mkdir "$T_TMP/bpf" && mount -t bpf bpf "$T_TMP/bpf" || fail "cannot mount a bpf file system"
at_exit "umount $T_TMP/bpf"
"$CEMARK" "$T_TMP/bpf/all" 0 || fail "cannot load the marking program"
"$CEMARK" "$T_TMP/bpf/some" 63 || fail "cannot load the marking program"
nsx "$GW" tc qdisc add dev imq0 clsact || fail "tc clsact on imq0 failed"
nsx "$GW" tc filter add dev imq0 egress prio 1 bpf direct-action object-pinned "$T_TMP/bpf/all" ||
	fail "cannot attach the marking program to imq0"

# A. Each ECN codepoint to a port of its own: TOS 0x20 (CS1) plus the codepoint.
declare -A want=([0]=$N [1]=$N [2]=0 [3]=$N) ce_want=([0]=0 [1]=0 [2]=0 [3]=$N)
for v in 4 6; do
	imqd_counters
	ecn_before=$S_dropped_ecn
	dst=$DST_IP recv6=()
	[ $v = 6 ] && dst=$DST6 recv6=(-6)
	pids=()
	for e in 0 1 2 3; do
		bg "$DST" timeout 20 "$UDPSEQ" recv "${recv6[@]}" -p $((PORT + e)) -n "$N" -t 5 -i \
			>"$T_TMP/recv$v.$e.json"
		pids+=("$BG_PID")
		wait_listen "$DST" udp $((PORT + e))
	done
	for e in 0 1 2 3; do
		timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$dst" -p $((PORT + e)) -n "$N" -s 200 \
			-r 2000 -t 10 -T $((0x20 | e)) >"$T_TMP/send$v.$e.json" || mismatch "IPv$v ECN $e: sender failed"
	done
	for e in 0 1 2 3; do
		wait_pid "${pids[$e]}" 20 || mismatch "IPv$v ECN $e: the receiver did not finish"
		log "IPv$v, ECN field $e: $(cat "$T_TMP/recv$v.$e.json")"
		assert_eq "IPv$v, ECN field $e: datagrams at dst" "${want[$e]}" \
			"$(json_field "$T_TMP/recv$v.$e.json" received)"
		assert_eq "IPv$v, ECN field $e: datagrams at dst marked CE" "${ce_want[$e]}" \
			"$(json_field "$T_TMP/recv$v.$e.json" ce)"
	done
	check_counters
	assert_eq "IPv$v: packets imqd dropped for a CE mark (the ECT(0) ones)" "$N" \
		$((S_dropped_ecn - ecn_before))
	assert_eq "IPv$v: imqd stray copies" 0 "$S_stray"
	assert_eq "IPv$v: imqd dropped_order" 0 "$S_dropped_order"
	assert_eq "IPv$v: imqd dropped_timeout" 0 "$S_dropped_timeout"
	assert_eq "IPv$v: imqd failopen" 0 "$S_failopen"
	check_nothing_queued
done
grep -q "marked a copy Congestion Experienced" "$IMQD_LOG" ||
	mismatch "imqd's log does not say why it drops marked packets"

# B. TCP with ECN, 1 in 64 ECT(0) copies marked.
nsx "$GW" tc filter replace dev imq0 egress prio 1 bpf direct-action object-pinned "$T_TMP/bpf/some" ||
	fail "cannot attach the marking program to imq0"
nsx "$SRC" sysctl -qw net.ipv4.tcp_ecn=1 || fail "cannot turn ECN on in $SRC"
imqd_counters
ecn_before=$S_dropped_ecn accepted_before=$S_accepted
iperf_server "$DST" 5201
rate=$(iperf_client "$SRC" "$DST_IP" 5201 3 "$T_TMP/iperf.json")
check_counters
log "TCP with ECN, 1 in 64 copies marked: $rate Mbit/s; dropped_ecn $((S_dropped_ecn - ecn_before))," \
	"accepted $((S_accepted - accepted_before)), partial $S_partial"
assert_gt "TCP with ECN: goodput (Mbit/s)" 1 "${rate%.*}"
assert_gt "TCP with ECN: packets dropped for a CE mark" 0 $((S_dropped_ecn - ecn_before))
assert_eq "TCP with ECN: imqd stray copies" 0 "$S_stray"
assert_eq "TCP with ECN: GSO copies taken for cut up (partial)" 0 "$S_partial"
assert_eq "TCP with ECN: imqd failopen" 0 "$S_failopen"
check_nothing_queued
stop_imqd
finish

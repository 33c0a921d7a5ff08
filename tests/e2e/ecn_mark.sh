#!/usr/bin/env bash
# ECN marks reach the real packet: with ecn-mark set, a packet whose copy
# the qdisc marked Congestion Experienced leaves gw marked CE, through the
# rules `imqctl rules` prints (a TOS rule ahead of the queue rule, the queue
# rule's guard, the mark cleared after it). This kernel has no marking qdisc:
# a tc program on imq0's egress (tests/tools/cemark) sets CE on ECT(0) copies.
#  A. UDP, IPv4 and IPv6, 300 datagrams of each ECN codepoint, every ECT(0)
#     copy marked: all 1200 arrive; the ECT(0) ones marked CE (read with
#     IP_RECVTOS / IPV6_RECVTCLASS), Not-ECT and ECT(1) unchanged, CE
#     stays CE; marked_ecn 300, dropped_ecn 0.
#  B. TCP with ECN negotiated through tbf 50mbit, 1 in 64 ECT(0) copies
#     marked, against the same marking (cemark at offset 14) and tbf on IFB:
#     goodput within 2% of IFB's, retransmissions no more than IFB's + 10%
#     (and 10 more, for runs where IFB's are near zero).
# Every packet gets its verdict: counters balance, nothing stays queued.
. "$(dirname "$0")/lib.sh"
e2e_init ecn_mark

[ -n "${CEMARK:-}" ] && [ -x "$CEMARK" ] || fail "CEMARK=${CEMARK:-} is not an executable file (set by CMake)"
PORT=9500
N=300
MARK=0x4/0x4
SECS=10
TBF=(tbf rate 50mbit burst 64k latency 100ms)

topo_create
mkdir "$T_TMP/bpf" && mount -t bpf bpf "$T_TMP/bpf" || fail "cannot mount a bpf file system"
at_exit "umount $T_TMP/bpf"
"$CEMARK" "$T_TMP/bpf/all" 0 || fail "cannot load the marking program"
"$CEMARK" "$T_TMP/bpf/some" 63 || fail "cannot load the marking program"
"$CEMARK" "$T_TMP/bpf/some-eth" 63 14 || fail "cannot load the marking program"
nsx "$SRC" sysctl -qw net.ipv4.tcp_ecn=1 || fail "cannot turn ECN on in $SRC"

# B, first: TCP through IFB with the same tbf and marking.
nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0 in $GW"
nsx "$GW" ip link set ifb0 up
nsx "$GW" tc qdisc add dev ifb0 root "${TBF[@]}" || fail "tc tbf on ifb0 failed"
nsx "$GW" tc qdisc add dev ifb0 clsact || fail "tc clsact on ifb0 failed"
nsx "$GW" tc filter add dev ifb0 egress prio 1 bpf direct-action object-pinned "$T_TMP/bpf/some-eth" ||
	fail "cannot attach the marking program to ifb0"
nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress || fail "tc ingress on $GW_IN failed"
nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
	action mirred egress redirect dev ifb0 || fail "tc mirred redirect to ifb0 failed"
iperf_server "$DST" 5201
ifb_rate=$(iperf_client "$SRC" "$DST_IP" 5201 "$SECS" "$T_TMP/ifb.json") || exit 1
ifb_retr=$("$PYTHON" "$TOOLS/iperfjson.py" retransmits "$T_TMP/ifb.json")
log "IFB, tbf 50mbit, 1 in 64 marked: $ifb_rate Mbit/s, $ifb_retr retransmissions"
nsx "$GW" tc qdisc del dev "$GW_IN" ingress || fail "cannot remove the IFB redirect"
nsx "$GW" ip link del ifb0

# imqd with ecn-mark, and the rules imqctl prints for it.
start_imqd 0 "ecn-mark = $MARK"
"$IMQCTL" -s "$IMQD_SOCK" rules imq0 >"$T_TMP/rules" || fail "imqctl rules failed"
grep -E '^ip6?tables -t mangle -A PREROUTING' "$T_TMP/rules" | sed "s/IFACE/$GW_IN/" >"$T_TMP/rules.sh"
[ "$(wc -l <"$T_TMP/rules.sh")" = 6 ] || { cat "$T_TMP/rules" >&2; fail "imqctl rules: not 3 rules each for iptables and ip6tables"; }
while read -r -a rule; do
	nsx "$GW" "${rule[@]}" || fail "rule from imqctl rules failed: ${rule[*]}"
done <"$T_TMP/rules.sh"
nsx "$GW" tc qdisc add dev imq0 clsact || fail "tc clsact on imq0 failed"
nsx "$GW" tc filter add dev imq0 egress prio 1 bpf direct-action object-pinned "$T_TMP/bpf/all" ||
	fail "cannot attach the marking program to imq0"

# A. Each ECN codepoint to a port of its own: TOS 0x20 (CS1) plus the codepoint.
declare -A ce_want=([0]=0 [1]=0 [2]=$N [3]=$N)
for v in 4 6; do
	imqd_counters
	marked_before=${S_marked_ecn:-0}
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
		assert_eq "IPv$v, ECN field $e: datagrams at dst" "$N" \
			"$(json_field "$T_TMP/recv$v.$e.json" received)"
		assert_eq "IPv$v, ECN field $e: datagrams at dst marked CE" "${ce_want[$e]}" \
			"$(json_field "$T_TMP/recv$v.$e.json" ce)"
	done
	check_counters
	assert_eq "IPv$v: packets that left marked CE (marked_ecn)" "$N" $((S_marked_ecn - marked_before))
	assert_eq "IPv$v: imqd dropped_ecn" 0 "$S_dropped_ecn"
	assert_eq "IPv$v: imqd stray copies" 0 "$S_stray"
	assert_eq "IPv$v: imqd dropped" 0 "$S_dropped"
	check_nothing_queued
done

# B. TCP with ECN through imq0, with the same tbf and marking as on IFB.
nsx "$GW" tc qdisc replace dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
nsx "$GW" tc filter replace dev imq0 egress prio 1 bpf direct-action object-pinned "$T_TMP/bpf/some" ||
	fail "cannot attach the marking program to imq0"
imqd_counters
marked_before=$S_marked_ecn
iperf_server "$DST" 5202
imq_rate=$(iperf_client "$SRC" "$DST_IP" 5202 "$SECS" "$T_TMP/imq.json") || exit 1
imq_retr=$("$PYTHON" "$TOOLS/iperfjson.py" retransmits "$T_TMP/imq.json")
check_counters
log "imqd, tbf 50mbit, 1 in 64 marked: $imq_rate Mbit/s, $imq_retr retransmissions;" \
	"marked_ecn $((S_marked_ecn - marked_before)), dropped_ecn $S_dropped_ecn, partial $S_partial"
assert_gt "TCP: packets that left marked CE" 0 $((S_marked_ecn - marked_before))
assert_eq "TCP: imqd dropped_ecn" 0 "$S_dropped_ecn"
assert_eq "TCP: imqd stray copies" 0 "$S_stray"
assert_eq "TCP: imqd failopen" 0 "$S_failopen"
assert_within "TCP goodput against IFB's, same marking (Mbit/s)" "$ifb_rate" 2 "$imq_rate"
assert_le "TCP retransmissions against IFB's ($ifb_retr) + 10% + 10" \
	"$(calc %.0f "int($ifb_retr * 1.1) + 10")" "$imq_retr"
check_nothing_queued
stop_imqd
finish

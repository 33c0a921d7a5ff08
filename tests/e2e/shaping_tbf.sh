#!/usr/bin/env bash
# TCP src -> dst through gw, shaped by tbf on gw's ingress (RATE Mbit/s, 20 by
# default; burst BURST, 32k by default): first with IFB (the kernel's own
# way), then with imqd's imq0. Both rates must be within 10% of RATE and
# imqd's within 5% of IFB's. A burst smaller than TCP's GSO packets makes tbf
# cut them into segments, on both devices alike. FAMILY=6 does the same over
# IPv6, queued by ip6tables.
. "$(dirname "$0")/lib.sh"
FAMILY=${FAMILY:-4}
case $FAMILY in
4) e2e_init shaping_tbf ;;
6) e2e_init shaping_tbf_ipv6 ;;
*) e2e_init shaping_tbf; fail "FAMILY=$FAMILY: 4 or 6" ;;
esac

RATE=${RATE:-20} # Mbit/s
TBF=(tbf rate "${RATE}mbit" burst "${BURST:-32k}" latency 100ms)
SECS=${SECS:-8}

topo_create
IPT=iptables TO=$DST_IP
[ "$FAMILY" = 6 ] && IPT=ip6tables TO=$DST6

# 1. IFB: redirect gw's ingress from src to ifb0, shape ifb0's egress.
nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0 in $GW"
nsx "$GW" ip link set ifb0 up
nsx "$GW" tc qdisc add dev ifb0 root "${TBF[@]}" || fail "tc tbf on ifb0 failed"
nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress || fail "tc ingress on $GW_IN failed"
# u32 match-all: this kernel has no cls_matchall.
nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
	action mirred egress redirect dev ifb0 ||
	fail "tc mirred redirect to ifb0 failed"
iperf_server "$DST" 5201
ifb_rate=$(iperf_client "$SRC" "$TO" 5201 "$SECS" "$T_TMP/ifb.json") || exit 1
log "IFB tbf ${RATE}mbit, IPv$FAMILY: $ifb_rate Mbit/s"
nsx "$GW" tc qdisc del dev "$GW_IN" ingress || fail "cannot remove the IFB redirect"
nsx "$GW" ip link del ifb0

# 2. imqd: queue gw's ingress from src to NFQUEUE 0, shape imq0's egress.
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
nsx "$GW" "$IPT" -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "$IPT NFQUEUE rule failed"
iperf_server "$DST" 5202
imq_rate=$(iperf_client "$SRC" "$TO" 5202 "$SECS" "$T_TMP/imq.json") || exit 1
log "imqd tbf ${RATE}mbit, IPv$FAMILY: $imq_rate Mbit/s"

check_counters
assert_gt "imqd accepted packets" 0 "$S_accepted"
assert_eq "imqd failopen (accepted unshaped)" 0 "$S_failopen"
assert_eq "imqd malformed packets" 0 "$S_malformed"
assert_eq "qdisc reported by imqctl" tbf "$S_qdisc"
check_nothing_queued
stop_imqd

assert_within "IFB rate, IPv$FAMILY (Mbit/s)" "$RATE" 10 "$ifb_rate"
assert_within "imqd rate, IPv$FAMILY (Mbit/s)" "$RATE" 10 "$imq_rate"
assert_within "imqd rate against IFB rate, IPv$FAMILY (Mbit/s)" "$ifb_rate" 5 "$imq_rate"
finish

#!/usr/bin/env bash
# GSO packets through imq0 are counted as the segments they become on the
# wire. A 300 MB TCP upload goes through pfifo on IFB (the kernel's own
# count: every segment's TCP/IP and Ethernet headers), then another through
# pfifo on imq0 with imqd's defaults (gso = yes). For each, the bytes the
# qdisc sent are divided by the IP bytes of the packets (an iptables counter
# on gw: a GSO packet counts once, its headers once); the two ratios must
# agree within 0.5% (counting each GSO packet's headers once would be ~3.5%
# short). imqd must have queued GSO packets whole (far fewer queued packets
# than segments), sent each copy through imq0 whole, decided every one and
# left nothing queued.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by check_counters
. "$(dirname "$0")/lib.sh"
e2e_init gso_accounting

BYTES=300M

topo_create

# upload PORT OUT.json: a fixed-size TCP upload src -> dst, bounded in time.
upload() {
	iperf_server "$DST" "$1"
	timeout 60 ip netns exec "$SRC" iperf3 -c "$DST_IP" -p "$1" -n "$BYTES" -J >"$2" 2>&1
	iperf_rate "$2" >/dev/null
	"$PYTHON" "$TOOLS/iperfjson.py" summary "$2" >&2
}

# ipt_bytes: bytes counted by the first rule of gw's mangle PREROUTING.
ipt_bytes() {
	nsx "$GW" iptables -t mangle -L PREROUTING -v -x -n | awk 'NR == 3 { print $2 }'
}

# ratio A B: A / B with 5 decimals.
ratio() { calc %.5f "$1 / $2"; }

# 1. IFB: gw's ingress from src redirected to ifb0, pfifo there.
nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0 in $GW"
nsx "$GW" ip link set ifb0 up
nsx "$GW" tc qdisc add dev ifb0 root pfifo limit 10000 || fail "tc pfifo on ifb0 failed"
nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress || fail "tc ingress on $GW_IN failed"
nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol ip prio 1 u32 match u32 0 0 \
	action mirred egress redirect dev ifb0 || fail "tc mirred redirect to ifb0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p tcp || fail "iptables counting rule failed"
upload 5201 "$T_TMP/ifb.json"
ifb_bytes=$(qdisc_bytes ifb0)
ifb_pkts=$(qdisc_sent ifb0)
ifb_ip=$(ipt_bytes)
ifb_ratio=$(ratio "$ifb_bytes" "$ifb_ip")
log "IFB pfifo: sent $ifb_bytes bytes, $ifb_pkts packets, for $ifb_ip IP bytes: ratio $ifb_ratio"
nsx "$GW" iptables -t mangle -F PREROUTING
nsx "$GW" tc qdisc del dev "$GW_IN" ingress || fail "cannot remove the IFB redirect"
nsx "$GW" ip link del ifb0

# 2. imqd with its defaults.
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root pfifo limit 10000 || fail "tc pfifo on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p tcp || fail "iptables counting rule failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p tcp -j NFQUEUE --queue-num 0 \
	--queue-bypass || fail "iptables NFQUEUE rule failed"
upload 5202 "$T_TMP/imq.json"
imq_bytes=$(qdisc_bytes imq0)
imq_pkts=$(qdisc_sent imq0)
imq_tx=$(nsx "$GW" cat /sys/class/net/imq0/statistics/tx_packets)
imq_ip=$(ipt_bytes)
imq_ratio=$(ratio "$imq_bytes" "$imq_ip")
log "imq0 pfifo: sent $imq_bytes bytes ($imq_pkts packets as tc counts them), for $imq_ip IP bytes: ratio $imq_ratio"

check_counters
check_nothing_queued
segments=$((S_received_bytes / 1500))
log "imqd queued $S_received packets ($S_received_bytes bytes) of at least $segments segments (1500-byte IP MTU)"
assert_gt "imqd accepted packets" 0 "$S_accepted"
assert_eq "imqd failopen" 0 "$S_failopen"
assert_eq "imqd drops with pfifo limit 10000" 0 "$S_dropped"
assert_eq "IP bytes imqd received = bytes the iptables rule counted" "$imq_ip" "$S_received_bytes"
assert_ge "segments per queued packet (GSO packets queued whole)" 4 \
	"$(calc %.2f "$segments / $S_received")"
# Copies went through imq0 whole too (one transmit each), not cut into their ~40 segments.
log "imq0 transmitted $imq_tx copies for $S_received packets"
assert_ge "1.05 x packets imqd received (>= copies imq0 transmitted)" "$imq_tx" \
	"$((S_received * 105 / 100))"
stop_imqd

assert_within "qdisc bytes per IP byte: imq0 against IFB" "$ifb_ratio" 0.5 "$imq_ratio"
finish

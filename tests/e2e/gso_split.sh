#!/usr/bin/env bash
# Packets longer than one segment that cannot go in as a GSO copy: here ICMP
# echo requests of 6000 bytes, which src sends in 5 fragments and which
# connection tracking on gw reassembles before the queue rule (IPv4, then
# IPv6). imqd sends each into imq0 as 5 plain copies, one per fragment, so
# that a tbf with a burst of 4 KB (smaller than the packet, as IFB's tbf
# sees fragments) takes them. Every echo is answered, the bytes tbf counted
# on imq0 agree with what the same tbf counted on IFB (which gets the
# fragments) within 1%, imq0 transmitted 5 copies per packet, the counters
# balance with no stray or unmatched copy, and nothing stays queued. Before,
# each went in as one 6 KB copy that the tbf dropped: no echo came back.
# Then 60000-byte echoes, 16 at once (41 copies each), through pfifo with a
# TUN ring of 200: all accepted, no copy lost in the ring, none partial.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by check_counters
. "$(dirname "$0")/lib.sh"
e2e_init gso_split

N=60
SIZE=6000
TBF=(tbf rate 10mbit burst 4k latency 100ms)

topo_create

# pings NAME ADDR [-6]: N echo requests of SIZE bytes; prints how many were answered.
pings() {
	local out
	# shellcheck disable=SC2086 # $3 is an optional word
	out=$(timeout 30 ip netns exec "$SRC" ping ${3:-} -c "$N" -i 0.05 -W 2 -s "$SIZE" "$2" 2>&1)
	log "$1: $(grep -E 'transmitted' <<<"$out")"
	grep -oE '[0-9]+ received' <<<"$out" | cut -d' ' -f1
}

# ---- IFB: the fragments, redirected at ingress (before reassembly).
nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0 in $GW"
nsx "$GW" ip link set ifb0 up
nsx "$GW" tc qdisc add dev ifb0 root "${TBF[@]}" || fail "tc tbf on ifb0 failed"
nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress || fail "tc ingress on $GW_IN failed"
prio=0
for proto in ip ipv6; do
	prio=$((prio + 1))
	nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol "$proto" prio "$prio" u32 match u32 0 0 \
		action mirred egress redirect dev ifb0 || fail "tc mirred redirect ($proto) failed"
done
assert_eq "IPv4 echoes answered through IFB" "$N" "$(pings ifb4 "$DST_IP")"
assert_eq "IPv6 echoes answered through IFB" "$N" "$(pings ifb6 "$DST6" -6)"
ifb_bytes=$(qdisc_bytes ifb0)
nsx "$GW" tc qdisc del dev "$GW_IN" ingress || fail "cannot remove the IFB redirect"
nsx "$GW" ip link del ifb0

# ---- imqd: connection tracking reassembles the fragments before the rule.
start_imqd 0 "txqueuelen = 200"
nsx "$GW" tc qdisc replace dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
for t in iptables ip6tables; do
	nsx "$GW" "$t" -t mangle -A PREROUTING -i "$GW_IN" -m conntrack --ctstate NEW,ESTABLISHED \
		-j NFQUEUE --queue-num 0 --queue-bypass || fail "$t NFQUEUE rule failed"
done
assert_eq "IPv4 echoes answered through imqd" "$N" "$(pings imq4 "$DST_IP")"
assert_eq "IPv6 echoes answered through imqd" "$N" "$(pings imq6 "$DST6" -6)"
imq_bytes=$(qdisc_bytes imq0)
imq_tx=$(nsx "$GW" cat /sys/class/net/imq0/statistics/tx_packets)
check_counters
check_nothing_queued
log "tbf bytes: IFB $ifb_bytes, imq0 $imq_bytes; imqd received $S_received packets of $((S_received_bytes / (S_received > 0 ? S_received : 1))) bytes on average, imq0 sent $imq_tx copies"
assert_ge "imqd received the reassembled requests (one per echo, not 5)" $((2 * N)) "$S_received"
assert_le "imqd received the reassembled requests (one per echo, not 5)" $((2 * N + 10)) "$S_received"
assert_ge "copies imq0 sent (5 per request)" $((10 * N)) "$imq_tx"
assert_eq "imqd accepted" "$S_received" "$S_accepted"
assert_eq "imqd stray copies" 0 "$S_stray"
assert_eq "imqd unmatched copies" 0 "$S_unmatched"
assert_within "bytes tbf counted: imq0 against IFB" "$ifb_bytes" 1 "$imq_bytes"

# ---- Many copies at once: 16 echo requests of 60000 bytes sent together
# (41 copies each) into pfifo, which releases them at once, with a TUN ring of
# 200 (txqueuelen): imqd reads copies back between sends, the ring never
# overflows, every echo is answered and none goes partial.
nsx "$GW" tc qdisc replace dev imq0 root pfifo limit 10000 || fail "tc pfifo on imq0 failed"
# What reaches dst (reassembled there), whatever becomes of the 60 KB replies.
nsx "$DST" iptables -A INPUT -p icmp --icmp-type echo-request -m length --length 60000: ||
	fail "iptables counting rule in $DST failed"
txdrop0=$(nsx "$GW" cat /sys/class/net/imq0/statistics/tx_dropped)
partial0=$S_partial accepted0=$S_accepted
out=$(timeout 30 ip netns exec "$SRC" ping -c 32 -l 16 -i 0.2 -W 3 -s 60000 "$DST_IP" 2>&1)
log "60000-byte echoes, 16 at once: $(grep -E 'transmitted' <<<"$out")"
check_counters
assert_eq "60000-byte echo requests imqd accepted" 32 "$((S_accepted - accepted0))"
# gw fragments them again for dst, whose reassembly can drop some of 16 at once.
log "60000-byte echo requests that reached dst: $(ipt_pkts "$DST" iptables filter INPUT 1) of 32"
assert_eq "copies TUN's ring dropped (imq0 TX dropped)" 0 \
	"$(($(nsx "$GW" cat /sys/class/net/imq0/statistics/tx_dropped) - txdrop0))"
assert_eq "packets decided partial" 0 "$((S_partial - partial0))"
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# IMQ's known issues (docs/migrating-from-imq.md section 5): GRE, IPsec and
# locally generated traffic made IMQ panic. This kernel has no GRE or ESP
# driver, so packets of IP protocol 47 (GRE) and 50 (ESP) are built with raw
# sockets: 1000 ESP packets forwarded src -> dst and queued in PREROUTING,
# then 1000 GRE and 1000 ESP packets sent by gw itself and queued in
# POSTROUTING, all through an htb 50mbit on imq0. Every packet must arrive,
# imqd must have accepted exactly those, and still be running.
. "$(dirname "$0")/lib.sh"
e2e_init imq_tunnels

N=1000
topo_create
start_imqd 0
G() { nsx "$GW" "$@"; }
G tc qdisc replace dev imq0 root handle 1: htb default 1 &&
	G tc class add dev imq0 parent 1: classid 1:1 htb rate 50mbit || fail "htb on imq0 failed"

# raw_run TAG PROTO SENDER_NS SENDER_ADDR: N packets of PROTO to dst; checks arrival and imqd.
raw_run() {
	local tag=$1 proto=$2 sns=$3 saddr=$4 rpid before_r before_a
	imqd_counters
	before_r=$S_received before_a=$S_accepted
	rm -f "$T_TMP/ready.$tag"
	bg "$DST" timeout 30 "$PYTHON" "$TOOLS/rawip.py" recv "$proto" "$saddr" "$N" "$T_TMP/ready.$tag" \
		>"$T_TMP/recv.$tag.json"
	rpid=$BG_PID
	wait_until 5 '[ -e "$T_TMP/ready.$tag" ]' || fail "$tag: receiver not ready"
	timeout 20 ip netns exec "$sns" "$PYTHON" "$TOOLS/rawip.py" send "$proto" "$DST_IP" "$N" \
		>"$T_TMP/send.$tag.json" || fail "$tag: sender failed"
	wait_pid "$rpid" 25 || fail "$tag: receiver did not finish"
	assert_eq "$tag: packets sent" "$N" "$(json_field "$T_TMP/send.$tag.json" sent)"
	assert_eq "$tag: packets at dst" "$N" "$(json_field "$T_TMP/recv.$tag.json" received)"
	check_counters
	assert_eq "$tag: imqd received" "$N" "$((S_received - before_r))"
	assert_eq "$tag: imqd accepted" "$N" "$((S_accepted - before_a))"
}

G iptables -t mangle -A PREROUTING -i "$GW_IN" -p 50 -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "NFQUEUE rule for protocol 50 failed"
raw_run "forwarded ESP" 50 "$SRC" "$SRC_IP"
G iptables -t mangle -F PREROUTING

G iptables -t mangle -A POSTROUTING -o "$GW_OUT" -p 47 -j NFQUEUE --queue-num 0 --queue-bypass &&
	G iptables -t mangle -A POSTROUTING -o "$GW_OUT" -p 50 -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "NFQUEUE rules in POSTROUTING failed"
raw_run "local GRE" 47 "$GW" "$GW_OUT_IP"
raw_run "local ESP" 50 "$GW" "$GW_OUT_IP"

imqd_alive
assert_eq "imqd failopen" 0 "$S_failopen"
check_nothing_queued
stop_imqd
finish

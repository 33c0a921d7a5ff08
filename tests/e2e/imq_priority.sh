#!/usr/bin/env bash
# Classes chosen by skb priority (iptables CLASSIFY), with no tc filter:
# CLASSIFY in mangle FORWARD sets priority 1:10 on TCP to port 5001, the
# queue rule sits in mangle POSTROUTING, and htb on imq0 puts a copy whose
# priority names a leaf straight into it (5mbit), the rest into the default
# class (15mbit). imqd carries the priority onto the copy; both flows at once
# must measure within 10% of their class rates.
. "$(dirname "$0")/lib.sh"
e2e_init imq_priority

RATE1=5 RATE2=15 # Mbit/s
SECS=8
topo_create
start_imqd 0

nsx "$GW" tc qdisc replace dev imq0 root handle 1: htb default 20 || fail "tc htb"
nsx "$GW" tc class add dev imq0 parent 1: classid 1:10 htb rate ${RATE1}mbit || fail "tc class 1:10"
nsx "$GW" tc class add dev imq0 parent 1: classid 1:20 htb rate ${RATE2}mbit || fail "tc class 1:20"
nsx "$GW" iptables -t mangle -A FORWARD -i "$GW_IN" -p tcp --dport 5001 -j CLASSIFY --set-class 1:10 ||
	fail "iptables CLASSIFY"
nsx "$GW" iptables -t mangle -A POSTROUTING -o "$GW_OUT" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE"

iperf_server "$DST" 5001
iperf_server "$DST" 5002
mapfile -t rates < <(iperf_many "$T_TMP/pr" "$SECS" "$SRC $DST_IP 5001" "$SRC $DST_IP 5002")
[ "${#rates[@]}" = 2 ] || fail "iperf3 gave no rates"
log "priority 1:10: ${rates[0]} Mbit/s (class $RATE1), default: ${rates[1]} Mbit/s (class $RATE2)"
nsx "$GW" tc -s class show dev imq0 >&2

check_counters
assert_eq "imqd failopen (passed unshaped)" 0 "$S_failopen"
assert_gt "copies in class 1:10 (by priority)" 0 "$(tc_class_pkts "$GW" imq0 1:10)"
assert_gt "copies in class 1:20 (default)" 0 "$(tc_class_pkts "$GW" imq0 1:20)"
check_nothing_queued
stop_imqd
assert_within "CLASSIFY 1:10 flow (Mbit/s)" "$RATE1" 10 "${rates[0]}"
assert_within "unclassified flow (Mbit/s)" "$RATE2" 10 "${rates[1]}"
finish

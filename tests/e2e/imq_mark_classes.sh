#!/usr/bin/env bash
# Classes chosen by the netfilter mark, the recipe of docs/migrating-from-imq.md
# section 4 as written: iptables marks TCP to ports 5001 and 5002 with 1 and
# 2 in mangle PREROUTING before the queue rule, htb on imq0 has a 5mbit and
# a 15mbit class chosen by classic-BPF mark filters. Both flows at once must
# measure within 10% of 5 and 15 Mbit/s.
. "$(dirname "$0")/lib.sh"
e2e_init imq_mark_classes

RATE1=5 RATE2=15 # Mbit/s, as in the guide's block
SECS=8
topo_create
start_imqd 0

guide_script mark-classes "$T_TMP/recipe.sh" IN="$GW_IN"
nsx "$GW" bash -e "$T_TMP/recipe.sh" 2>"$T_TMP/recipe.err" ||
	{ cat "$T_TMP/recipe.err" >&2; fail "the guide's mark-classes block failed"; }

iperf_server "$DST" 5001
iperf_server "$DST" 5002
mapfile -t rates < <(iperf_many "$T_TMP/mk" "$SECS" "$SRC $DST_IP 5001" "$SRC $DST_IP 5002")
[ "${#rates[@]}" = 2 ] || fail "iperf3 gave no rates"
log "mark 1: ${rates[0]} Mbit/s (class $RATE1), mark 2: ${rates[1]} Mbit/s (class $RATE2)"
nsx "$GW" tc -s class show dev imq0 >&2

check_counters
assert_eq "imqd failopen (passed unshaped)" 0 "$S_failopen"
# Every copy went to one of the two classes: none unclassified (htb direct).
direct=$(nsx "$GW" tc -s qdisc show dev imq0 | sed -n 's/.*direct_packets_stat \([0-9]*\).*/\1/p' | head -n 1)
assert_eq "copies htb passed unclassified (direct_packets_stat)" 0 "$direct"
assert_gt "copies in class 1:1 (mark 1)" 0 "$(tc_class_pkts "$GW" imq0 1:1)"
assert_gt "copies in class 1:2 (mark 2)" 0 "$(tc_class_pkts "$GW" imq0 1:2)"
check_nothing_queued
stop_imqd
assert_within "mark 1 flow (Mbit/s)" "$RATE1" 10 "${rates[0]}"
assert_within "mark 2 flow (Mbit/s)" "$RATE2" 10 "${rates[1]}"
finish

#!/usr/bin/env bash
# Per-host download shaping behind NAT, the recipe of docs/migrating-from-imq.md
# section 2 as written: the gateway masquerades hosts H1 and H2 (the server
# has no route to them), downloads are queued in mangle FORWARD (after
# de-NAT) and htb on imq0 classifies on the internal destination address.
# Both hosts download at once (iperf3 -R); each must measure within 10% of
# its class: 10 and 30 Mbit/s (iperf3 counts TCP payload, the qdisc whole
# frames: full-size segments measure about 4.4% under the class rate).
. "$(dirname "$0")/lib.sh"
e2e_init imq_nat_download

RATE1=10 RATE2=30 # Mbit/s, as in the guide's block
SECS=8
topo_home
start_imqd 0

# Without NAT the server cannot answer the hosts.
if timeout 3 ip netns exec "$H1" ping -n -q -c 1 -W 1 "$SERVER_IP" >/dev/null 2>&1; then
	fail "H1 reaches the server without NAT: topology is wrong"
fi

guide_script nat-download "$T_TMP/recipe.sh" WAN="$WAN" LAN="$LAN" H1="$H1_IP" H2="$H2_IP"
nsx "$GW" bash -e "$T_TMP/recipe.sh" 2>"$T_TMP/recipe.err" ||
	{ cat "$T_TMP/recipe.err" >&2; fail "the guide's nat-download block failed"; }
ping_ok "$H1" "$SERVER_IP" || fail "no connectivity H1 -> server through NAT"
ping_ok "$H2" "$SERVER_IP" || fail "no connectivity H2 -> server through NAT"

iperf_server "$SERVER" 5201
iperf_server "$SERVER" 5202
mapfile -t rates < <(iperf_many "$T_TMP/dl" "$SECS" "$H1 $SERVER_IP 5201 -R" "$H2 $SERVER_IP 5202 -R")
[ "${#rates[@]}" = 2 ] || fail "iperf3 gave no rates"
log "downloads at once: H1 ${rates[0]} Mbit/s (class $RATE1), H2 ${rates[1]} Mbit/s (class $RATE2)"
nsx "$GW" tc -s class show dev imq0 >&2

check_counters
assert_eq "imqd failopen (passed unshaped)" 0 "$S_failopen"
assert_gt "copies in H1's class 1:10" 0 "$(tc_class_pkts "$GW" imq0 1:10)"
assert_gt "copies in H2's class 1:20" 0 "$(tc_class_pkts "$GW" imq0 1:20)"
check_nothing_queued
stop_imqd
assert_within "H1 download (Mbit/s)" "$RATE1" 10 "${rates[0]}"
assert_within "H2 download (Mbit/s)" "$RATE2" 10 "${rates[1]}"
finish

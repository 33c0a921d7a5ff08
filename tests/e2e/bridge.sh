#!/usr/bin/env bash
# A transparent bridge: src and dst in one subnet, joined by bridge br0 in gw
# (ports gs0 towards src, gd0 towards dst; br_netfilter hands bridged packets
# to iptables). imq0 has bridge = yes, and the rules are the ones imqctl rules
# prints (and docs/migrating-from-imq.md quotes), IFACE replaced by the port. TCP from src through a tbf at RATE
# Mbit/s, ROUNDS times in turn: on IFB fed from gs0's ingress, then on imq0
# fed by the physdev-in rules on gs0. The median goodput on imq0 must be
# within 1% of the median on IFB (both count the Ethernet header: IFB sees
# it, imqd pads each copy's segments by the default overhead of 14 bytes).
# Then IPv6 through the same rules, and the egress form (physdev-out gd0,
# IPv4 and IPv6): queued, and shaped by the same tbf.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init bridge 170

RATE=${RATE:-100} # Mbit/s
SECS=${SECS:-6}
ROUNDS=${ROUNDS:-3}
TBF=(tbf rate "${RATE}mbit" burst 128k latency 50ms)

ns_new s SRC
ns_new g GW
ns_new d DST
link_pair "$SRC" s0 "$GW" gs0
link_pair "$GW" gd0 "$DST" d0
nsx "$GW" ip link add br0 type bridge || fail "cannot create bridge br0 in $GW"
nsx "$GW" ip link set gs0 master br0 || fail "cannot add gs0 to br0"
nsx "$GW" ip link set gd0 master br0 || fail "cannot add gd0 to br0"
nsx "$GW" ip link set br0 up
SRC_IP=10.$X.1.2 DST_IP=10.$X.1.3 SRC6=fd00:$X:1::2 DST6=fd00:$X:1::3
addr "$SRC" s0 "$SRC_IP/24" "$SRC6/64"
addr "$DST" d0 "$DST_IP/24" "$DST6/64"
ping_ok "$SRC" "$DST_IP" || fail "no IPv4 connectivity across br0"
ping_ok "$SRC" "$DST6" || fail "no IPv6 connectivity across br0"

start_imqd 0 "bridge = yes"
"$IMQCTL" -s "$IMQD_SOCK" rules imq0 >"$T_TMP/rules" || fail "imqctl rules imq0 failed"
dump_file "imqctl rules imq0 (bridge = yes)" "$T_TMP/rules"
# The migration guide quotes these rules as its bridge recipe.
guide_block bridge-rules >"$T_TMP/guide"
if diff -u "$T_TMP/guide" "$T_TMP/rules" >&2; then
	pass_msg "the guide's bridge recipe is what imqctl rules prints"
else
	mismatch "the guide's bridge recipe (<!-- test:bridge-rules -->) differs from imqctl rules"
fi
# The recipe's sysctls, as printed (br_netfilter is built into this kernel).
sysctls=$(sed -n 's/^#   sysctl -w //p' "$T_TMP/rules")
[ -n "$sysctls" ] || fail "imqctl rules printed no br_netfilter sysctls"
# shellcheck disable=SC2086 # one word per setting
nsx "$GW" sysctl -qw $sysctls || fail "sysctl -w $sysctls failed in $GW"

# rules ACTION CHAIN PORT: run the printed rules of CHAIN, IFACE = PORT, -A -> ACTION.
rules() {
	local line n=0
	while read -r line; do
		line=${line//IFACE/$3}
		# shellcheck disable=SC2086 # the printed command line, word by word
		nsx "$GW" ${line/ -A / $1 } || fail "printed rule failed: ${line/ -A / $1 }"
		n=$((n + 1))
	done < <(grep -E "^ip6?tables -t mangle -A $2 " "$T_TMP/rules")
	[ "$n" = 2 ] || fail "imqctl rules printed $n $2 rules, not 2 (iptables, ip6tables)"
}

# goodput NS ADDR SECONDS PORT: one TCP upload's goodput (Mbit/s) to dst.
goodput() {
	iperf_server "$DST" "$4"
	iperf_client "$1" "$2" "$4" "$3" "$T_TMP/iperf-$4.json"
}

round_ifb() {
	nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0"
	nsx "$GW" ip link set ifb0 up
	nsx "$GW" tc qdisc add dev ifb0 root "${TBF[@]}" || fail "tc tbf on ifb0 failed"
	nsx "$GW" tc qdisc add dev gs0 handle ffff: ingress || fail "tc ingress on gs0 failed"
	nsx "$GW" tc filter add dev gs0 parent ffff: protocol all prio 1 u32 match u32 0 0 \
		action mirred egress redirect dev ifb0 || fail "tc mirred redirect to ifb0 failed"
	goodput "$SRC" "$DST_IP" "$SECS" $((5300 + $1))
	nsx "$GW" tc qdisc del dev gs0 ingress
	nsx "$GW" ip link del ifb0
}

round_imq() {
	rules -A PREROUTING gs0
	goodput "$SRC" "$DST_IP" "$SECS" $((5400 + $1))
	rules -D PREROUTING gs0
}

# median VALUES...
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

nsx "$GW" tc qdisc replace dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
ifb=() imq=()
for r in $(seq "$ROUNDS"); do
	v=$(round_ifb "$r") || exit 1
	ifb+=("$v")
	v=$(round_imq "$r") || exit 1
	imq+=("$v")
	log "round $r: IFB ${ifb[-1]} Mbit/s, imq0 ${imq[-1]} Mbit/s"
done
imqd_counters
assert_gt "packets imqd took from the physdev-in rules" 1000 "$S_received"
imq_median=$(median "${imq[@]}")
assert_within "bridged TCP on imq0 against IFB on the port (median Mbit/s)" \
	"$(median "${ifb[@]}")" 1 "$imq_median"

# IPv6 through the ingress rules.
rules -A PREROUTING gs0
v6=$(goodput "$SRC" "$DST6" 3 5501) || exit 1
assert_gt "ip6tables physdev-in rule: packets queued" 1000 "$(ipt_pkts "$GW" ip6tables mangle PREROUTING 1)"
# IPv6 headers are 20 bytes longer: ~1.3% less goodput than IPv4's.
assert_within "bridged IPv6 TCP through imq0's tbf against IPv4's (Mbit/s)" "$imq_median" 3 "$v6"
rules -D PREROUTING gs0

# The egress form: what the bridge forwards out of gd0, IPv4 and IPv6.
rules -A POSTROUTING gd0
out4=$(goodput "$SRC" "$DST_IP" 3 5502) || exit 1
out6=$(goodput "$SRC" "$DST6" 3 5503) || exit 1
assert_gt "iptables physdev-out rule: packets queued" 1000 "$(ipt_pkts "$GW" iptables mangle POSTROUTING 1)"
assert_gt "ip6tables physdev-out rule: packets queued" 1000 "$(ipt_pkts "$GW" ip6tables mangle POSTROUTING 1)"
assert_within "bridged TCP out of gd0 through imq0's tbf (Mbit/s)" "$imq_median" 3 "$out4"
assert_within "bridged IPv6 TCP out of gd0 through imq0's tbf (Mbit/s)" "$imq_median" 3 "$out6"

check_counters
assert_eq "imqd failopen (accepted unshaped)" 0 "$S_failopen"
check_nothing_queued
stop_imqd
finish

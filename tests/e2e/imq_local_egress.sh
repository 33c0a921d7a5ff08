#!/usr/bin/env bash
# Recipes of docs/migrating-from-imq.md run as written, on a home gateway
# (hosts H1 and H2 on the LAN bridge, NAT to a server on the WAN):
# 1. Locally generated traffic (section 5, IMQ's Samba workaround): TCP sent
#    by the gateway itself to H1, queued in POSTROUTING -o LAN, tbf 10mbit on
#    imq0: within 10% of the TCP goodput 10 Mbit/s carries. With the "exempt"
#    variant (! -s GW_ADDR) the gateway's own TCP is not shaped (over 30
#    Mbit/s) while H1's download from the server still is (10 Mbit/s).
# 2. The home gateway example (section 6: imqd.conf, the up hook, the rules):
#    two hosts downloading at once each within 10% of 20 Mbit/s (40 shared),
#    one alone within 10% of 40, two uploading at once within 10% of 5 each.
# Rates are TCP goodput, against the 95.6% of a shaped rate that is left
# when Ethernet and TCP/IP headers (4.4% of a 1514-byte frame) are counted.
. "$(dirname "$0")/lib.sh"
e2e_init imq_local_egress

SECS=8
goodput() { calc %.3f "$1 * 0.956"; }
topo_home
G() { nsx "$GW" "$@"; }

# rates TAG SPEC...: iperf3 servers on the server side of each SPEC, clients
# at once; the rates in RATES[]. SPEC is "CLIENT_NS SERVER_NS SERVER_ADDR [-R]".
PORT_NEXT=5201
rates() {
	local tag=$1 spec cns sns addr opt specs=()
	shift
	for spec in "$@"; do
		read -r cns sns addr opt <<<"$spec"
		iperf_server "$sns" "$PORT_NEXT"
		specs+=("$cns $addr $PORT_NEXT ${opt:-}")
		PORT_NEXT=$((PORT_NEXT + 1))
	done
	mapfile -t RATES < <(iperf_many "$T_TMP/$tag" "$SECS" "${specs[@]}")
	[ "${#RATES[@]}" = "$#" ] || fail "$tag: iperf3 gave no rates"
	log "$tag: ${RATES[*]} Mbit/s"
}

# --- 1. the gateway's own traffic
start_imqd 0
G tc qdisc replace dev imq0 root tbf rate 10mbit burst 32k latency 100ms || fail "tbf on imq0 failed"
guide_script local-traffic "$T_TMP/local.sh" LAN="$LAN"
G bash -e "$T_TMP/local.sh" || fail "the guide's local-traffic block failed"
rates local "$GW $H1 $H1_IP"
assert_within "gateway's own TCP to H1, queued in POSTROUTING (Mbit/s)" "$(goodput 10)" 10 "${RATES[0]}"

G iptables -t mangle -F POSTROUTING
G iptables -t nat -A POSTROUTING -o "$WAN" -j MASQUERADE || fail "MASQUERADE failed"
guide_script local-traffic-exempt "$T_TMP/exempt.sh" LAN="$LAN" GW_ADDR="$GW_LAN_IP"
G bash -e "$T_TMP/exempt.sh" || fail "the guide's local-traffic-exempt block failed"
rates exempt "$GW $H1 $H1_IP"
assert_ge "gateway's own TCP to H1, exempted (Mbit/s)" 30 "${RATES[0]}"
rates exempt-fwd "$H1 $SERVER $SERVER_IP -R"
assert_within "H1's download from the server, with the exemption (Mbit/s)" "$(goodput 10)" 10 "${RATES[0]}"
check_counters
assert_eq "imqd failopen" 0 "$S_failopen"
stop_imqd
G iptables -t mangle -F
G iptables -t nat -F

# --- 2. the home gateway example
guide_script home-shaper "$T_TMP/home-shaper" HOSTS="\"$H1_IP $H2_IP\""
guide_block home-conf | sed "s|/etc/imqd/home-shaper|$T_TMP/home-shaper|" >"$T_TMP/home.conf"
grep -q "$T_TMP/home-shaper" "$T_TMP/home.conf" || fail "the guide's home-conf block names no /etc/imqd/home-shaper"
DOWN=$(sed -n 's/^DOWN_KBIT=\([0-9]*\).*/\1/p' "$T_TMP/home-shaper")
UP=$(sed -n 's/^UP_KBIT=\([0-9]*\).*/\1/p' "$T_TMP/home-shaper")
[ -n "$DOWN" ] && [ -n "$UP" ] || fail "no DOWN_KBIT/UP_KBIT in the guide's home-shaper block"
imqd_conf "$T_TMP/imqd.conf" "$T_TMP/imqd.sock" <"$T_TMP/home.conf"
start_imqd_conf "$T_TMP/imqd.conf"
for d in imq0 imq1; do
	G tc qdisc show dev "$d" | grep -q '^qdisc htb 1: root' || {
		dump_file "imqd log" "$IMQD_LOG"
		fail "the up hook left no htb on $d"
	}
done
guide_script home-rules "$T_TMP/home-rules.sh" WAN="$WAN" LAN="$LAN"
G bash -e "$T_TMP/home-rules.sh" || fail "the guide's home-rules block failed"

half_down=$(goodput "$DOWN / 2000")
rates down2 "$H1 $SERVER $SERVER_IP -R" "$H2 $SERVER $SERVER_IP -R"
assert_within "H1 download, both hosts downloading (Mbit/s)" "$half_down" 10 "${RATES[0]}"
assert_within "H2 download, both hosts downloading (Mbit/s)" "$half_down" 10 "${RATES[1]}"
rates down1 "$H1 $SERVER $SERVER_IP -R"
assert_within "H1 download alone (Mbit/s)" "$(goodput "$DOWN / 1000")" 10 "${RATES[0]}"
half_up=$(goodput "$UP / 2000")
rates up2 "$H1 $SERVER $SERVER_IP" "$H2 $SERVER $SERVER_IP"
assert_within "H1 upload, both hosts uploading (Mbit/s)" "$half_up" 10 "${RATES[0]}"
assert_within "H2 upload, both hosts uploading (Mbit/s)" "$half_up" 10 "${RATES[1]}"
G tc -s class show dev imq0 >&2
G tc -s class show dev imq1 >&2

for d in imq0 imq1; do
	check_counters "$d"
	assert_eq "$d failopen" 0 "$S_failopen"
	assert_gt "$d accepted" 0 "$S_accepted"
done
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# Link-layer overhead with tc stab: an htb class of 20 Mbit/s under `stab
# overhead 40 linklayer ethernet`, then `stab overhead 40 linklayer atm`, on
# IFB fed from gw's ingress and on imq0 with imqd's default overhead (14).
# UDP datagrams of 1472 bytes (1500-byte packets, one segment each) offered
# at 25 Mbit/s: each counts as 1500 + 14 + 40 = 1554 bytes, or 33 ATM cells
# of 53, so the goodput must be 20 x 1472 / 1554 or 20 x 1472 / 1749 Mbit/s,
# within 1%, on imq0 as on IFB, and imq0's within 1% of IFB's. Then what
# imqd.conf(5) says of GSO packets: IFB's stab counts a UDP GSO packet of 10
# segments once (more goodput than the link carries), imq0's with gso = no
# counts its segments (within 1% of the above); and overhead = 0 with stab
# overhead 54 counts as 14 and 40 do.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init stab 170

ETH="overhead 40 linklayer ethernet"
ATM="overhead 40 linklayer atm"
SEG=1472    # UDP payload of a 1500-byte IPv4 packet
OFFER=25    # Mbit/s of payload offered
SECS=6      # of traffic a run
UDPGSO=$TOOLS/udpgso.py
ETH_WANT=$(awk -v s=$SEG 'BEGIN { printf "%.3f", 20 * s / (1500 + 14 + 40) }')
ATM_WANT=$(awk -v s=$SEG 'BEGIN { printf "%.3f", 20 * s / (33 * 53) }')

topo_create

# shape DEV STAB: DEV's root an htb under `stab STAB`, one class of 20 Mbit/s.
shape() {
	nsx "$GW" tc qdisc del dev "$1" root 2>/dev/null
	# shellcheck disable=SC2086 # the stab options, word by word
	nsx "$GW" tc qdisc add dev "$1" root handle 1: stab $2 htb default 1 ||
		fail "tc stab $2 htb on $1 failed"
	# A burst of 8 ms at the rate: on a busy machine htb's timer runs a few
	# milliseconds late at times (2-8 ms gaps at dst), and with the default
	# burst of about 2 ms the link's time lost to that shows as 1% less rate.
	nsx "$GW" tc class add dev "$1" parent 1: classid 1:1 htb rate 20mbit ceil 20mbit \
		burst 20k cburst 20k || fail "tc htb class on $1 failed"
	# IFB's txqueuelen (32) and imq0's (1000) would be the limit otherwise.
	nsx "$GW" tc qdisc add dev "$1" parent 1:1 pfifo limit 100 || fail "tc pfifo on $1 failed"
}

# goodput NAME SEGS PORT: UDP payload rate (Mbit/s) at dst of OFFER Mbit/s
# offered for SECS seconds, SEGS datagrams a send (more: UDP GSO packets).
goodput() {
	local sends port=$3
	sends=$(awk -v o=$OFFER -v t=$SECS -v s=$SEG -v n="$2" 'BEGIN { printf "%d", o * 1e6 * t / 8 / s / n }')
	bg "$DST" timeout 30 "$PYTHON" "$UDPGSO" recv "$port" $((sends * $2)) 20 \
		>"$T_TMP/$1.recv.json" 2>"$T_TMP/$1.recv.err"
	local rpid=$BG_PID
	for _ in $(seq 50); do grep -q listening "$T_TMP/$1.recv.err" && break; sleep 0.1; done
	timeout 30 ip netns exec "$SRC" "$PYTHON" "$UDPGSO" send "$DST_IP" "$port" "$sends" "$2" \
		"$SEG" "$OFFER" >"$T_TMP/$1.send.json" || fail "$1: the UDP sender failed"
	wait_pid "$rpid" 30 || fail "$1: the receiver did not finish"
	log "$1: sent $(cat "$T_TMP/$1.send.json"), received $(cat "$T_TMP/$1.recv.json")"
	json_field "$T_TMP/$1.recv.json" mbit
}

# ifb NAME STAB SEGS PORT
ifb() {
	nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0"
	nsx "$GW" ip link set ifb0 up
	shape ifb0 "$2"
	nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress || fail "tc ingress failed"
	nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
		action mirred egress redirect dev ifb0 || fail "tc mirred redirect to ifb0 failed"
	goodput "$1" "$3" "$4"
	nsx "$GW" tc qdisc del dev "$GW_IN" ingress
	nsx "$GW" ip link del ifb0
}

# imq NAME STAB SEGS PORT
imq() {
	shape imq0 "$2"
	goodput "$1" "$3" "$4"
}

# IFB first: packets it sends back in arrive on gw's interface again, where
# the queue rule would take them.
eth_ifb=$(ifb eth-ifb "$ETH" 1 9401) || exit 1
atm_ifb=$(ifb atm-ifb "$ATM" 1 9402) || exit 1
gso_ifb=$(ifb gso-ifb "$ETH" 10 9403) || exit 1
start_imqd 0
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp -j NFQUEUE --queue-num 0 \
	--queue-bypass || fail "iptables NFQUEUE rule failed"
eth_imq=$(imq eth-imq "$ETH" 1 9404) || exit 1
atm_imq=$(imq atm-imq "$ATM" 1 9405) || exit 1
check_counters
assert_eq "imqd failopen (accepted unshaped)" 0 "$S_failopen"
stop_imqd

start_imqd 0 "gso = no"
gso_imq=$(imq gso-imq "$ETH" 10 9406) || exit 1
gso_atm_imq=$(imq gso-atm-imq "$ATM" 10 9407) || exit 1
check_counters
stop_imqd

start_imqd 0 "overhead = 0"
ov0_imq=$(imq ov0-imq "overhead 54 linklayer ethernet" 1 9408) || exit 1
check_counters
check_nothing_queued
stop_imqd

assert_within "stab ethernet: IFB's goodput against 20 x 1472 / 1554" "$ETH_WANT" 1 "$eth_ifb"
assert_within "stab ethernet: imq0's goodput against 20 x 1472 / 1554" "$ETH_WANT" 1 "$eth_imq"
assert_within "stab ethernet: imq0 against IFB (Mbit/s)" "$eth_ifb" 1 "$eth_imq"
assert_within "stab atm: IFB's goodput against 20 x 1472 / 1749" "$ATM_WANT" 1 "$atm_ifb"
assert_within "stab atm: imq0's goodput against 20 x 1472 / 1749" "$ATM_WANT" 1 "$atm_imq"
assert_within "stab atm: imq0 against IFB (Mbit/s)" "$atm_ifb" 1 "$atm_imq"
# A GSO packet of 10 segments counts 9 x (28 + 14 + 40) bytes short on IFB: ~5%.
assert_gt "stab ethernet, UDP GSO: IFB's goodput above 20 x 1472 / 1554 by 3%" \
	"$(awk -v w="$ETH_WANT" 'BEGIN { print w * 1.03 }')" "$gso_ifb"
assert_within "stab ethernet, UDP GSO, gso = no: imq0 against 20 x 1472 / 1554" \
	"$ETH_WANT" 1 "$gso_imq"
assert_within "stab atm, UDP GSO, gso = no: imq0 against 20 x 1472 / 1749" \
	"$ATM_WANT" 1 "$gso_atm_imq"
assert_within "overhead = 0 and stab overhead 54: against 20 x 1472 / 1554" \
	"$ETH_WANT" 1 "$ov0_imq"
finish

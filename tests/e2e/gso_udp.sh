#!/usr/bin/env bash
# UDP GSO packets (a sender with UDP_SEGMENT, as QUIC stacks use, its
# packets crossing veth whole) through tbf 20mbit with a 32 KB burst, first
# on IFB, then on imq0 with imqd's defaults (gso = yes), over IPv4 and IPv6.
# tbf drops a plain packet longer than its burst, so imqd must send a UDP GSO
# packet into imq0 as a GSO copy that tbf can cut into its segments. At 10
# Mbit/s every datagram must arrive through either device; the bytes tbf
# counted on imq0 must be within 1% of IFB's (the sender's segments fill the
# MTU, which is what imqd assumes); imqd must count no stray copy, pass
# nothing unshaped and leave nothing queued. Then 6000 datagrams at 40
# Mbit/s into the same tbf (twice its rate): imqd passes or drops each GSO
# packet of 40 whole, so exactly 40 datagrams per accepted packet arrive, at
# tbf's rate (19.45 Mbit/s of payload, within 15%: a burst this short ends
# on a packet decided late). Here IFB loses nothing at all: the sender's
# socket is held back while its packets sit in ifb0's tbf, which an NFQUEUE
# holding the real packet and a copy in imq0 does not do.
# Last, 4800 datagrams at 10 Mbit/s again while imqd reloads 12 times
# (queue-maxlen changes): every datagram arrives and no packet is decided as
# partial (a reload must not lose the count of segments already back).
# And bursts of 6 GSO packets at once into tbf with an 8 KB burst, which
# drops the tail of some copies: once a burst is sent, no packet may stay
# held for more than 2.5 s (reading the counters takes some of it), not
# until drop-timeout (5 s).
# shellcheck source=lib.sh disable=SC2154 # S_* are set by check_counters
. "$(dirname "$0")/lib.sh"
e2e_init gso_udp

PORT=9300
SEG=1472 # the UDP payload of a 1500-byte IPv4 packet
SEG6=1452
SENDS=60 # of 40 segments each: 2400 datagrams
TBF=(tbf rate 20mbit burst 32k latency 100ms)


# run NAME ADDR SEGSIZE MBIT [SENDS]: SENDS x 40 datagrams; sets R_RECEIVED, R_MBIT.
run() {
	local name=$1 addr=$2 size=$3 mbit=$4 sends=${5:-$SENDS}
	bg "$DST" timeout 30 "$PYTHON" "$TOOLS/udpgso.py" recv "$PORT" $((sends * 40)) 20 \
		>"$T_TMP/$name.recv.json" 2>"$T_TMP/$name.recv.err"
	local rpid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 30 ip netns exec "$SRC" "$PYTHON" "$TOOLS/udpgso.py" send "$addr" "$PORT" "$sends" 40 \
		"$size" "$mbit" >"$T_TMP/$name.send.json" || mismatch "$name: the UDP GSO sender failed"
	wait_pid "$rpid" 30 || mismatch "$name: the receiver did not finish"
	R_RECEIVED=$(json_field "$T_TMP/$name.recv.json" received)
	R_MBIT=$(json_field "$T_TMP/$name.recv.json" mbit)
	log "$name: sent $(cat "$T_TMP/$name.send.json"), received $(cat "$T_TMP/$name.recv.json")"
	assert_eq "$name: duplicate datagrams" 0 "$(json_field "$T_TMP/$name.recv.json" duplicates)"
}

topo_create
declare -A ifb_bytes

# 1. IFB on gw's ingress from src.
nsx "$GW" ip link add ifb0 type ifb || fail "cannot create ifb0 in $GW"
nsx "$GW" ip link set ifb0 up
nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress || fail "tc ingress on $GW_IN failed"
nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
	action mirred egress redirect dev ifb0 || fail "tc mirred redirect to ifb0 failed"
for v in 4 6; do
	nsx "$GW" tc qdisc del dev ifb0 root 2>/dev/null # a new tbf: counters from 0
	nsx "$GW" tc qdisc add dev ifb0 root "${TBF[@]}" || fail "tc tbf on ifb0 failed"
	if [ $v = 4 ]; then run ifb4 "$DST_IP" "$SEG" 10; else run ifb6 "$DST6" "$SEG6" 10; fi
	assert_eq "IFB, IPv$v, 10 Mbit/s: datagrams received" $((SENDS * 40)) "$R_RECEIVED"
	ifb_bytes[$v]=$(qdisc_bytes ifb0)
done
nsx "$GW" tc qdisc replace dev ifb0 root "${TBF[@]}"
nsx "$GW" tc qdisc del dev "$GW_IN" ingress || fail "cannot remove the IFB redirect"
nsx "$GW" ip link del ifb0

# 2. imqd, the same tbf on imq0.
start_imqd 0
for ipt in iptables ip6tables; do
	nsx "$GW" "$ipt" -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
		-j NFQUEUE --queue-num 0 --queue-bypass || fail "$ipt NFQUEUE rule failed"
done
for v in 4 6; do
	nsx "$GW" tc qdisc del dev imq0 root 2>/dev/null
	nsx "$GW" tc qdisc add dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
	if [ $v = 4 ]; then run imqd4 "$DST_IP" "$SEG" 10; else run imqd6 "$DST6" "$SEG6" 10; fi
	assert_eq "imqd, IPv$v, 10 Mbit/s: datagrams received" $((SENDS * 40)) "$R_RECEIVED"
	bytes=$(qdisc_bytes imq0)
	log "IPv$v: tbf sent $bytes bytes on imq0, ${ifb_bytes[$v]} on ifb0"
	assert_within "IPv$v: bytes tbf counted on imq0 against ifb0's" "${ifb_bytes[$v]}" 1 "$bytes"
done
imqd_counters
show_counters
assert_eq "GSO packets imqd received (2 x $SENDS, queued whole)" $((2 * SENDS)) "$S_received"
assert_eq "imqd failopen" 0 "$S_failopen"
assert_eq "imqd stray copies" 0 "$S_stray"
nsx "$GW" tc qdisc del dev imq0 root 2>/dev/null
nsx "$GW" tc qdisc add dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
accepted_before=$S_accepted
run imqd_over "$DST_IP" "$SEG" 40 150
log "6000 datagrams at 40 Mbit/s into tbf 20mbit: $R_RECEIVED arrived through imq0 at $R_MBIT Mbit/s"
assert_within "payload rate through imq0's tbf 20mbit at twice that offered (Mbit/s)" 19.45 15 "$R_MBIT"
imqd_counters
assert_eq "datagrams at dst = 40 x GSO packets imqd accepted" $((40 * (S_accepted - accepted_before))) "$R_RECEIVED"
check_counters
assert_eq "imqd stray copies after the overload" 0 "$S_stray"
assert_eq "imqd failopen after the overload" 0 "$S_failopen"
check_nothing_queued

# Reloads while copies are being cut into segments.
nsx "$GW" tc qdisc del dev imq0 root 2>/dev/null
nsx "$GW" tc qdisc add dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
partial_before=${S_partial:-0}
conf=$T_TMP/imqd.conf
(
	for i in $(seq 12); do
		sleep 0.4
		sed -i '/^queue-maxlen/d' "$conf"
		printf 'queue-maxlen = %s\n' $((i % 2 ? 4096 : 8192)) >>"$conf"
		"$IMQCTL" -s "$IMQD_SOCK" reload >/dev/null 2>&1 || echo "reload $i failed" >>"$T_TMP/reloads.err"
	done
) &
reloader=$!
T_PIDS+=("$reloader")
run imqd_reload "$DST_IP" "$SEG" 10 120
wait_pid "$reloader" 10
[ -s "$T_TMP/reloads.err" ] && mismatch "reloads: $(cat "$T_TMP/reloads.err")"
assert_eq "datagrams at dst with 12 reloads" $((120 * 40)) "$R_RECEIVED"
check_counters
assert_eq "GSO packets decided as partial during the reloads" "$partial_before" "$S_partial"
check_nothing_queued

# Bursts whose last copies tbf cuts short.
nsx "$GW" tc qdisc del dev imq0 root 2>/dev/null
nsx "$GW" tc qdisc add dev imq0 root tbf rate 20mbit burst 8k latency 50ms || fail "tc tbf on imq0 failed"
for b in 1 2 3; do
	timeout 10 ip netns exec "$SRC" "$PYTHON" "$TOOLS/udpgso.py" send "$DST_IP" "$PORT" 6 40 1400 10000 \
		>/dev/null || mismatch "burst $b: the sender failed"
	start=$(date +%s%N)
	for _ in $(seq 60); do
		imqd_counters
		[ "$S_held" = 0 ] && break
		sleep 0.05
	done
	waited=$((($(date +%s%N) - start) / 1000000))
	log "burst $b: held back to 0 after $waited ms (partial $S_partial)"
	assert_eq "burst $b: packets still held" 0 "$S_held"
	assert_ge "burst $b: ms until nothing is held (at most 2500)" "$waited" 2500
	sleep 0.5
done
check_counters
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# Malformed and odd packets from src, every packet from src queued to imqd
# (iptables and ip6tables, mangle PREROUTING), alongside a well-formed UDP
# stream. Sent with raw sockets (IPPROTO_RAW + IP_HDRINCL, protocol 47) and
# with a packet socket on src's veth for what the IP stack will not build:
# truncated headers, wrong lengths, bad checksums, IP options, protocols
# 47/50/132/255, IPv4 and IPv6 fragments, broken IPv6 extension chains,
# 1-byte payloads and 1500-byte packets. The gateway's IP stack drops many
# before PREROUTING; what reaches the queue must be received by imqd (the
# queue rules' counters), decided (accepted: nothing here is shaped away),
# and imqd must keep running and answering, with its counters adding up and
# the well-formed stream whole. Run twice: copy = full, then copy = headers
# with copy-bytes = 40 (shorter than some IPv4 headers with options).
. "$(dirname "$0")/lib.sh"
e2e_init fault_malformed

PORT=9181
N=3000

topo_create
GW_MAC=$(nsx "$GW" cat "/sys/class/net/$GW_IN/address")
SRC_MAC=$(nsx "$SRC" cat /sys/class/net/s0/address)

# rule_pkts: packets the NFQUEUE rules (IPv4 and IPv6) sent to the queue.
rule_pkts() {
	local a b
	a=$(nsx "$GW" iptables -t mangle -L PREROUTING -v -x -n | awk '/NFQUEUE/ { s += $1 } END { print s + 0 }')
	b=$(nsx "$GW" ip6tables -t mangle -L PREROUTING -v -x -n | awk '/NFQUEUE/ { s += $1 } END { print s + 0 }')
	echo $((a + b))
}

# run NAME EXTRA_CONF: imqd, the stream and the malformed packets at once.
run() {
	local name=$1 extra=$2
	start_imqd 0 "$extra"
	nsx "$GW" tc qdisc replace dev imq0 root tbf rate 50mbit burst 64k limit 1m ||
		fail "tc tbf on imq0 failed"
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
		fail "iptables NFQUEUE rule failed"
	nsx "$GW" ip6tables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
		fail "ip6tables NFQUEUE rule failed"
	stamp_recv "$DST" "$PORT" 15 "$name" 2
	udp_stream "$SRC" "$DST_IP" "$PORT" "$N" 200 1000 8 4
	sleep 0.5
	timeout 30 ip netns exec "$SRC" "$PYTHON" "$TOOLS/malformed.py" "$SRC_MAC" "$GW_MAC" "$SRC_IP" \
		"$DST_IP" "$SRC6" "$DST6" "$PORT" >"$T_TMP/$name.sent" || fail "$name: malformed sender failed"
	wait_pid "$SEND_PID" 10
	stamp_wait "$name" 15
	imqd_alive
	local t0
	t0=$(now)
	"$IMQCTL" -s "$IMQD_SOCK" stats >/dev/null || mismatch "$name: imqctl stats failed"
	assert_le "$name: imqctl stats answered (s)" 1 "$(calc %.2f "$(now) - $t0")"
	check_counters
	check_nothing_queued
	local queued
	queued=$(rule_pkts)
	log "$name: $(json_field "$T_TMP/$name.sent" total) odd packets of" \
		"$(json_field "$T_TMP/$name.sent" kinds) kinds sent; queue rules matched $queued packets" \
		"(with the stream's $N); imqd malformed=${S_malformed:-?}"
	assert_eq "$name: imqd received = packets the queue rules matched" "$queued" "$S_received"
	assert_eq "$name: imqd accepted + failopen = received (nothing shaped away)" "$S_received" \
		"$((S_accepted + S_failopen))"
	assert_eq "$name: well-formed datagrams at dst" "$N" "$(json_field "$T_TMP/$name.json" unique)"
	RUN_SENT=$(json_field "$T_TMP/$name.sent" total) RUN_QUEUED=$queued
	RUN_GOT=$(json_field "$T_TMP/$name.json" unique)
	stop_imqd
	nsx "$GW" iptables -t mangle -F PREROUTING
	nsx "$GW" ip6tables -t mangle -F PREROUTING
}

run full ""
full_sent=$RUN_SENT full_queued=$RUN_QUEUED full_got=$RUN_GOT full_malformed=${S_malformed:-?}
run headers "copy = headers
copy-bytes = 40"
result "test=fault_malformed odd_sent=$full_sent stream_sent=$((2 * N)) stream_received=$((full_got + RUN_GOT))" \
	"full_queued=$full_queued full_malformed=$full_malformed" \
	"headers_queued=$RUN_QUEUED headers_malformed=${S_malformed:-?}"
finish

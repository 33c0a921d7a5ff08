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

cat >"$T_TMP/malformed.py" <<'EOF'
import json, random, socket, struct, sys, time
smac, dmac, src4, dst4, src6, dst6, port = sys.argv[1:8]
port = int(port)
rng = random.Random(1)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ip4(proto, payload, opts=b"", tot=None, good_csum=True, frag=0, ttl=64, ver=4, ihl=None):
    ihl = ihl if ihl is not None else 5 + len(opts) // 4
    tot = tot if tot is not None else 20 + len(opts) + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", ver << 4 | ihl, 0, tot & 0xffff, rng.randrange(65536), frag,
                    ttl, proto, 0, socket.inet_aton(src4), socket.inet_aton(dst4)) + opts
    c = csum(h) if good_csum else csum(h) ^ 0x5a5a
    return h[:10] + struct.pack("!H", c) + h[12:] + payload

def udp(payload, length=None, dport=port + 1):
    return struct.pack("!HHHH", 40000, dport, length if length is not None else 8 + len(payload), 0) + payload

def ip6(nh, payload, plen=None, hlim=64):
    plen = plen if plen is not None else len(payload)
    return struct.pack("!IHBB16s16s", 6 << 28, plen & 0xffff, nh, hlim,
                       socket.inet_pton(socket.AF_INET6, src6), socket.inet_pton(socket.AF_INET6, dst6)) + payload

def ext(nh, body):
    # generic extension header: next header, length in 8-byte units beyond the first 8
    body = body + bytes(-(len(body) + 2) % 8)
    return bytes([nh, (len(body) + 2) // 8 - 1]) + body

def frag6(nh, offset, more, ident=0x1234):
    return struct.pack("!BBHI", nh, 0, offset << 3 | more, ident)

junk = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
tcp_doff15 = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 15 << 4, 0x02, 1024, 0, 0)

v4 = {
    "udp_1byte": ip4(17, udp(b"x")),
    "udp_1500": ip4(17, udp(bytes(1472))),
    "proto47_gre": ip4(47, b"\x00\x00\x08\x00" + junk(60)),
    "proto50_esp": ip4(50, struct.pack("!II", 0xdeadbeef, 1) + junk(64)),
    "proto132_sctp": ip4(132, struct.pack("!HHI", 40000, 80, 0) + junk(40)),
    "proto255": ip4(255, junk(30)),
    "proto0_empty": ip4(0, b""),
    "tcp_doff15_short": ip4(6, tcp_doff15),
    "tcp_3bytes": ip4(6, b"\x9c\x40\x00"),
    "udp_3bytes": ip4(17, b"\x9c\x40\x23"),
    "udp_len_too_big": ip4(17, udp(b"abcd", length=4000)),
    "udp_len_too_small": ip4(17, udp(bytes(100), length=3)),
    "frag_first": ip4(17, udp(bytes(64)), frag=0x2000),
    "frag_middle": ip4(17, junk(64), frag=0x2000 | 185),
    "frag_last": ip4(17, junk(40), frag=370),
    "frag_offset1_tiny": ip4(6, junk(8), frag=1),
    "ipopts_ihl15_nops": ip4(17, udp(b"opt"), opts=b"\x01" * 40),
    "ipopts_ihl15_junk": ip4(17, udp(b"opt"), opts=junk(40)),
    "ipopts_bad_len": ip4(17, udp(b"opt"), opts=b"\x07\xff\x04\x00"),
    "ttl1": ip4(17, udp(b"ttl"), ttl=1),
    "tot_len_short": ip4(17, udp(bytes(50)), tot=40),  # the gateway trims the tail
    # dropped by the gateway's IP stack before PREROUTING:
    "bad_checksum": ip4(17, udp(b"x"), good_csum=False),
    "tot_len_long": ip4(17, udp(b"x"), tot=1400),
    "ihl4": ip4(17, udp(b"x"), ihl=4),
    "version5": ip4(17, udp(b"x"), ver=5),
    "truncated_10": ip4(17, udp(b"x"))[:10],
    "truncated_19": ip4(17, udp(b"x"))[:19],
}
v6 = {
    "v6_udp_1byte": ip6(17, udp(b"x")),
    "v6_udp_1500": ip6(17, udp(bytes(1452))),
    "v6_frag_first": ip6(44, frag6(17, 0, 1) + udp(bytes(64))),
    "v6_frag_later": ip6(44, frag6(17, 100, 0) + junk(64)),
    "v6_frag_atomic": ip6(44, frag6(17, 0, 0) + udp(b"atomic")),
    "v6_frag_truncated": ip6(44, b"\x11\x00"),
    "v6_dstopt_too_long": ip6(60, bytes([17, 200]) + junk(14)),
    "v6_routing_junk": ip6(43, ext(17, junk(22)) + udp(b"rt")),
    "v6_ah_bogus_len": ip6(51, bytes([17, 250]) + junk(22)),
    "v6_no_next": ip6(59, junk(20)),
    "v6_ext_chain_10": ip6(60, b"".join(ext(60 if i < 9 else 17, b"\x01\x04\x00\x00\x00\x00") for i in range(10)) + udp(b"deep")),
    "v6_esp": ip6(50, struct.pack("!II", 0xfeedface, 7) + junk(40)),
    "v6_proto132": ip6(132, struct.pack("!HHI", 40000, 80, 0) + junk(20)),
    "v6_plen0": ip6(17, udp(b"zero"), plen=0),
    "v6_hlim1": ip6(17, udp(b"hl"), hlim=1),
    # dropped before PREROUTING:
    "v6_plen_long": ip6(17, udp(b"x"), plen=1400),
    "v6_truncated_30": ip6(17, udp(b"x"))[:30],
}
REPEAT = 20
sent = {}
ps = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
ps.bind(("s0", 0))
eth = lambda t: bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + struct.pack("!H", t)
for r in range(REPEAT):
    for name, pkt in v4.items():
        ps.send(eth(0x0800) + pkt)
        sent[name] = sent.get(name, 0) + 1
    for name, pkt in v6.items():
        ps.send(eth(0x86DD) + pkt)
        sent[name] = sent.get(name, 0) + 1
    time.sleep(0.01)
# The IP stack's own raw sockets: header included, and protocol 47 without.
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
gre = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
for r in range(REPEAT):
    for proto in (47, 50, 132, 255):
        raw.sendto(ip4(proto, junk(rng.randint(0, 100))), (dst4, 0))
        sent["raw_hdrincl_%d" % proto] = sent.get("raw_hdrincl_%d" % proto, 0) + 1
    raw.sendto(ip4(17, udp(bytes(32)), frag=0x2000 | 10), (dst4, 0))
    sent["raw_hdrincl_frag"] = sent.get("raw_hdrincl_frag", 0) + 1
    gre.sendto(b"\x00\x00\x08\x00" + junk(rng.randint(0, 1400)), (dst4, 0))
    sent["raw_proto47"] = sent.get("raw_proto47", 0) + 1
    time.sleep(0.01)
print(json.dumps({"total": sum(sent.values()), "kinds": len(sent), "sent": sent}))
EOF

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
	timeout 30 ip netns exec "$SRC" python3 "$T_TMP/malformed.py" "$SRC_MAC" "$GW_MAC" "$SRC_IP" \
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

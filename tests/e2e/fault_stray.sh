#!/usr/bin/env bash
# Packets imqd did not send come out of imq0 while it shapes a UDP stream:
#  - forwarded ones: gw routes a prefix to imq0, src sends UDP to it;
#  - written ones: a packet socket on imq0 in gw sends copies that look like
#    the shaped stream's (same addresses and ports, so the same flow key,
#    sequence numbers it never uses), IPv6 packets, and garbage of 1 to 1400 bytes.
# imqd counts each as stray and never matches one to a held packet: the
# shaped stream arrives whole, in order, accepted one for one; counters add up.
. "$(dirname "$0")/lib.sh"
e2e_init fault_stray

PORT=9151
N=4000
PPS=1000
N_ROUTED=1500
N_WRITTEN=1500   # look-alike copies
N_V6=200
N_JUNK=100

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 20mbit burst 64k limit 2m ||
	fail "tc tbf on imq0 failed"
queue_rule "$PORT"
STRAY_NET=10.$X.99
nsx "$GW" ip route add "$STRAY_NET.0/24" dev imq0 || fail "cannot route $STRAY_NET.0/24 to imq0"

cat >"$T_TMP/write.py" <<'EOF'
import random, socket, struct, sys, time
src, dst, port, n, n6, njunk, sport = sys.argv[1], sys.argv[2], int(sys.argv[3]), *map(int, sys.argv[4:8])

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ipv4_udp(sport, seq):
    payload = struct.pack("!II", 0, seq) + bytes(992)
    udp = struct.pack("!HHHH", sport, port, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xffff, 0x4000, 63, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + udp

def ipv6_udp(i):
    payload = struct.pack("!II", 0, 1 << 30 | i) + bytes(100)
    udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64,
                       socket.inet_pton(socket.AF_INET6, "fd00::1"),
                       socket.inet_pton(socket.AF_INET6, "fd00::2")) + udp

s4 = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
rng = random.Random(7)
sent = 0
start = time.monotonic()
for i in range(n + n6 + njunk):
    if i < n:
        pkt, proto = ipv4_udp(sport, 1 << 31 | i), 0x0800
    elif i < n + n6:
        pkt, proto = ipv6_udp(i), 0x86DD
    else:
        pkt, proto = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 1400))), 0x0800
    while True:
        try:
            s4.sendto(pkt, ("imq0", proto))
            sent += 1
            break
        except BlockingIOError:
            time.sleep(0.001)
    # 500 packets a second
    delay = start + (i + 1) / 500.0 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(sent)
EOF

stamp_recv "$DST" "$PORT" 20 rx 2
udp_stream "$SRC" "$DST_IP" "$PORT" "$N" 1000 "$PPS" 10
sleep 0.3
# The stream's own source port: the written copies share its flow key.
sport=$(nsx "$SRC" ss -H -u -a -n -p | awk '/udpseq/ { n = split($4, a, ":"); print a[n]; exit }')
[ -n "$sport" ] || fail "cannot find the stream's source port"
# What src sends to the routed prefix: 100-byte datagrams, 500 a second.
bg "$SRC" timeout 15 "$UDPSEQ" send -d "$STRAY_NET.7" -p 9152 -n "$N_ROUTED" -s 100 -r 500 -t 10 \
	>"$T_TMP/send-9152.json"
routed_pid=$BG_PID
timeout 20 ip netns exec "$GW" python3 "$T_TMP/write.py" "$SRC_IP" "$DST_IP" "$PORT" \
	"$N_WRITTEN" "$N_V6" "$N_JUNK" "$sport" >"$T_TMP/written" || fail "packet writer on imq0 failed"
wait_pid "$routed_pid" 10 || fail "sender to the routed prefix failed"
wait_pid "$SEND_PID" 10
stamp_wait rx 20
written=$(cat "$T_TMP/written")
routed=$(stream_sent 9152)
log "strays: $routed forwarded to $STRAY_NET.0/24, $written written on imq0"
nsx "$GW" tc -s qdisc show dev imq0 >&2

check_counters
check_nothing_queued
got=$(json_field "$T_TMP/rx.json" received)
assert_eq "stray packets counted" "$((routed + written))" "${S_stray:-missing}"
assert_eq "imqd received (strays are not received packets)" "$N" "$S_received"
assert_eq "imqd accepted" "$N" "$S_accepted"
assert_eq "imqd dropped" 0 "$S_dropped"
assert_eq "shaped datagrams at dst" "$N" "$got"
assert_eq "duplicate datagrams" 0 "$(json_field "$T_TMP/rx.json" duplicates)"
assert_eq "datagrams out of order" 0 "$(json_field "$T_TMP/rx.json" out_of_order)"
assert_log "strays logged" 'that imqd did not send'
result "test=fault_stray sent=$N received=$got lost=$((N - got)) strays_sent=$((routed + written))" \
	"stray=${S_stray:-?} unmatched=${S_unmatched:-?}"
stop_imqd
finish

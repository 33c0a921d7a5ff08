#!/usr/bin/env bash
# A reload that makes the copies larger: imqd starts with gso = no (copies of
# at most the MTU) and is reloaded to gso = yes, so that whole GSO packets of
# up to 64 KB go into imq0. Every copy in imq0's qdisc is charged to the
# packet socket imqd injects with, so its send buffer must follow the reload
# (ss -0 -m shows it): 300 UDP GSO packets of 40 datagrams (17 MB) sent at
# once into a tbf with a deep queue are all held there at the same time, and
# none may pass unshaped for want of room (failopen no_buffer); every
# datagram arrives once, the counters balance, nothing is left in the kernel
# queue. Then back to gso = no, which still shapes without failing open.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init reload_sizes

CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
PORT=9310
SEG=1472 # the UDP payload of a 1500-byte IPv4 packet

write_conf() {   # write_conf GSO
	imqd_conf "$CONF" "$SOCK" <<EOC
[imq0]
queues = 0
gso = $1
queue-maxlen = 1024
# The backlog below takes ~3 s to drain.
drop-timeout = 20s
EOC
}

# sndbuf: the send buffer of imqd's packet socket (tb), as ss shows it.
sndbuf() {
	nsx "$GW" ss -0 -m -p 2>/dev/null | awk -v pid="pid=$IMQD_PID," '
		index($0, pid) { want = 1 }
		want && match($0, /tb[0-9]+/) { print substr($0, RSTART + 2, RLENGTH - 2); exit }'
}

# run NAME SENDS MBIT: SENDS UDP GSO packets of 40 datagrams at MBIT; every
# datagram arrives once and none passes unshaped for want of room.
run() {
	local name=$1 sends=$2 mbit=$3 fo0 rpid
	imqd_counters
	fo0=${S_failopen_no_buffer:-0}
	bg "$DST" timeout 40 "$PYTHON" "$TOOLS/udpgso.py" recv "$PORT" $((sends * 40)) 30 \
		>"$T_TMP/$name.recv.json" 2>"$T_TMP/$name.recv.err"
	rpid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 30 ip netns exec "$SRC" "$PYTHON" "$TOOLS/udpgso.py" send "$DST_IP" "$PORT" "$sends" 40 "$SEG" \
		"$mbit" >"$T_TMP/$name.send.json" || mismatch "$name: the UDP GSO sender failed"
	imqd_counters
	log "$name: held just after sending: $S_held (peak $S_peak_held)"
	wait_pid "$rpid" 40 || mismatch "$name: the receiver did not finish"
	log "$name: sent $(cat "$T_TMP/$name.send.json"), received $(cat "$T_TMP/$name.recv.json")"
	assert_eq "$name: datagrams received" $((sends * 40)) "$(json_field "$T_TMP/$name.recv.json" received)"
	assert_eq "$name: duplicate datagrams" 0 "$(json_field "$T_TMP/$name.recv.json" duplicates)"
	check_counters
	assert_eq "$name: packets passed unshaped for want of room (failopen no_buffer)" 0 \
		"$((${S_failopen_no_buffer:-0} - fo0))"
	check_nothing_queued
}

topo_create
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"
write_conf no
start_imqd_conf "$CONF"
tb0=$(sndbuf)
log "send buffer with gso = no: ${tb0:-?} bytes"
write_conf yes
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || fail "imqctl reload (gso = yes) failed: $out"
tb1=$(sndbuf)
log "send buffer after the reload to gso = yes: ${tb1:-?} bytes"
if [ -z "$tb0" ] || [ -z "$tb1" ]; then
	fail "no send buffer for imqd's packet socket in ss -0 -m -p"
fi
assert_ge "send buffer after the reload to gso = yes, 16 x that with gso = no" \
	"$((tb0 * 16))" "$tb1"
# 17 MB at 500 Mbit/s into 50 Mbit/s: all of it in the tbf at once.
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 50mbit burst 256k limit 32mb ||
	fail "tc tbf on imq0 failed"
run gso_yes 300 500
assert_ge "gso_yes: GSO packets held at once (the backlog the send buffer must carry)" 200 \
	"$S_peak_held"

write_conf no
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || fail "imqctl reload (gso = no) failed: $out"
run gso_no 20 100

stop_imqd
finish

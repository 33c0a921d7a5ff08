#!/usr/bin/env bash
# A fast burst of 5000 UDP datagrams into a tbf 5mbit with a 3000-byte queue
# on imq0: the qdisc refuses most copies, imqd drops those packets, and what
# arrives at dst is exactly what imqd let through.
# Then the same burst through a pfifo on an imq0 whose ring holds 4 copies
# (txqueuelen = 4): copies the qdisc releases are lost there (imq0's TX
# dropped), and imqd's log says how many, counted as dropped_order (or
# dropped_timeout, for a flow's last), the last of them when it stops; what
# arrives is again exactly what imqd let through.
. "$(dirname "$0")/lib.sh"
e2e_init drops_pfifo

N=5000
PORT=9001

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root handle 1: tbf rate 5mbit burst 5k limit 3000 ||
	fail "tc tbf on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

# burst NAME: N datagrams as fast as the sender goes; what arrives in NAME-recv.json is
# what imqd passed meanwhile.
burst() {
	local passed0
	imqd_counters
	passed0=$((S_accepted + S_failopen))
	bg "$DST" timeout 30 "$UDPSEQ" recv -p "$PORT" -n "$N" -t 20 -i >"$T_TMP/$1-recv.json"
	local recv_pid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -f 4 -s 200 \
		-t 10 >"$T_TMP/$1-send.json" ||
		{ cat "$T_TMP/$1-send.json" >&2; fail "$1: udpseq send did not send $N datagrams"; }
	wait_pid "$recv_pid" 25 || fail "$1: udpseq recv did not finish"
	log "$1: sender: $(cat "$T_TMP/$1-send.json")"
	log "$1: receiver: $(cat "$T_TMP/$1-recv.json")"
	nsx "$GW" tc -s qdisc show dev imq0 >&2
	got=$(json_field "$T_TMP/$1-recv.json" received)
	check_counters
	assert_gt "$1: imqd received" 0 "$S_received"
	# Accepted and failed-open packets both get NF_ACCEPT: those are what arrive.
	assert_eq "$1: datagrams at dst = what imqd accepted + failopen meanwhile" \
		"$((S_accepted + S_failopen - passed0))" "$got"
	assert_eq "$1: duplicate datagrams" 0 "$(json_field "$T_TMP/$1-recv.json" duplicates)"
	assert_eq "$1: datagrams out of order" 0 "$(json_field "$T_TMP/$1-recv.json" out_of_order)"
	check_nothing_queued
}

burst tbf
assert_gt "tbf: imqd dropped_enqueue" 0 "$S_dropped_enqueue"
stop_imqd

# A flow's last copy lost there waits for drop-timeout: 200 ms, within check_counters' 2 s.
start_imqd 0 "txqueuelen = 4
drop-timeout = 200ms"
nsx "$GW" tc qdisc replace dev imq0 root pfifo limit 10000 || fail "tc pfifo on imq0 failed"
burst ring
tx_dropped=$(nsx "$GW" cat /sys/class/net/imq0/statistics/tx_dropped)
log "ring: imq0 TX dropped $tx_dropped, dropped_order $S_dropped_order," \
	"dropped_timeout $S_dropped_timeout"
assert_gt "ring: copies lost in imq0's ring (TX dropped)" 0 "$tx_dropped"
assert_ge "ring: dropped_order + dropped_timeout (each lost copy's packet)" "$tx_dropped" \
	"$((S_dropped_order + S_dropped_timeout))"
# The first loss is logged within a status tick, with the copies lost by then.
pat="imq0: [0-9]+ copies the qdisc released found no room in the device's ring \(txqueuelen 4\)"
wait_log "$IMQD_LOG" "$pat" 1 3 || mismatch "ring: the log does not say that copies were lost"
logged=$(grep -oE "$pat" "$IMQD_LOG" | head -n 1 | awk '{print $2}')
assert_gt "ring: copies the first log line names" 0 "${logged:-0}"
assert_ge "ring: TX dropped (at least what the log named)" "${logged:-0}" "$tx_dropped"
# A second burst within 10 s of that line: its losses wait for the next
# line, which the stop writes.
burst ring2
tx_dropped=$(nsx "$GW" cat /sys/class/net/imq0/statistics/tx_dropped)
log "ring2: imq0 TX dropped $tx_dropped in all"
assert_eq "ring2: log lines before the stop" 1 "$(grep -cE "$pat" "$IMQD_LOG")"
stop_imqd
# Whatever was not logged yet is logged at the stop: the lines add up to all of it.
assert_eq "ring: copies lost, the sum of the log lines after the stop" "$tx_dropped" \
	"$(grep -oE "$pat" "$IMQD_LOG" | awk '{ n += $2 } END { print n + 0 }')"
finish

#!/usr/bin/env bash
# imqctl classes under traffic: an htb on imq0 with three leaf classes (4, 8
# and 12 Mbit/s, one TCP upload each). Read while the counters move, each
# class's bytes, packets, drops, overlimits and requeues in imqctl classes -j
# and in imqctl stats -o prometheus lie between tc -s class show read just
# before and just after, and within 1% of the later one; the rates imqctl
# gives over 2 s are within 5% of each class's rate; classes -w prints a
# JSON document per second; the metrics file carries the class series, at
# most metrics-classes nodes, and once the traffic stopped the same counters
# as tc.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init classes

TOOL=$TOOLS/tcclasses.py
SECS=20
RATES=(4 8 12) # Mbit/s of 1:10, 1:20, 1:30
PORTS=(5201 5202 5203)
CLIENTS=()

topo_create
start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root handle 1: htb default 30 || fail "tc htb on imq0 failed"
nsx "$GW" tc class add dev imq0 parent 1: classid 1:1 htb rate 24mbit || fail "tc class 1:1 failed"
for i in 0 1 2; do
	c=$(((i + 1) * 10))
	nsx "$GW" tc class add dev imq0 parent 1:1 classid "1:$c" htb rate "${RATES[$i]}mbit" \
		ceil "${RATES[$i]}mbit" || fail "tc class 1:$c failed"
	nsx "$GW" tc qdisc add dev imq0 parent "1:$c" handle "$c:" pfifo limit 1000 ||
		fail "tc pfifo under 1:$c failed"
	# Copies are IP packets: u32 reads the TCP port at the IP header's offset.
	nsx "$GW" tc filter add dev imq0 parent 1: prio 1 protocol ip u32 \
		match ip dport "${PORTS[$i]}" 0xffff flowid "1:$c" || fail "tc filter to 1:$c failed"
done
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"

for p in "${PORTS[@]}"; do
	iperf_server "$DST" "$p"
	bg "$SRC" timeout $((SECS + 10)) iperf3 -c "$DST_IP" -p "$p" -t "$SECS" -J \
		>"$T_TMP/client-$p.json" 2>&1
	CLIENTS+=("$BG_PID")
done
# Late enough that the bytes have grown past what moves between two readings.
sleep 6

# tc_then_view NAME CMD...: tc -s class show, CMD's output into NAME, tc again.
# The 1% check means something only when tc's two readings are close: if class
# 1:1's bytes moved more than 1% between them (a slow turn of a loaded machine
# or a sanitizer build), read all three again, up to five times.
tc_then_view() {
	local name=$1 try before after _
	shift
	for try in 1 2 3 4 5; do
		nsx "$GW" tc -s class show dev imq0 >"$T_TMP/$name.before" || fail "tc -s class show failed"
		"$@" >"$T_TMP/$name" 2>"$T_TMP/$name.err" || { cat "$T_TMP/$name.err" >&2; fail "$* failed"; }
		nsx "$GW" tc -s class show dev imq0 >"$T_TMP/$name.after" || fail "tc -s class show failed"
		read -r _ _ before _ after < <("$PYTHON" "$TOOL" compare "$T_TMP/$name.before" \
			"$T_TMP/$name" "$T_TMP/$name.after" | grep '^1:1 bytes ')
		[ "${before:-0}" -gt 0 ] && [ $(((after - before) * 100)) -le "$before" ] && return
		log "$name, reading $try: tc's readings of 1:1 bytes ${before:-?} and ${after:-?} more than 1% apart"
	done
}

# check_between NAME: each counter in NAME is one the kernel held between tc's
# readings around it; where those are 1000 or more, within 1% of their
# middle. (Integer arithmetic: the counters move while the checks run.)
check_between() {
	local out handle field before view after mid n=0 bad=0 _
	out=$("$PYTHON" "$TOOL" compare "$T_TMP/$1.before" "$T_TMP/$1" "$T_TMP/$1.after") ||
		{ dump_file "$1" "$T_TMP/$1"; fail "cannot compare $1 with tc -s class show"; }
	while read -r handle field before view after; do
		mid=$(((before + after) / 2))
		if [ "$view" -lt 0 ]; then
			mismatch "$1: class $handle missing"
		elif [ "$view" -lt "$before" ] || [ "$view" -gt "$after" ]; then
			mismatch "$1: class $handle $field $view, not between tc's $before and $after"
		elif [ "$mid" -ge 1000 ] && [ $(((view > mid ? view - mid : mid - view) * 100)) -gt "$mid" ]; then
			mismatch "$1: class $handle $field $view, more than 1% from tc's $mid"
		else
			n=$((n + 1))
			continue
		fi
		bad=$((bad + 1))
		log "class $handle $field: tc $before, $1 $view, tc $after"
	done <<<"$out"
	pass_msg "$1: $n counters between tc's readings (and within 1% where >= 1000), $bad not"
	assert_eq "$1: counters compared (5 of 4 classes)" 20 "$((n + bad))"
	# The check is worth something only if the readings were close together.
	grep -q '^1:1 bytes ' <<<"$out" || fail "$1: no bytes of class 1:1"
	read -r _ _ before view after < <(grep '^1:1 bytes ' <<<"$out")
	log "$1: class 1:1 bytes: tc $before, $1 $view, tc $after"
}

tc_then_view classes.json "$IMQCTL" -s "$IMQD_SOCK" -i 0 -j classes imq0
check_between classes.json
tc_then_view prometheus.txt "$IMQCTL" -s "$IMQD_SOCK" -o prometheus stats imq0
check_between prometheus.txt

# Rates over 2 s: each leaf sends at its ceiling, its parent at their sum.
"$IMQCTL" -s "$IMQD_SOCK" -i 2 -j classes imq0 >"$T_TMP/rates.json" ||
	fail "imqctl -i 2 -j classes failed"
declare -A bps
while read -r handle rate pps; do
	bps[$handle]=$rate
	log "class $handle: $rate bit/s, $pps packets/s"
done < <("$PYTHON" "$TOOL" rates "$T_TMP/rates.json")
for i in 0 1 2; do
	assert_within "rate of class 1:$(((i + 1) * 10)) (bit/s)" "${RATES[$i]}000000" 5 \
		"${bps[1:$(((i + 1) * 10))]:-0}"
done
assert_within "rate of class 1:1 (bit/s)" 24000000 5 "${bps[1:1]:-0}"

# The text: the tree indented, a rate on each class.
"$IMQCTL" -s "$IMQD_SOCK" classes imq0 >"$T_TMP/classes.txt" || fail "imqctl classes failed"
dump_file "imqctl classes" "$T_TMP/classes.txt"
for c in 10 20 30; do
	grep -Eq "^    class htb 1:$c +[0-9.]+Mbit " "$T_TMP/classes.txt" ||
		mismatch "imqctl classes shows no rate for class 1:$c under 1:1"
	grep -Eq "^      qdisc pfifo $c: " "$T_TMP/classes.txt" ||
		mismatch "imqctl classes shows no pfifo $c: under class 1:$c"
done

# -w: a JSON document per interval until stopped.
timeout 3.5 "$IMQCTL" -s "$IMQD_SOCK" -w -i 1 -j classes imq0 >"$T_TMP/watch.json"
assert_eq "imqctl classes -w exit status when stopped" 124 "$?"
docs=$("$PYTHON" "$TOOL" lines "$T_TMP/watch.json") || fail "imqctl classes -w -j printed no JSON"
assert_ge "JSON documents from classes -w -i 1 in 3.5 s" 2 "$docs"
assert_le "JSON documents from classes -w -i 1 in 3.5 s" 3 "$docs"

for pid in "${CLIENTS[@]}"; do
	wait_pid "$pid" $((SECS + 10)) || mismatch "an iperf3 client failed (status $?)"
done

# The metrics file, 6 nodes a device: the kernel lists the 4 qdiscs first.
PROM=$T_TMP/imqd.prom
imqd_conf "$IMQD_CONF" "$IMQD_SOCK" "metrics-file = $PROM
metrics-interval = 1s
metrics-classes = 6" <<EOF
[imq0]
queues = 0
EOF
"$IMQCTL" -s "$IMQD_SOCK" reload || fail "imqctl reload with metrics-file failed"
sleep 2.5 # two writes, the last after the traffic stopped
nsx "$GW" tc -s class show dev imq0 >"$T_TMP/tc.idle"
grep -q '^imqd_tc_nodes{device="imq0"} 8$' "$PROM" ||
	mismatch "metrics file: imqd_tc_nodes of imq0 is not 8: $(grep '^imqd_tc_nodes{' "$PROM")"
grep -q '^imqd_tc_nodes_omitted{device="imq0"} 2$' "$PROM" ||
	mismatch "metrics file: imqd_tc_nodes_omitted of imq0 is not 2"
series=$(grep -c '^imqd_\(qdisc\|class\)_' "$PROM")
assert_eq "qdisc and class series in the metrics file (7 x metrics-classes)" 42 "$series"
n=0
while read -r handle field before view after; do
	[ "$view" = -1 ] && continue # left out by metrics-classes
	[ "$view" = "$after" ] ||
		mismatch "metrics file: idle class $handle $field $view, tc $after"
	n=$((n + 1))
done < <("$PYTHON" "$TOOL" compare "$T_TMP/tc.idle" "$PROM" "$T_TMP/tc.idle")
assert_eq "metrics file: counters of the 2 classes it holds" 10 "$n"

check_counters
assert_eq "imqd failopen (accepted unshaped)" 0 "$S_failopen"
check_nothing_queued
stop_imqd
finish

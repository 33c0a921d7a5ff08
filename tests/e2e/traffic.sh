# Traffic of the end-to-end tests: iperf3 TCP, numbered UDP datagrams
# (udpseq), and a receiver that timestamps each arrival; sourced by lib.sh.
# Every sender and receiver is bounded in count and time and runs in a
# namespace of the test; their output goes to $T_TMP.

# shellcheck shell=bash disable=SC2034 # RECV_PID, SEND_PID, SENT are the tests'

# json_field FILE KEY [INDEX]: a field of the JSON object on FILE's last line
# (udpseq and the tools print one), or element INDEX of it.
json_field() {
	"$PYTHON" "$TOOLS/jsonfield.py" "$@" || { cat "$1" >&2; fail "no field $2 in $1"; }
}

# ---------------------------------------------------------------- TCP

# iperf_server NS PORT: a one-shot iperf3 server, waited for.
iperf_server() {
	bg "$1" timeout 60 iperf3 -s -1 -p "$2" >"$T_TMP/iperf3-server-$2.log" 2>&1
	wait_listen "$1" tcp "$2"
}

# iperf_client NS ADDR PORT SECONDS OUT.json: TCP upload; prints Mbit/s received
# over SECONDS after a first second left out (slow start's overshoot and its
# losses are not the shaper's steady rate).
iperf_client() {
	local ns=$1 dst=$2 port=$3 secs=$4 out=$5
	timeout $((secs + 16)) ip netns exec "$ns" iperf3 -c "$dst" -p "$port" -t "$secs" -O 1 -J >"$out" 2>&1
	iperf_rate "$out"
}

# iperf_rate OUT.json: receiver rate in Mbit/s, or fail.
iperf_rate() {
	"$PYTHON" "$TOOLS/iperfjson.py" rate "$1" || { cat "$1" >&2; fail "iperf3 gave no result (see its output above)"; }
}

# iperf_many OUTPREFIX SECONDS "NS ADDR PORT [iperf3 options]"...: one iperf3
# client per argument, all at once (servers must already listen). Prints the
# receiver rates (Mbit/s), one line each, in argument order.
iperf_many() {
	local out=$1 secs=$2 i=0 spec ns addr port pids=() opts
	shift 2
	for spec in "$@"; do
		read -r ns addr port opts <<<"$spec"
		# shellcheck disable=SC2086 # opts are words
		bg "$ns" timeout $((secs + 15)) iperf3 -c "$addr" -p "$port" -t "$secs" -O 2 -J $opts \
			>"$out.$i.json" 2>&1
		pids+=("$BG_PID")
		i=$((i + 1))
	done
	for i in "${!pids[@]}"; do wait_pid "${pids[$i]}" $((secs + 20)); done
	for i in "${!pids[@]}"; do iperf_rate "$out.$i.json" || exit 1; done
}

# ---------------------------------------------------------------- numbered UDP (udpseq)

# udp_recv NAME PORT COUNT SECONDS [UDPSEQ_RECV_ARGS...]: udpseq receiver in
# $DST (it ends one idle second after the last datagram unless the
# arguments say -w), output in $T_TMP/NAME.recv.json; its pid in RECV_PID.
# Waits until it listens.
udp_recv() {
	local name=$1 port=$2 n=$3 secs=$4
	shift 4
	bg "$DST" timeout $((secs + 10)) "$UDPSEQ" recv -p "$port" -n "$n" -t "$secs" -i "$@" \
		>"$T_TMP/$name.recv.json"
	RECV_PID=$BG_PID
	wait_listen "$DST" udp "$port"
}

# udp_send NAME PORT COUNT MAXSECONDS [UDPSEQ_SEND_ARGS...]: bounded sender
# from $SRC to $DST_IP, in the foreground; output in $T_TMP/NAME.send.json.
udp_send() {
	local name=$1 port=$2 n=$3 secs=$4
	shift 4
	timeout $((secs + 10)) ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$port" -n "$n" -t "$secs" "$@" \
		>"$T_TMP/$name.send.json"
}

# udp_send_bg NAME PORT COUNT MAXSECONDS [UDPSEQ_SEND_ARGS...]: as udp_send,
# in the background; its pid in SEND_PID.
udp_send_bg() {
	local name=$1 port=$2 n=$3 secs=$4
	shift 4
	bg "$SRC" timeout $((secs + 10)) "$UDPSEQ" send -d "$DST_IP" -p "$port" -n "$n" -t "$secs" "$@" \
		>"$T_TMP/$name.send.json"
	SEND_PID=$BG_PID
}

# udp_stop NAME PID: stop the background sender PID (udp_send_bg) now; how
# many datagrams it sent in SENT (not in $(...): the sender is this
# shell's child).
udp_stop() {
	kill -TERM "$2" 2>/dev/null
	wait_pid "$2" 10 || mismatch "udpseq send ($1) failed or did not stop"
	SENT=$(json_field "$T_TMP/$1.send.json" sent)
}

# udp_check NAME COUNT: the receiver of NAME (RECV_PID) ended (20 s); all
# COUNT datagrams arrived once each.
udp_check() {
	local name=$1 n=$2
	wait_pid "$RECV_PID" 20 || mismatch "udpseq recv ($name) did not finish in time"
	log "$name sender: $(cat "$T_TMP/$name.send.json" 2>/dev/null)"
	log "$name receiver: $(cat "$T_TMP/$name.recv.json" 2>/dev/null)"
	assert_eq "$name: datagrams sent" "$n" "$(json_field "$T_TMP/$name.send.json" sent)"
	assert_eq "$name: datagrams received at dst" "$n" "$(json_field "$T_TMP/$name.recv.json" received)"
	assert_eq "$name: duplicate datagrams" 0 "$(json_field "$T_TMP/$name.recv.json" duplicates)"
}

# udp_stream NS ADDR PORT COUNT SIZE PPS SECONDS [FLOWS]: udpseq sender in
# the background (SEND_PID), its JSON result in $T_TMP/send-PORT.json.
udp_stream() {
	bg "$1" timeout $(($7 + 10)) "$UDPSEQ" send -d "$2" -p "$3" -n "$4" -s "$5" -r "$6" -t "$7" \
		-f "${8:-1}" >"$T_TMP/send-$3.json"
	SEND_PID=$BG_PID
}

# stream_sent PORT: datagrams the sender for PORT (udp_stream) sent.
stream_sent() { json_field "$T_TMP/send-$1.json" sent; }

# ---------------------------------------------------------------- timestamped arrivals

# stamp_recv NS PORT SECONDS NAME [IDLE]: a background UDP receiver on PORT
# in NS that timestamps every udpseq datagram (tests/tools/udpstamp.py). It
# stops after SECONDS, or IDLE seconds without a datagram once one came,
# and writes $T_TMP/NAME.ts (one "time flow seq" line per datagram) and
# $T_TMP/NAME.json (received, unique, duplicates, out_of_order). Sets
# RECV_PID; waits until it listens.
stamp_recv() {
	local ns=$1 port=$2 secs=$3 name=$4 idle=${5:-0}
	bg "$ns" timeout $((secs + 10)) "$PYTHON" "$TOOLS/udpstamp.py" "$port" "$secs" "$idle" "$T_TMP/$name"
	RECV_PID=$BG_PID
	wait_listen "$ns" udp "$port"
}

# stamp_wait NAME SECONDS: wait for the receiver started as NAME (RECV_PID);
# fail if it does not end.
stamp_wait() {
	wait_pid "$RECV_PID" "$2" || fail "receiver $1 did not finish within $2 s"
	[ -s "$T_TMP/$1.json" ] || fail "receiver $1 wrote no result"
}

# stamp_count NAME T0 T1: datagrams that arrived in [T0, T1).
stamp_count() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { n++ } END { print n + 0 }' "$T_TMP/$1.ts"
}

# stamp_pps NAME T0 T1: arrival rate in [T0, T1), datagrams per second.
stamp_pps() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { n++ } END { printf "%.0f\n", n / (b - a) }' "$T_TMP/$1.ts"
}

# stamp_gap NAME T0 T1: longest time without an arrival in [T0, T1), in seconds.
stamp_gap() {
	awk -v a="$2" -v b="$3" 'BEGIN { last = a; g = 0 }
		$1 >= a && $1 < b { if ($1 - last > g) g = $1 - last; last = $1 }
		END { if (b - last > g) g = b - last; printf "%.3f\n", g }' "$T_TMP/$1.ts"
}

# ping_answered T0 TRIES WAIT: ping $DST_IP from $SRC until one answers, at
# most TRIES pings of WAIT seconds each; PING_MS, how long after T0 (now's
# format) it answered, or empty.
ping_answered() {
	local _
	PING_MS=
	for _ in $(seq "$2"); do
		if timeout 2 ip netns exec "$SRC" ping -n -q -c 1 -W "$3" "$DST_IP" >/dev/null 2>&1; then
			PING_MS=$(calc %.0f "($(now) - $1) * 1000")
			return 0
		fi
	done
}

# ping_stats FILE: GOT, the replies in ping's output FILE, and P99, their
# 99th percentile round trip in ms (empty without replies).
ping_stats() {
	sed -n 's/.* time=\([0-9.]*\) ms/\1/p' "$1" | sort -n >"$1.rtt"
	GOT=$(wc -l <"$1.rtt")
	P99=$(awk -v n="$GOT" 'NR == int((n - 1) * 0.99) + 1 { print $1 }' "$1.rtt")
}

# flood_pings NAME PORT SECS PINGS [RATE]: 64-byte UDP in 8 flows from $SRC
# to $DST_IP:PORT for SECS s, at RATE a second or as fast as src sends, and
# from half a second in, PINGS pings to $DST_IP at 200 a second. Sets LOSS
# (% of the pings), P99 (ms) and FLOOD (what rule 1 of dst's INPUT counted).
flood_pings() {
	local name=$1 port=$2 secs=$3 pings=$4 rate=${5:-} tx before
	before=$(ipt_pkts "$DST" iptables filter INPUT 1)
	bg "$SRC" timeout $((secs + 10)) "$UDPFLOOD" -d "$DST_IP" -p "$port" -s 64 -t "$secs" -F 8 \
		${rate:+-r "$rate"} >"$T_TMP/tx-$name.json"
	tx=$BG_PID
	sleep 0.5
	timeout $((secs + 10)) ip netns exec "$SRC" ping -n -i 0.005 -c "$pings" -W 1 "$DST_IP" \
		>"$T_TMP/ping-$name.txt" 2>&1
	wait_pid "$tx" $((secs + 10))
	sleep 1
	ping_stats "$T_TMP/ping-$name.txt"
	LOSS=$(calc %.2f "100 * ($pings - $GOT) / $pings")
	FLOOD=$(($(ipt_pkts "$DST" iptables filter INPUT 1) - before))
	log "$name: flood sent $(json_field "$T_TMP/tx-$name.json" sent), received $FLOOD;" \
		"pings $GOT of $pings (loss $LOSS%), p99 ${P99:-none} ms"
}

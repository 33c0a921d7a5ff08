#!/usr/bin/env bash
# imqd with one worker (the datapath on the main loop) and with more (a
# multiqueue imq0, a shard and a tree per worker), taking turns on one
# testbed: a 64-byte UDP flood unshaped and shaped, and 8-stream TCP.
#
# usage: sudo bench/workers.sh [--imqd PATH] [--workers "1 2n 2"] [--senders N] [--rounds N]
#                              [--time SECONDS] [--out FILE.json]
#
# --workers lists the configurations: N, N workers with a multiqueue imq0
# (a shard and a tree per worker; 1: the datapath on the main loop), Nn, N
# workers and imq0 without multiqueue (one shard, on one worker thread).
# --senders: flood senders at once (default 1; one sends about 1 Mpps at
# most, so a machine with many cores needs several).
#
# For each run: imqd's intake rate (packets it took from the queues per
# second), its CPU time per packet (every thread, user and system; per KB
# for TCP, whose GSO packets vary in size), the
# CPU time of the sender and the receiver, and the busy time of the whole
# machine (softirq included). bench/workers_report.py prints the table; every
# run goes to --out. The testbed is the tests' (tests/e2e/lib.sh): src -> gw
# -> dst over veth. The queue rule on gw's src-facing veth is --queue-balance
# 0:Q-1 --queue-cpu-fanout with RPS over every CPU, so flows reach the queues
# by the CPU that handles them; imq0 has Q queues, Q the largest number of
# workers measured (at least 2). 1 worker: pfifo (unshaped) or tbf 40mbit
# (shaped) as root qdisc; W workers: mq with pfifo, or tbf 40/W mbit, under
# each 7fff:N; Nn as 1. Traffic goes only to addresses inside the namespaces made
# here; every process, namespace and rule made here is removed on exit.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
IMQD=$ROOT/build/imqd
ROUNDS=3
SECS=5
WORKERS="1 2n 2"
SENDERS=1
OUT=$BENCH_DIR/workers.json

while [ $# -gt 0 ]; do
	case $1 in
	--imqd) IMQD=$2; shift ;;
	--workers) WORKERS=$2; shift ;;
	--senders) SENDERS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--time) SECS=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '6,7p' "$0" | sed 's/^# //'; exit 0 ;;
	*) echo "workers.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
W=${WORKERS//n/}
case $ROUNDS$SECS$SENDERS${W// /} in *[!0-9]* | 0*) echo "workers.sh: --rounds, --time, --senders and --workers want whole numbers" >&2; exit 2 ;; esac
export IMQD IMQCTL=${IMQCTL:-$(dirname "$IMQD")/imqctl}
export UDPSEQ=${UDPSEQ:-$(dirname "$IMQD")/tests/e2e/udpseq}
Q=2
for w in $W; do [ "$w" -gt "$Q" ] && Q=$w; done

. "$ROOT/tests/e2e/lib.sh"
e2e_init bench_workers $((ROUNDS * $(wc -w <<<"$WORKERS") * (3 * SECS + 40) + 60))
cc -O2 -std=c11 -Wall -Wextra -o "$T_TMP/udpflood" "$BENCH_DIR/udpflood.c" || fail "cannot build udpflood"
PORT=9700
IPERF_PORT=5201
RECORDS=$T_TMP/records.jsonl
: >"$RECORDS"
topo_create
# RPS over every CPU: flows reach the queues of --queue-cpu-fanout by the CPU that handles them.
n=$(nproc)
nsx "$GW" sh -c "echo $(printf '%x' $(((1 << (n < 32 ? n : 31)) - 1))) >/sys/class/net/$GW_IN/queues/rx-0/rps_cpus" ||
	fail "cannot set RPS on $GW_IN"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# All CPUs' busy time (everything but idle and iowait), in ticks.
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# shellcheck disable=SC2154 # S_* are set by imqd_counters
snap() { imqd_counters; echo "$(cpu_ticks "$IMQD_PID") $(busy) $S_received $S_received_bytes $(now)"; }

# root_qdisc CONFIG KIND: pfifo, or tbf of 40mbit in all, as one tree or one per worker.
root_qdisc() {
	local q=(pfifo limit 10000) t
	if [ "$1" = 1 ] || [ "${1%n}" != "$1" ]; then
		[ "$2" = shaped ] && q=(tbf rate 40mbit burst 64k limit 1mb)
		nsx "$GW" tc qdisc replace dev imq0 root "${q[@]}" || fail "tc on imq0 failed"
		return
	fi
	[ "$2" = shaped ] && q=(tbf rate "$((40 / $1))mbit" burst 64k limit 1mb)
	nsx "$GW" tc qdisc replace dev imq0 root handle 7fff: mq || fail "tc mq on imq0 failed"
	for ((t = 1; t <= $1; t++)); do
		nsx "$GW" tc qdisc replace dev imq0 parent "7fff:$t" "${q[@]}" || fail "tc under 7fff:$t failed"
	done
}

# rec CONFIG TEST ROUND BEFORE AFTER JSON: one run, with imqd's and the machine's CPU.
rec() {
	"$PYTHON" "$BENCH_DIR/workers_report.py" record "$1" "$2" "$3" "$4" "$5" "$6" "$SECS" \
		"$(getconf CLK_TCK)" >>"$RECORDS" || fail "cannot record the run"
}

# flood CONFIG TEST ROUND: 64-byte UDP, 8 source ports per sender; senders' and receiver's CPU
# by `times`.
flood() {
	local a b rx s tx=()
	bg "$DST" timeout $((SECS + 20)) bash -c '"$@"; times' _ "$T_TMP/udpflood" -l -p "$PORT" \
		-t $((SECS + 3)) -w 10 -i 1 >"$T_TMP/rx.out"
	rx=$BG_PID
	wait_listen "$DST" udp "$PORT"
	a=$(snap)
	for ((s = 0; s < SENDERS; s++)); do
		bg "$SRC" timeout $((SECS + 10)) bash -c '"$@"; times' _ "$T_TMP/udpflood" -d "$DST_IP" \
			-p "$PORT" -s 64 -t "$SECS" -F 8 -S $((20000 + 8 * s)) >"$T_TMP/tx$s.out"
		tx+=("$BG_PID")
	done
	for s in "${tx[@]}"; do wait_pid "$s" $((SECS + 10)) || fail "udpflood sender failed"; done
	# After the receiver's idle second: imqd has taken in what waited in its queues too.
	wait_pid "$rx" $((SECS + 20)) || fail "udpflood receiver failed"
	b=$(snap)
	rec "$1" "$2" "$3" "$a" "$b" \
		"$("$PYTHON" "$BENCH_DIR/workers_report.py" flood "$T_TMP/rx.out" "$T_TMP"/tx*.out)"
}

# tcp8 CONFIG ROUND: 8 TCP streams; iperf3 reports its sender's and receiver's CPU.
tcp8() {
	local a b
	iperf_server "$DST" "$IPERF_PORT"
	a=$(snap)
	timeout $((SECS + 20)) ip netns exec "$SRC" iperf3 -c "$DST_IP" -p "$IPERF_PORT" -P 8 -t "$SECS" -J \
		>"$T_TMP/tcp.json" 2>&1 || fail "iperf3 failed: $(head -c 300 "$T_TMP/tcp.json")"
	b=$(snap)
	rec "$1" tcp8 "$2" "$a" "$b" "$("$PYTHON" "$BENCH_DIR/workers_report.py" tcp "$T_TMP/tcp.json")"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "imqd $IMQD, $(nproc) CPUs, workers $WORKERS, queues 0-$((Q - 1)), ${SECS}s per run," \
	"$ROUNDS rounds; load average $LOAD0"
for ((r = 1; r <= ROUNDS; r++)); do
	for w in $WORKERS; do
		mq=yes
		[ "$w" = 1 ] || [ "${w%n}" != "$w" ] && mq=no
		IMQD_WORKERS=${w%n} start_imqd "0-$((Q - 1))" "multiqueue = $mq
on-overflow = drop"
		nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE \
			--queue-balance "0:$((Q - 1))" --queue-cpu-fanout || fail "NFQUEUE rule failed"
		for kind in unshaped shaped; do
			root_qdisc "$w" "$kind"
			log "round $r, $w worker(s): flood, $kind"
			flood "$w" "flood_$kind" "$r"
		done
		root_qdisc "$w" unshaped
		log "round $r, $w worker(s): TCP, 8 streams"
		tcp8 "$w" "$r"
		nsx "$GW" iptables -t mangle -F PREROUTING
		stop_imqd
	done
done
"$PYTHON" "$BENCH_DIR/workers_report.py" report "$RECORDS" "$OUT" "$(uname -r)" "$(nproc)" "$SECS" \
	"$ROUNDS" "$LOAD0" || fail "no report"
finish

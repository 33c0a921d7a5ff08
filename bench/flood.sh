#!/usr/bin/env bash
# imqd under a flood of small packets, against IFB and a bare NFQUEUE loop.
#
# usage: sudo bench/flood.sh [--imqd PATH] [--rounds N] [--time SECONDS] [--out FILE.json]
#
# A 64-byte UDP flood (8 flows, as fast as src sends) from src through gw to
# dst, which counts it with a rule that drops it (as a router's next hop
# takes it, with no program to wake per datagram); each round runs every
# configuration once, taking turns:
#   bare            bench/nfq_bare -b: an accept loop, the intake ceiling
#   ifb-QDISC       gw's ingress redirected to ifb0 with QDISC
#   floor-QDISC     bench/nfq_bare -b -t tunb0, QDISC on the TUN device tunb0:
#                   the bare loop that also sends each packet's copy through
#                   QDISC and reads back what it releases, drops the packets
#                   whose copies the qdisc refused and accepts the rest at
#                   once: the ceiling of imqd's design (its intake is what
#                   the queue gave it, from /proc/net/netfilter/nfnetlink_queue)
#   imqd-QDISC      gw's ingress queued to imqd, QDISC on imq0 (the defaults:
#                   on-overflow = accept, on-flood = drop)
#   imqd-htb-drop   the same with on-overflow = drop
#   imqd-htb-floodaccept  with on-flood = accept: the excess passes unshaped
#   imqd-htb-queue  the pings in a queue of their own (queue 1 of imq0)
#   imqd-htb-queue-mq  the same with multiqueue = yes: each queue a shard of
#                   its own, on a worker thread of its own
# QDISC: pfifo (limit 10000), tbf 20mbit, htb 20mbit whose priority class
# takes 200 pings a second beside the flood in the bulk class. Each run
# records what src sent, what dst got, imqd's intake (packets it took from
# the queue) and CPU time, and for htb the pings' loss and round trips.
# bench/flood_report.py prints the table; the JSON lines go to --out.
# Traffic goes only to addresses inside the namespaces made here; every
# process, namespace and rule made here is removed on exit.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
IMQD=$ROOT/build/imqd
ROUNDS=3
SECS=4
OUT=$BENCH_DIR/flood.json

while [ $# -gt 0 ]; do
	case $1 in
	--imqd) IMQD=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--time) SECS=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '4p' "$0" | sed 's/^# //'; exit 0 ;;
	*) echo "flood.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
case $ROUNDS$SECS in *[!0-9]* | 0*) echo "flood.sh: --rounds and --time want whole numbers" >&2; exit 2 ;; esac
export IMQD IMQCTL=${IMQCTL:-$(dirname "$IMQD")/imqctl}
export UDPSEQ=${UDPSEQ:-$(dirname "$IMQD")/tests/e2e/udpseq}

. "$ROOT/tests/e2e/lib.sh"
e2e_init bench_flood $((ROUNDS * 150 + 120))
cc -O2 -std=c11 -Wall -Wextra -o "$T_TMP/udpflood" "$BENCH_DIR/udpflood.c" &&
	cc -O2 -std=c11 -Wall -Wextra -pthread -o "$T_TMP/nfq_bare" "$BENCH_DIR/nfq_bare.c" \
		-lmnl -lnetfilter_queue -luring || fail "cannot build udpflood and nfq_bare"
PORT=9700
PINGS=$((SECS * 200 - 100))
: >"$OUT" || fail "cannot write $OUT"
topo_create
nsx "$DST" iptables -A INPUT -p udp --dport "$PORT" -j DROP || fail "iptables in dst failed"

# qdisc DEV QDISC
qdisc() {
	case $2 in
	pfifo) nsx "$GW" tc qdisc replace dev "$1" root pfifo limit 10000 ;;
	tbf) nsx "$GW" tc qdisc replace dev "$1" root tbf rate 20mbit burst 32k limit 64k ;;
	htb) prio_htb "$1" 20 ;;
	esac || fail "qdisc $2 on $1 failed"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The packets queue 0 gave its listener so far: ids handed out, less those the
# kernel dropped on a full socket (they take an id too).
queue_given() {
	nsx "$GW" awk '$1 == 0 { print $8 - $7; found = 1 } END { if (!found) print 0 }' \
		/proc/net/netfilter/nfnetlink_queue
}

# flood MODE ROUND PID: one measured run, with PID the consumer (imqd, nfq_bare, or empty).
flood() {
	local mode=$1 round=$2 pid=$3 ping_pid="" r0=0 r1=0 c0=0 c1=0 d0
	d0=$(ipt_pkts "$DST" iptables filter INPUT 1)
	if [ "${mode#imqd}" != "$mode" ]; then imqd_counters; r0=$S_received; fi
	[ "${mode#floor}" != "$mode" ] && r0=$(queue_given)
	[ -n "$pid" ] && c0=$(cpu_ticks "$pid")
	bg "$SRC" timeout $((SECS + 10)) "$T_TMP/udpflood" -d "$DST_IP" -p "$PORT" -s 64 -t "$SECS" -F 8 \
		>"$T_TMP/tx.json"
	local tx=$BG_PID
	if [ "${mode%htb*}" != "$mode" ]; then
		sleep 0.3
		bg "$SRC" timeout $((SECS + 10)) ping -n -i 0.005 -c "$PINGS" -W 1 "$DST_IP" >"$T_TMP/ping.txt" 2>&1
		ping_pid=$BG_PID
	fi
	wait_pid "$tx" $((SECS + 10))
	[ -n "$pid" ] && c1=$(cpu_ticks "$pid")
	if [ "${mode#imqd}" != "$mode" ]; then imqd_counters; r1=$S_received; fi
	[ "${mode#floor}" != "$mode" ] && r1=$(queue_given)
	[ -n "$ping_pid" ] && wait_pid "$ping_pid" $((SECS + 10))
	sleep 1 # what the qdisc still held
	printf '{"packets":%d}\n' $(($(ipt_pkts "$DST" iptables filter INPUT 1) - d0)) >"$T_TMP/rx.json"
	python3 "$BENCH_DIR/flood_report.py" record --mode "$mode" --round "$round" --secs "$SECS" \
		--tx "$T_TMP/tx.json" --rx "$T_TMP/rx.json" --intake $((r1 - r0)) \
		--cpu-ticks $((c1 - c0)) --hz "$(getconf CLK_TCK)" \
		${ping_pid:+--ping "$T_TMP/ping.txt" --pings "$PINGS"} >>"$OUT" ||
		fail "$mode: cannot record the run"
	log "$mode (round $round): $(tail -n 1 "$OUT")"
}

for ((round = 1; round <= ROUNDS; round++)); do
	# The ceiling: a bare accept loop.
	# ip netns exec execs the loop: $! is its pid, to stop it and read its CPU time.
	ip netns exec "$GW" "$T_TMP/nfq_bare" -b -q 0 >/dev/null 2>&1 &
	bare=$!
	T_PIDS+=("$bare")
	sleep 0.3
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass
	flood bare "$round" "$bare"
	nsx "$GW" iptables -t mangle -F PREROUTING
	kill "$bare"
	wait "$bare" 2>/dev/null
	for q in pfifo tbf htb; do
		# IFB.
		nsx "$GW" ip link add ifb0 type ifb && nsx "$GW" ip link set ifb0 up || fail "ifb0 failed"
		qdisc ifb0 "$q"
		nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress &&
			nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
				action mirred egress redirect dev ifb0 || fail "IFB redirect failed"
		flood "ifb-$q" "$round" ""
		nsx "$GW" tc qdisc del dev "$GW_IN" ingress
		nsx "$GW" ip link del ifb0
		# The design's floor: the qdisc's work on the copies, and nothing of imqd's.
		nsx "$GW" ip tuntap add dev tunb0 mode tun && nsx "$GW" ip link set tunb0 up ||
			fail "tunb0 failed"
		qdisc tunb0 "$q"
		ip netns exec "$GW" "$T_TMP/nfq_bare" -b -q 0 -t tunb0 >/dev/null 2>&1 &
		floor=$!
		T_PIDS+=("$floor")
		sleep 0.3
		nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass
		flood "floor-$q" "$round" "$floor"
		nsx "$GW" iptables -t mangle -F PREROUTING
		kill "$floor"
		wait "$floor" 2>/dev/null
		nsx "$GW" ip tuntap del dev tunb0 mode tun
		# imqd, and for htb with on-overflow = drop, on-flood = accept, and the
		# pings in a queue of their own (one shard, and a shard each).
		for policy in default drop floodaccept queue queue-mq; do
			[ "$policy" != default ] && [ "$q" != htb ] && continue
			case $policy in
			default) start_imqd 0 ;;
			drop) start_imqd 0 "on-overflow = drop" ;;
			floodaccept) start_imqd 0 "on-flood = accept" ;;
			queue) start_imqd 0-1 ;;
			queue-mq) start_imqd 0-1 "multiqueue = yes" ;;
			esac
			qdisc imq0 "$q"
			[ "${policy#queue}" != "$policy" ] &&
				nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p icmp \
					-j NFQUEUE --queue-num 1 --queue-bypass
			nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass
			mode=imqd-$q
			[ "$policy" != default ] && mode=imqd-$q-$policy
			flood "$mode" "$round" "$IMQD_PID"
			nsx "$GW" iptables -t mangle -F PREROUTING
			stop_imqd
		done
	done
done
python3 "$BENCH_DIR/flood_report.py" report "$OUT"
finish

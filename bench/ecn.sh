#!/usr/bin/env bash
# TCP with ECN under marking: imqd with ecn-mark against IFB, taking turns.
#
# usage: sudo bench/ecn.sh [--imqd PATH] [--rounds N] [--time SECONDS] [--out FILE.json]
#
# One TCP stream (ECN negotiated) from src through gw to dst. This kernel
# has no marking qdisc: tests/tools/cemark, a tc program on the device's
# egress ahead of its root qdisc, marks 1 in 64 ECT(0) packets Congestion
# Experienced, as an AQM would. Each round runs, taking turns:
#   ifb-pfifo, imqd-pfifo      unshaped (pfifo)
#   ifb-tbf, imqd-tbf          tbf 50mbit
# IFB marks the real packets (cemark at offset 14); imqd marks the copies
# and passes the marks on with ecn-mark and the rules imqctl rules prints.
# Each run records the goodput, the sender's retransmissions and, for
# imqd, the packets it passed on marked; bench/ecn_report.py prints the
# medians and imqd's ratio to IFB. Traffic goes only to addresses inside
# the namespaces made here; all of it is removed on exit.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
IMQD=$ROOT/build/imqd
ROUNDS=3
SECS=10
OUT=$BENCH_DIR/ecn.json

while [ $# -gt 0 ]; do
	case $1 in
	--imqd) IMQD=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--time) SECS=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) sed -n '4p' "$0" | sed 's/^# //'; exit 0 ;;
	*) echo "ecn.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
case $ROUNDS$SECS in *[!0-9]* | 0*) echo "ecn.sh: --rounds and --time want whole numbers" >&2; exit 2 ;; esac
export IMQD IMQCTL=${IMQCTL:-$(dirname "$IMQD")/imqctl}
export UDPSEQ=${UDPSEQ:-$(dirname "$IMQD")/tests/e2e/udpseq}

. "$ROOT/tests/e2e/lib.sh"
e2e_init bench_ecn $((ROUNDS * 4 * (SECS + 15) + 60))
cc -O2 -std=c11 -Wall -Wextra -o "$T_TMP/cemark" "$ROOT/tests/tools/cemark.c" ||
	fail "cannot build cemark"
: >"$OUT" || fail "cannot write $OUT"
topo_create
mkdir "$T_TMP/bpf" && mount -t bpf bpf "$T_TMP/bpf" || fail "cannot mount a bpf file system"
T_MOUNTS+=("$T_TMP/bpf")
"$T_TMP/cemark" "$T_TMP/bpf/l3" 63 && "$T_TMP/cemark" "$T_TMP/bpf/eth" 63 14 ||
	fail "cannot load the marking program"
nsx "$SRC" sysctl -qw net.ipv4.tcp_ecn=1 || fail "cannot turn ECN on in $SRC"

# qdisc DEV KIND PROG: the root qdisc and the marker ahead of it.
qdisc() {
	case $2 in
	pfifo) nsx "$GW" tc qdisc replace dev "$1" root pfifo limit 10000 ;;
	tbf) nsx "$GW" tc qdisc replace dev "$1" root tbf rate 50mbit burst 64k latency 100ms ;;
	esac && nsx "$GW" tc qdisc add dev "$1" clsact &&
		nsx "$GW" tc filter add dev "$1" egress prio 1 bpf direct-action object-pinned "$3" ||
		fail "qdisc $2 with the marker on $1 failed"
}

# tcp MODE ROUND PORT: one stream; records goodput, retransmissions, marks passed on.
tcp() {
	local mode=$1 round=$2 port=$3 m0=0 m1=0
	[ "${mode#imqd}" != "$mode" ] && { imqd_counters; m0=$S_marked_ecn; }
	iperf_server "$DST" "$port"
	iperf_client "$SRC" "$DST_IP" "$port" "$SECS" "$T_TMP/iperf.json" >/dev/null || fail "$mode: iperf3 failed"
	[ "${mode#imqd}" != "$mode" ] && { imqd_counters; m1=$S_marked_ecn; }
	python3 "$BENCH_DIR/ecn_report.py" record --mode "$mode" --round "$round" \
		--iperf "$T_TMP/iperf.json" --marked $((m1 - m0)) >>"$OUT" || fail "$mode: cannot record"
	log "$mode (round $round): $(tail -n 1 "$OUT")"
}

port=5300
for ((round = 1; round <= ROUNDS; round++)); do
	for q in pfifo tbf; do
		nsx "$GW" ip link add ifb0 type ifb && nsx "$GW" ip link set ifb0 up || fail "ifb0 failed"
		qdisc ifb0 "$q" "$T_TMP/bpf/eth"
		nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress &&
			nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
				action mirred egress redirect dev ifb0 || fail "IFB redirect failed"
		tcp "ifb-$q" "$round" $((port += 1))
		nsx "$GW" tc qdisc del dev "$GW_IN" ingress
		nsx "$GW" ip link del ifb0

		start_imqd 0 "ecn-mark = 0x4/0x4"
		"$IMQCTL" -s "$IMQD_SOCK" rules imq0 | grep -E '^iptables -t mangle -A PREROUTING' |
			sed "s/IFACE/$GW_IN/" >"$T_TMP/rules.sh"
		while read -r -a rule; do
			nsx "$GW" "${rule[@]}" || fail "rule from imqctl rules failed: ${rule[*]}"
		done <"$T_TMP/rules.sh"
		qdisc imq0 "$q" "$T_TMP/bpf/l3"
		tcp "imqd-$q" "$round" $((port += 1))
		nsx "$GW" iptables -t mangle -F PREROUTING
		stop_imqd
	done
done
python3 "$BENCH_DIR/ecn_report.py" report "$OUT"
finish

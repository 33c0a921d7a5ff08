#!/usr/bin/env bash
# Demo of imqd's main job: three network namespaces src -> gw -> dst; TCP
# throughput from src to dst measured with iperf3 unshaped, then with the
# traffic arriving on gw queued to imqd and a tbf on imq0.
# Usage: docs/demo.sh [IMQD_BINARY] [RATE]   (as root)
set -u
IMQD=${1:-$(dirname "$0")/../build/imqd}
RATE=${2:-20mbit}
IMQCTL=$(dirname "$IMQD")/imqctl
P=imqdemo$$
SRC=${P}s GW=${P}g DST=${P}d
TMP=$(mktemp -d)
IMQD_PID=

cleanup() {
	[ -n "$IMQD_PID" ] && kill "$IMQD_PID" 2>/dev/null && wait "$IMQD_PID" 2>/dev/null
	for ns in $SRC $GW $DST; do ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del $ns 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

[ -x "$IMQD" ] || { echo "imqd binary not found at $IMQD (build first)" >&2; exit 1; }
for ns in $SRC $GW $DST; do ip netns add $ns || exit 1; ip -n $ns link set lo up; done
ip link add s0 netns $SRC type veth peer name g0 netns $GW
ip link add g1 netns $GW type veth peer name d0 netns $DST
ip -n $SRC addr add 10.81.1.2/24 dev s0; ip -n $SRC link set s0 up
ip -n $GW addr add 10.81.1.1/24 dev g0; ip -n $GW link set g0 up
ip -n $GW addr add 10.81.2.1/24 dev g1; ip -n $GW link set g1 up
ip -n $DST addr add 10.81.2.2/24 dev d0; ip -n $DST link set d0 up
ip -n $SRC route add default via 10.81.1.1
ip -n $DST route add default via 10.81.2.1
ip netns exec $GW sysctl -qw net.ipv4.ip_forward=1

rate() {
	ip netns exec $DST timeout 20 iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
	local server=$!
	sleep 0.5
	ip netns exec $SRC timeout 20 iperf3 -c 10.81.2.2 -p 5201 -t 5 -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.2f Mbit/s" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))'
	wait "$server"
}

echo "== src -> gw -> dst, no shaping:"
rate

cat >"$TMP/imqd.conf" <<CONF
[global]
control-socket = $TMP/imqd.sock
[imq0]
queues = 0
CONF
ip netns exec $GW "$IMQD" -c "$TMP/imqd.conf" &
IMQD_PID=$!
for i in $(seq 50); do ip -n $GW link show imq0 2>/dev/null | grep -q UP && break; sleep 0.1; done
ip netns exec $GW iptables -t mangle -A PREROUTING -i g0 -j NFQUEUE --queue-num 0 --queue-bypass
ip netns exec $GW tc qdisc replace dev imq0 root tbf rate "$RATE" burst 32k latency 100ms
echo "== traffic arriving on gw's g0 queued to imqd, tbf rate $RATE on imq0:"
rate
if [ -x "$IMQCTL" ]; then
	echo "== imqctl stats imq0:"
	ip netns exec $GW "$IMQCTL" -s "$TMP/imqd.sock" stats imq0
fi

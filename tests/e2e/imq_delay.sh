#!/usr/bin/env bash
# The delay imqd adds, for the "extra delay" entry of docs/migrating-from-imq.md:
# ping src -> dst through gw (one echo every 5 ms), rtt p50/p99 with no queue
# rule, with the echo requests through an unshaped imq0, with requests and
# replies through imq0, and with the requests through an IFB (the kernel's
# own two-queue path) for comparison. imqd must add less than 1 ms at the
# median and less than 10 ms at p99, with no loss.
. "$(dirname "$0")/lib.sh"
e2e_init imq_delay

COUNT=1000
P50_MAX_US=1000
P99_MAX_US=10000

topo_create
G() { nsx "$GW" "$@"; }

# rtt NAME: run the pings, log p50/p99/max in microseconds, set P50 P99 LOSS.
rtt() {
	local out=$T_TMP/ping.$1 line
	timeout 30 ip netns exec "$SRC" ping -n -q -i 0.005 -c 100 -W 1 "$DST_IP" >/dev/null 2>&1
	timeout 60 ip netns exec "$SRC" ping -n -i 0.005 -c "$COUNT" -W 1 "$DST_IP" >"$out" 2>&1
	line=$("$PYTHON" "$TOOLS/pingstats.py" "$out" "$COUNT") || { cat "$out" >&2; fail "ping $1 gave no rtt"; }
	read -r P50 P99 MAX LOSS <<<"$line"
	log "rtt $1: p50 ${P50}us p99 ${P99}us max ${MAX}us lost $LOSS of $COUNT"
	printf '%-22s p50 %6d us  p99 %6d us  max %6d us  lost %d\n' "$1" "$P50" "$P99" "$MAX" "$LOSS" \
		>>"$T_TMP/table"
}

rtt "no imqd"
base50=$P50 base99=$P99

start_imqd 0
G iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "NFQUEUE rule failed"
rtt "imqd, one way"
one50=$P50 one99=$P99 oneloss=$LOSS
G iptables -t mangle -A PREROUTING -i "$GW_OUT" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "NFQUEUE rule failed"
rtt "imqd, both ways"
both50=$P50 both99=$P99 bothloss=$LOSS
G iptables -t mangle -F PREROUTING
check_counters
assert_eq "imqd failopen" 0 "$S_failopen"
stop_imqd

G ip link add ifb0 type ifb && G ip link set ifb0 up &&
	G tc qdisc add dev "$GW_IN" handle ffff: ingress &&
	G tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
		action mirred egress redirect dev ifb0 || fail "IFB redirect failed"
rtt "IFB, one way"

log "rtt table:"$'\n'"$(cat "$T_TMP/table")"
assert_eq "pings lost through imqd (one way)" 0 "$oneloss"
assert_eq "pings lost through imqd (both ways)" 0 "$bothloss"
assert_le "p50 added by imqd one way (us)" "$P50_MAX_US" "$((one50 - base50))"
assert_le "p99 added by imqd one way (us)" "$P99_MAX_US" "$((one99 - base99))"
assert_le "p50 added by imqd both ways (us)" "$((2 * P50_MAX_US))" "$((both50 - base50))"
assert_le "p99 added by imqd both ways (us)" "$((2 * P99_MAX_US))" "$((both99 - base99))"
finish

#!/usr/bin/env bash
# persist = yes: imq0 and its tbf outlive imqd; a restarted imqd reattaches
# to the same device and shapes through the same qdisc again (TCP rate near
# the tbf's, the qdisc's packet count grows by what imqd accepted). With
# persist unset (no), the device is gone once imqd stops.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init persist

CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
RATE=10 # Mbit/s
TBF=(tbf rate "${RATE}mbit" burst 32k latency 100ms)
SECS=6
# TCP goodput through tbf: Ethernet and TCP/IP headers take 4.4% of a 1514-byte frame.
GOODPUT=$(calc %.3f "$RATE * 0.956")
PORT=9300
N=1000

# conf [DEVICE_LINES]: imq0 on queue 0, log-level info (says created/reattached).
conf() {
	imqd_conf "$CONF" "$SOCK" "log-level = info" <<EOF
[imq0]
queues = 0
${1:-}
EOF
}

# errors_in LOG: its lines that report trouble.
errors_in() { grep -iE 'error|cannot|fail|warn' "$1"; }

topo_create
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"

# 1. First run: creates imq0, persist = yes; the test adds the tbf.
conf "persist = yes"
start_imqd_conf "$CONF"
nsx "$GW" tc qdisc replace dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
qd=$(root_qdisc imq0)
ifindex=$(nsx "$GW" cat /sys/class/net/imq0/ifindex)
log "imq0: ifindex $ifindex, root qdisc $qd"
udp_recv first "$PORT" "$N" 15
udp_send first "$PORT" "$N" 10 -s 500 -r 2000 -f 2 || mismatch "udpseq send (first run) failed"
udp_check first "$N"
stop_imqd
dev_exists imq0 || fail "persist = yes: imq0 is gone after SIGTERM"
assert_eq "persist = yes: imq0's root qdisc after SIGTERM" "$qd" "$(root_qdisc imq0)"
assert_eq "persist = yes: imq0's ifindex after SIGTERM" "$ifindex" "$(nsx "$GW" cat /sys/class/net/imq0/ifindex)"
sent0=$(qdisc_bytes imq0)
log "imq0's tbf sent $sent0 bytes during the first run"

# 2. Restart: reattaches without error; shapes through the same tbf.
start_imqd_conf "$CONF"
grep -q 'imq0: reattached' "$IMQD_LOG" || mismatch "no 'imq0: reattached' in the log of the restart"
errs=$(errors_in "$IMQD_LOG")
[ -z "$errs" ] || mismatch "the restart logged errors: $errs"
assert_eq "imq0's ifindex after the restart (same device)" "$ifindex" "$(nsx "$GW" cat /sys/class/net/imq0/ifindex)"
assert_eq "imq0's root qdisc after the restart" "$qd" "$(root_qdisc imq0)"
iperf_server "$DST" 5301
rate=$(iperf_client "$SRC" "$DST_IP" 5301 "$SECS" "$T_TMP/iperf.json") || exit 1
log "TCP through the reattached imq0 (tbf ${RATE}mbit): $rate Mbit/s"
assert_within "goodput through the reattached imq0 (Mbit/s)" "$GOODPUT" 10 "$rate"
check_counters
assert_gt "imqd accepted after the restart" 0 "$S_accepted"
assert_eq "imqd failopen after the restart" 0 "$S_failopen"
assert_eq "qdisc reported by imqctl" tbf "$S_qdisc"
sent1=$(qdisc_bytes imq0)
assert_qdisc_bytes "bytes sent by the tbf during the second run" "$S_accepted_bytes" \
	"$((sent1 - sent0))"
check_nothing_queued
stop_imqd
dev_exists imq0 || fail "persist = yes: imq0 is gone after the second SIGTERM"
assert_eq "imq0's root qdisc after the second stop" "$qd" "$(root_qdisc imq0)"

# 3. persist unset (default no): the running imqd takes the device over and
# it is gone once imqd stops.
conf ""
start_imqd_conf "$CONF"
errs=$(errors_in "$IMQD_LOG")
[ -z "$errs" ] || mismatch "the run with persist = no logged errors: $errs"
udp_recv third "$PORT" "$N" 15
udp_send third "$PORT" "$N" 10 -s 500 -r 2000 -f 2 || mismatch "udpseq send (third run) failed"
udp_check third "$N"
stop_imqd
if dev_exists imq0; then
	mismatch "persist = no: imq0 still exists after SIGTERM"
	nsx "$GW" ip -d link show imq0 >&2
fi

# 4. persist = no from a fresh start: created, then removed.
start_imqd_conf "$CONF"
grep -q 'imq0: created' "$IMQD_LOG" || mismatch "no 'imq0: created' in the log of a fresh start"
stop_imqd
finish

#!/usr/bin/env bash
# Per-CPU shaping trees: imq0 is multiqueue with two workers, queues 0-1 and
# 2-3 each a shard with a TX queue of its own. The up hook makes
#   tc qdisc add dev imq0 root handle 7fff: mq
# with an htb under each 7fff:N, 10mbit under 7fff:1 and 20mbit under
# 7fff:2; rules send src's traffic to queues 0-1 and src2's to 2-3 (the
# recipe for keeping a host on one tree). A TCP upload from each at once:
# src's within 10% of 10 Mbit/s, src2's of 20, and each tree's htb counted
# only its host's packets. Then imq0 is deleted: imqd makes it again,
# attaches both TX queues in order, steers the copies again and runs the up
# hook once (not once per shard), and the two uploads are shaped as before.
# Last, a reload to queues = 0 takes the second shard away, and the
# device's counters keep what it did.
# shellcheck disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init multiqueue_trees 170

IMQD_WORKERS=2
SECS=8
HOOKS=$T_TMP/hooks.log

topo_create 2
cat >"$T_TMP/up.sh" <<EOF
#!/bin/sh
# Two trees under mq, as an administrator's up hook would make them.
echo "up \$IMQ_DEV \$IMQ_QUEUES" >>"$HOOKS"
tc qdisc replace dev "\$IMQ_DEV" root handle 7fff: mq || exit 1
tc qdisc add dev "\$IMQ_DEV" parent 7fff:1 handle 1: htb default 10 || exit 1
tc class add dev "\$IMQ_DEV" parent 1: classid 1:10 htb rate 10mbit ceil 10mbit || exit 1
tc qdisc add dev "\$IMQ_DEV" parent 7fff:2 handle 2: htb default 10 || exit 1
tc class add dev "\$IMQ_DEV" parent 2: classid 2:10 htb rate 20mbit ceil 20mbit || exit 1
EOF
chmod 0755 "$T_TMP/up.sh"
start_imqd 0-3 "multiqueue = yes
up = $T_TMP/up.sh"
G() { nsx "$GW" "$@"; }
G iptables -t mangle -A PREROUTING -i "$GW_IN" -s "$SRC_IP" -p tcp \
	-j NFQUEUE --queue-balance 0:1 --queue-bypass || fail "NFQUEUE rule for src failed"
G iptables -t mangle -A PREROUTING -i "$GW_IN2" -s "$SRC2_IP" -p tcp \
	-j NFQUEUE --queue-balance 2:3 --queue-bypass || fail "NFQUEUE rule for src2 failed"

# hooks_ran N: wait (10 s) until the up hook ran N times and both htb classes exist.
hooks_ran() {
	local i
	for i in $(seq 100); do
		if [ "$(wc -l <"$HOOKS" 2>/dev/null)" = "$1" ] &&
			[ "$(G tc class show dev imq0 | grep -c 'class htb')" = 2 ]; then
			return 0
		fi
		sleep 0.1
	done
	G tc qdisc show dev imq0 >&2
	fail "the up hook did not run $1 time(s) with both trees made within 10 s ($(cat "$HOOKS" 2>/dev/null))"
}

# class_bytes PARENT: bytes htb class PARENT:10 sent.
class_bytes() {
	G tc -s class show dev imq0 classid "$1:10" | awk '/Sent/ { print $2; exit }'
}

# round NAME: both uploads at once; each rate within 10% of its tree's.
round() {
	local b1 b2 a1 a2 r1 r2
	b1=$(class_bytes 1) b2=$(class_bytes 2)
	iperf_server "$DST" 5201
	iperf_server "$DST" 5202
	bg "$SRC" timeout $((SECS + 16)) iperf3 -c "$DST_IP" -p 5201 -t "$SECS" -O 1 -J >"$T_TMP/$1-src.json"
	local p1=$BG_PID
	bg "$SRC2" timeout $((SECS + 16)) iperf3 -c "$DST_IP" -p 5202 -t "$SECS" -O 1 -J >"$T_TMP/$1-src2.json"
	local p2=$BG_PID
	wait_pid "$p1" $((SECS + 20)) || fail "$1: iperf3 from src failed"
	wait_pid "$p2" $((SECS + 20)) || fail "$1: iperf3 from src2 failed"
	r1=$(iperf_rate "$T_TMP/$1-src.json")
	r2=$(iperf_rate "$T_TMP/$1-src2.json")
	a1=$(class_bytes 1) a2=$(class_bytes 2)
	log "$1: src $r1 Mbit/s through 7fff:1 ($((a1 - b1)) bytes), src2 $r2 Mbit/s through 7fff:2 ($((a2 - b2)) bytes)"
	# TCP goodput under htb, which counts the IP packet and 14 bytes: about 95% of the rate.
	assert_within "$1: src's rate through the 10mbit tree (Mbit/s)" 9.5 10 "$r1"
	assert_within "$1: src2's rate through the 20mbit tree (Mbit/s)" 19 10 "$r2"
	# Each tree carried its own host's upload: the bytes follow the rates, 1 to 2.
	assert_within "$1: bytes of tree 2 per byte of tree 1" 2 12 \
		"$(calc %.3f "$((a2 - b2)) / ($((a1 - b1)) + 1)")"
}

hooks_ran 1
assert_eq "IMQ_QUEUES of the up hook (one hook for the device)" "up imq0 0,1,2,3" "$(head -n 1 "$HOOKS")"
round first

# imq0 deleted: made again, both TX queues attached in order, steered, one up hook.
G ip link del imq0 || fail "cannot delete imq0"
hooks_ran 2
log "imqd after the deletion: $(grep -E 'attached again|gone' "$IMQD_LOG" | tr '\n' ';')"
for q in 0 1; do
	grep -q "TX queue $q attached again" "$IMQD_LOG" || mismatch "imqd's log does not say TX queue $q attached again"
done
round again

check_counters
assert_eq "copies taken for strays" 0 "$S_stray"
check_nothing_queued

# A reload to queues = 0 takes the second shard away: the device's totals
# keep what its queues did.
received=$S_received accepted=$S_accepted
sed -i 's/^queues = 0-3$/queues = 0/' "$IMQD_CONF" || fail "cannot edit $IMQD_CONF"
imqd_conf_read "$IMQD_CONF"
"$IMQCTL" -s "$IMQD_SOCK" reload || fail "imqctl reload to queues = 0 failed"
check_counters
# The TX queue goes with the shard's TUN fd, closed by the reload.
for i in $(seq 30); do
	[ "$(G ls /sys/class/net/imq0/queues | grep -c '^tx-')" = 1 ] && break
	sleep 0.1
done
assert_eq "after the reload to one shard: TX queues of imq0" 1 \
	"$(G ls /sys/class/net/imq0/queues | grep -c '^tx-')"
assert_eq "after the reload to one shard: received, as before it" "$received" "$S_received"
assert_eq "after the reload to one shard: accepted, as before it" "$accepted" "$S_accepted"
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# Reloads under traffic: imq0 shaped by tbf 50mbit carries numbered datagrams
# (4 flows, 4000 pps) while a second stream goes through queue 1; meanwhile
# imqd reloads 20 times (the senders run until the reloads are done), alternating between two valid files (imq0's
# drop-timeout changes, imq1 on queue 1 comes and goes), by SIGHUP and by
# `imqctl reload`. Every datagram must arrive once, nothing may stay queued in
# the kernel, and imq0 must keep its tbf. Then an invalid file: `imqctl reload`
# fails with file:line errors, SIGHUP too, and imqd goes on with the old
# configuration.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init reload_traffic

SEND_MAX=60 # seconds the senders may run; they are stopped after the reloads
N_MAX=$((SEND_MAX * 4000))
N2_MAX=$((SEND_MAX * 1600))
PORT=9100
PORT2=9101
RELOADS=20
CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
TBF=(tbf rate 50mbit burst 64k limit 4mb)

# Config 0: imq0 alone. Config 1: imq0 with another drop-timeout, and imq1.
write_conf() {
	if [ "$1" = 0 ]; then
		imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
drop-timeout = 5s
EOF
	else
		imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
drop-timeout = 4s

[imq1]
queues = 1
drop-timeout = 4s
EOF
	fi
}

reloaded() { log_count "$IMQD_LOG" 'configuration reloaded'; }

topo_create
write_conf 0
start_imqd_conf "$CONF"
nsx "$GW" tc qdisc replace dev imq0 root "${TBF[@]}" || fail "tc tbf on imq0 failed"
imq0_qdisc=$(root_qdisc imq0)
log "imq0 root qdisc: $imq0_qdisc"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule (queue 0) failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT2" \
	-j NFQUEUE --queue-num 1 --queue-bypass || fail "iptables NFQUEUE rule (queue 1) failed"

# Two receivers, two bounded senders in the background.
udp_recv main "$PORT" "$N_MAX" $((SEND_MAX + 20))
recv_main=$RECV_PID
udp_recv second "$PORT2" "$N2_MAX" $((SEND_MAX + 20))
recv_second=$RECV_PID
udp_send_bg main "$PORT" "$N_MAX" "$SEND_MAX" -s 1000 -r 4000 -f 4
send_main=$SEND_PID
udp_send_bg second "$PORT2" "$N2_MAX" "$SEND_MAX" -s 500 -r 1600 -f 2
send_second=$SEND_PID

# Reload i: file (i % 2), by SIGHUP when (i / 2) % 2 is 0, else by imqctl:
# both files are applied both ways.
sleep 0.3
for ((i = 1; i <= RELOADS; i++)); do
	c=$((i % 2))
	write_conf "$c"
	if [ $((i / 2 % 2)) = 0 ]; then
		how=SIGHUP
		kill -HUP "$IMQD_PID" || { imqd_alive; fail "cannot send SIGHUP to imqd"; }
		wait_log "$IMQD_LOG" 'configuration reloaded' "$i" 5 ||
			mismatch "reload $i (SIGHUP): no 'configuration reloaded' in the log within 5 s"
	else
		how=imqctl
		if ! out=$("$IMQCTL" -s "$SOCK" reload 2>&1); then
			mismatch "reload $i (imqctl): exit status non-zero: $out"
		fi
	fi
	imqd_alive
	if [ "$c" = 1 ]; then
		dev_exists imq1 || mismatch "reload $i ($how, file with imq1): imq1 does not exist"
	else
		dev_exists imq1 && mismatch "reload $i ($how, file without imq1): imq1 still exists"
	fi
	q=$(root_qdisc imq0)
	[ "$q" = "$imq0_qdisc" ] || mismatch "reload $i ($how): imq0 root qdisc is '$q', was '$imq0_qdisc'"
	sleep 0.1
done
log "$RELOADS reloads done; the log says 'configuration reloaded' $(reloaded) times"
main_running=0
kill -0 "$send_main" 2>/dev/null && main_running=1
assert_eq "main sender still running after the last reload" 1 "$main_running"
sleep 0.3
udp_stop main "$send_main"
N=$SENT
udp_stop second "$send_second"
N2=$SENT
assert_ge "datagrams sent through imq0 during the reloads" 4000 "$N"
RECV_PID=$recv_main
udp_check main "$N"
RECV_PID=$recv_second
udp_check second "$N2"
ooo=$(json_field "$T_TMP/main.recv.json" out_of_order)
assert_eq "main: datagrams out of order" 0 "$ooo"

assert_eq "reloads logged ('configuration reloaded')" "$RELOADS" "$(reloaded)"
check_counters
received=$(json_field "$T_TMP/main.recv.json" received)
assert_eq "imqd received on queue 0" "$N" "$S_received"
assert_eq "datagrams at dst + imqd drops" "$N" "$((received + S_dropped))"
assert_eq "imqd failopen" 0 "$S_failopen"
check_nothing_queued
dev_exists imq0 || mismatch "imq0 is gone after the reloads"
assert_eq "imq0 root qdisc after the reloads" "$imq0_qdisc" "$(root_qdisc imq0)"
sent=$(qdisc_sent imq0)
assert_ge "packets through imq0's tbf" "$N" "${sent:-0}"

# An invalid file: imqctl reload fails with FILE:LINE: errors, imqd keeps the
# running configuration (file 0: imq0 alone, drop-timeout 5s).
cp "$CONF" "$T_TMP/good.conf"
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
drop-timeout = banana
no-such-key = 1
EOF
# The bad lines are the third and fourth after [imq0] ([global] comes first).
bad=$(($(grep -n '^\[imq0\]$' "$CONF" | cut -d: -f1) + 2))
out=$("$IMQCTL" -s "$SOCK" reload 2>&1)
rc=$?
log "imqctl reload of the invalid file: status $rc, output: $out"
assert_eq "imqctl reload of an invalid file exits non-zero" 1 "$([ "$rc" != 0 ] && echo 1 || echo 0)"
grep -qF "$CONF:$bad:" <<<"$out" || mismatch "imqctl reload output lacks '$CONF:$bad:' (bad drop-timeout): $out"
grep -qF "$CONF:$((bad + 1)):" <<<"$out" || mismatch "imqctl reload output lacks '$CONF:$((bad + 1)):' (unknown key): $out"
kill -HUP "$IMQD_PID"
wait_log "$IMQD_LOG" 'not valid, keeping the running one' 2 5 ||
	mismatch "SIGHUP with an invalid file: no 'keeping the running one' in the log (twice) within 5 s"
imqd_alive
dev_exists imq1 && mismatch "imq1 exists after failed reloads (the running file had none)"
assert_eq "imq0 root qdisc after failed reloads" "$imq0_qdisc" "$(root_qdisc imq0)"
imqd_counters
before=$S_accepted
sent_before=$(qdisc_sent imq0)
N3=2000
udp_recv after "$PORT" "$N3" 20
udp_send after "$PORT" "$N3" 10 -s 1000 -r 4000 -f 4 || mismatch "udpseq send (after) failed"
udp_check after "$N3"
check_counters
assert_eq "imqd accepted after the failed reloads" "$N3" "$((S_accepted - before))"
assert_eq "packets through imq0's tbf after the failed reloads" "$N3" "$(($(qdisc_sent imq0) - sent_before))"
check_nothing_queued

cp "$T_TMP/good.conf" "$CONF"
stop_imqd
finish

#!/usr/bin/env bash
# imqd under valgrind (memcheck, --leak-check=full --error-exitcode=99) for a
# short shaped run that walks its fault paths: 3000 datagrams through a tbf,
# counters read, a reload over the control socket (drop-timeout changed), a
# reload by SIGHUP (a second queue added, 500 datagrams through it), imq0
# deleted under traffic (recreated by the health check), SIGTERM. valgrind must report no error and no
# definite leak, and imqd must exit 0.
. "$(dirname "$0")/lib.sh"
e2e_init fault_valgrind

# CMake registers this test only where it can run; by hand it fails instead.
need_tools valgrind
imqd_is_asan && fail "imqd is built with AddressSanitizer, which cannot run under valgrind"
PORT=9201
N=3000

topo_create
# imqd runs through a wrapper that execs valgrind, so IMQD_PID is valgrind's.
REAL_IMQD=$IMQD
IMQD=$T_TMP/imqd-valgrind
cat >"$IMQD" <<EOF
#!/bin/sh
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \\
	--error-exitcode=99 --log-file="$T_TMP/valgrind.log" "$REAL_IMQD" "\$@"
EOF
chmod +x "$IMQD"
hook=$(up_hook up-tbf tbf rate 4mbit burst 8k latency 200ms)
start_imqd 0 "up = $hook"
wait_until 10 '[ "$(hook_runs up-tbf)" -ge 1 ]' || fail "up hook did not run"
queue_rule "$PORT" 0
queue_rule $((PORT + 1)) 1

stamp_recv "$DST" $((PORT + 1)) 25 rx1 3
rx1_pid=$RECV_PID
stamp_recv "$DST" "$PORT" 25 rx 3
udp_stream "$SRC" "$DST_IP" "$PORT" "$N" 500 500 10 4
sleep 2
imqd_counters
show_counters
assert_gt "packets through imqd under valgrind before the reloads" 300 "$S_received"
"$IMQCTL" -s "$IMQD_SOCK" stats -p >/dev/null || mismatch "imqctl stats -p failed"
"$IMQCTL" -s "$IMQD_SOCK" stats -o prometheus >/dev/null || mismatch "imqctl stats -o prometheus failed"
"$IMQCTL" -s "$IMQD_SOCK" rules >/dev/null || mismatch "imqctl rules failed"
echo "drop-timeout = 3s" >>"$T_TMP/imqd.conf"
"$IMQCTL" -s "$IMQD_SOCK" reload || mismatch "imqctl reload failed"
sleep 1
sed -i 's/^queues = 0$/queues = 0-1/' "$T_TMP/imqd.conf"
kill -HUP "$IMQD_PID"
wait_until 10 '[ -n "$(nfq_col 1 1)" ]' || mismatch "queue 1 not bound after SIGHUP"
timeout 10 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p $((PORT + 1)) -n 500 -s 500 -r 500 -t 5 \
	>"$T_TMP/send-$((PORT + 1)).json" || mismatch "sender to queue 1 did not send 500 datagrams"
nsx "$GW" ip link del imq0 || fail "cannot delete imq0"
wait_until 10 dev_up || mismatch "imq0 not recreated under valgrind within 10 s"
wait_pid "$SEND_PID" 15
stamp_wait rx 30
RECV_PID=$rx1_pid
stamp_wait rx1 30
check_counters
check_nothing_queued
got=$(($(json_field "$T_TMP/rx.json" received) + $(json_field "$T_TMP/rx1.json" received)))
N=$((N + 500))
log "sent $N, received $got; up hook ran $(hook_runs up-tbf) times"
# Every datagram imqd let through arrived, and none was lost but as the
# qdisc's: when the up hook replaces the recreated imq0's root qdisc, the
# kernel drops what is sent to it meanwhile and tells the sender nothing (on
# any device, IFB too); under valgrind's slowness a copy now and then falls
# in that instant, and its packet is dropped when a later copy of its flow
# comes back (dropped_order).
assert_eq "datagrams at dst = imqd accepted + failopen" "$((S_accepted + S_failopen))" "$got"
assert_eq "datagrams dropped but by the order of their flow" 0 \
	"$((S_dropped - S_dropped_order))"
assert_le "datagrams dropped by order (a root qdisc replaced under traffic)" 3 "$S_dropped_order"

t_term=$(now)
stop_imqd
log "imqd under valgrind exited $(calc %.1f "$(now) - $t_term") s after SIGTERM"
if [ -s "$T_TMP/valgrind.log" ]; then
	dump_file "valgrind log" "$T_TMP/valgrind.log"
	mismatch "valgrind reported: $(grep -m 1 -E 'Invalid|uninitialised|definitely|Mismatched|overlap|ERROR' "$T_TMP/valgrind.log" || head -n 1 "$T_TMP/valgrind.log")"
else
	pass_msg "valgrind: no error, no definite leak"
fi
result "test=fault_valgrind sent=$N received=$got lost=$((N - got)) valgrind_log_lines=$(wc -l <"$T_TMP/valgrind.log")"
finish

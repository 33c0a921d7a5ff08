#!/usr/bin/env bash
# An unprivileged member of control-group (nobody) keeps 40 clients on the
# control socket that say nothing and reconnect as soon as imqd cuts them
# off or refuses them (tests/tools/ctlclients.py lockout). Meanwhile root
# runs `imqctl show` and `imqctl reload`, 20 times: each must answer, within
# the 2 s docs/RELIABILITY.md promises; the latencies are printed. The
# flood must have met the limit (imqd refused some of its clients), or it
# did not test anything. Before: root got "error too many clients" for as
# long as the flood went on (systemctl reload failed).
. "$(dirname "$0")/lib.sh"
e2e_init fault_ctl_lockout

PY=/usr/bin/python3 # nobody cannot run a python3 under /root, as $PYTHON may be
CLIENTS=40
ROUNDS=20
[ -x "$PY" ] || fail "no $PY"
need_tools setpriv
ns_new g GW
# nobody reaches the socket: through T_TMP, and by the socket's group.
chmod 711 "$T_TMP" || fail "chmod $T_TMP"
{ cp "$TOOLS/ctlclients.py" "$T_TMP/ctlclients.py" && chmod 644 "$T_TMP/ctlclients.py"; } ||
	fail "cannot copy ctlclients.py"
imqd_conf "$T_TMP/imqd.conf" "$T_TMP/run/imqd.sock" "control-group = nogroup" <<EOF
[imq0]
queues = 0
EOF
start_imqd_conf "$T_TMP/imqd.conf"

FLOOD_SECS=$((ROUNDS / 2 + 4))
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$PY" "$T_TMP/ctlclients.py" lockout "$IMQD_SOCK" "$CLIENTS" "$FLOOD_SECS" >"$T_TMP/flood.json" &
FLOOD_PID=$!
T_PIDS+=("$FLOOD_PID")
# Long enough for the flood to fill its slots and be cut off once (2 s).
sleep 2.5

: >"$T_TMP/latency"
failed=0
for ((i = 1; i <= ROUNDS; i++)); do
	cmd=show
	[ $((i % 4)) = 0 ] && cmd=reload
	t0=$(now)
	if ! timeout 20 "$IMQCTL" -s "$IMQD_SOCK" "$cmd" >"$T_TMP/out" 2>&1; then
		failed=$((failed + 1))
		log "round $i: imqctl $cmd failed: $(head -n 1 "$T_TMP/out")"
	fi
	t1=$(now)
	calc %.3f "$t1 - $t0" >>"$T_TMP/latency"
	sleep 0.3
done
wait_pid "$FLOOD_PID" 20 || fail "the flood client failed"
log "flood of $CLIENTS silent clients as nobody: $(cat "$T_TMP/flood.json")"
# flood NAME: one count of the flood's result.
flood() { "$PYTHON" "$TOOLS/jsonfield.py" "$T_TMP/flood.json" "$1" || fail "no $1 in the flood's result"; }
connections=$(flood connections)
refused=$(flood refused)
cut=$(flood cut)
max=$(sort -g "$T_TMP/latency" | tail -n 1)
median=$(sort -g "$T_TMP/latency" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
result "root's imqctl under the flood: $ROUNDS rounds, $failed failed, latency median ${median} s, max ${max} s"
assert_eq "root's imqctl show/reload that failed under the flood (of $ROUNDS)" 0 "$failed"
assert_le "root's imqctl: slowest answer (s)" 2 "$max"
assert_gt "flood clients imqd refused (the flood met the limit)" 0 "$refused"
assert_gt "flood clients imqd cut off after their silence" 0 "$cut"
assert_log "refused clients of other users" "of users other than root and imqd's"
log "flood: $connections connections, $refused refused, $cut cut off"
imqd_alive
stop_imqd
finish

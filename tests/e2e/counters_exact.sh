#!/usr/bin/env bash
# imqd's counters are exact. Two sources send 1500 UDP datagrams each, about
# 7 Mbit/s together, into imq0's tbf 2mbit with a 6000-byte queue; only those
# datagrams are queued (-p udp --dport PORT): src's to queue 0, src2's (to
# another port) to queue 1. Afterwards, for imq0:
#   received = datagrams sent, held = 0, and
#   received = accepted + dropped_enqueue + dropped_order + dropped_timeout + dropped_ecn
#              + dropped_error + failopen;
#   accepted = datagrams the receivers got (failopen 0), dropped_enqueue > 0;
#   every counter of per_queue sums to the device's, and each queue
#   received its source's 1500 and accepted what its receiver got;
#   `imqctl -o prometheus stats` is well-formed text exposition format and
#   says the same as the JSON;
# and the control socket answers a user in control-group, and refuses
# (permission denied, exit 1) a user who is not.
. "$(dirname "$0")/lib.sh"
e2e_init counters_exact

PER_SRC=1500
N=$((2 * PER_SRC))
PORT=7600 PORT2=7601
GROUP=imqg$$ USER_IN=imqi$$ USER_OUT=imqo$$

topo_create 2

# A group and two users for the socket's permissions, removed at exit.
at_exit "userdel $USER_IN; userdel $USER_OUT; groupdel $GROUP"
groupadd "$GROUP" || fail "groupadd $GROUP failed"
useradd -M -N -s /usr/sbin/nologin -G "$GROUP" "$USER_IN" || fail "useradd $USER_IN failed"
useradd -M -N -s /usr/sbin/nologin "$USER_OUT" || fail "useradd $USER_OUT failed"
# The users must reach the socket in our temporary directory, and imqctl.
chmod 0711 "$T_TMP"
install -m 0755 "$IMQCTL" "$T_TMP/imqctl" || fail "cannot copy imqctl"

imqd_conf "$T_TMP/imqd.conf" "$T_TMP/imqd.sock" "control-group = $GROUP" <<EOF
[imq0]
queues = 0-1
EOF
start_imqd_conf "$T_TMP/imqd.conf"
G() { nsx "$GW" "$@"; }
G tc qdisc replace dev imq0 root tbf rate 2mbit burst 3000 limit 6000 || fail "tc tbf on imq0 failed"
G iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "NFQUEUE rule failed"
G iptables -t mangle -A PREROUTING -i "$GW_IN2" -p udp --dport "$PORT2" \
	-j NFQUEUE --queue-num 1 --queue-bypass || fail "NFQUEUE rule failed"

bg "$DST" timeout 40 "$UDPSEQ" recv -p "$PORT" -n "$PER_SRC" -t 30 -i >"$T_TMP/recv1.json"
r1=$BG_PID
bg "$DST" timeout 40 "$UDPSEQ" recv -p "$PORT2" -n "$PER_SRC" -t 30 -i >"$T_TMP/recv2.json"
r2=$BG_PID
wait_listen "$DST" udp "$PORT"
wait_listen "$DST" udp "$PORT2"
# 2 x 2000 datagrams/s of 214 bytes on the wire: about 7 Mbit/s into 2 Mbit/s.
bg "$SRC" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$PER_SRC" -s 200 -f 4 -r 2000 -t 10 \
	>"$T_TMP/send1.json"
s1=$BG_PID
bg "$SRC2" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT2" -n "$PER_SRC" -s 200 -f 4 -r 2000 -t 10 \
	>"$T_TMP/send2.json"
s2=$BG_PID
wait_pid "$s1" 25 || fail "udpseq send from src failed"
wait_pid "$s2" 25 || fail "udpseq send from src2 failed"
assert_eq "datagrams sent by src" "$PER_SRC" "$(json_field "$T_TMP/send1.json" sent)"
assert_eq "datagrams sent by src2" "$PER_SRC" "$(json_field "$T_TMP/send2.json" sent)"
wait_pid "$r1" 45 || fail "udpseq recv (port $PORT) did not finish"
wait_pid "$r2" 45 || fail "udpseq recv (port $PORT2) did not finish"
got1=$(json_field "$T_TMP/recv1.json" received)
got2=$(json_field "$T_TMP/recv2.json" received)
got=$((got1 + got2))
log "receiver, from src: $(cat "$T_TMP/recv1.json")"
log "receiver, from src2: $(cat "$T_TMP/recv2.json")"
G tc -s qdisc show dev imq0 >&2

check_counters
assert_eq "imqd received = datagrams sent" "$N" "$S_received"
assert_eq "imqd received = accepted + dropped_* + failopen (held 0)" "$S_received" \
	"$((S_accepted + S_dropped_enqueue + S_dropped_order + S_dropped_timeout + S_dropped_error + S_dropped_ecn + S_failopen))"
assert_eq "imqd failopen" 0 "$S_failopen"
assert_eq "imqd accepted = datagrams at dst" "$got" "$S_accepted"
assert_gt "imqd dropped_enqueue (the tbf dropped some)" 0 "$S_dropped_enqueue"
for i in 1 2; do
	assert_eq "duplicates at dst (src$i)" 0 "$(json_field "$T_TMP/recv$i.json" duplicates)"
	assert_eq "datagrams out of order at dst (src$i)" 0 "$(json_field "$T_TMP/recv$i.json" out_of_order)"
done

# Each queue got its source's datagrams, and every counter summed over
# per_queue equals the device's (the snapshot check_counters read).
assert_eq "per_queue lists" "0 1" "$S_per_queue"
assert_eq "queue 0 received (src's datagrams)" "$PER_SRC" "$S_q0_received"
assert_eq "queue 1 received (src2's datagrams)" "$PER_SRC" "$S_q1_received"
assert_eq "queue 0 accepted = datagrams at dst from src" "$got1" "$S_q0_accepted"
assert_eq "queue 1 accepted = datagrams at dst from src2" "$got2" "$S_q1_accepted"
check_queue_sums imq0

# Prometheus: format, then the same numbers as the JSON taken right after.
"$IMQCTL" -s "$IMQD_SOCK" -o prometheus stats >"$T_TMP/stats.prom" || fail "imqctl -o prometheus stats failed"
"$IMQCTL" -s "$IMQD_SOCK" stats -j >"$T_TMP/stats2.json" || fail "imqctl stats -j failed"
if "$PYTHON" "$TOOLS/promcheck.py" "$T_TMP/stats.prom" "$T_TMP/stats2.json" >"$T_TMP/prom.out" 2>&1; then
	pass_msg "$(tail -n 1 "$T_TMP/prom.out")"
else
	cat "$T_TMP/prom.out" >&2
	mismatch "imqctl -o prometheus stats: $(grep -v ' problems$' "$T_TMP/prom.out" | head -n 3 | tr '\n' ';')"
fi
if command -v promtool >/dev/null 2>&1; then
	if promtool check metrics <"$T_TMP/stats.prom" >"$T_TMP/promtool.out" 2>&1; then
		pass_msg "promtool check metrics"
	else
		mismatch "promtool check metrics: $(head -n 3 "$T_TMP/promtool.out" | tr '\n' ';')"
	fi
fi

# The control socket: mode 0660, group control-group.
read -r mode group < <(stat -c '%a %G' "$IMQD_SOCK")
assert_eq "control socket mode" 660 "$mode"
assert_eq "control socket group" "$GROUP" "$group"
if runuser -u "$USER_IN" -- "$T_TMP/imqctl" -s "$IMQD_SOCK" stats -j >"$T_TMP/in.json" 2>"$T_TMP/in.err" &&
	"$PYTHON" "$TOOLS/imqstats.py" shell "$T_TMP/in.json" imq0 >/dev/null; then
	pass_msg "user $USER_IN (in $GROUP) reads the counters"
else
	mismatch "user $USER_IN (in $GROUP) cannot use imqctl: $(cat "$T_TMP/in.err")"
fi
runuser -u "$USER_OUT" -- "$T_TMP/imqctl" -s "$IMQD_SOCK" stats -j >"$T_TMP/out.json" 2>"$T_TMP/out.err"
rc=$?
assert_eq "imqctl exit status for $USER_OUT (not in $GROUP)" 1 "$rc"
assert_eq "imqctl output for $USER_OUT" "" "$(cat "$T_TMP/out.json")"
if grep -q 'Permission denied' "$T_TMP/out.err"; then
	pass_msg "user $USER_OUT refused: $(cat "$T_TMP/out.err")"
else
	mismatch "user $USER_OUT not refused with 'Permission denied': $(cat "$T_TMP/out.err")"
fi

check_nothing_queued
stop_imqd
finish

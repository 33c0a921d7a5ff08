#!/usr/bin/env bash
# Device hooks: the up hook runs once imq0 is set up, with IMQ_DEV and
# IMQ_QUEUES, and its tbf shapes imq0; it runs again when imq0 is deleted and
# imqd recreates it; the down hook runs on SIGTERM while
# imq0 still exists; arguments reach the hook as written (no shell); a hook
# that exits 3 is logged with its status; a hook that outlives hook-timeout
# is killed and logged, and what it started in the background with it; a
# device with 180 queues gets all of them in IMQ_QUEUES.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init hooks

CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
PORT=9200
N=500

# hook NAME BODY: an executable /bin/sh script $T_TMP/NAME.sh.
hook() {
	printf '#!/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n%s\n' "$2" >"$T_TMP/$1.sh" &&
		chmod 755 "$T_TMP/$1.sh" || fail "cannot write hook $1"
}

topo_create

# 1. up and down hooks around a normal run.
hook up "printf '%s %s\\n' \"\$IMQ_DEV\" \"\$IMQ_QUEUES\" >>$T_TMP/up.rec
for a in \"\$@\"; do printf '<%s>' \"\$a\"; done >$T_TMP/up.args
tc qdisc replace dev \"\$IMQ_DEV\" root tbf rate 10mbit burst 32k latency 100ms || exit 1
tc qdisc show dev \"\$IMQ_DEV\" >$T_TMP/up.qdisc"
hook down "printf '%s %s\\n' \"\$IMQ_DEV\" \"\$IMQ_QUEUES\" >$T_TMP/down.rec
ip link show \"\$IMQ_DEV\" >/dev/null 2>&1 && echo exists >>$T_TMP/down.rec"
# shellcheck disable=SC2016 # $HOME must reach the hook unexpanded
imqd_conf "$CONF" "$SOCK" "log-level = info" <<EOF
[imq0]
queues = 0-1
up = $T_TMP/up.sh \$HOME '\$HOME' "two words" *
down = $T_TMP/down.sh
EOF
start_imqd_conf "$CONF"
wait_log "$IMQD_LOG" 'up hook .* done' 1 5 || mismatch "no 'up hook ... done' in the log within 5 s"
assert_eq "up hook record (IMQ_DEV IMQ_QUEUES)" "imq0 0,1" "$(cat "$T_TMP/up.rec" 2>/dev/null)"
# shellcheck disable=SC2016
assert_eq "up hook arguments (passed literally, no shell)" "<\$HOME><'\$HOME'><two words><*>" \
	"$(cat "$T_TMP/up.args" 2>/dev/null)"
grep -q '^qdisc tbf' "$T_TMP/up.qdisc" 2>/dev/null ||
	mismatch "the up hook did not see its tbf on imq0: $(cat "$T_TMP/up.qdisc" 2>/dev/null)"
q=$(root_qdisc imq0)
assert_eq "imq0 root qdisc kind after start (set by the up hook)" tbf "${q%% *}"
ordered=0
grep -n 'up hook' "$IMQD_LOG" >/dev/null &&
	awk '/shaping NFQUEUE/ { s = NR } /up hook/ && s && NR > s { ok = 1 } END { exit !ok }' "$IMQD_LOG" &&
	ordered=1
assert_eq "up hook logged after 'shaping NFQUEUE' (device started)" 1 "$ordered"

# The hook's tbf shapes what goes through imq0.
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 1 --queue-bypass || fail "iptables NFQUEUE rule failed"
udp_recv up "$PORT" "$N" 15
udp_send up "$PORT" "$N" 10 -s 200 -r 2000 -f 2 || mismatch "udpseq send failed"
udp_check up "$N"
assert_ge "packets through the up hook's tbf" "$N" "$(qdisc_sent imq0)"
check_counters
assert_eq "imqd accepted" "$N" "$S_accepted"
nsx "$GW" iptables -t mangle -F PREROUTING

# imq0 deleted under imqd: recreated, and the up hook runs again on the new one.
ifindex=$(nsx "$GW" cat /sys/class/net/imq0/ifindex)
nsx "$GW" ip link del imq0 || fail "cannot delete imq0"
for i in $(seq 50); do [ "$(wc -l <"$T_TMP/up.rec")" -ge 2 ] && break; sleep 0.1; done
assert_eq "up hook records after imq0 was deleted and recreated" "imq0 0,1
imq0 0,1" "$(cat "$T_TMP/up.rec")"
newindex=$(nsx "$GW" cat /sys/class/net/imq0/ifindex 2>/dev/null)
[ -n "$newindex" ] && [ "$newindex" != "$ifindex" ] ||
	mismatch "imq0 not recreated (ifindex before $ifindex, now '${newindex:-none}')"
q=$(root_qdisc imq0)
assert_eq "recreated imq0's root qdisc kind (set by the up hook again)" tbf "${q%% *}"
imqd_alive

[ -e "$T_TMP/down.rec" ] && mismatch "down hook ran before SIGTERM"
stop_imqd
assert_eq "down hook record (IMQ_DEV IMQ_QUEUES, device still there)" "imq0 0,1
exists" "$(cat "$T_TMP/down.rec" 2>/dev/null)"
grep -qE 'down hook .*done' "$IMQD_LOG" || mismatch "no 'down hook ... done' in the log"

# 2. A hook that fails with exit status 3: logged with the status; imqd goes on.
hook fail "exit 3"
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
up = $T_TMP/fail.sh
EOF
start_imqd_conf "$CONF"
wait_log "$IMQD_LOG" 'fail\.sh' 1 5 || mismatch "nothing about fail.sh in the log within 5 s"
line=$(grep 'fail\.sh' "$IMQD_LOG" | head -n 1)
log "failing hook logged: $line"
grep -qE '(status|code)[^0-9]*3([^0-9]|$)' <<<"$line" ||
	mismatch "the failing hook's log line lacks its exit status 3: '$line'"
imqd_alive
stop_imqd

# 3. A hook that sleeps past hook-timeout = 500ms is killed and logged, with
# the sleep it started in the background.
hook slow "echo \$\$ >$T_TMP/slow.pid
sleep 30 &
echo \$! >$T_TMP/slow.child
exec sleep 30"
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
up = $T_TMP/slow.sh
hook-timeout = 500ms
EOF
t0=$(date +%s%N)
start_imqd_conf "$CONF"
wait_log "$IMQD_LOG" 'slow\.sh' 1 5 || mismatch "nothing about slow.sh in the log within 5 s"
t1=$(date +%s%N)
line=$(grep 'slow\.sh' "$IMQD_LOG" | head -n 1)
log "slow hook logged after $(((t1 - t0) / 1000000)) ms: $line"
grep -qiE 'kill|timed? ?out' <<<"$line" || mismatch "the slow hook's log line does not say it was killed: '$line'"
grep -q '500' <<<"$line" || mismatch "the slow hook's log line does not give the 500ms timeout: '$line'"
[ $(((t1 - t0) / 1000000)) -lt 3000 ] || mismatch "the slow hook was not killed within 3 s of start"
hpid=$(cat "$T_TMP/slow.pid" 2>/dev/null)
if [ -z "$hpid" ]; then
	mismatch "the slow hook never ran (no pid file)"
elif kill -0 "$hpid" 2>/dev/null && [ "$(ps -o comm= -p "$hpid")" = sleep ]; then
	mismatch "the slow hook (pid $hpid) still runs after the timeout"
fi
cpid=$(cat "$T_TMP/slow.child" 2>/dev/null)
if [ -z "$cpid" ]; then
	mismatch "the slow hook started no background child (no pid file)"
else
	for _ in $(seq 20); do
		kill -0 "$cpid" 2>/dev/null && [ "$(ps -o comm= -p "$cpid")" = sleep ] || break
		sleep 0.1
	done
	if kill -0 "$cpid" 2>/dev/null && [ "$(ps -o comm= -p "$cpid")" = sleep ]; then
		kill "$cpid"
		mismatch "the slow hook's background child (pid $cpid) still runs after the timeout"
	else
		pass_msg "the slow hook's background child was killed with it"
	fi
fi
imqd_alive
stop_imqd

# 4. 180 queues of 5 digits: IMQ_QUEUES lists every one (1,080 characters).
hook many "printf '%s' \"\$IMQ_QUEUES\" >$T_TMP/many.rec"
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 10000-10179
queue-maxlen = 16
up = $T_TMP/many.sh
EOF
start_imqd_conf "$CONF"
want=$(seq -s, 10000 10179)
assert_eq "IMQ_QUEUES of 180 queues" "$want" "$(cat "$T_TMP/many.rec" 2>/dev/null)"
imqd_alive
stop_imqd
finish

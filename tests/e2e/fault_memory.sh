#!/usr/bin/env bash
# Memory follows what is held, within imqd's memory limit.
#  1. imqd runs in a memory cgroup limited to 64 MB. A reload to two devices
#     of queue-maxlen 1048576 answers at once and costs nothing: RSS stays
#     small (it used to allocate and touch ~1.1 GB and get imqd killed).
#  2. A flood of 50,000 small datagrams into a 5 Mbit/s tbf with room for
#     all of them: the backlog (~35,000 held) fits the limit; every datagram
#     arrives, nothing dropped or passed unshaped, imqd is never killed, and
#     its RSS falls back once the backlog drained.
#  3. The limit lowered to 24 MB, and a reload: imqd holds what its budget
#     allows and passes the rest unshaped (failopen no_buffer, logged), never
#     killed; every datagram arrives, the counters balance.
. "$(dirname "$0")/lib.sh"
e2e_init fault_memory 170

PORT=7900
N=50000

# The memory cgroup: v1 (memory.limit_in_bytes) where the memory controller
# is mounted as such, else v2 (memory.max).
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
if [ -n "$own" ] && [ -d "/sys/fs/cgroup/memory$own" ]; then
	CG=/sys/fs/cgroup/memory$own/imqd-e2e-$$ LIMIT_FILE=memory.limit_in_bytes
	OOM() { awk '$1 == "oom_kill" { print $2 }' "$CG/memory.oom_control"; }
else
	own=$(awk -F: '$1 == 0 { print $3 }' /proc/self/cgroup)
	CG=/sys/fs/cgroup$own/imqd-e2e-$$ LIMIT_FILE=memory.max
	OOM() { awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events"; }
fi
mkdir "$CG" || fail "cannot create memory cgroup $CG"
# Processes left in it go back to ours before it is removed.
at_exit "for p in \$(cat $CG/cgroup.procs); do echo \$p >$(dirname "$CG")/cgroup.procs; done; rmdir $CG"
echo $((64 << 20)) >"$CG/$LIMIT_FILE" || fail "cannot set $LIMIT_FILE"
log "memory cgroup $CG, $LIMIT_FILE $(cat "$CG/$LIMIT_FILE")"

# imqd reads its limit under /sys/fs/cgroup, which `ip netns exec` hides
# behind a sysfs of its own: run it in gw's network namespace but in this
# shell's mount namespace, as it sees the file system under a service manager.
printf '#!/bin/sh\nexec nsenter --mount=/proc/%s/ns/mnt -- "%s" "$@"\n' "$$" "$IMQD" \
	>"$T_TMP/imqd-in-host-mounts"
chmod +x "$T_TMP/imqd-in-host-mounts"
IMQD=$T_TMP/imqd-in-host-mounts

topo_create
start_imqd 0 "drop-timeout = 30s"
echo "$IMQD_PID" >"$CG/cgroup.procs" || fail "cannot move imqd into $CG"
nsx "$GW" tc qdisc replace dev imq0 root tbf rate 5mbit burst 16k limit 64m ||
	fail "tc tbf on imq0 failed"
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"

# 1. A reload to queue-maxlen 1m on two devices.
rss0=$(rss_kb "$IMQD_PID")
cat >"$T_TMP/imqd.conf" <<EOF
[global]
control-socket = $IMQD_SOCK

[imq0]
queues = 0
queue-maxlen = 1048576
drop-timeout = 30s

[imq1]
queues = 1
queue-maxlen = 1048576
EOF
t0=$(date +%s%N)
"$IMQCTL" -s "$IMQD_SOCK" reload || fail "imqctl reload to queue-maxlen 1048576 failed"
ms=$((($(date +%s%N) - t0) / 1000000))
imqd_alive
assert_le "1: imqctl reload to two devices of queue-maxlen 1048576 (ms)" 1000 "$ms"
assert_le "1: RSS after the reload (kB; before: $rss0)" $((rss0 + 4096)) "$(rss_kb "$IMQD_PID")"

# flood NAME: N datagrams of 64 bytes at 25,000/s into the tbf, all awaited at dst.
flood() {
	bg "$DST" timeout 60 "$UDPSEQ" recv -p "$PORT" -n "$N" -t 50 -w 8 -i >"$T_TMP/recv-$1.json"
	local recv_pid=$BG_PID peak=0 rss
	wait_listen "$DST" udp "$PORT"
	bg "$SRC" timeout 20 "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -s 64 -f 8 -r 25000 -t 10 \
		>"$T_TMP/send-$1.json"
	while kill -0 "$recv_pid" 2>/dev/null; do
		rss=$(rss_kb "$IMQD_PID")
		[ "${rss:-0}" -gt "$peak" ] && peak=$rss
		sleep 0.2
	done
	wait_pid "$recv_pid" 1
	PEAK_KB=$peak
	log "$1: receiver: $(cat "$T_TMP/recv-$1.json"); imqd peak RSS $peak kB"
	assert_eq "$1: datagrams at dst" "$N" "$(json_field "$T_TMP/recv-$1.json" received)"
}

# 2. The backlog fits the limit.
flood fits
imqd_alive
check_counters
assert_eq "2: OOM kills in the cgroup" 0 "$(OOM)"
assert_gt "2: most packets held at once" 20000 "$S_peak_held"
assert_eq "2: accepted" "$N" "$S_accepted"
assert_eq "2: failopen" 0 "$S_failopen"
assert_eq "2: dropped" 0 "$S_dropped"
# The table gives its memory back within a few health ticks of draining.
for i in $(seq 30); do [ "$(rss_kb "$IMQD_PID")" -lt $((PEAK_KB / 2)) ] && break; sleep 0.2; done
assert_le "2: RSS once drained (kB; peak $PEAK_KB)" $((PEAK_KB / 2)) "$(rss_kb "$IMQD_PID")"
check_nothing_queued

# 3. A limit the backlog does not fit: held up to the budget, the rest unshaped.
echo $((24 << 20)) >"$CG/$LIMIT_FILE" || fail "cannot lower $LIMIT_FILE"
"$IMQCTL" -s "$IMQD_SOCK" reload || fail "imqctl reload failed"
accepted=$S_accepted
flood tight
imqd_alive
check_counters
assert_eq "3: OOM kills in the cgroup" 0 "$(OOM)"
assert_gt "3: passed unshaped for want of memory (failopen no_buffer)" 0 "${S_failopen_no_buffer:-0}"
assert_eq "3: accepted + passed unshaped" "$((accepted + N))" "$((S_accepted + S_failopen))"
assert_le "3: imqd peak RSS (kB) within the 24 MB limit" $((24 * 1024)) "$PEAK_KB"
grep -q 'no memory to hold more packets' "$IMQD_LOG" && pass_msg "3: the memory budget logged" ||
	mismatch "3: no log line about the memory budget"
grep -q 'memory limit 24 MB' "$IMQD_LOG" && pass_msg "3: the budget told at the reload" ||
	mismatch "3: no log line about the memory limit at the reload"
check_nothing_queued
stop_imqd
finish

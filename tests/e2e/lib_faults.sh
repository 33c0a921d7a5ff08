# Helpers of the fault-injection tests (tests/e2e/fault_*.sh), on top of lib.sh.
#
# A fault test sources lib.sh, then this file. Everything here keeps its
# files in $T_TMP and its processes in T_PIDS, so lib.sh's EXIT trap removes
# them with the namespaces, also when the test fails.

# shellcheck shell=bash disable=SC2034,SC2154 # S_* come from imqd_counters, T_* from lib.sh

# now: wall-clock seconds with nanoseconds (the namespaces share the clock).
now() { date +%s.%N; }

# fx EXPR: a floating-point expression evaluated by python3, printed.
fx() { python3 -c "import sys; print($1)"; }

# lf_wait SECONDS 'COMMAND': evaluate COMMAND (quoted, so each try expands it
# anew) every 0.1 s until it succeeds; 1 on timeout.
lf_wait() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		eval "$*" && return 0
		sleep 0.1
	done
	eval "$*"
}

# lf_recv NS PORT SECONDS NAME [IDLE]: a background UDP receiver on PORT in NS
# that timestamps every udpseq datagram. It stops after SECONDS, or IDLE
# seconds without a datagram once one came, and writes $T_TMP/NAME.ts (one
# "time flow seq" line per datagram) and $T_TMP/NAME.json (received,
# duplicates, out_of_order). Sets RECV_PID; waits until it listens.
lf_recv() {
	local ns=$1 port=$2 secs=$3 name=$4 idle=${5:-0}
	cat >"$T_TMP/udprecv.py" <<'EOF'
import json, socket, struct, sys, time
port, secs, idle, out = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
s.bind(("0.0.0.0", port))
end = time.monotonic() + secs
arrivals = []
last = None
while True:
    now = time.monotonic()
    until = end if (not idle or last is None) else min(end, last + idle)
    if now >= until:
        break
    s.settimeout(until - now)
    try:
        data = s.recv(65535)
    except socket.timeout:
        continue
    t = time.time()
    last = time.monotonic()
    flow, seq = struct.unpack("!II", data[:8]) if len(data) >= 8 else (0xffffffff, 0)
    arrivals.append((t, flow, seq))
seen, maxseq = set(), {}
dups = ooo = 0
with open(out + ".ts", "w") as f:
    for t, flow, seq in arrivals:
        f.write("%.6f %d %d\n" % (t, flow, seq))
        if (flow, seq) in seen:
            dups += 1
            continue
        seen.add((flow, seq))
        if seq < maxseq.get(flow, -1):
            ooo += 1
        maxseq[flow] = max(seq, maxseq.get(flow, -1))
with open(out + ".json", "w") as f:
    f.write(json.dumps({"received": len(arrivals), "unique": len(seen), "duplicates": dups,
                        "out_of_order": ooo}) + "\n")
EOF
	bg "$ns" timeout $((secs + 10)) python3 "$T_TMP/udprecv.py" "$port" "$secs" "$idle" "$T_TMP/$name"
	RECV_PID=$BG_PID
	wait_listen "$ns" udp "$port"
}

# lf_recv_wait NAME SECONDS: wait for the receiver started as NAME; fail if it does not end.
lf_recv_wait() {
	wait_pid "$RECV_PID" "$2" || fail "receiver $1 did not finish within $2 s"
	[ -s "$T_TMP/$1.json" ] || fail "receiver $1 wrote no result"
}

# lf_count NAME T0 T1: datagrams that arrived in [T0, T1).
lf_count() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { n++ } END { print n + 0 }' "$T_TMP/$1.ts"
}

# lf_pps NAME T0 T1: arrival rate in [T0, T1), datagrams per second.
lf_pps() {
	local n
	n=$(lf_count "$1" "$2" "$3")
	fx "round($n / ($3 - $2))"
}

# lf_gap NAME T0 T1: longest time without an arrival in [T0, T1), in seconds.
lf_gap() {
	awk -v a="$2" -v b="$3" 'BEGIN { last = a; g = 0 }
		$1 >= a && $1 < b { if ($1 - last > g) g = $1 - last; last = $1 }
		END { if (b - last > g) g = b - last; printf "%.3f\n", g }' "$T_TMP/$1.ts"
}

# lf_send NS ADDR PORT COUNT SIZE PPS SECONDS [FLOWS]: udpseq sender in the
# background (SENDER_PID), its JSON result in $T_TMP/send-PORT.json.
lf_send() {
	bg "$1" timeout $(($7 + 10)) "$UDPSEQ" send -d "$2" -p "$3" -n "$4" -s "$5" -r "$6" -t "$7" \
		-f "${8:-1}" >"$T_TMP/send-$3.json"
	SENDER_PID=$BG_PID
}

# lf_sent PORT: datagrams the sender for PORT sent.
lf_sent() { json_field "$T_TMP/send-$1.json" sent; }

# lf_queue_rule PORT [QUEUE] [MATCH...]: queue gw's UDP traffic to PORT from src.
lf_queue_rule() {
	local port=$1 q=${2:-0}
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$port" \
		-j NFQUEUE --queue-num "$q" --queue-bypass || fail "iptables NFQUEUE rule failed"
}

# lf_nfq QUEUE COLUMN: a column of /proc/net/netfilter/nfnetlink_queue in gw
# for QUEUE (3 queue_total, 6 queue_dropped, 7 user_dropped, 8 id_sequence);
# empty when the queue is not bound.
lf_nfq() {
	nsx "$GW" awk -v q="$1" -v c="$2" '$1 == q { print $c }' /proc/net/netfilter/nfnetlink_queue
}

# lf_rss PID: VmRSS of PID in kB, empty if it is gone.
lf_rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# lf_up_hook NAME TC_ARGS...: an up-hook script $T_TMP/NAME that records each
# run in $T_TMP/NAME.runs and sets imqN's root qdisc to TC_ARGS.
lf_up_hook() {
	local name=$1
	shift
	{
		printf '#!/bin/sh\n'
		printf 'echo "$(date +%%s.%%N) $IMQ_DEV $IMQ_QUEUES" >>%s\n' "$T_TMP/$name.runs"
		printf 'exec tc qdisc replace dev "$IMQ_DEV" root %s\n' "$*"
	} >"$T_TMP/$name"
	chmod +x "$T_TMP/$name"
	printf '%s' "$T_TMP/$name"
}

# lf_hook_runs NAME: how often the hook NAME ran.
lf_hook_runs() { [ -f "$T_TMP/$1.runs" ] && wc -l <"$T_TMP/$1.runs" || echo 0; }

# lf_qdisc: kind of imq0's root qdisc in gw, empty if imq0 has none or is missing.
lf_qdisc() { nsx "$GW" tc qdisc show dev imq0 root 2>/dev/null | awk 'NR == 1 { print $2 }'; }

# lf_imq0_up: imq0 exists in gw and is administratively up.
lf_imq0_up() {
	local flags
	flags=$(nsx "$GW" ip -o link show imq0 2>/dev/null) || return 1
	[[ $flags =~ [\<,]UP[,\>] ]]
}

# lf_invariant WHAT: received = accepted + drops + failopen + held, at this moment.
lf_invariant() {
	imqd_counters
	assert_eq "$1: received = accepted + dropped + failopen + held" "$S_received" \
		"$((S_accepted + S_dropped + S_failopen + S_held))"
}

# lf_log_has REGEX: imqd's log has a line matching REGEX.
lf_log_has() { grep -Eq -- "$1" "$IMQD_LOG"; }

# lf_assert_log WHAT REGEX
lf_assert_log() {
	if lf_log_has "$2"; then pass_msg "$1: log has /$2/"; else mismatch "$1: no log line matching /$2/"; fi
}

# lf_kill_imqd SIG: send SIG to imqd and, unless it is STOP/CONT, reap it;
# sets IMQD_RC to its exit status and clears IMQD_PID.
lf_kill_imqd() {
	kill -"$1" "$IMQD_PID" 2>/dev/null || fail "cannot send SIG$1 to imqd $IMQD_PID"
	case $1 in STOP | CONT) return 0 ;; esac
	wait_pid "$IMQD_PID" 10
	IMQD_RC=$?
	IMQD_PID=
}

# lf_result KEY=VALUE...: one machine-readable line of what the test measured
# (for docs/RELIABILITY.md), on stderr with the rest of the log.
lf_result() { log "RESULT $*"; }

# lf_assert_le WHAT MAX MEASURED: MEASURED <= MAX.
lf_assert_le() {
	if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$3" "$2"; then
		pass_msg "$1: $3 (<= $2)"
	else
		mismatch "$1: expected <= $2, measured $3"
	fi
}

# lf_nl_sock PID: inode of PID's NETLINK_NETFILTER socket (its NFQUEUE socket).
lf_nl_sock() {
	local pid=$1 ino
	for ino in $(awk '$2 == 12 { print $10 }' "/proc/$pid/net/netlink"); do
		if find "/proc/$pid/fd" -lname "socket:\[$ino\]" 2>/dev/null | grep -q .; then
			echo "$ino"
			return 0
		fi
	done
	return 1
}

# lf_nl_drops PID INODE: the Drops column of that netlink socket (messages the
# kernel could not put in its receive buffer).
lf_nl_drops() { awk -v i="$2" '$10 == i { print $9 }' "/proc/$1/net/netlink"; }

# lf_set_rcvbuf PID INODE BYTES: shrink the receive buffer of PID's socket
# INODE from outside (pidfd_getfd, then SO_RCVBUF), as a fault: the buffer
# imqd sized for its whole queue is no longer there. Prints the new size.
lf_set_rcvbuf() {
	python3 - "$@" <<'PYEOF'
import ctypes, os, socket, sys
pid, ino, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
target = None
for fd in os.listdir("/proc/%d/fd" % pid):
    try:
        if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % ino:
            target = int(fd)
    except OSError:
        pass
if target is None:
    sys.exit("no socket %s in process %d" % (ino, pid))
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
fd = libc.syscall(438, pidfd, target, 0)  # pidfd_getfd (x86_64, arm64: 438)
if fd < 0:
    sys.exit("pidfd_getfd: %s" % os.strerror(ctypes.get_errno()))
s = socket.socket(fileno=fd)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
print(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
s.detach()
os.close(fd)
PYEOF
}

# lf_asan BINARY: the binary is built with AddressSanitizer (its shadow memory
# and quarantine make RSS meaningless, and it cannot run under valgrind).
lf_asan() { grep -q -a -m 1 __asan_init "$1"; }

# lf_skip REASON: the test cannot run here; ctest counts exit 77 as skipped.
lf_skip() {
	T_DONE=1
	printf 'SKIP: %s: %s\n' "$T_NAME" "$*"
	exit 77
}

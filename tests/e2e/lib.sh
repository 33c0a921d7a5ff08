# Shared helpers of imqd's end-to-end tests; sourced by every tests/e2e/*.sh.
#
# A test sources this file, calls e2e_init NAME, builds its namespaces with
# topo_create, starts imqd with start_imqd, sends traffic and checks with the
# assert_* helpers, and ends with finish (PASS/FAIL line, exit code). Every
# namespace, process and temporary file it made is removed by the EXIT trap,
# also when the test fails or is interrupted.
#
# Environment: IMQD, IMQCTL, UDPSEQ (paths of the binaries, set by CMake).
# Traffic goes only to addresses inside the namespaces made here.

# shellcheck disable=SC2034,SC2154 # variables set here are used by the tests, S_* by eval
set -u

# shellcheck source=netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

E2E_NS_PREFIX=ie            # namespaces are ie<pid><role>, e.g. ie4242g
E2E_DEFAULT_LIMIT=150       # self-imposed deadline (s); ctest's TIMEOUT is above it

T_NAME=unnamed
T_TMP=
T_NS=()                     # namespaces this test made
T_PIDS=()                   # background processes this test started
T_MOUNTS=()                 # file systems this test mounted (under T_TMP)
T_ATEXIT=()                 # commands that undo a change outside the test's namespaces
T_FAILS=()                  # failed assertions, in order
T_WATCHDOG=
T_DONE=0
IMQD_PID=
IMQD_LOG=
IMQD_SOCK=
IMQD_QUEUES=()

log() { printf '[%s %s] %s\n' "$T_NAME" "$(date +%T)" "$*" >&2; }

# Stop at once: print the FAIL line and exit 1 (the EXIT trap cleans up).
fail() {
	if [ "$BASH_SUBSHELL" -gt 0 ]; then
		# In $(...): the main shell prints the line, from this file.
		log "error: $*"
		[ -n "$T_TMP" ] && printf '%s\n' "$*" >>"$T_TMP/fail.reason"
		exit 1
	fi
	T_DONE=1
	printf 'FAIL: %s: %s\n' "$T_NAME" "$*"
	exit 1
}

# Print PASS, or FAIL with every failed assertion, and exit accordingly.
finish() {
	T_DONE=1
	if [ "${#T_FAILS[@]}" -eq 0 ]; then
		printf 'PASS: %s\n' "$T_NAME"
		exit 0
	fi
	local IFS=';'
	printf 'FAIL: %s: %s\n' "$T_NAME" "${T_FAILS[*]}"
	exit 1
}

# ---------------------------------------------------------------- set-up

# e2e_init NAME [LIMIT_SECONDS]: check tools, make the temp dir, install traps.
e2e_init() {
	T_NAME=$1
	local limit=${2:-$E2E_DEFAULT_LIMIT}
	trap cleanup EXIT
	trap 'log "interrupted"; T_FAILS+=("interrupted"); exit 130' INT TERM HUP
	[ "$(id -u)" -eq 0 ] || fail "must run as root (network namespaces, iptables, tc)"
	local t
	for t in ip tc iptables ip6tables iperf3 python3 timeout ss ping flock; do
		command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' not found (install it: see tests/e2e/README.md)"
	done
	for t in IMQD IMQCTL UDPSEQ; do
		[ -n "${!t:-}" ] || fail "environment variable $t is not set (run through ctest, or export it)"
		[ -x "${!t}" ] || fail "$t=${!t} is not an executable file"
	done
	T_TMP=$(mktemp -d "/tmp/imqd-e2e.$$.$T_NAME.XXXXXX") || fail "mktemp failed"
	sweep_stale
	# Subnet octet and IPv6 group: no two tests running at once share one,
	# so their addresses never look alike in logs and captures.
	netns_slot || fail "no free address slot in $NETNS_SLOT_DIR"
	X=$NETNS_SLOT
	# Fail cleanly (with clean-up) before ctest's harder timeout would kill us.
	# `read -t` on a FIFO nobody writes is a builtin: the watchdog has no child
	# process to leave behind when it is killed.
	mkfifo "$T_TMP/watchdog" || fail "mkfifo failed"
	# It also ends by itself once this shell is gone (killed with SIGKILL).
	(
		for ((i = 0; i < limit; i++)); do
			read -r -t 1 <>"$T_TMP/watchdog"
			kill -0 $$ 2>/dev/null || exit 0
		done
		kill -TERM $$ 2>/dev/null
	) &
	T_WATCHDOG=$!
}

# Remove namespaces and temporary directories left by earlier runs that were
# killed with no chance to clean up (SIGKILL): only those whose pid no longer runs.
sweep_stale() {
	local ns dir pid
	for ns in $(netns_sweep "$E2E_NS_PREFIX"); do
		log "removed stale namespace $ns of a dead run"
	done
	for dir in /tmp/imqd-e2e.*.*.*; do
		[[ $dir =~ ^/tmp/imqd-e2e\.([0-9]+)\. ]] || continue
		pid=${BASH_REMATCH[1]}
		[ "$pid" = "$$" ] && continue
		kill -0 "$pid" 2>/dev/null && continue
		rm -rf "$dir"
	done
}

cleanup() {
	local rc=$? p i
	trap - EXIT INT TERM HUP
	set +e
	if [ -n "$T_WATCHDOG" ]; then
		kill -KILL "$T_WATCHDOG" 2>/dev/null
		wait "$T_WATCHDOG" 2>/dev/null
	fi
	if [ -n "$IMQD_PID" ] && kill -0 "$IMQD_PID" 2>/dev/null; then
		kill -TERM "$IMQD_PID" 2>/dev/null
		for i in $(seq 30); do kill -0 "$IMQD_PID" 2>/dev/null || break; sleep 0.1; done
	fi
	# A failed run shows what imqd said.
	if [ -n "$IMQD_LOG" ] && [ -s "$IMQD_LOG" ] && { [ "$rc" != 0 ] || [ "${#T_FAILS[@]}" -gt 0 ]; }; then
		printf -- '----- imqd log (last 60 lines) -----\n' >&2
		tail -n 60 "$IMQD_LOG" >&2
		printf -- '----- end of imqd log -----\n' >&2
	fi
	for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${T_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	# Whatever still runs inside our namespaces was started by this test.
	netns_delete "${T_NS[@]}"
	wait 2>/dev/null
	netns_slot_free
	for p in "${T_MOUNTS[@]}"; do umount "$p" 2>/dev/null; done
	for p in "${T_ATEXIT[@]}"; do eval "$p" 2>/dev/null; done
	# An exit that did not go through finish/fail still gets its line.
	if [ "$T_DONE" = 0 ]; then
		[ -n "$T_TMP" ] && [ -s "$T_TMP/fail.reason" ] && T_FAILS+=("$(head -n 1 "$T_TMP/fail.reason")")
		local IFS=';'
		printf 'FAIL: %s: %s\n' "$T_NAME" "${T_FAILS[*]:-exited early (status $rc)}"
		[ "$rc" = 0 ] && rc=1
	fi
	if [ -n "$T_TMP" ] && [ -d "$T_TMP" ]; then
		if [ "${E2E_KEEP:-0}" = 1 ]; then log "kept $T_TMP"; else rm -rf "$T_TMP"; fi
	fi
	exit "$rc"
}

# nsx NS CMD...: run CMD inside namespace NS.
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# bg NS CMD...: run CMD in NS in the background, remember its pid in BG_PID.
bg() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" &
	BG_PID=$!
	T_PIDS+=("$BG_PID")
}

# wait_pid PID SECONDS: wait for a background process; after SECONDS kill it
# and return 124. Otherwise return its exit status.
wait_pid() {
	local pid=$1 i
	for i in $(seq $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# ns_new ROLE VAR: create namespace ie<pid>ROLE, store its name in VAR.
ns_new() {
	local ns=$E2E_NS_PREFIX$$$1
	T_NS+=("$ns")
	netns_add "$ns" || fail "cannot create namespace $ns"
	printf -v "$2" '%s' "$ns"
}

# link_pair NS_A IF_A NS_B IF_B: a veth pair, one end in each namespace, both up.
link_pair() { netns_veth "$@" || fail "cannot create veth $1/$2 <-> $3/$4"; }

# addr NS IF V4/LEN V6/LEN
addr() { netns_addr "$@" || fail "cannot add $3 and $4 on $1/$2"; }

# topo_create [NSRC]: src(s) -> gw -> dst. Sets SRC GW DST (SRC2 with NSRC=2),
# GW_IN (gw's interface towards src), GW_IN2, GW_OUT (towards dst), and the
# addresses SRC_IP DST_IP SRC6 DST6 (SRC2_IP SRC2_6), GW_IN_IP GW_OUT_IP.
topo_create() {
	local nsrc=${1:-1}
	ns_new s SRC
	ns_new g GW
	ns_new d DST
	GW_IN=gs0 GW_OUT=gd0
	SRC_IP=10.$X.1.2 GW_IN_IP=10.$X.1.1 GW_OUT_IP=10.$X.2.1 DST_IP=10.$X.2.2
	SRC6=fd00:$X:1::2 DST6=fd00:$X:2::2
	netns_forward "$GW" || fail "cannot enable forwarding in $GW"
	link_pair "$SRC" s0 "$GW" gs0
	link_pair "$GW" gd0 "$DST" d0
	addr "$SRC" s0 "$SRC_IP/24" "$SRC6/64"
	addr "$GW" gs0 "$GW_IN_IP/24" "fd00:$X:1::1/64"
	addr "$GW" gd0 "$GW_OUT_IP/24" "fd00:$X:2::1/64"
	addr "$DST" d0 "$DST_IP/24" "$DST6/64"
	nsx "$SRC" ip route add default via "$GW_IN_IP"
	nsx "$SRC" ip -6 route add default via "fd00:$X:1::1"
	nsx "$DST" ip route add default via "$GW_OUT_IP"
	nsx "$DST" ip -6 route add default via "fd00:$X:2::1"
	local srcs=("$SRC")
	if [ "$nsrc" -ge 2 ]; then
		ns_new t SRC2
		GW_IN2=gs1 SRC2_IP=10.$X.3.2 SRC2_6=fd00:$X:3::2
		link_pair "$SRC2" s0 "$GW" gs1
		addr "$SRC2" s0 "$SRC2_IP/24" "$SRC2_6/64"
		addr "$GW" gs1 "10.$X.3.1/24" "fd00:$X:3::1/64"
		nsx "$SRC2" ip route add default via "10.$X.3.1"
		nsx "$SRC2" ip -6 route add default via "fd00:$X:3::1"
		srcs+=("$SRC2")
	fi
	local s
	for s in "${srcs[@]}"; do
		ping_ok "$s" "$DST_IP" || fail "no IPv4 connectivity $s -> $DST_IP"
		ping_ok "$s" "$DST6" || fail "no IPv6 connectivity $s -> $DST6"
	done
	log "topology: ${srcs[*]} -> $GW -> $DST (10.$X.0.0/16, fd00:$X::/32)"
}

# ping_ok NS ADDR: one reply within a few tries.
ping_ok() { netns_ping "$@"; }

# wait_listen NS tcp|udp PORT: until a socket listens there (5 s).
wait_listen() { netns_wait_listen "$1" "$2" "$3" 5 || fail "nothing listens on $2 port $3 in $1 after 5 s"; }

# ---------------------------------------------------------------- imqd

# expand_queues SPEC: "0", "0-3", "0,4" -> one number per line.
expand_queues() {
	local part
	local IFS=,
	for part in $1; do
		part=${part// /}
		if [[ $part == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
	done
}

# start_imqd [QUEUES [EXTRA_DEVICE_LINES]]: imqd with device imq0 in $GW; waits ready.
start_imqd() {
	local queues=${1:-0} extra=${2:-}
	local conf=$T_TMP/imqd.conf
	IMQD_SOCK=$T_TMP/imqd.sock
	IMQD_LOG=$T_TMP/imqd.log
	mapfile -t IMQD_QUEUES < <(expand_queues "$queues")
	{
		printf '[global]\ncontrol-socket = %s\n\n[imq0]\nqueues = %s\n' "$IMQD_SOCK" "$queues"
		[ -n "$extra" ] && printf '%s\n' "$extra"
	} >"$conf"
	ip netns exec "$GW" "$IMQD" -c "$conf" 2>"$IMQD_LOG" &
	IMQD_PID=$!
	local i
	for i in $(seq 50); do
		if ! kill -0 "$IMQD_PID" 2>/dev/null; then
			wait "$IMQD_PID"
			local rc=$?
			IMQD_PID=
			dump_file "imqd.conf" "$conf"
			dump_file "imqd log" "$IMQD_LOG"
			IMQD_LOG=
			fail "imqd exited with status $rc during start-up"
		fi
		imqd_ready && { log "imqd ready (pid $IMQD_PID)"; return 0; }
		sleep 0.1
	done
	dump_file "imqd.conf" "$conf"
	dump_file "imqd log" "$IMQD_LOG"
	nsx "$GW" ip link show imq0 >&2
	dump_file "nfnetlink_queue in $GW" <(nsx "$GW" cat /proc/net/netfilter/nfnetlink_queue)
	IMQD_LOG=
	fail "imqd not ready after 5 s (imq0 up and queues ${IMQD_QUEUES[*]} bound)"
}

imqd_ready() {
	local flags q
	flags=$(nsx "$GW" ip -o link show imq0 2>/dev/null) || return 1
	[[ $flags =~ [\<,]UP[,\>] ]] || return 1
	local bound
	bound=$(nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null)
	for q in "${IMQD_QUEUES[@]}"; do
		grep -qx "$q" <<<"$bound" || return 1
	done
	return 0
}

# stop_imqd: SIGTERM, exit 0 within 5 s, imq0 gone, queues unbound.
stop_imqd() {
	[ -n "$IMQD_PID" ] || return 0
	local i rc
	kill -TERM "$IMQD_PID" 2>/dev/null
	for i in $(seq 50); do kill -0 "$IMQD_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$IMQD_PID" 2>/dev/null; then
		kill -KILL "$IMQD_PID" 2>/dev/null
		wait "$IMQD_PID" 2>/dev/null
		IMQD_PID=
		dump_file "imqd log" "$IMQD_LOG"
		T_FAILS+=("imqd still running 5 s after SIGTERM")
		return 1
	fi
	wait "$IMQD_PID"
	rc=$?
	IMQD_PID=
	assert_eq "imqd exit status after SIGTERM" 0 "$rc"
	if nsx "$GW" ip link show imq0 >/dev/null 2>&1; then
		T_FAILS+=("imq0 still exists after imqd exited")
		log "MISMATCH: imq0 still exists after imqd exited"
	fi
	local q bound
	bound=$(nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null)
	for q in "${IMQD_QUEUES[@]}"; do
		if grep -qx "$q" <<<"$bound"; then
			T_FAILS+=("queue $q still bound after imqd exited")
			log "MISMATCH: queue $q still bound after imqd exited"
		fi
	done
	[ "$rc" = 0 ] || dump_file "imqd log" "$IMQD_LOG"
}

dump_file() {
	printf -- '----- %s -----\n' "$1" >&2
	cat "$2" >&2 2>/dev/null
	printf -- '----- end of %s -----\n' "$1" >&2
}

# imqd_counters [DEV]: read `imqctl stats -j` and set S_<counter> for DEV
# (default imq0): S_received S_accepted S_dropped_enqueue ... S_held, plus
# S_dropped (sum of drops), S_failopen, S_state, S_qdisc. Retries 2 s.
imqd_counters() {
	local dev=${1:-imq0} i out
	for i in $(seq 20); do
		if out=$("$IMQCTL" -s "$IMQD_SOCK" stats -j 2>"$T_TMP/imqctl.err"); then
			printf '%s\n' "$out" >"$T_TMP/stats.json"
			out=$(python3 - "$T_TMP/stats.json" "$dev" <<'EOF'
import json, shlex, sys
doc = json.load(open(sys.argv[1]))
devs = [d for d in doc.get("devices", []) if d.get("name") == sys.argv[2]]
if not devs:
    sys.exit("no device %s in imqctl output" % sys.argv[2])
d = devs[0]
need = ("received", "accepted", "dropped", "dropped_enqueue", "dropped_order",
        "dropped_timeout", "dropped_error", "failopen", "held")
missing = [k for k in need if not isinstance(d.get(k), int)]
if missing:
    sys.exit("imqctl stats -j: %s lacks numeric %s" % (sys.argv[2], ", ".join(missing)))
out = {}
for k, v in d.items():
    if isinstance(v, (bool, int, float, str)):
        out[k] = v
fo = d.get("failopen_reasons") or {}
for k, v in fo.items():
    out["failopen_" + k] = v
out["queue_peak_held_max"] = max((int(q.get("peak_held", 0)) for q in d.get("per_queue", [])),
                                 default=0)
out["dropped"] = int(d["dropped"])
for k, v in out.items():
    if isinstance(v, bool):
        v = int(v)
    print("S_%s=%s" % (k.replace("-", "_"), shlex.quote(str(v))))
EOF
			) || { cat "$T_TMP/stats.json" >&2; fail "cannot parse imqctl stats -j output"; }
			eval "$out"
			return 0
		fi
		sleep 0.1
	done
	cat "$T_TMP/imqctl.err" >&2
	imqd_alive
	fail "imqctl -s $IMQD_SOCK stats -j failed"
}

# imqd_alive: fail if imqd is no longer running (crashed or exited early).
imqd_alive() {
	[ -n "$IMQD_PID" ] || fail "imqd is not running"
	kill -0 "$IMQD_PID" 2>/dev/null && return 0
	wait "$IMQD_PID"
	local rc=$?
	IMQD_PID=
	local why=""
	[ "$rc" -gt 128 ] && why=", signal $((rc - 128))"
	grep -qE 'signal (15|2)\b' "$IMQD_LOG" 2>/dev/null &&
		why="$why; its log shows a SIGTERM/SIGINT this test did not send"
	fail "imqd died during the test (exit status $rc$why)"
}

show_counters() {
	log "imqd counters: received=$S_received accepted=$S_accepted dropped_enqueue=$S_dropped_enqueue" \
		"dropped_order=$S_dropped_order dropped_timeout=$S_dropped_timeout dropped_error=$S_dropped_error" \
		"dropped_ecn=${S_dropped_ecn:-?}" \
		"failopen=$S_failopen held=$S_held peak_held=${S_peak_held:-?} id_gaps=${S_id_gaps:-?}" \
		"stray=${S_stray:-?} unmatched=${S_unmatched:-?} verdict_errors=${S_verdict_errors:-?}" \
		"verdicts_batched=${S_verdicts_batched:-?}"
}

# check_counters: once traffic stopped, held reaches 0 (2 s),
# received = accepted + drops + failopen + held, the device's peak_held
# is at least each of its queues', and the kernel refused no verdict (a
# verdict for a packet already decided, or for one it never queued).
check_counters() {
	local i
	imqd_alive
	for i in $(seq 20); do
		imqd_counters
		[ "$S_held" = 0 ] && break
		sleep 0.1
	done
	show_counters
	assert_eq "imqd held after traffic" 0 "$S_held"
	assert_eq "received = accepted + dropped + failopen + held" "$S_received" \
		"$((S_accepted + S_dropped + S_failopen + S_held))"
	# The device's peak is its queues' together: never below one queue's.
	assert_ge "device peak_held >= each queue's peak_held ($S_queue_peak_held_max)" \
		"$S_queue_peak_held_max" "$S_peak_held"
	assert_eq "verdicts the kernel refused (verdict_errors)" 0 "$S_verdict_errors"
}

# ipt_pkts NS TOOL TABLE CHAIN RULENUM: packet counter of one rule.
ipt_pkts() {
	local n
	n=$(nsx "$1" "$2" -t "$3" -L "$4" "$5" -v -x -n 2>/dev/null | awk 'NF { print $1; exit }')
	[[ $n =~ ^[0-9]+$ ]] || fail "no packet counter for $2 -t $3 $4 rule $5 in $1"
	printf '%s\n' "$n"
}

# check_nothing_queued: queue_total (column 3) of our queues reaches 0 (2 s).
check_nothing_queued() {
	local i total
	for i in $(seq 20); do
		total=$(queued_now)
		[ "$total" = 0 ] && break
		sleep 0.1
	done
	[ "$total" = 0 ] || nsx "$GW" cat /proc/net/netfilter/nfnetlink_queue >&2
	assert_eq "packets in the kernel queue (nfnetlink_queue queue_total)" 0 "$total"
}

queued_now() {
	nsx "$GW" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
		awk -v qs="${IMQD_QUEUES[*]}" 'BEGIN { n = split(qs, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
			($1 in want) { s += $3 } END { print s + 0 }'
}

# ---------------------------------------------------------------- traffic

# iperf_server NS PORT: a one-shot iperf3 server, waited for.
iperf_server() {
	bg "$1" timeout 60 iperf3 -s -1 -p "$2" >"$T_TMP/iperf3-server-$2.log" 2>&1
	wait_listen "$1" tcp "$2"
}

# iperf_client NS ADDR PORT SECONDS OUT.json: TCP upload; prints Mbit/s received
# over SECONDS after a first second left out (slow start's overshoot and its
# losses are not the shaper's steady rate).
iperf_client() {
	local ns=$1 dst=$2 port=$3 secs=$4 out=$5
	timeout $((secs + 16)) ip netns exec "$ns" iperf3 -c "$dst" -p "$port" -t "$secs" -O 1 -J >"$out" 2>&1
	iperf_rate "$out"
}

# iperf_rate OUT.json: receiver rate in Mbit/s, or fail.
iperf_rate() {
	python3 - "$1" <<'EOF' || { cat "$1" >&2; fail "iperf3 gave no result (see its output above)"; }
import json, sys
try:
    doc = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit("bad iperf3 JSON: %s" % e)
if doc.get("error"):
    sys.exit("iperf3 error: %s" % doc["error"])
print("%.3f" % (doc["end"]["sum_received"]["bits_per_second"] / 1e6))
EOF
}

# json_field FILE KEY: one field of a one-line JSON object (udpseq output).
json_field() {
	python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2" ||
		{ cat "$1" >&2; fail "no field $2 in $1"; }
}

# ---------------------------------------------------------------- assertions

pass_msg() { log "ok: $*"; }
mismatch() { log "MISMATCH: $*"; T_FAILS+=("$*"); }

assert_eq() {
	if [ "$2" = "$3" ]; then pass_msg "$1: $3"; else mismatch "$1: expected $2, measured $3"; fi
}

assert_ge() {
	if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$3" "$2"; then
		pass_msg "$1: $3 (>= $2)"
	else
		mismatch "$1: expected >= $2, measured $3"
	fi
}

assert_le() {
	if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$3" "$2"; then
		pass_msg "$1: $3 (<= $2)"
	else
		mismatch "$1: expected <= $2, measured $3"
	fi
}

assert_gt() {
	if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$3" "$2"; then
		pass_msg "$1: $3 (> $2)"
	else
		mismatch "$1: expected > $2, measured $3"
	fi
}

# assert_within WHAT TARGET PERCENT MEASURED: |MEASURED - TARGET| <= PERCENT% of TARGET.
assert_within() {
	local dev
	dev=$(python3 -c 'import sys; t, m = float(sys.argv[1]), float(sys.argv[2]); print("%+.1f" % ((m - t) / t * 100))' "$2" "$4")
	if python3 -c 'import sys; t, p, m = map(float, sys.argv[1:]); sys.exit(0 if abs(m - t) <= t * p / 100 else 1)' "$2" "$3" "$4"; then
		pass_msg "$1: $4 (target $2 +-$3%, off by $dev%)"
	else
		mismatch "$1: expected $2 +-$3%, measured $4 ($dev%)"
	fi
}

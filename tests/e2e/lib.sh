# The harness of imqd's end-to-end tests; sourced by every tests/e2e/*.sh.
#
# A test sources this file, calls e2e_init NAME, builds its namespaces with
# topo_create (or topo_home), starts imqd with start_imqd (or
# start_imqd_conf), sends traffic and checks with the assert_* helpers, and
# ends with finish (PASS/FAIL line, exit code). Every namespace, process and
# temporary file it made is removed by the EXIT trap, also when the test
# fails or is interrupted; anything else it changes it undoes with at_exit.
#
# This file holds the test's life (set-up, clean-up, verdict), the asserts,
# and starting, stopping and reading imqd. Topical helpers come from the
# files it sources: topo.sh (topologies), traffic.sh (senders, receivers),
# gateway.sh (qdiscs, queues, sockets and hooks on gw), guide.sh (the
# migration guide's recipes); netns.sh is shared with bench/run.sh. The
# Python they run lives in tests/tools, one module per tool.
#
# Environment: IMQD, IMQCTL, UDPSEQ (paths of the binaries, set by CMake);
# IMQD_WORKERS, when set, goes into every imqd.conf's [global] as workers
# (the CTest variants that run tests with several worker threads).
# Traffic goes only to addresses inside the namespaces made here.

# shellcheck shell=bash disable=SC2034,SC2154 # variables set here are used by the tests, S_* by eval
set -u

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS=$(cd "$E2E_DIR/../tools" && pwd)
# The interpreter the tools run with, found once (CMake passes it): a version
# manager's python3 on PATH (pyenv's shim) takes half a second to start, and
# a test starts the tools dozens of times.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)}
# shellcheck source=netns.sh
. "$E2E_DIR/netns.sh"
# shellcheck source=topo.sh
. "$E2E_DIR/topo.sh"
# shellcheck source=traffic.sh
. "$E2E_DIR/traffic.sh"
# shellcheck source=gateway.sh
. "$E2E_DIR/gateway.sh"
# shellcheck source=guide.sh
. "$E2E_DIR/guide.sh"

E2E_NS_PREFIX=ie            # namespaces are ie<pid><role>, e.g. ie4242g
E2E_DEFAULT_LIMIT=150       # self-imposed deadline (s); ctest's TIMEOUT is above it

T_NAME=unnamed
T_TMP=
T_NS=()                     # namespaces this test made
T_PIDS=()                   # background processes this test started
T_ATEXIT=()                 # commands that undo what the test changed outside its namespaces
T_FAILS=()                  # failed assertions, in order
T_WATCHDOG=
T_DONE=0
IMQD_PID=                   # the running imqd
IMQD_LAUNCHER=              # what started it, when that is not imqd itself (IMQD_PIDFILE)
IMQD_RC=                    # its exit status, once it is gone
IMQD_CONF=
IMQD_LOG=                   # its log ($T_TMP/imqd-N.log for the Nth start)
IMQD_SOCK=
IMQD_DEVS=()
IMQD_QUEUES=()
IMQD_KEPT=()                # its devices with persist = yes
IMQD_STARTS=0

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

# ---------------------------------------------------------------- set-up, clean-up

# e2e_init NAME [LIMIT_SECONDS]: check tools, make the temp dir, install traps.
e2e_init() {
	T_NAME=$1
	local limit=${2:-$E2E_DEFAULT_LIMIT}
	trap cleanup EXIT
	trap 'log "interrupted"; T_FAILS+=("interrupted"); exit 130' INT TERM HUP
	[ "$(id -u)" -eq 0 ] || fail "must run as root (network namespaces, iptables, tc)"
	need_tools ip tc iptables ip6tables iperf3 python3 timeout ss ping flock awk
	[ -x "$PYTHON" ] || fail "no Python interpreter (PYTHON=$PYTHON)"
	local t
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

# need_tools NAME...: fail unless every one is installed.
need_tools() {
	local t
	for t; do
		command -v "$t" >/dev/null 2>&1 ||
			fail "required tool '$t' not found (install it: see tests/e2e/README.md)"
	done
}

# at_exit 'COMMAND': run COMMAND (eval'd) when the test exits, however it
# exits, once imqd and every process of the test are gone; the last one
# registered runs first.
at_exit() { T_ATEXIT+=("$1"); }

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

# gone_within TENTHS PID...: wait until none of PID runs, TENTHS x 0.1 s at most.
gone_within() {
	local n=$1 i p
	shift
	for ((i = 0; i < n; i++)); do
		for p; do kill -0 "$p" 2>/dev/null && break; done
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
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
		gone_within 30 "$IMQD_PID" || kill -KILL "$IMQD_PID" 2>/dev/null
	fi
	# A failed run shows what imqd said.
	if [ -n "$IMQD_LOG" ] && [ -s "$IMQD_LOG" ] && { [ "$rc" != 0 ] || [ "${#T_FAILS[@]}" -gt 0 ]; }; then
		printf -- '----- imqd log (last 60 lines) -----\n' >&2
		tail -n 60 "$IMQD_LOG" >&2
		printf -- '----- end of imqd log -----\n' >&2
	fi
	if [ "${#T_PIDS[@]}" -gt 0 ]; then
		for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
		gone_within 5 "${T_PIDS[@]}" || for p in "${T_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	fi
	# Whatever still runs inside our namespaces was started by this test.
	for p in "${T_NS[@]}"; do
		for i in $(ip netns pids "$p" 2>/dev/null); do kill -KILL "$i" 2>/dev/null; done
	done
	wait 2>/dev/null
	for ((i = ${#T_ATEXIT[@]} - 1; i >= 0; i--)); do eval "${T_ATEXIT[i]}" >/dev/null 2>&1; done
	netns_delete "${T_NS[@]}"
	netns_slot_free
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

# ---------------------------------------------------------------- processes

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
	local pid=$1
	if ! gone_within $(($2 * 10)) "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 124
	fi
	wait "$pid"
}

# wait_until SECONDS 'COMMAND': evaluate COMMAND (quoted, so each try expands
# it anew) every 0.1 s until it succeeds; 1 if it never did.
wait_until() {
	local _wu_tenths=$(($1 * 10)) _wu_i
	shift
	for ((_wu_i = 0; _wu_i < _wu_tenths; _wu_i++)); do
		eval "$*" && return 0
		sleep 0.1
	done
	eval "$*"
}

# now: wall-clock seconds with nanoseconds (the namespaces share the clock).
now() { date +%s.%N; }

# calc FORMAT EXPR: the arithmetic expression EXPR (awk's, with decimals),
# printed with the printf FORMAT, e.g. calc %.2f "$t1 - $t0".
calc() { awk "BEGIN { printf \"$1\\n\", ($2) }"; }

dump_file() {
	printf -- '----- %s -----\n' "$1" >&2
	cat "$2" >&2 2>/dev/null
	printf -- '----- end of %s -----\n' "$1" >&2
}

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

# imqd_conf FILE SOCKET [GLOBAL_LINES] <DEVICE_SECTIONS: an imqd.conf whose
# [global] names the control socket SOCKET and holds GLOBAL_LINES, followed
# by stdin. Written to a temporary file and renamed: a reload never reads
# half a file.
imqd_conf() {
	local file=$1 sock=$2 glob=${3:-}
	{
		printf '[global]\ncontrol-socket = %s\n' "$sock"
		[ -z "${IMQD_WORKERS:-}" ] || printf 'workers = %s\n' "$IMQD_WORKERS"
		[ -n "$glob" ] && printf '%s\n' "$glob"
		printf '\n'
		cat
	} >"$file.new" || fail "cannot write $file.new"
	mv -f "$file.new" "$file" || fail "cannot rename $file.new to $file"
}

# imqd_conf_read FILE: IMQD_SOCK, IMQD_DEVS, IMQD_QUEUES and IMQD_KEPT from
# an imqd.conf.
imqd_conf_read() {
	local kind val
	IMQD_SOCK=''
	IMQD_DEVS=() IMQD_QUEUES=() IMQD_KEPT=()
	while read -r kind val; do
		case $kind in
		sock) IMQD_SOCK=$val ;;
		dev) IMQD_DEVS+=("$val") ;;
		queues) mapfile -t -O "${#IMQD_QUEUES[@]}" IMQD_QUEUES < <(expand_queues "$val") ;;
		kept) IMQD_KEPT+=("$val") ;;
		esac
	done < <(awk '
		/^[ \t]*[#;]/ { next }
		/^[ \t]*\[/ { s = $0; gsub(/[][ \t]/, "", s); if (s != "global") print "dev", s; next }
		{
			k = $0; sub(/=.*/, "", k); gsub(/[ \t]/, "", k)
			v = $0; if (!sub(/^[^=]*=[ \t]*/, "", v)) next; sub(/[ \t]+$/, "", v)
		}
		s == "global" && k == "control-socket" { print "sock", v }
		s != "global" && k == "queues" { print "queues", v }
		s != "global" && k == "persist" && v == "yes" { print "kept", s }' "$1")
}

# start_imqd [QUEUES [EXTRA_DEVICE_LINES]]: imqd in $GW with device imq0 on
# QUEUES (default 0), config $T_TMP/imqd.conf, control socket
# $T_TMP/imqd.sock; waits until it is ready.
start_imqd() {
	imqd_conf "$T_TMP/imqd.conf" "$T_TMP/imqd.sock" <<EOF
[imq0]
queues = ${1:-0}
${2:-}
EOF
	start_imqd_conf "$T_TMP/imqd.conf"
}

# start_imqd_conf CONF [PREFIX...]: run PREFIX... imqd -c CONF in $GW
# (PREFIX: e.g. env VAR=..., setpriv ...; it must exec imqd, or start it and
# write its pid to the file IMQD_PIDFILE names), log in $T_TMP/imqd-N.log.
# Waits (10 s) until every device of CONF is up, every queue bound and the
# control socket answers, so up hooks have run.
start_imqd_conf() {
	local conf=$1 i
	shift
	IMQD_CONF=$conf
	imqd_conf_read "$conf"
	IMQD_STARTS=$((IMQD_STARTS + 1))
	IMQD_LOG=$T_TMP/imqd-$IMQD_STARTS.log
	IMQD_RC='' IMQD_LAUNCHER=''
	ip netns exec "$GW" "$@" "$IMQD" -c "$conf" 2>"$IMQD_LOG" &
	IMQD_PID=$!
	if [ -n "${IMQD_PIDFILE:-}" ]; then
		IMQD_LAUNCHER=$IMQD_PID
		T_PIDS+=("$IMQD_LAUNCHER")
		wait_until 5 '[ -s "$IMQD_PIDFILE" ]' || fail "$1 did not start imqd (no pid in $IMQD_PIDFILE)"
		IMQD_PID=$(cat "$IMQD_PIDFILE")
	fi
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$IMQD_PID" 2>/dev/null; then
			imqd_reap
			dump_file "imqd.conf" "$conf"
			dump_file "imqd log" "$IMQD_LOG"
			IMQD_LOG=
			fail "imqd exited with status $IMQD_RC during start-up"
		fi
		if imqd_ready; then
			log "imqd ready (pid $IMQD_PID, start $IMQD_STARTS: ${IMQD_DEVS[*]}, queues $(imqd_queue_list))"
			return 0
		fi
		sleep 0.1
	done
	dump_file "imqd.conf" "$conf"
	dump_file "imqd log" "$IMQD_LOG"
	dump_file "nfnetlink_queue in $GW" <(nsx "$GW" cat /proc/net/netfilter/nfnetlink_queue)
	IMQD_LOG=
	fail "imqd not ready after 10 s (${IMQD_DEVS[*]} up, queues $(imqd_queue_list) bound, control socket answering)"
}

# imqd_queue_list: IMQD_QUEUES for a log line: the first and last of a long list.
imqd_queue_list() {
	local n=${#IMQD_QUEUES[@]}
	if [ "$n" -gt 4 ]; then echo "${IMQD_QUEUES[0]}...${IMQD_QUEUES[n - 1]} ($n)"; else echo "${IMQD_QUEUES[*]}"; fi
}

# imqd_ready: every device of the config up, every queue bound, and the
# control socket (if there is one) answers.
imqd_ready() {
	local d flags
	for d in "${IMQD_DEVS[@]}"; do
		flags=$(ip -n "$GW" -o link show "$d" 2>/dev/null) || return 1
		[[ $flags =~ [\<,]UP[,\>] ]] || return 1
	done
	nsx "$GW" awk -v want="${IMQD_QUEUES[*]}" '
		{ bound[$1] = 1 }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in bound)) exit 1 }' \
		/proc/net/netfilter/nfnetlink_queue 2>/dev/null || return 1
	[ -z "$IMQD_SOCK" ] || "$IMQCTL" -s "$IMQD_SOCK" show >/dev/null 2>&1
}

# imqd_reap: once imqd is gone, its exit status (or its launcher's) in IMQD_RC.
imqd_reap() {
	if [ -n "$IMQD_LAUNCHER" ]; then
		wait_pid "$IMQD_LAUNCHER" 10
	else
		wait "$IMQD_PID" 2>/dev/null
	fi
	IMQD_RC=$?
	IMQD_PID='' IMQD_LAUNCHER=''
}

# stop_imqd: SIGTERM; imqd exits 0 within 5 s, removes its devices (not
# those with persist = yes) and unbinds its queues, as its config file
# now names them.
stop_imqd() {
	[ -n "$IMQD_PID" ] || return 0
	local q d queues=("${IMQD_QUEUES[@]}")
	kill -TERM "$IMQD_PID" 2>/dev/null
	if ! gone_within 50 "$IMQD_PID"; then
		kill -KILL "$IMQD_PID" 2>/dev/null
		imqd_reap
		dump_file "imqd log" "$IMQD_LOG"
		mismatch "imqd still running 5 s after SIGTERM"
		return 1
	fi
	imqd_reap
	assert_eq "imqd exit status after SIGTERM" 0 "$IMQD_RC"
	# The devices and queues of the last file imqd read, and those it started with.
	imqd_conf_read "$IMQD_CONF"
	for d in "${IMQD_DEVS[@]}"; do
		[[ " ${IMQD_KEPT[*]} " == *" $d "* ]] && continue
		dev_exists "$d" && mismatch "$d still exists after imqd exited"
	done
	for q in $(nsx "$GW" awk -v want="${queues[*]} ${IMQD_QUEUES[*]}" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) mine[w[i]] = 1 }
		$1 in mine { print $1 }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null); do
		mismatch "queue $q still bound after imqd exited"
	done
	[ "$IMQD_RC" = 0 ] || dump_file "imqd log" "$IMQD_LOG"
	return 0
}

# kill_imqd SIG: send SIG to imqd; for KILL, TERM, INT and QUIT also reap
# it: its exit status in IMQD_RC, IMQD_PID cleared. Nothing is checked:
# stop_imqd is the orderly stop.
kill_imqd() {
	kill -"$1" "$IMQD_PID" 2>/dev/null || fail "cannot send SIG$1 to imqd $IMQD_PID"
	case $1 in KILL | TERM | INT | QUIT) ;; *) return 0 ;; esac
	gone_within 100 "$IMQD_PID" || fail "imqd still running 10 s after SIG$1"
	imqd_reap
}

# imqd_is_asan: $IMQD is built with AddressSanitizer (its shadow memory and
# quarantine make RSS meaningless, and it cannot run under valgrind).
imqd_is_asan() { grep -q -a -m 1 __asan_init "$IMQD"; }

# imqd_alive: fail if imqd is no longer running (crashed or exited early).
imqd_alive() {
	[ -n "$IMQD_PID" ] || fail "imqd is not running"
	kill -0 "$IMQD_PID" 2>/dev/null && return 0
	imqd_reap
	local why=""
	[ "$IMQD_RC" -gt 128 ] && why=", signal $((IMQD_RC - 128))"
	grep -qE 'signal (15|2)\b' "$IMQD_LOG" 2>/dev/null &&
		why="$why; its log shows a SIGTERM/SIGINT this test did not send"
	fail "imqd died during the test (exit status $IMQD_RC$why)"
}

# imqd_counters [DEV]: read `imqctl stats -j` (kept in $T_TMP/stats.json)
# and set S_<counter> for DEV (default imq0): S_received S_accepted
# S_dropped_enqueue ... S_held, S_dropped (all drops), S_failopen_<reason>,
# S_state, S_qdisc, S_queues, and S_q<N>_<counter> for its queue N
# (S_per_queue lists them). Retries 2 s.
imqd_counters() {
	local dev=${1:-imq0} i
	for ((i = 0; i < 20; i++)); do
		if "$IMQCTL" -s "$IMQD_SOCK" stats -j >"$T_TMP/stats.json" 2>"$T_TMP/imqctl.err"; then
			stats_vars "$T_TMP/stats.json" "$dev"
			return 0
		fi
		sleep 0.1
	done
	cat "$T_TMP/imqctl.err" >&2
	imqd_alive
	fail "imqctl -s $IMQD_SOCK stats -j failed"
}

# stats_vars FILE DEV: the S_* variables of imqd_counters for DEV from
# FILE, a saved `imqctl stats -j` (another device of the same snapshot).
stats_vars() {
	local out
	out=$("$PYTHON" "$TOOLS/imqstats.py" shell "$1" "$2") ||
		{ cat "$1" >&2; fail "cannot read $2's counters from $1"; }
	eval "$out"
}

show_counters() {
	log "imqd counters: received=$S_received accepted=$S_accepted dropped_enqueue=$S_dropped_enqueue" \
		"dropped_order=$S_dropped_order dropped_timeout=$S_dropped_timeout dropped_error=$S_dropped_error" \
		"dropped_ecn=${S_dropped_ecn:-?}" \
		"failopen=$S_failopen held=$S_held peak_held=${S_peak_held:-?} id_gaps=${S_id_gaps:-?}" \
		"stray=${S_stray:-?} unmatched=${S_unmatched:-?} verdict_errors=${S_verdict_errors:-?}" \
		"verdicts_batched=${S_verdicts_batched:-?}"
}

# check_counters [DEV]: once traffic stopped, DEV's (default imq0) held
# reaches 0 (2 s), received = accepted + drops + failopen + held, the
# device's peak_held is at least each of its queues', and the kernel refused
# no verdict (a verdict for a packet already decided, or one it never queued).
check_counters() {
	local dev=${1:-imq0} what=imqd i
	[ "$dev" = imq0 ] || what=$dev
	imqd_alive
	for ((i = 0; i < 20; i++)); do
		imqd_counters "$dev"
		[ "$S_held" = 0 ] && break
		sleep 0.1
	done
	show_counters
	assert_eq "$what held after traffic" 0 "$S_held"
	assert_balance "$what"
	# The device's peak is its queues' together: never below one queue's.
	assert_ge "$what device peak_held >= each queue's peak_held ($S_queue_peak_held_max)" \
		"$S_queue_peak_held_max" "$S_peak_held"
	assert_eq "$what verdicts the kernel refused (verdict_errors)" 0 "$S_verdict_errors"
}

# assert_balance WHAT: in the counters last read, received = accepted + drops
# + failopen + held.
assert_balance() {
	assert_eq "$1: received = accepted + dropped + failopen + held" "$S_received" \
		"$((S_accepted + S_dropped + S_failopen + S_held))"
}

# check_nothing_queued: queue_total (column 3 of nfnetlink_queue) of every
# queue in $GW reaches 0 (2 s).
# check_queue_sums DEV: in the last `imqctl stats -j` ($T_TMP/stats.json),
# every per-queue counter of DEV sums to the device's.
check_queue_sums() {
	if "$PYTHON" "$TOOLS/imqstats.py" sums "$T_TMP/stats.json" "$1" >"$T_TMP/perq.out"; then
		pass_msg "$1: every per_queue counter sums to the device's"
	else
		mismatch "$1: per_queue sums differ from device totals: $(head -n 3 "$T_TMP/perq.out" | tr '\n' ';')"
	fi
}

check_nothing_queued() {
	local i total
	for ((i = 0; i < 20; i++)); do
		total=$(queued_now)
		[ "$total" = 0 ] && break
		sleep 0.1
	done
	[ "$total" = 0 ] || nsx "$GW" cat /proc/net/netfilter/nfnetlink_queue >&2
	assert_eq "packets in the kernel queues (nfnetlink_queue queue_total)" 0 "$total"
}

# queued_now: packets waiting in every kernel queue of $GW, together.
queued_now() {
	nsx "$GW" awk '{ s += $3 } END { print s + 0 }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null
}

# log_count FILE PATTERN: lines of FILE matching the extended regex PATTERN.
log_count() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# wait_log FILE PATTERN COUNT SECONDS: until FILE has COUNT matching lines.
wait_log() {
	local file=$1 pattern=$2 count=$3
	wait_until "$4" '[ "$(log_count "$file" "$pattern")" -ge "$count" ]'
}

# log_has REGEX: imqd's log has a line matching REGEX.
log_has() { grep -Eq -- "$1" "$IMQD_LOG"; }

# result KEY=VALUE...: one machine-readable line of what the test measured
# (for docs/RELIABILITY.md), on stderr with the rest of the log.
result() { log "RESULT $*"; }

# ---------------------------------------------------------------- assertions

pass_msg() { log "ok: $*"; }
mismatch() { log "MISMATCH: $*"; T_FAILS+=("$*"); }

# is_num V: V is a decimal number (sign, fraction and exponent allowed).
is_num() { [[ $1 =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]; }

# num_test A OP B: both are numbers and A OP B holds (OP: < <= > >= ==).
num_test() { is_num "$1" && is_num "$3" && awk -v a="$1" -v b="$3" "BEGIN { exit !((a + 0) $2 (b + 0)) }"; }

# assert_eq WHAT EXPECTED MEASURED: the same strings.
assert_eq() {
	if [ "$2" = "$3" ]; then pass_msg "$1: $3"; else mismatch "$1: expected $2, measured $3"; fi
}

# assert_ge WHAT MIN MEASURED
assert_ge() {
	if num_test "$3" '>=' "$2"; then pass_msg "$1: $3 (>= $2)"; else mismatch "$1: expected >= $2, measured $3"; fi
}

# assert_le WHAT MAX MEASURED
assert_le() {
	if num_test "$3" '<=' "$2"; then pass_msg "$1: $3 (<= $2)"; else mismatch "$1: expected <= $2, measured $3"; fi
}

# assert_gt WHAT BELOW MEASURED
assert_gt() {
	if num_test "$3" '>' "$2"; then pass_msg "$1: $3 (> $2)"; else mismatch "$1: expected > $2, measured $3"; fi
}

# assert_within WHAT TARGET PERCENT MEASURED: |MEASURED - TARGET| <= PERCENT% of TARGET.
assert_within() {
	local dev
	if ! is_num "$2" || ! is_num "$3" || ! is_num "$4" || num_test "$2" == 0; then
		mismatch "$1: expected $2 +-$3%, measured '$4'"
		return
	fi
	dev=$(calc %+.1f "($4 - $2) / $2 * 100")
	if awk -v t="$2" -v p="$3" -v m="$4" 'BEGIN { d = m - t; if (d < 0) d = -d; if (t < 0) t = -t; exit !(d <= t * p / 100) }'; then
		pass_msg "$1: $4 (target $2 +-$3%, off by $dev%)"
	else
		mismatch "$1: expected $2 +-$3%, measured $4 ($dev%)"
	fi
}

# assert_log WHAT REGEX: imqd's log has a line matching REGEX.
assert_log() {
	if log_has "$2"; then pass_msg "$1: log has /$2/"; else mismatch "$1: no log line matching /$2/"; fi
}

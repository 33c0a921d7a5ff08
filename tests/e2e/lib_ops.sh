# Helpers of the operations tests (reload, hooks, persist, notify, caps),
# on top of lib.sh: source lib.sh first, then this file.
#
# They start imqd from a configuration file the test wrote itself (with
# [global] keys, several devices, a command prefix such as setpriv or env),
# stop it without requiring imq0 to be gone, run extra clean-up steps before
# lib.sh's own, and read qdisc counters.

# shellcheck shell=bash disable=SC2034,SC2154 # IMQD_* are lib.sh's; GW, T_TMP, ... are set there
OPS_EXIT=()      # clean-up commands, run before lib.sh's cleanup
OPS_TRAPPED=0

# ops_at_exit CMD: run CMD (eval'd) on exit, before lib.sh's cleanup, which
# then still sees the test's exit status. Call after e2e_init.
ops_at_exit() {
	OPS_EXIT+=("$1")
	if [ "$OPS_TRAPPED" = 0 ]; then
		OPS_TRAPPED=1
		trap ops_exit EXIT
	fi
}

ops_exit() {
	local rc=$? c
	for c in "${OPS_EXIT[@]}"; do eval "$c"; done
	(exit "$rc")
	cleanup
}

# ops_kill_imqd: stop imqd at once (for clean-up steps that need it gone).
ops_kill_imqd() {
	local i
	[ -n "$IMQD_PID" ] || return 0
	kill -TERM "$IMQD_PID" 2>/dev/null
	for i in $(seq 30); do kill -0 "$IMQD_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$IMQD_PID" 2>/dev/null
	wait "$IMQD_PID" 2>/dev/null
}

# ops_conf FILE SOCKET [GLOBAL_LINES] -- writes [global] with the control
# socket and GLOBAL_LINES, then stdin (the device sections), atomically
# (a reload never reads half a file).
ops_conf() {
	local file=$1 sock=$2 glob=${3:-}
	{
		printf '[global]\ncontrol-socket = %s\n' "$sock"
		[ -n "$glob" ] && printf '%s\n' "$glob"
		printf '\n'
		cat
	} >"$file.new" || fail "cannot write $file.new"
	mv -f "$file.new" "$file" || fail "cannot rename $file.new to $file"
}

# ops_start_imqd CONF SOCKET QUEUES [PREFIX...]: run PREFIX... imqd -c CONF in
# $GW (PREFIX: e.g. env VAR=..., setpriv ...), wait until imq0 is up and the
# queues are bound (5 s). Sets IMQD_PID, IMQD_LOG, IMQD_SOCK, IMQD_QUEUES.
# The log goes to $T_TMP/imqd-N.log, one per start.
ops_start_imqd() {
	local conf=$1 sock=$2 queues=$3 i
	shift 3
	OPS_STARTS=$((${OPS_STARTS:-0} + 1))
	IMQD_SOCK=$sock
	IMQD_LOG=$T_TMP/imqd-$OPS_STARTS.log
	mapfile -t IMQD_QUEUES < <(expand_queues "$queues")
	ip netns exec "$GW" "$@" "$IMQD" -c "$conf" 2>"$IMQD_LOG" &
	IMQD_PID=$!
	for i in $(seq 50); do
		if ! kill -0 "$IMQD_PID" 2>/dev/null; then
			wait "$IMQD_PID"
			local rc=$?
			IMQD_PID=
			dump_file "imqd.conf" "$conf"
			dump_file "imqd log" "$IMQD_LOG"
			fail "imqd exited with status $rc during start-up"
		fi
		imqd_ready && { log "imqd ready (pid $IMQD_PID, start $OPS_STARTS)"; return 0; }
		sleep 0.1
	done
	dump_file "imqd.conf" "$conf"
	dump_file "imqd log" "$IMQD_LOG"
	fail "imqd not ready after 5 s (imq0 up and queues ${IMQD_QUEUES[*]} bound)"
}

# ops_stop_imqd: SIGTERM, exit status 0 within 5 s, queues unbound. Unlike
# lib.sh's stop_imqd it says nothing about imq0 (persist keeps it).
ops_stop_imqd() {
	local i rc q bound
	[ -n "$IMQD_PID" ] || return 0
	kill -TERM "$IMQD_PID" 2>/dev/null
	for i in $(seq 50); do kill -0 "$IMQD_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$IMQD_PID" 2>/dev/null; then
		kill -KILL "$IMQD_PID" 2>/dev/null
		wait "$IMQD_PID" 2>/dev/null
		IMQD_PID=
		dump_file "imqd log" "$IMQD_LOG"
		mismatch "imqd still running 5 s after SIGTERM"
		return 1
	fi
	wait "$IMQD_PID"
	rc=$?
	IMQD_PID=
	assert_eq "imqd exit status after SIGTERM" 0 "$rc"
	bound=$(nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null)
	for q in "${IMQD_QUEUES[@]}"; do
		grep -qx "$q" <<<"$bound" && mismatch "queue $q still bound after imqd exited"
	done
	[ "$rc" = 0 ] || dump_file "imqd log" "$IMQD_LOG"
	return 0
}

# ops_dev_exists DEV: DEV is a link in $GW.
ops_dev_exists() { nsx "$GW" ip link show "$1" >/dev/null 2>&1; }

# ops_root_qdisc DEV: "KIND HANDLE" of DEV's root qdisc in $GW, e.g. "tbf 8001:".
ops_root_qdisc() {
	nsx "$GW" tc qdisc show dev "$1" 2>/dev/null | awk '$1 == "qdisc" && / root / { print $2, $3; exit }'
}

# ops_qdisc_bytes DEV: bytes sent by DEV's root qdisc in $GW (tc -s). A TCP
# GSO copy counts once per segment with its headers, so this is at least
# the bytes of the packets imqd accepted; tc's packet count of such copies is
# not one per packet.
ops_qdisc_bytes() {
	nsx "$GW" tc -s qdisc show dev "$1" 2>/dev/null | awk '
		$1 == "qdisc" { root = / root / }
		root && $1 == "Sent" { print $2; exit }'
}

# ops_assert_qdisc_bytes WHAT ACCEPTED QDISC: the bytes a qdisc on imq0 sent
# against the IP bytes of the packets imqd accepted. Each segment's headers
# and the link-layer overhead put the qdisc 4-5% above (1.045 for TCP at MTU
# 1500); a packet passed without its copy puts it below, a copy sent twice
# far above.
ops_assert_qdisc_bytes() {
	assert_ge "$1 (>= imqd accepted bytes)" "$2" "$3"
	assert_ge "$1: 1.10 x imqd accepted bytes (>= qdisc bytes)" "$3" \
		"$(python3 -c 'import sys; print(int(int(sys.argv[1]) * 1.10))' "$2")"
}

# ops_qdisc_sent DEV: packets sent by DEV's root qdisc in $GW (tc -s).
ops_qdisc_sent() {
	nsx "$GW" tc -s qdisc show dev "$1" 2>/dev/null | awk '
		$1 == "qdisc" { root = / root / }
		root && $1 == "Sent" { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^pkt/) { print $i; exit } }'
}

# ops_queued_all: sum of queue_total (column 3) over every queue in $GW.
ops_queued_all() {
	nsx "$GW" awk '{ s += $3 } END { print s + 0 }' /proc/net/netfilter/nfnetlink_queue 2>/dev/null
}

# ops_check_nothing_queued: every queue in $GW reaches queue_total 0 (2 s).
ops_check_nothing_queued() {
	local i total
	for i in $(seq 20); do
		total=$(ops_queued_all)
		[ "$total" = 0 ] && break
		sleep 0.1
	done
	[ "$total" = 0 ] || nsx "$GW" cat /proc/net/netfilter/nfnetlink_queue >&2
	assert_eq "packets in the kernel queues (nfnetlink_queue queue_total, all queues)" 0 "$total"
}

# ops_udp_recv NAME PORT COUNT SECONDS [UDPSEQ_RECV_ARGS...]: udpseq receiver
# in $DST (it ends one idle second after the last datagram unless the
# arguments say -w), output in $T_TMP/NAME.recv.json; its pid in
# OPS_RECV_PID. Waits until it listens.
ops_udp_recv() {
	local name=$1 port=$2 n=$3 secs=$4
	shift 4
	bg "$DST" timeout $((secs + 10)) "$UDPSEQ" recv -p "$port" -n "$n" -t "$secs" -i "$@" \
		>"$T_TMP/$name.recv.json"
	OPS_RECV_PID=$BG_PID
	wait_listen "$DST" udp "$port"
}

# ops_udp_stop NAME PID: stop the background sender PID (ops_udp_send_bg)
# now; how many datagrams it sent in OPS_SENT (not in $(...): the sender is
# this shell's child).
ops_udp_stop() {
	kill -TERM "$2" 2>/dev/null
	wait_pid "$2" 10 || mismatch "udpseq send ($1) failed or did not stop"
	OPS_SENT=$(json_field "$T_TMP/$1.send.json" sent)
}

# ops_udp_send NAME PORT COUNT MAXSECONDS [UDPSEQ_SEND_ARGS...]: bounded sender
# from $SRC to $DST_IP, in the foreground; output in $T_TMP/NAME.send.json.
ops_udp_send() {
	local name=$1 port=$2 n=$3 secs=$4
	shift 4
	timeout $((secs + 10)) ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$port" -n "$n" -t "$secs" "$@" \
		>"$T_TMP/$name.send.json"
}

# ops_udp_send_bg NAME PORT COUNT MAXSECONDS [UDPSEQ_SEND_ARGS...]: as
# ops_udp_send, in the background; its pid in OPS_SEND_PID.
ops_udp_send_bg() {
	local name=$1 port=$2 n=$3 secs=$4
	shift 4
	bg "$SRC" timeout $((secs + 10)) "$UDPSEQ" send -d "$DST_IP" -p "$port" -n "$n" -t "$secs" "$@" \
		>"$T_TMP/$name.send.json"
	OPS_SEND_PID=$BG_PID
}

# ops_udp_check NAME COUNT: the receiver of NAME ended (20 s); all COUNT
# datagrams arrived once each.
ops_udp_check() {
	local name=$1 n=$2
	wait_pid "$OPS_RECV_PID" 20 || mismatch "udpseq recv ($name) did not finish in time"
	log "$name sender: $(cat "$T_TMP/$name.send.json" 2>/dev/null)"
	log "$name receiver: $(cat "$T_TMP/$name.recv.json" 2>/dev/null)"
	assert_eq "$name: datagrams sent" "$n" "$(json_field "$T_TMP/$name.send.json" sent)"
	assert_eq "$name: datagrams received at dst" "$n" "$(json_field "$T_TMP/$name.recv.json" received)"
	assert_eq "$name: duplicate datagrams" 0 "$(json_field "$T_TMP/$name.recv.json" duplicates)"
}

# ops_log_count FILE PATTERN: lines of FILE matching the extended regex PATTERN.
ops_log_count() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# ops_wait_log FILE PATTERN COUNT SECONDS: until FILE has COUNT matching lines.
ops_wait_log() {
	local i
	for i in $(seq $(($4 * 10))); do
		[ "$(ops_log_count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# ops_tool NAME...: fail unless every tool is installed.
ops_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' not found"
	done
}

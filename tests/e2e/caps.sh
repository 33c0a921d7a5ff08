#!/usr/bin/env bash
# Least privilege. (a) Started as root with `user =` and two workers: imqd
# runs as that user with exactly CAP_NET_ADMIN and CAP_NET_RAW (effective,
# permitted and bounding set) on every thread, its workers' too (capabilities
# are each thread's own: a worker left with none would have its verdicts
# refused), and so does its watchdog process, and it still shapes. (b) Started
# directly as that user with only those two capabilities (setpriv): it
# creates imq0, binds its queue and shapes.
# Shaping is checked by TCP through tbf 10mbit on imq0: rate near 10 Mbit/s,
# packets accepted by imqd, none passed unshaped.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init caps

need_tools useradd userdel setpriv getent
CONF=$T_TMP/imqd.conf
RATE=10 # Mbit/s
# A burst above the longest GSO copy (64 KB and its padding): tbf then never
# cuts a copy into segments. A copy it cuts and partly drops goes whole or not
# at all (gso_*.sh test that), which now and then costs TCP a collapse of its
# window and this test, about capabilities, its rate.
TBF=(tbf rate "${RATE}mbit" burst 80k latency 100ms)
SECS=6
# TCP goodput through tbf: Ethernet and TCP/IP headers take 4.4% of a 1514-byte frame.
GOODPUT=$(calc %.3f "$RATE * 0.956")
CAPS=0000000000003000 # CAP_NET_ADMIN (12) | CAP_NET_RAW (13)
USER_NAME=imqdtest$$

# The user goes after imqd (userdel refuses a user with running processes).
at_exit 'getent passwd "$USER_NAME" >/dev/null && userdel "$USER_NAME" 2>/dev/null ||
	{ getent passwd "$USER_NAME" >/dev/null && userdel -f "$USER_NAME"; }; getent group "$USER_NAME" >/dev/null && groupdel "$USER_NAME"'
useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME" || fail "useradd $USER_NAME failed"
uid=$(id -u "$USER_NAME") && gid=$(id -g "$USER_NAME") || fail "no uid/gid for $USER_NAME"
group=$(id -gn "$USER_NAME")
log "user $USER_NAME: uid $uid, gid $gid ($group)"
# The user reads the file and reaches its socket directory inside T_TMP.
chmod 711 "$T_TMP"

# status_field FILE FIELD: a line of a /proc status file without its label.
status_field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^[ \t]+/, ""); print; exit }' "$1"; }

# check_identity WHAT THREADS: the uid, gid and capability sets of each of
# imqd's threads, and that it has THREADS of them.
check_identity() {
	local what=$1 threads=$2 st tid comm n=0
	for st in /proc/"$IMQD_PID"/task/*/status; do
		tid=${st%/status} tid=${tid##*/} comm=$(cat "/proc/$IMQD_PID/task/$tid/comm")
		# The kernel's io_uring helpers (iou-*) are listed too: not imqd's threads.
		case $comm in imqd*) n=$((n + 1)) ;; *) log "$what: thread $tid is $comm, not imqd's"; continue ;; esac
		assert_eq "$what: thread $tid: Uid (real effective saved fs)" "$uid $uid $uid $uid" "$(status_field "$st" Uid | tr -s ' \t' ' ')"
		assert_eq "$what: thread $tid: Gid (real effective saved fs)" "$gid $gid $gid $gid" "$(status_field "$st" Gid | tr -s ' \t' ' ')"
		assert_eq "$what: thread $tid: CapEff" "$CAPS" "$(status_field "$st" CapEff)"
		assert_eq "$what: thread $tid: CapPrm" "$CAPS" "$(status_field "$st" CapPrm)"
		assert_eq "$what: thread $tid: CapBnd" "$CAPS" "$(status_field "$st" CapBnd)"
	done
	assert_eq "$what: imqd's threads (imqd, imqd-wN)" "$threads" "$n"
	# Its watchdog, a process of its own, switches queues' fail-open: the same two capabilities.
	local wd
	wd=$(pgrep -P "$IMQD_PID" -x imqd-watchdog) || mismatch "$what: no imqd-watchdog process"
	if [ -n "$wd" ]; then
		st=/proc/$wd/status
		assert_eq "$what: watchdog: Uid (real effective saved fs)" "$uid $uid $uid $uid" "$(status_field "$st" Uid | tr -s ' \t' ' ')"
		assert_eq "$what: watchdog: CapEff" "$CAPS" "$(status_field "$st" CapEff)"
		assert_eq "$what: watchdog: CapBnd" "$CAPS" "$(status_field "$st" CapBnd)"
	fi
	st=/proc/$IMQD_PID/status
	log "$what: CapInh $(status_field "$st" CapInh) CapAmb $(status_field "$st" CapAmb) Groups '$(status_field "$st" Groups)'"
}

# check_shaping WHAT PORT: TCP through imq0's tbf, then the counters.
check_shaping() {
	local what=$1 port=$2 rate
	nsx "$GW" tc qdisc replace dev imq0 root "${TBF[@]}" || fail "$what: tc tbf on imq0 failed"
	iperf_server "$DST" "$port"
	rate=$(iperf_client "$SRC" "$DST_IP" "$port" "$SECS" "$T_TMP/iperf-$port.json") || exit 1
	log "$what: TCP through imq0 (tbf ${RATE}mbit): $rate Mbit/s"
	assert_within "$what: goodput (Mbit/s)" "$GOODPUT" 10 "$rate"
	check_counters
	assert_gt "$what: imqd accepted" 0 "$S_accepted"
	assert_eq "$what: imqd failopen" 0 "$S_failopen"
	assert_eq "$what: qdisc reported by imqctl" tbf "$S_qdisc"
	assert_qdisc_bytes "$what: bytes through imq0's tbf" "$S_accepted_bytes" \
		"$(qdisc_bytes imq0)"
	check_nothing_queued
}

topo_create
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"

# (a) root drops to the user; its hooks run as the user from the first one,
# the up hook at start-up (before imqd switches) included.
HOOK=$T_TMP/hook.sh
HOOK_OUT=$T_TMP/hook.out
cat >"$HOOK" <<EOF
#!/bin/sh
echo "\$1 \$(id -u) \$(awk '\$1 == "CapEff:" { print \$2 }' /proc/self/status)" >>"$HOOK_OUT"
EOF
chmod 755 "$HOOK"
: >"$HOOK_OUT"
chmod 666 "$HOOK_OUT"
imqd_conf "$CONF" "$T_TMP/imqd-a.sock" "user = $USER_NAME"$'\n'"workers = 2" <<EOF
[imq0]
queues = 0
up = $HOOK up
down = $HOOK down
EOF
start_imqd_conf "$CONF"
wait_log "$IMQD_LOG" 'started' 1 5 || mismatch "(a) no 'started' in the log within 5 s"
check_identity "(a) user = $USER_NAME" 3 # the main thread and two workers
check_shaping "(a) user = $USER_NAME" 5401
stop_imqd
dump_file "hooks run (event uid CapEff)" "$HOOK_OUT"
assert_eq "(a) up hook at start-up: uid and CapEff" "up $uid $CAPS" "$(grep '^up ' "$HOOK_OUT")"
assert_eq "(a) down hook at stop: uid and CapEff" "down $uid $CAPS" "$(grep '^down ' "$HOOK_OUT")"

# (b) started as the user with only the two capabilities. The file names
# that user (which switches nothing): root's imqctl reads it ($IMQD_CONFIG)
# to take a listener run by the user for imqd.
mkdir -p "$T_TMP/run" && chown "$USER_NAME:$group" "$T_TMP/run" && chmod 700 "$T_TMP/run" ||
	fail "cannot make $T_TMP/run for $USER_NAME"
export IMQD_CONFIG=$CONF
imqd_conf "$CONF" "$T_TMP/run/imqd.sock" "user = $USER_NAME" <<EOF
[imq0]
queues = 0
EOF
SETPRIV=(setpriv --reuid="$USER_NAME" --regid="$group" --init-groups
	--inh-caps=+net_admin,+net_raw --ambient-caps=+net_admin,+net_raw --bounding-set=-all,+net_admin,+net_raw)
# Distributions make /dev/net/tun mode 0666 (the kernel checks CAP_NET_ADMIN on
# TUNSETIFF); where it is not, imqd gets a 0666 node of its own in a private
# mount namespace, so the host's node stays as it is.
tun_mode=$(stat -c %a /dev/net/tun) || fail "no /dev/net/tun"
if [ "$tun_mode" != 666 ]; then
	log "/dev/net/tun has mode $tun_mode here: imqd (b) gets a mode 0666 node in a private mount namespace"
	mknod -m 666 "$T_TMP/tun" c 10 200 || fail "mknod $T_TMP/tun failed"
	start_imqd_conf "$CONF" unshare -m --propagation private \
		sh -c 'mount --bind "$1" /dev/net/tun && shift && exec "$@"' sh "$T_TMP/tun" "${SETPRIV[@]}"
else
	start_imqd_conf "$CONF" "${SETPRIV[@]}"
fi
wait_log "$IMQD_LOG" 'started' 1 5 || mismatch "(b) no 'started' in the log within 5 s"
check_identity "(b) setpriv as $USER_NAME" 1
[ -S "$T_TMP/run/imqd.sock" ] || mismatch "(b) no control socket at $T_TMP/run/imqd.sock"
check_shaping "(b) setpriv as $USER_NAME" 5402
stop_imqd
finish

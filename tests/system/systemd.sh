#!/usr/bin/env bash
# imqd's Debian package under a real systemd 252: a Debian 12 root booted
# with systemd-nspawn, the container's network namespace being gw of the
# e2e topology src -> gw -> dst. In it:
#  1. dpkg -i of the .deb: _imqd created, imqd.service installed neither
#     enabled nor started, /etc/imqd.conf a conffile.
#  2. systemctl start with /dev/net/tun 0600 (no udev in the container)
#     fails; made 0666 as Debian's udev rule does, systemctl start returns
#     once imqd is ready: active, running as _imqd with only CAP_NET_ADMIN
#     and CAP_NET_RAW, no new privileges, a seccomp filter; its watchdog
#     process too.
#  3. TCP from src to dst, queued on gw, through the tbf (RATE Mbit/s) its up
#     hook puts on imq0: the rate within 10% of the TCP goodput RATE
#     carries, counters balance, nothing left queued. imqctl's Prometheus
#     text and the metrics file pass `promtool check metrics`.
#  4. txqueuelen changed by hand on imq0 is set back (a warning).
#  5. systemctl reload of a good file (imq1 added) exits 0; kill -9 brings
#     imqd back (Restart=) with imq0 and its tbf; reload of a bad file exits
#     non-zero and imqd keeps imq0 and imq1.
#  6. systemctl stop: exit 0, imq0 gone, queues unbound, no imqd left.
#  7. journalctl -u imqd -p warning shows the TUN error, the txqueuelen
#     warning and the bad file's file:line error, and not imqd's notices.
#  8. systemd-analyze security gives the exposure docs/SYSTEMD.md states.
#  9. dpkg --purge removes the unit, /etc/imqd.conf and the _imqd user.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/lib.sh"
e2e_init system_systemd "${SYS_LIMIT:-900}"

RATE=${RATE:-10} # Mbit/s
SECS=${SECS:-8}
CONF=/etc/imqd.conf
sys_need promtool dpkg-deb

DEB=$(sys_deb) || exit 1
log "package: $DEB"
topo_create
SYS_ROOT=$T_TMP/root
sys_rootfs "$DEB" "$SYS_ROOT"
cp "$DEB" "$SYS_ROOT/root/imqd.deb" || fail "cannot copy the .deb into the container"
sys_boot "$GW"
export SYS_LEADER
# tests/e2e/lib.sh's counter checks ask the packaged imqctl in the container.
IMQCTL=$SYS_HERE/imqctl-ctr.sh
IMQD_SOCK=/run/imqd/imqd.sock
IMQD_QUEUES=(0)

# write_conf [EXTRA]: the test's /etc/imqd.conf, EXTRA lines at the end. The
# tbf's burst is above the longest GSO copy, as in caps.sh and for its reason.
write_conf() {
	cat >"$SYS_ROOT$CONF" <<EOF
[global]
metrics-file = /run/imqd/imqd.prom
metrics-interval = 1s

[imq0]
queues = 0
up = /usr/sbin/tc qdisc replace dev imq0 root tbf rate ${RATE}mbit burst 80k latency 100ms
${1:-}
EOF
}

# follow_imqd: IMQD_PID, the host's pid of the unit's main process (for
# lib.sh's liveness check).
follow_imqd() {
	local main
	main=$(sys_unit MainPID)
	IMQD_PID=$(sys_host_pid "$main") || fail "no host pid for imqd's MainPID $main"
}

# expect_rc WHAT WANT CMD...: CMD (in the container) exits WANT ("!0": non-zero).
expect_rc() {
	local what=$1 want=$2 rc
	shift 2
	ctr "$@" >"$T_TMP/cmd.out" 2>&1
	rc=$?
	if [ "$want" = '!0' ] && [ "$rc" != 0 ]; then
		pass_msg "$what: exit $rc"
	elif [ "$want" = "$rc" ]; then
		pass_msg "$what: exit $rc"
	else
		cat "$T_TMP/cmd.out" >&2
		mismatch "$what: $* exited $rc, expected $want"
	fi
}

# ---------------------------------------------------------------- 1. install
expect_rc "dpkg -i imqd.deb" 0 dpkg -i /root/imqd.deb
ctr getent passwd _imqd >"$T_TMP/passwd" && pass_msg "user _imqd: $(cat "$T_TMP/passwd")" ||
	mismatch "no user _imqd after installation"
assert_eq "imqd.service enabled after installation" disabled "$(ctr systemctl is-enabled imqd)"
assert_eq "imqd.service active after installation" inactive "$(ctr systemctl is-active imqd)"
ctr dpkg-query -W -f '${Conffiles}\n' imqd | grep -q "^ $CONF " &&
	pass_msg "$CONF is a conffile" || mismatch "$CONF is not a conffile"
ctr test -f /usr/share/doc/imqd/examples/imqd.conf &&
	pass_msg "example configuration in /usr/share/doc/imqd/examples" ||
	mismatch "no /usr/share/doc/imqd/examples/imqd.conf"

# ---------------------------------------------------------------- 2. start
write_conf
nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -j NFQUEUE --queue-num 0 --queue-bypass ||
	fail "iptables NFQUEUE rule failed"
assert_eq "mode of /dev/net/tun as systemd-nspawn made it" 600 "$(ctr stat -c %a /dev/net/tun)"
expect_rc "systemctl start with /dev/net/tun 0600" '!0' systemctl start imqd
ctr systemctl stop imqd
ctr chmod 0666 /dev/net/tun
ctr systemctl reset-failed imqd 2>/dev/null
expect_rc "systemctl start" 0 systemctl start imqd
assert_eq "imqd.service state" active/running "$(sys_unit ActiveState)/$(sys_unit SubState)"
status=$(sys_unit StatusText)
[ -n "$status" ] && pass_msg "STATUS= from imqd: $status" || mismatch "imqd sent no STATUS="
follow_imqd
main=$(sys_unit MainPID)
ctr cat "/proc/$main/status" >"$T_TMP/main.status"
uid=$(ctr id -u _imqd)
assert_eq "imqd's uid" "$uid" "$(awk '/^Uid:/ { print $3 }' "$T_TMP/main.status")"
# CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
assert_eq "imqd's effective capabilities" 0000000000003000 "$(awk '/^CapEff:/ { print $2 }' "$T_TMP/main.status")"
assert_eq "imqd's bounding set" 0000000000003000 "$(awk '/^CapBnd:/ { print $2 }' "$T_TMP/main.status")"
assert_eq "imqd's NoNewPrivs" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' "$T_TMP/main.status")"
assert_eq "imqd's seccomp mode (2: filter)" 2 "$(awk '/^Seccomp:/ { print $2 }' "$T_TMP/main.status")"
# Its watchdog process (a flooded queue's fail-open back on should imqd
# stall): the same user and capabilities, under the same filter, and alive.
if wd=$(pgrep -P "$IMQD_PID" -x imqd-watchdog); then
	assert_eq "imqd-watchdog's uid (host view) = imqd's" \
		"$(awk '/^Uid:/ { print $3 }' "/proc/$IMQD_PID/status")" "$(awk '/^Uid:/ { print $3 }' "/proc/$wd/status")"
	assert_eq "imqd-watchdog's effective capabilities" 0000000000003000 "$(awk '/^CapEff:/ { print $2 }' "/proc/$wd/status")"
	assert_eq "imqd-watchdog's seccomp mode (2: filter)" 2 "$(awk '/^Seccomp:/ { print $2 }' "/proc/$wd/status")"
else
	mismatch "no imqd-watchdog process under imqd.service's main process"
fi

# ---------------------------------------------------------------- 3. shaping
assert_eq "qdisc the up hook put on imq0" tbf "$(nsx "$GW" tc qdisc show dev imq0 | awk 'NR == 1 { print $2 }')"
iperf_server "$DST" 5201
rate=$(iperf_client "$SRC" "$DST_IP" 5201 "$SECS" "$T_TMP/iperf.json") || exit 1
log "TCP through imq0's tbf ${RATE}mbit under imqd.service: $rate Mbit/s"
# iperf3 gives TCP goodput: 95.6% of the rate tbf counts, Ethernet and TCP/IP
# headers (4.4% of a 1514-byte frame) being the rest (as imq_local_egress.sh).
assert_within "rate under imqd.service (Mbit/s; TCP goodput of ${RATE}mbit)" \
	"$(calc %.3f "$RATE * 0.956")" 10 "$rate"
check_counters
assert_gt "packets accepted after shaping" 0 "$S_accepted"
assert_eq "packets passed unshaped (failopen)" 0 "$S_failopen"
check_nothing_queued
"$IMQCTL" stats -o prometheus >"$T_TMP/stats.prom" || mismatch "imqctl stats -o prometheus failed"
ctr cat /run/imqd/imqd.prom >"$T_TMP/metrics.prom" || mismatch "no metrics file /run/imqd/imqd.prom"
for f in stats.prom metrics.prom; do
	if promtool check metrics <"$T_TMP/$f" >"$T_TMP/promtool.out" 2>&1; then
		pass_msg "promtool check metrics: $f ($(grep -c '^imqd_' "$T_TMP/$f") samples)"
	else
		cat "$T_TMP/promtool.out" >&2
		mismatch "promtool check metrics rejects $f"
	fi
done
grep -q '^imqd_hold_seconds_count{device="imq0"} [1-9]' "$T_TMP/stats.prom" &&
	pass_msg "hold-time histogram counted the shaped packets" ||
	mismatch "imqd_hold_seconds_count of imq0 is 0 or missing"
"$IMQCTL" -j show >"$T_TMP/show.json" &&
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))["devices"][0]; sys.exit(d["name"] != "imq0" or d["state"] != "up")' \
		"$T_TMP/show.json" && pass_msg "imqctl -j show: imq0 up" || mismatch "imqctl -j show: $(cat "$T_TMP/show.json")"

# ---------------------------------------------------------------- 4. a warning
nsx "$GW" ip link set imq0 txqueuelen 500
for i in $(seq 30); do
	txq=$(nsx "$GW" cat /sys/class/net/imq0/tx_queue_len)
	[ "$txq" = 1000 ] && break
	sleep 0.1
done
assert_eq "imq0's txqueuelen, set to 500 by hand, within 3 s" 1000 "$txq"

# ---------------------------------------------------------------- 5. reload, kill -9
write_conf $'\n[imq1]\nqueues = 1'
expect_rc "systemctl reload of a good file" 0 systemctl reload imqd
"$IMQCTL" show >"$T_TMP/show" 2>&1
grep -q '^imq1 up ' "$T_TMP/show" && pass_msg "imq1 added by the reload" || mismatch "after the reload: $(cat "$T_TMP/show")"
restarts=$(sys_unit NRestarts)
kill -KILL "$IMQD_PID"
for i in $(seq 100); do
	new=$(sys_unit MainPID)
	[ "$(sys_unit ActiveState)" = active ] && [ "$new" != 0 ] && [ "$new" != "$main" ] &&
		"$IMQCTL" show >"$T_TMP/show" 2>/dev/null && break
	sleep 0.1
done
assert_eq "imqd.service state within 10 s of kill -9" active "$(sys_unit ActiveState)"
assert_eq "restarts after kill -9" $((restarts + 1)) "$(sys_unit NRestarts)"
follow_imqd
main=$(sys_unit MainPID)
assert_eq "qdisc on imq0 after the restart" tbf "$(nsx "$GW" tc qdisc show dev imq0 | awk 'NR == 1 { print $2 }')"
ping_ok "$SRC" "$DST_IP" && pass_msg "traffic passes again" || mismatch "no ping src -> dst after the restart"
imqd_counters
assert_gt "packets the restarted imqd accepted" 0 "$S_accepted"
write_conf $'\n[imq1]\nqueues = 1\nrate = 1mbit'
bad_line=$(grep -n '^rate' "$SYS_ROOT$CONF" | cut -d: -f1)
expect_rc "systemctl reload of a bad file" '!0' systemctl reload imqd
assert_eq "imqd's MainPID after the bad reload" "$main" "$(sys_unit MainPID)"
"$IMQCTL" show >"$T_TMP/show" 2>&1
[ "$(cut -d' ' -f1,2 "$T_TMP/show" | tr '\n' ' ')" = "imq0 up imq1 up " ] &&
	pass_msg "the running configuration is kept: imq0 and imq1 up" ||
	mismatch "after the bad reload: $(cat "$T_TMP/show")"
write_conf $'\n[imq1]\nqueues = 1'

# ---------------------------------------------------------------- 6. stop
expect_rc "systemctl stop" 0 systemctl stop imqd
IMQD_PID=
assert_eq "result of the stop" success/0 "$(sys_unit Result)/$(sys_unit ExecMainStatus)"
nsx "$GW" ip link show imq0 >/dev/null 2>&1 && mismatch "imq0 still exists after the stop"
nsx "$GW" awk '$1 == 0 || $1 == 1 { b = 1 } END { exit !b }' /proc/net/netfilter/nfnetlink_queue &&
	mismatch "queue 0 or 1 still bound after the stop"
for p in $(ip netns pids "$GW"); do
	case $(cat "/proc/$p/comm" 2>/dev/null) in imqd | imqd-watchdog) mismatch "imqd process $p is left after the stop" ;; esac
done

# ---------------------------------------------------------------- 7. journal
ctr journalctl -u imqd -p warning -o cat --no-pager >"$T_TMP/warnings" 2>&1
ctr journalctl -u imqd -o cat --no-pager >"$T_TMP/journal" 2>&1
for want in 'imq0: cannot open TUN device: Permission denied' \
	'imq0: txqueuelen was changed by hand to 500' "$CONF:$bad_line: "; do
	grep -qF -- "$want" "$T_TMP/warnings" && pass_msg "journalctl -p warning: $want" ||
		mismatch "journalctl -u imqd -p warning lacks '$want'"
done
grep -q ' started: ' "$T_TMP/journal" && pass_msg "the journal has imqd's start notice" ||
	mismatch "the journal lacks imqd's start notice"
grep -q ' started: ' "$T_TMP/warnings" && mismatch "journalctl -p warning shows the start notice"

# ---------------------------------------------------------------- 8. exposure
ctr systemd-analyze security imqd.service --no-pager >"$T_TMP/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for imqd.service: \([0-9.]*\).*/\1/p' "$T_TMP/security")
# The first bold number of the page's "Exposure score" section.
doc=$(sed -n '/^## Exposure score/,/^## /s/.*\*\*\([0-9][0-9.]*\) .*/\1/p' "$SYS_HERE/../../docs/SYSTEMD.md" | head -n 1)
assert_eq "exposure level (systemd-analyze security) as docs/SYSTEMD.md states" "$doc" "$score"

# ---------------------------------------------------------------- 9. purge
expect_rc "dpkg --purge imqd" 0 dpkg --purge imqd
for f in "$CONF" /lib/systemd/system/imqd.service /usr/lib/sysusers.d/imqd.conf /usr/sbin/imqd; do
	ctr test -e "$f" && mismatch "$f is left after purge"
done
ctr getent passwd _imqd >/dev/null && mismatch "user _imqd is left after purge"
ctr getent group _imqd >/dev/null && mismatch "group _imqd is left after purge"
pass_msg "purge: checked the unit, $CONF, the sysusers file and _imqd"

sys_halt || mismatch "the container's root could not be removed"
finish

#!/usr/bin/env bash
# The control socket in a directory another user controls. (a) A directory
# owned by nobody, and one anyone may write: `imqd -t` and the start refuse
# the file, naming the directory, and create nothing. (b) nobody puts a
# listener of its own on the socket path (an impostor): root's `imqctl
# reload` refuses to talk to it, and the impostor gets no request; with
# imqd.conf naming nobody as imqd's user ($IMQD_CONFIG) it is taken for
# imqd. (c) The real imqd, started as root (user unset, then user = nobody:
# it listens before it switches) in a directory of root's: imqctl works.
# Before: imqd used such a directory, and root's `imqctl reload` got "ok"
# from the impostor while nothing was reloaded.
. "$(dirname "$0")/lib.sh"
e2e_init fault_ctl_trust

PY=/usr/bin/python3 # nobody cannot run a python3 under /root, as $PYTHON may be
[ -x "$PY" ] || fail "no $PY"
need_tools setpriv
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
ns_new g GW
chmod 711 "$T_TMP" || fail "chmod $T_TMP"
mkdir -m 755 "$T_TMP/nobody" "$T_TMP/anyone" "$T_TMP/run" || fail "mkdir failed"
{ chown nobody "$T_TMP/nobody" && chmod 777 "$T_TMP/anyone"; } || fail "chown/chmod failed"

# conf FILE SOCKET [GLOBAL_LINE]: a file with imq0 on queue 0.
conf() {
	printf '[global]\ncontrol-socket = %s\n%s\n[imq0]\nqueues = 0\n' "$2" "${3:-}" >"$1" ||
		fail "cannot write $1"
}

# refused WHAT DIR WHY: imqd -t and a start exit 1 naming DIR and WHY; no imq0.
refused() {
	local what=$1 dir=$2 why=$3 rc
	local want="$T_TMP/$what.conf:2: control-socket $dir/imqd.sock: $dir $why, who could replace the socket"
	conf "$T_TMP/$what.conf" "$dir/imqd.sock"
	"$IMQD" -t -c "$T_TMP/$what.conf" >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	assert_eq "$what: imqd -t exit status" 1 "$rc"
	if grep -qF "$want" "$T_TMP/err"; then
		pass_msg "$what: imqd -t says: $(head -n 1 "$T_TMP/err")"
	else
		mismatch "$what: imqd -t: expected '$want...', got: $(cat "$T_TMP/err")"
	fi
	timeout 10 ip netns exec "$GW" "$IMQD" -c "$T_TMP/$what.conf" 2>"$T_TMP/err"
	rc=$?
	assert_eq "$what: start exit status" 1 "$rc"
	grep -qF "$want" "$T_TMP/err" || mismatch "$what: start: expected '$want...', got: $(cat "$T_TMP/err")"
	if nsx "$GW" ip link show imq0 >/dev/null 2>&1; then
		mismatch "$what: the refused start created imq0"
		nsx "$GW" ip link del imq0
	fi
	[ -e "$dir/imqd.sock" ] && mismatch "$what: the refused start created $dir/imqd.sock"
}

# (a)
refused "nobody's directory" "$T_TMP/nobody" "is owned by nobody (uid 65534)"
refused "anyone's directory" "$T_TMP/anyone" "is writable by anyone"
conf "$T_TMP/user.conf" "$T_TMP/nobody/imqd.sock" "user = nobody"
"$IMQD" -t -c "$T_TMP/user.conf" >"$T_TMP/out" 2>&1
assert_eq "nobody's directory, user = nobody: imqd -t exit status (nobody is imqd's user)" 0 "$?"

# (b) The impostor (tests/tools/ctlimpostor.py) answers "ok" to anything
# and writes what it got.
{ cp "$TOOLS/ctlimpostor.py" "$T_TMP/ctlimpostor.py" && chmod 644 "$T_TMP/ctlimpostor.py"; } ||
	fail "cannot copy ctlimpostor.py"
IMPOSTOR_SOCK=$T_TMP/nobody/imqd.sock
{ : >"$T_TMP/impostor.got" && chown nobody "$T_TMP/impostor.got"; } || fail "cannot make impostor.got"
"${AS_NOBODY[@]}" "$PY" "$T_TMP/ctlimpostor.py" "$IMPOSTOR_SOCK" "$T_TMP/impostor.got" 20 &
T_PIDS+=("$!")
# shellcheck disable=SC2016 # expanded by wait_until, at each try
wait_until 5 '[ -S "$IMPOSTOR_SOCK" ]' || fail "the impostor did not listen on $IMPOSTOR_SOCK"
conf "$T_TMP/root.conf" "$T_TMP/run/imqd.sock"
IMQD_CONFIG=$T_TMP/root.conf timeout 20 "$IMQCTL" -s "$IMPOSTOR_SOCK" reload >"$T_TMP/out" 2>"$T_TMP/err"
assert_eq "impostor: root's imqctl reload exit status" 1 "$?"
if grep -qF "runs as nobody (uid 65534), not as root or imqd's user ($T_TMP/root.conf sets no user): it may not be imqd; refusing" "$T_TMP/err"; then
	pass_msg "impostor: imqctl says: $(cat "$T_TMP/err")"
else
	mismatch "impostor: imqctl's error: $(cat "$T_TMP/err")"
fi
assert_eq "impostor: bytes it received from imqctl" 0 "$(stat -c %s "$T_TMP/impostor.got")"
IMQD_CONFIG=$T_TMP/user.conf timeout 20 "$IMQCTL" -s "$IMPOSTOR_SOCK" reload >"$T_TMP/out" 2>&1
assert_eq "listener of nobody, imqd.conf names user = nobody: imqctl reload exit status" 0 "$?"
assert_eq "listener of nobody, imqd.conf names user = nobody: request it got" reload "$(cat "$T_TMP/impostor.got")"

# (c)
for global in "" "user = nobody"; do
	conf "$T_TMP/imqd.conf" "$T_TMP/run/imqd.sock" "$global"
	start_imqd_conf "$T_TMP/imqd.conf"
	IMQD_CONFIG=/nonexistent timeout 20 "$IMQCTL" -s "$IMQD_SOCK" reload >"$T_TMP/out" 2>&1
	assert_eq "imqd as root (${global:-user unset}): imqctl reload exit status" 0 "$?"
	stop_imqd
done
finish

#!/bin/sh
# Config file tests: each good/X.conf must print good/X.expected with -T and
# pass -t; each bad/X.conf must fail -t with exactly the stderr in bad/X.err.
# Usage: run.sh IMQD
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 IMQD" >&2
	exit 2
fi
case $1 in
/*) imqd=$1 ;;
*) imqd=$(pwd)/$1 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0

fail()
{
	echo "FAIL: $1"
	failed=$((failed + 1))
}

# What -t wrote to stderr but its notes (a device without ecn-mark, say).
notes_out()
{
	# The warning about /dev/net/tun depends on the host: checked on its own below.
	grep -v -e '^imqd: note: ' -e ' cannot open /dev/net/tun ' "$tmp/err"
}

# Exit status, stdout and stderr of one run, with errors named as the file.
run()
{
	"$imqd" "$1" -c "$2" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

check_good()
{
	run -T "$1"
	if [ $rc -ne 0 ] || ! diff -u "${1%.conf}.expected" "$tmp/out" ||
	    ! diff -u /dev/null "$tmp/err"; then
		fail "good/$1 (imqd -T: exit status $rc)"
		return
	fi
	run -t "$1"
	if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != "configuration OK" ]; then
		fail "good/$1 (imqd -t: exit status $rc)"
		cat "$tmp/out" "$tmp/err"
		return
	fi
	passed=$((passed + 1))
}

check_bad()
{
	run -t "$1"
	if [ $rc -ne 1 ] || ! diff -u "${1%.conf}.err" "$tmp/err" ||
	    ! diff -u /dev/null "$tmp/out"; then
		fail "bad/$1 (imqd -t: exit status $rc)"
		return
	fi
	passed=$((passed + 1))
}

cd "$here/good" || exit 2
for f in *.conf; do
	check_good "$f"
done
cd "$here/bad" || exit 2
for f in *.conf; do
	check_bad "$f"
done

# metrics-file where it cannot be written yet: -t passes (imqd writes the
# file once it can) and warns, naming the file and why.
check_metrics()
{
	printf '[global]\nmetrics-file = %s\n%s\n[imq0]\nqueues = 0\n' "$1" "${3:-}" >"$tmp/metrics.conf"
	run -t "$tmp/metrics.conf"
	if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != "configuration OK" ] ||
	    [ "$(notes_out)" != "$2" ]; then
		fail "metrics-file $1 (imqd -t: exit status $rc)"
		cat "$tmp/out" "$tmp/err"
		return
	fi
	passed=$((passed + 1))
}
mkdir "$tmp/metrics" || exit 2
later="imqd logs this once and writes the file once it can"
check_metrics "$tmp/metrics/m.prom" ""
check_metrics "$tmp/nodir/m.prom" \
	"imqd: warning: metrics-file $tmp/nodir/m.prom cannot be written: $tmp/nodir: No such file or directory; $later"
check_metrics "$tmp/metrics.conf/m.prom" \
	"imqd: warning: metrics-file $tmp/metrics.conf/m.prom cannot be written: $tmp/metrics.conf: Not a directory; $later"
check_metrics "$tmp/metrics" \
	"imqd: warning: metrics-file $tmp/metrics cannot be written: $tmp/metrics: Is a directory; $later"
# Checked by root for the user imqd will run as: nobody may not write there.
if [ "$(id -u)" = 0 ]; then
	check_metrics "$tmp/metrics/m.prom" \
		"imqd: warning: metrics-file $tmp/metrics/m.prom cannot be written: $tmp/metrics: Permission denied; $later" \
		"user = nobody"
fi

# multiqueue devices that get one tree only: -t passes and warns, with file:line.
printf '[global]\nworkers = 1\n\n[imq0]\nqueues = 0-1\nmultiqueue = yes\n\n[imq1]\nqueues = 2\nmultiqueue = yes\n' \
	>"$tmp/trees.conf"
run -t "$tmp/trees.conf"
expected="imqd: warning: $tmp/trees.conf:4: imq0: multiqueue with workers = 1 is one tree on the main loop
imqd: warning: $tmp/trees.conf:8: imq1: multiqueue with one queue is one tree on one worker; give it a queue per worker"
if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != "configuration OK" ] || [ "$(notes_out)" != "$expected" ]; then
	fail "multiqueue with one tree (imqd -t: exit status $rc)"
	cat "$tmp/out" "$tmp/err"
else
	passed=$((passed + 1))
fi

# user = X that cannot open /dev/net/tun (this host's mode of it decides):
# -t passes and warns, with file:line.
if [ "$(id -u)" = 0 ]; then
	printf '[global]\nuser = nobody\n\n[imq0]\nqueues = 0\n' >"$tmp/tun.conf"
	run -t "$tmp/tun.conf"
	if setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c ': <>/dev/net/tun' 2>/dev/null; then
		expected=""
	else
		expected="imqd: warning: $tmp/tun.conf:2: user nobody cannot open /dev/net/tun (Permission denied): a device deleted while imqd runs cannot be made again until imqd restarts"
	fi
	if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != "configuration OK" ] ||
		[ "$(grep -v '^imqd: note: ' "$tmp/err")" != "$expected" ]; then
		fail "user = nobody and /dev/net/tun (imqd -t: exit status $rc)"
		cat "$tmp/out" "$tmp/err"
	else
		passed=$((passed + 1))
	fi
fi

# user = X where imqd does not run as root: only X itself passes -t (the
# shipped unit runs the check as the service's user before starting imqd).
# As root the check runs as nobody; as anyone else, as that user.
check_user()
{
	printf '[global]\nuser = %s\n[imq0]\nqueues = 0\n' "$1" >"$tmp/user.conf"
	chmod 755 "$tmp" && chmod 644 "$tmp/user.conf" || exit 2
	if [ "$(id -u)" = 0 ]; then
		# A copy nobody can run, wherever the build is (/root is 0700).
		cp "$imqd" "$tmp/imqd-copy" && chmod 755 "$tmp/imqd-copy" || exit 2
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
			"$tmp/imqd-copy" -t -c "$tmp/user.conf" >"$tmp/out" 2>"$tmp/err"
	else
		"$imqd" -t -c "$tmp/user.conf" >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
	if [ $rc -ne "$2" ] || [ "$(notes_out)" != "$3" ]; then
		fail "user = $1 (imqd -t not as root: exit status $rc)"
		cat "$tmp/out" "$tmp/err"
		return
	fi
	passed=$((passed + 1))
}
me=nobody
[ "$(id -u)" = 0 ] || me=$(id -un)
uid=$(id -u "$me")
check_user "$me" 0 ""
check_user root 1 "$tmp/user.conf:2: user = root: only root can switch users, and imqd runs as uid $uid; leave user unset where the service manager starts imqd as its user"

# More queues than the open-files limit allows (a socket each): refused with
# file:line, so a reload keeps the running configuration instead of leaving
# imqd without descriptors.
printf '[imq0]\nqueues = 0-100\n\n[imq1]\nqueues = 101-300\n' >"$tmp/nofile.conf"
prlimit --nofile=256:256 "$imqd" -t -c "$tmp/nofile.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
expected="$tmp/nofile.conf:4: imq1: the queues up to here need about 445 open files, more than the limit of 256 (RLIMIT_NOFILE; LimitNOFILE= under systemd): give the devices fewer queues or raise the limit"
if [ $rc -ne 1 ] || [ "$(notes_out)" != "$expected" ]; then
	fail "more queues than open files (imqd -t: exit status $rc)"
	cat "$tmp/out" "$tmp/err"
else
	passed=$((passed + 1))
fi
prlimit --nofile=256:512 "$imqd" -t -c "$tmp/nofile.conf" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || [ "$(cat "$tmp/out")" != "configuration OK" ]; then
	fail "queues within the hard open-files limit (imqd -t: exit status $rc)"
	cat "$tmp/out" "$tmp/err"
else
	passed=$((passed + 1))
fi

# -t says what a device without ecn-mark does with CE marks, and only then.
cd "$here/good" || exit 2
run -t minimal.conf
if grep -q '^imqd: note: imq0 has no ecn-mark: a packet whose copy its qdisc marks' "$tmp/err"; then
	passed=$((passed + 1))
else
	fail "good/minimal.conf: imqd -t does not say what no ecn-mark means"
fi
run -t all-keys.conf
if grep -q 'ecn-mark' "$tmp/err"; then
	fail "good/all-keys.conf: imqd -t notes ecn-mark although it is set"
else
	passed=$((passed + 1))
fi

# A FIFO or a device as the file: refused at once, not read forever (a FIFO
# with no writer would block the open, /dev/kmsg the reads).
check_not_regular()
{
	timeout 10 "$imqd" -t -c "$1" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 1 ] || [ "$(cat "$tmp/err")" != "$1: not a regular file" ]; then
		fail "imqd -t -c $1 (not a regular file): exit status $rc"
		cat "$tmp/out" "$tmp/err"
		return
	fi
	passed=$((passed + 1))
}
mkfifo "$tmp/fifo.conf" || exit 2
check_not_regular "$tmp/fifo.conf"
check_not_regular /dev/null
[ -r /dev/kmsg ] && check_not_regular /dev/kmsg

# The control socket's directory, and those above it, must be writable by
# root or imqd's user only (as root: the directories are made by root for
# nobody or for anyone). Sticky /tmp above a directory of root's is fine.
check_socket_dir()
{
	printf '[global]\ncontrol-socket = %s/imqd.sock\n%s\n[imq0]\nqueues = 0\n' "$1" "${3:-}" \
		>"$tmp/socket.conf"
	run -t "$tmp/socket.conf"
	want=$2
	[ -n "$want" ] && want="$tmp/socket.conf:2: control-socket $1/imqd.sock: $want, who could replace the socket: its directory and those above must belong to root or imqd's user and be writable by no one else"
	if [ $rc -ne "$([ -n "$want" ] && echo 1 || echo 0)" ] || [ "$(notes_out)" != "$want" ]; then
		fail "control-socket in $1 (imqd -t: exit status $rc)"
		cat "$tmp/out" "$tmp/err"
		return
	fi
	passed=$((passed + 1))
}
if [ "$(id -u)" = 0 ]; then
	mkdir -m 755 "$tmp/nobody" "$tmp/anyone" "$tmp/sticky" "$tmp/root" || exit 2
	chown nobody "$tmp/nobody" && chmod 777 "$tmp/anyone" && chmod 1777 "$tmp/sticky" || exit 2
	check_socket_dir "$tmp/nobody" "$tmp/nobody is owned by nobody (uid 65534)"
	check_socket_dir "$tmp/nobody/run" "$tmp/nobody is owned by nobody (uid 65534)"
	check_socket_dir "$tmp/anyone" "$tmp/anyone is writable by anyone"
	check_socket_dir "$tmp/sticky" "$tmp/sticky is writable by anyone"
	ln -s "$tmp/root" "$tmp/anyone/link" || exit 2
	check_socket_dir "$tmp/anyone/link" "$tmp/anyone is writable by anyone"
	check_socket_dir "$tmp/root" ""
	check_socket_dir "$tmp/sticky/new" "$tmp/sticky is writable by anyone"
	mkdir -m 700 "$tmp/sticky/root" || exit 2
	check_socket_dir "$tmp/sticky/root" ""
	check_socket_dir "$tmp/nobody" "" "user = nobody"
fi

# The shipped example must stay valid.
cd "$here/../../conf" || exit 2
run -t imqd.conf
if [ $rc -eq 0 ]; then
	passed=$((passed + 1))
else
	fail "conf/imqd.conf (imqd -t: exit status $rc)"
	cat "$tmp/err"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

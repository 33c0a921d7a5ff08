#!/usr/bin/env bash
# install.sh BUILD_DIR: `cmake --install BUILD_DIR --prefix /usr` into a
# temporary DESTDIR installs exactly the files of expected-files.txt (the
# programs, man pages, systemd unit, sysusers file and the example
# /etc/imqd.conf); the unit starts the installed imqd; installing again over
# an edited etc/imqd.conf keeps the edits.
set -u
NAME=install_files
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
FAILS=()

fail() { printf 'FAIL: %s: %s\n' "$NAME" "$*"; exit 1; }
mismatch() { printf '[%s] MISMATCH: %s\n' "$NAME" "$*" >&2; FAILS+=("$*"); }
ok() { printf '[%s] ok: %s\n' "$NAME" "$*" >&2; }

BUILD=${1:-}
[ -n "$BUILD" ] || fail "usage: install.sh BUILD_DIR"
[ -f "$BUILD/cmake_install.cmake" ] || fail "$BUILD is not a configured build directory (no cmake_install.cmake)"
command -v cmake >/dev/null 2>&1 || fail "required tool 'cmake' not found"
TMP=$(mktemp -d "/tmp/imqd-install.$$.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
ROOT=$TMP/root

# run_install WHAT: cmake --install into $ROOT; its output in $TMP/WHAT.log.
run_install() {
	if ! DESTDIR=$ROOT timeout 120 cmake --install "$BUILD" --prefix /usr >"$TMP/$1.log" 2>&1; then
		cat "$TMP/$1.log" >&2
		fail "$1: cmake --install $BUILD --prefix /usr failed"
	fi
}

# 1. A fresh install: the list of files.
run_install first
grep -vE '^[[:space:]]*(#|$)' "$HERE/expected-files.txt" | sed 's/[[:space:]]*$//' | sort -u >"$TMP/expected"
(cd "$ROOT" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$TMP/installed"
missing=$(comm -23 "$TMP/expected" "$TMP/installed")
extra=$(comm -13 "$TMP/expected" "$TMP/installed")
[ -z "$missing" ] || mismatch "not installed: $(tr "\n" " " <<<"$missing")"
[ -z "$extra" ] || mismatch "installed but not expected: $(tr "\n" " " <<<"$extra")"
[ -z "$missing$extra" ] && ok "installed files match expected-files.txt ($(wc -l <"$TMP/installed") files)"

for p in usr/sbin/imqd usr/sbin/imqctl; do
	if [ -e "$ROOT/$p" ]; then
		[ -x "$ROOT/$p" ] && ok "$p is executable" || mismatch "$p is not executable"
	fi
done
if [ -f "$ROOT/etc/imqd.conf" ] && [ -f "$SRC/conf/imqd.conf" ]; then
	cmp -s "$ROOT/etc/imqd.conf" "$SRC/conf/imqd.conf" && ok "etc/imqd.conf is conf/imqd.conf" ||
		mismatch "etc/imqd.conf differs from the example conf/imqd.conf"
fi
# The unit must start the imqd this install put in place.
unit=$ROOT/lib/systemd/system/imqd.service
if [ -f "$unit" ]; then
	exe=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$unit" | head -n 1)
	if [ -z "$exe" ]; then
		mismatch "imqd.service has no ExecStart="
	elif [ -x "$ROOT$exe" ]; then
		ok "imqd.service starts $exe, which is installed"
	else
		mismatch "imqd.service starts $exe, which this install (prefix /usr) did not put in place"
	fi
fi

# 2. Again, over an edited etc/imqd.conf: the edits stay.
if [ -f "$ROOT/etc/imqd.conf" ]; then
	printf '# edited by the administrator (%s)\n[imq0]\nqueues = 7\n' "$$" >"$ROOT/etc/imqd.conf"
	cp "$ROOT/etc/imqd.conf" "$TMP/edited"
	touch -d '2001-01-01' "$ROOT/etc/imqd.conf" "$TMP/edited"
	run_install second
	if cmp -s "$ROOT/etc/imqd.conf" "$TMP/edited"; then
		ok "a second install kept the edited etc/imqd.conf"
	else
		mismatch "a second install overwrote the edited etc/imqd.conf"
	fi
	(cd "$ROOT" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) >"$TMP/installed2"
	cmp -s "$TMP/installed" "$TMP/installed2" || mismatch "the second install changed the list of files"
else
	mismatch "no etc/imqd.conf installed: cannot check that a reinstall keeps an edited one"
fi

if [ "${#FAILS[@]}" -eq 0 ]; then
	printf 'PASS: %s\n' "$NAME"
	exit 0
fi
IFS=';'
printf 'FAIL: %s: %s\n' "$NAME" "${FAILS[*]}"
exit 1

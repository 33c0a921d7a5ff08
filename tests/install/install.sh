#!/usr/bin/env bash
# install.sh BUILD_DIR: `cmake --install BUILD_DIR --prefix /usr` into a
# temporary DESTDIR installs exactly the files of expected-files.txt (the
# programs, man pages, systemd unit, sysusers file and the example
# /etc/imqd.conf); the unit starts the installed imqd; installing again over
# an edited etc/imqd.conf keeps the edits. With --prefix /usr/local the unit
# and sysusers file go under /usr/local too, and the unit runs
# /usr/local/sbin/imqd with /usr/local/etc/imqd.conf. Run as root, it also
# installs as an unprivileged user (nobody) into a DESTDIR of that user's.
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

# run_install WHAT [PREFIX [DESTDIR]]: cmake --install into DESTDIR ($ROOT)
# with PREFIX (/usr); its output in $TMP/WHAT.log.
run_install() {
	local prefix=${2:-/usr} dest=${3:-$ROOT}
	if ! DESTDIR=$dest timeout 120 cmake --install "$BUILD" --prefix "$prefix" >"$TMP/$1.log" 2>&1; then
		cat "$TMP/$1.log" >&2
		fail "$1: cmake --install $BUILD --prefix $prefix failed"
	fi
}

# check_unit WHAT UNIT DEST PREFIX CONF: every program UNIT runs and the
# file it gives -c are installed under DEST, in PREFIX or CONF itself.
check_unit() {
	local what=$1 unit=$2 dest=$3 prefix=$4 conf=$5 paths p
	[ -f "$unit" ] || { mismatch "$what: no unit at ${unit#"$dest"}"; return; }
	paths=$(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*//p' "$unit" | tr ' ' '\n' | grep '^/' | sort -u)
	[ -n "$paths" ] || { mismatch "$what: the unit names no file"; return; }
	for p in $paths; do
		if [ ! -e "$dest$p" ]; then
			mismatch "$what: the unit names $p, which this install did not put in place"
		elif [[ $p != "$prefix"/* ]] && [ "$p" != "$conf" ]; then
			mismatch "$what: the unit names $p, outside the prefix $prefix"
		else
			ok "$what: the unit names $p, installed"
		fi
	done
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
check_unit "prefix /usr" "$ROOT/lib/systemd/system/imqd.service" "$ROOT" /usr /etc/imqd.conf

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

# 3. Another prefix: the unit and the sysusers entry go under it, where
# systemd looks too, and the unit runs that prefix's imqd and imqd.conf.
# The configuration goes under the prefix unless the build was configured
# with an absolute CMAKE_INSTALL_SYSCONFDIR (as Debian's build is, /etc).
confdir=$(sed -n 's/^CMAKE_INSTALL_SYSCONFDIR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
case ${confdir:=etc} in
/*) conf=$confdir/imqd.conf ;;
*) conf=/usr/local/$confdir/imqd.conf ;;
esac
run_install local /usr/local "$TMP/local"
for p in usr/local/lib/systemd/system/imqd.service usr/local/lib/sysusers.d/imqd.conf \
	"${conf#/}" usr/local/sbin/imqd; do
	[ -f "$TMP/local/$p" ] && ok "prefix /usr/local: $p" || mismatch "prefix /usr/local: no $p"
done
leaked=$(cd "$TMP/local" && find . -type f ! -path './usr/local/*' ! -path ".$conf" | sed 's|^\./||')
[ -z "$leaked" ] || mismatch "prefix /usr/local: installed outside it: $(tr '\n' ' ' <<<"$leaked")"
check_unit "prefix /usr/local" "$TMP/local/usr/local/lib/systemd/system/imqd.service" \
	"$TMP/local" /usr/local "$conf"

# 4. As an unprivileged user into a DESTDIR of its own. cmake --install also
# writes the manifest and the unit it makes into the build directory, which
# a user's own build lets it do: make those two writable for nobody here.
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
if [ "$(id -u)" -eq 0 ] && ! as_nobody test -r "$BUILD/cmake_install.cmake"; then
	printf '[%s] not checked: nobody cannot read %s\n' "$NAME" "$BUILD" >&2
elif [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$TMP/user" "$BUILD/imqd-install"
	touch "$BUILD/install_manifest.txt"
	chown -R nobody "$TMP/user" "$BUILD/imqd-install" "$BUILD/install_manifest.txt"
	chmod 755 "$TMP"
	if as_nobody env DESTDIR="$TMP/user/root" \
		timeout 120 cmake --install "$BUILD" --prefix /usr >"$TMP/user.log" 2>&1; then
		n=$(cd "$TMP/user/root" && find . -type f | wc -l)
		[ "$n" -eq "$(wc -l <"$TMP/expected")" ] && ok "as nobody: $n files installed into DESTDIR" ||
			mismatch "as nobody: $n files installed, expected $(wc -l <"$TMP/expected")"
	else
		cat "$TMP/user.log" >&2
		mismatch "as nobody: cmake --install into a DESTDIR failed"
	fi
	chown -R root "$BUILD/imqd-install" "$BUILD/install_manifest.txt"
else
	ok "not root: this run itself is an install as an unprivileged user"
fi

if [ "${#FAILS[@]}" -eq 0 ]; then
	printf 'PASS: %s\n' "$NAME"
	exit 0
fi
IFS=';'
printf 'FAIL: %s: %s\n' "$NAME" "${FAILS[*]}"
exit 1

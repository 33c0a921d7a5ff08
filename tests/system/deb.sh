#!/usr/bin/env bash
# deb.sh OUTDIR: build imqd's Debian package from this source tree with
# `dpkg-buildpackage -b -us -uc` and check it with lintian, which must
# report no error and no warning. The tree is copied first (its files known
# to git, committed or not), so that neither the build directory
# obj-*/ nor the .deb, which dpkg-buildpackage writes next to the tree, ends
# up in it. OUTDIR receives the .deb files, .buildinfo, .changes, the build
# log (build.log) and lintian's report (lintian.txt).
set -u
NAME=deb
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

fail() { printf 'FAIL: %s: %s\n' "$NAME" "$*"; exit 1; }
log() { printf '[%s %s] %s\n' "$NAME" "$(date +%T)" "$*" >&2; }

OUT=${1:-}
[ -n "$OUT" ] || fail "usage: deb.sh OUTDIR"
for t in dpkg-buildpackage dpkg-checkbuilddeps lintian git tar; do
	command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' not found (apt-get install dpkg-dev debhelper lintian git)"
done
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || fail "cannot create $OUT"
TMP=$(mktemp -d "/tmp/imqd-deb.$$.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
# Readable by all, as a build directory usually is: the install test also
# installs as an unprivileged user.
chmod 755 "$TMP"

mkdir "$TMP/imqd"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
	tar -xf - -C "$TMP/imqd" || fail "cannot copy the source tree from $SRC"
cd "$TMP/imqd" || fail "cd $TMP/imqd"
dpkg-checkbuilddeps || fail "build dependencies missing (above)"
log "dpkg-buildpackage -b -us -uc (log: $OUT/build.log)"
if ! dpkg-buildpackage -b -us -uc >"$OUT/build.log" 2>&1; then
	tail -n 40 "$OUT/build.log" >&2
	fail "dpkg-buildpackage failed (end of its log above)"
fi
cd "$TMP" || fail "cd $TMP"
rm -f "$OUT"/imqd*.deb "$OUT"/imqd_*.buildinfo "$OUT"/imqd_*.changes
mv imqd*.deb imqd_*.buildinfo imqd_*.changes "$OUT"/ || fail "dpkg-buildpackage left no .deb"

# Errors and warnings fail; overrides are in debian/ with their reasons.
lintian --fail-on error,warning --display-info "$OUT"/imqd_*.changes >"$OUT/lintian.txt" 2>&1
rc=$?
cat "$OUT/lintian.txt" >&2
[ "$rc" -eq 0 ] || fail "lintian reports errors or warnings (above)"
log "built and checked: $(cd "$OUT" && ls imqd*.deb | tr '\n' ' ')"
printf 'PASS: %s\n' "$NAME"

#!/usr/bin/env bash
# cli.sh IMQCTL IMQD: imqctl's command line without a running imqd: -V,
# usage errors (exit 2), rules -c FILE in each format against the files
# beside this script (bridge = yes too), its errors (exit 1), show -j and
# classes reaching for a socket instead of refusing their options.
set -u
NAME=imqctl_cli
HERE=$(cd "$(dirname "$0")" && pwd)
FAILS=()

fail() { printf 'FAIL: %s: %s\n' "$NAME" "$*"; exit 1; }
mismatch() { printf '[%s] MISMATCH: %s\n' "$NAME" "$*" >&2; FAILS+=("$*"); }
ok() { printf '[%s] ok: %s\n' "$NAME" "$*" >&2; }

IMQCTL=${1:-}
IMQD=${2:-}
[ -x "$IMQCTL" ] && [ -x "$IMQD" ] || fail "usage: cli.sh IMQCTL IMQD"
command -v python3 >/dev/null 2>&1 || fail "required tool 'python3' not found"
TMP=$(mktemp -d "/tmp/imqd-cli.$$.XXXXXX") || fail "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
export IMQD_SOCKET=$TMP/no-imqd.sock

# run WANT_STATUS WHAT ARGS...: imqctl ARGS exits WANT_STATUS; output in $TMP/out, $TMP/err.
run() {
	local want=$1 what=$2 rc
	shift 2
	timeout 10 "$IMQCTL" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$what: exit $rc"
		return 0
	fi
	mismatch "$what: imqctl $* exited $rc, expected $want ($(head -n 1 "$TMP/err"))"
	return 1
}

# same WHAT FILE: $TMP/out is FILE.
same() {
	if cmp -s "$TMP/out" "$2"; then ok "$1: as in $(basename "$2")"; else
		diff -u "$2" "$TMP/out" >&2
		mismatch "$1: output differs from $(basename "$2")"
	fi
}

# 1. The version, as imqd's.
want=$("$IMQD" -V) || fail "imqd -V failed"
for opt in -V --version; do
	run 0 "imqctl $opt" "$opt" && [ "$(cat "$TMP/out")" = "imqctl ${want#imqd }" ] &&
		ok "imqctl $opt prints $(cat "$TMP/out")" ||
		mismatch "imqctl $opt printed '$(cat "$TMP/out")', imqd -V '$want'"
done

# 2. Options a command does not take are usage errors.
run 2 "-j with reload" -j reload
run 2 "-o prometheus with show" -o prometheus show
run 2 "-o prometheus with rules" -o prometheus rules
run 2 "--nft with stats" --nft stats
run 2 "--nft with -j" --nft -j rules
run 2 "-c with show" -c "$HERE/rules.conf" show
run 2 "an unknown option" --frobnicate show

# 3. rules -c FILE, without imqd, in each format.
conf=$HERE/rules.conf
run 0 "rules -c" rules -c "$conf" && same "rules -c" "$HERE/rules.txt"
run 0 "rules -c -j" -j rules -c "$conf" && same "rules -c -j" "$HERE/rules.json"
run 0 "rules -c --nft" rules --nft -c "$conf" && same "rules -c --nft" "$HERE/rules.nft"
run 0 "rules -c -p" -p rules -c "$conf"
if python3 -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); sys.exit(a != b)' \
	"$TMP/out" "$HERE/rules.json"; then
	ok "rules -p is rules -j indented"
else
	mismatch "rules -c -p is not the same JSON as rules -c -j"
fi
run 0 "rules -c, bridge = yes" rules -c "$HERE/rules-bridge.conf" &&
	same "rules -c, bridge = yes" "$HERE/rules-bridge.txt"
run 0 "rules -c --nft, bridge = yes" rules --nft -c "$HERE/rules-bridge.conf"
[ "$(grep -c ' queue flags bypass to ' "$TMP/out")" = 2 ] &&
	grep -q '# imq0: bridge = yes' "$TMP/out" && ok "rules --nft: imq1's two rules, a comment for imq0" ||
	mismatch "rules --nft printed queue rules for the bridge device, or none for imq1"
# A multiqueue device's example rule names only the first tree's queues.
printf '[imq0]\nqueues = 0-3\nmultiqueue = yes\n\n[imq1]\nqueues = 4,6,8,10\nmultiqueue = yes\n' \
	>"$TMP/mq.conf"
run 0 "rules -c, multiqueue" rules -c "$TMP/mq.conf"
tr '\n' ' ' <"$TMP/out" | sed 's/ # / /g' >"$TMP/mq.txt"
grep -q 'queues 0-1 are the first tree.s: -I PREROUTING -i IFACE -s 192.0.2.0/25 -j NFQUEUE --queue-balance 0:1 ' "$TMP/mq.txt" &&
	grep -q 'queue 4 is the first tree.s: -I PREROUTING -i IFACE -s 192.0.2.0/25 -j NFQUEUE --queue-num 4 ' "$TMP/mq.txt" &&
	ok "rules -c, multiqueue: the first tree's queues, as a range only where they are one" ||
	mismatch "rules -c, multiqueue: the example rule does not name the first tree's queues: $(grep -o 'first tree[^.]*' "$TMP/mq.txt")"
run 0 "rules -c imq1" rules -c "$conf" imq1
grep -q '^# imq0' "$TMP/out" && mismatch "rules -c FILE imq1 printed imq0's rules"
grep -q -- '--queue-num 6' "$TMP/out" && ok "rules -c FILE imq1 has imq1's rules" ||
	mismatch "rules -c FILE imq1 lacks queue 6"

# 4. Errors: a file with errors, an unknown device, a missing file.
printf '[imq0]\nqueues = 0\nrate = 1mbit\n' >"$TMP/bad.conf"
run 1 "rules -c with an invalid file" rules -c "$TMP/bad.conf"
grep -q "^$TMP/bad.conf:3: " "$TMP/err" && ok "the error names the file and line" ||
	mismatch "rules -c bad.conf: no $TMP/bad.conf:3: error ($(head -n 1 "$TMP/err"))"
[ -s "$TMP/out" ] && mismatch "rules -c with an invalid file printed rules"
run 1 "rules -c FILE for an unknown device" rules -c "$conf" imq9
grep -q "unknown device imq9" "$TMP/err" || mismatch "no 'unknown device imq9' message"
run 1 "rules -c with a missing file" rules -c "$TMP/missing.conf"

# 5. -j and -p for show and rules go to imqd (none here), not to the usage.
run 1 "show -j without imqd" -j show
grep -q "is imqd running" "$TMP/err" || mismatch "show -j: $(head -n 1 "$TMP/err")"
run 1 "rules -p without imqd" -p rules imq0

# 6. classes takes -i and -w, which no other command does; -w needs an interval.
run 2 "-i with show" -i 1 show
run 2 "-w with stats" -w stats
run 2 "-w with -i 0" -w -i 0 classes
run 2 "an interval below 0.1 s" -i 0.05 classes
run 2 "an interval that is not a number" -i 1s classes
run 2 "-o prometheus with classes" -o prometheus classes
run 1 "classes -j without imqd" -j -i 0 classes imq0
grep -q "is imqd running" "$TMP/err" || mismatch "classes -j: $(head -n 1 "$TMP/err")"

if [ "${#FAILS[@]}" -eq 0 ]; then
	printf 'PASS: %s\n' "$NAME"
	exit 0
fi
IFS=';'
printf 'FAIL: %s: %s\n' "$NAME" "${FAILS[*]}"
exit 1

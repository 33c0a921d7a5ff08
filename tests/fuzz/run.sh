#!/usr/bin/env bash
# Run imqd's libFuzzer targets for a while each; CI and ctest call this.
#
#   tests/fuzz/run.sh DIR SECONDS [conf|packet ...]
#
# DIR holds the fuzzers (fuzz_conf, fuzz_packet); any that is missing or
# older than its sources is built there first with clang ($CLANG, default
# clang). Each fuzzer runs SECONDS on a fresh copy of its seed corpus
# (tests/fuzz/corpus/NAME, copied to DIR/corpus-NAME, which keeps what the
# run found); a crash, leak, sanitizer report or timeout leaves its input in
# DIR/artifacts-NAME/ and fails the run. The log is DIR/fuzz_NAME.log.
# Reproduce a crash with: DIR/fuzz_NAME DIR/artifacts-NAME/crash-...
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 DIR SECONDS [conf|packet ...]" >&2; exit 2; }
dir=$1 secs=$2
shift 2
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(conf packet)
CLANG=${CLANG:-clang}
mkdir -p "$dir" || exit 2
dir=$(cd "$dir" && pwd)

# sources NAME: the files fuzz_NAME links besides its own, from the one list
# fuzz.cmake reads too.
sources() {
	local name files f
	while read -r name files; do
		[ "$name" = "$1" ] || continue
		for f in $files; do printf '%s\n' "$root/$f"; done
		return 0
	done <"$here/sources.txt"
	return 1
}
# shellcheck disable=SC2054 # commas belong to the -fsanitize list
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-D_GNU_SOURCE '-DIMQD_VERSION="fuzz"' '-DIMQD_CONF_PATH="/dev/null"' -I"$root/include")
xxhash=$(pkg-config --cflags --libs libxxhash 2>/dev/null || echo -lxxhash)

# build NAME: compile DIR/fuzz_NAME unless it is newer than everything it is made of.
build() {
	local bin=$dir/fuzz_$1 f srcs
	mapfile -t srcs < <(sources "$1")
	[ "${#srcs[@]}" -gt 0 ] || { echo "fuzz_$1: not in $here/sources.txt" >&2; return 1; }
	if [ -x "$bin" ]; then
		local stale=0
		for f in "$here/fuzz_$1.c" "${srcs[@]}" "$here/sources.txt" "$root"/include/*.h; do
			[ "$f" -nt "$bin" ] && stale=1
		done
		[ "$stale" = 0 ] && return 0
	fi
	command -v "$CLANG" >/dev/null 2>&1 || { echo "fuzz_$1: $CLANG not found (apt-get install clang)" >&2; return 1; }
	# shellcheck disable=SC2086 # xxhash is a list of flags
	"$CLANG" "${flags[@]}" "$here/fuzz_$1.c" "${srcs[@]}" $xxhash -o "$bin"
}

passed=0 failed=0
for name in "${names[@]}"; do
	if [ ! -f "$here/fuzz_$name.c" ] || [ ! -d "$here/corpus/$name" ]; then
		echo "FAIL: fuzz_$name: no such fuzzer or seed corpus"
		failed=$((failed + 1))
		continue
	fi
	if ! build "$name"; then
		echo "FAIL: fuzz_$name: build failed"
		failed=$((failed + 1))
		continue
	fi
	corpus=$dir/corpus-$name artifacts=$dir/artifacts-$name log=$dir/fuzz_$name.log
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	cp "$here/corpus/$name"/* "$corpus/"
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$artifacts/")
	[ -f "$here/$name.dict" ] && args+=(-dict="$here/$name.dict")
	"$dir/fuzz_$name" "${args[@]}" "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(awk '/stat::number_of_executed_units/ { print $NF }' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$rc" = 0 ] && [ -z "$(ls -A "$artifacts")" ]; then
		echo "PASS: fuzz_$name: ${runs:-?} inputs in ${secs}s, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) files"
		passed=$((passed + 1))
	else
		echo "FAIL: fuzz_$name: exit status $rc, artifacts: $(ls "$artifacts" | tr '\n' ' ')"
		grep -E -A 15 'ERROR|check failed|runtime error|deadly signal' "$log" | head -n 40
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]

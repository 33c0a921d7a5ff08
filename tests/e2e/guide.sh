# The recipes of docs/migrating-from-imq.md, taken from the guide as written
# so that its tests run what a reader copies; sourced by lib.sh.

# shellcheck shell=bash

IMQ_GUIDE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/migrating-from-imq.md

# guide_block NAME: the fenced code block that follows `<!-- test:NAME -->`
# in docs/migrating-from-imq.md, without its fences.
guide_block() {
	[ -r "$IMQ_GUIDE" ] || fail "cannot read $IMQ_GUIDE"
	awk -v tag="<!-- test:$1 -->" '
		$0 == tag { want = 1; next }
		want == 1 && /^```/ { want = 2; next }
		want == 2 && /^```/ { exit }
		want == 2 { print }' "$IMQ_GUIDE"
}

# guide_script NAME OUT [VAR=VALUE...]: write block NAME to OUT, a script,
# with the assignments `VAR=...` at the start of a line replaced by VALUE
# (the guide's eth0 becomes the test's interface). Fails when the block or a
# variable is missing.
guide_script() {
	local name=$1 out=$2 kv var
	shift 2
	guide_block "$name" >"$out"
	[ -s "$out" ] || fail "no block <!-- test:$name --> in $IMQ_GUIDE"
	for kv in "$@"; do
		var=${kv%%=*}
		grep -q "^$var=" "$out" || fail "block $name of the guide sets no $var"
		# The value from the environment: awk -v would read backslashes as escapes.
		VAR=$var VAL=${kv#*=} awk 'index($0, ENVIRON["VAR"] "=") == 1 { $0 = ENVIRON["VAR"] "=" ENVIRON["VAL"] }
			{ print }' "$out" >"$out.new" && mv "$out.new" "$out" || fail "cannot rewrite $out"
	done
	chmod 0755 "$out"
}

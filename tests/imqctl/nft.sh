#!/usr/bin/env bash
# nft.sh IMQCTL: the table `imqctl rules --nft -c rules.conf` prints, with
# IFACE replaced by lo, in a network namespace of its own. nft parses all of
# it; the kernel accepts all of it, or (built without nft_queue, as the
# kernel the project is tested on) refuses only the queue statements. With
# each queue statement replaced by a counter the table loads, and the
# continue-mark guard counts unmarked packets and passes over marked ones;
# with ecn-mark, the rules that set CE and clear the mark load as well.
# What this cannot check without nft_queue: that the queue statements send
# packets to imqd. Exit 77 (skipped) without root or nft.
set -u
NAME=imqctl_nft
HERE=$(cd "$(dirname "$0")" && pwd)
FAILS=()
NS=imqnft$$

fail() { printf 'FAIL: %s: %s\n' "$NAME" "$*"; exit 1; }
mismatch() { printf '[%s] MISMATCH: %s\n' "$NAME" "$*" >&2; FAILS+=("$*"); }
ok() { printf '[%s] ok: %s\n' "$NAME" "$*" >&2; }
skip() { printf 'SKIP: %s: %s\n' "$NAME" "$*"; exit 77; }

IMQCTL=${1:-}
[ -x "$IMQCTL" ] || fail "usage: nft.sh IMQCTL"
[ "$(id -u)" -eq 0 ] || skip "needs root (a network namespace)"
command -v nft >/dev/null 2>&1 || skip "nft not found (apt-get install nftables)"
TMP=$(mktemp -d "/tmp/imqd-nft.$$.XXXXXX") || fail "mktemp failed"
trap 'ip netns delete "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
ip netns add "$NS" || fail "cannot create namespace $NS"
ip netns exec "$NS" ip link set lo up
nsx() { ip netns exec "$NS" "$@"; }

"$IMQCTL" rules --nft -c "$HERE/rules.conf" >"$TMP/imqd.nft" || fail "imqctl rules --nft failed"
sed 's/IFACE/lo/' "$TMP/imqd.nft" >"$TMP/lo.nft"
nqueue=$(grep -c ' queue flags bypass to ' "$TMP/lo.nft")

# 1. As printed.
if nsx nft -c -f "$TMP/lo.nft" >"$TMP/check.out" 2>&1; then
	ok "nft -c accepts the whole table (this kernel has the queue statement)"
else
	cat "$TMP/check.out" >&2
	errors=$(grep -c 'Error:' "$TMP/check.out")
	refused=$(grep -c 'Error: Could not process rule: No such file or directory' "$TMP/check.out")
	# nft quotes each refused line under its error.
	quoted=$(grep -c '^[[:space:]]*[io]ifname "lo" .*queue flags bypass to ' "$TMP/check.out")
	if [ "$errors" -eq "$nqueue" ] && [ "$refused" -eq "$nqueue" ] && [ "$quoted" -eq "$nqueue" ]; then
		ok "nft parses the table; the kernel refuses only its $nqueue queue statements (no nft_queue)"
	else
		mismatch "nft -c: $errors errors, $refused refusals of the $nqueue queue statements"
	fi
fi

# 2. Queue statements as counters: loads, and the guard selects unmarked packets.
sed 's/queue flags bypass to [0-9-]*/counter/' "$TMP/lo.nft" >"$TMP/counter.nft"
nsx nft -f "$TMP/counter.nft" || fail "the table with counters for queue statements does not load"
listing=$(nsx nft list table inet imqd)
for want in 'type filter hook prerouting priority mangle; policy accept;' \
	'type filter hook postrouting priority mangle; policy accept;' \
	'iifname "lo" meta mark & 0x00000100 != 0x00000100 counter' \
	'oifname "lo" meta mark & 0x00000100 != 0x00000100 counter'; do
	grep -qF "$want" <<<"$listing" && ok "loaded: $want" || mismatch "not in nft's listing: $want"
done
# Echo replies carry the request's mark (fwmark_reflect), so a marked ping is marked both ways.
nsx sysctl -qw net.ipv4.fwmark_reflect=1 || fail "cannot set fwmark_reflect in $NS"
nsx ping -n -q -c 3 -i 0.2 -W 1 127.0.0.1 >/dev/null || mismatch "ping on lo failed"
nsx ping -n -q -c 2 -i 0.2 -W 1 -m 256 127.0.0.1 >/dev/null || mismatch "ping -m 256 on lo failed"
# The first rule of each chain is imq0's, with the guard: 3 requests and 3
# replies pass each chain unmarked; the marked ones do not count.
counts=$(nsx nft list table inet imqd | awk '/meta mark/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }')
[ "$counts" = $'6\n6' ] && ok "guarded rules counted the 6 unmarked packets of each chain, not the 4 marked" ||
	mismatch "guarded rules counted $(tr '\n' ' ' <<<"$counts")packets, expected 6 in each chain"

# 3. With ecn-mark: the CE and mark-clearing rules load too.
"$IMQCTL" rules --nft -c "$HERE/rules-ecn.conf" | sed 's/IFACE/lo/' >"$TMP/ecn.nft" ||
	fail "imqctl rules --nft (ecn-mark) failed"
nsx nft delete table inet imqd
sed 's/queue flags bypass to [0-9-]*/counter/' "$TMP/ecn.nft" >"$TMP/ecn-counter.nft"
nsx nft -f "$TMP/ecn-counter.nft" || fail "the ecn-mark table with counters does not load"
listing=$(nsx nft list table inet imqd)
for want in 'iifname "lo" meta mark & 0x00000200 == 0x00000200 ip ecn set ce' \
	'iifname "lo" meta mark & 0x00000200 == 0x00000200 ip6 ecn set ce' \
	'iifname "lo" meta mark & 0x00000200 != 0x00000200 counter' \
	'oifname "lo" meta mark & 0x00000200 == 0x00000200 meta mark set meta mark & 0xfffffdff'; do
	grep -qF "$want" <<<"$listing" && ok "ecn-mark: $want" || mismatch "ecn-mark: not in nft's listing: $want"
done

if [ "${#FAILS[@]}" -eq 0 ]; then
	printf 'PASS: %s\n' "$NAME"
	exit 0
fi
IFS=';'
printf 'FAIL: %s: %s\n' "$NAME" "${FAILS[*]}"
exit 1

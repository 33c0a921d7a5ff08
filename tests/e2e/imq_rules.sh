#!/usr/bin/env bash
# `imqctl rules` for imq0 with queues 0-3 and continue-mark 0x100/0x100 and
# imq1 with queues 4,6: the printed lines are the expected ones, iptables and
# ip6tables accept every one of them with IFACE replaced, and they work:
# with imq0's ingress rules on gw's interface from src and its egress rules
# on the interface to dst, IPv4 and IPv6 datagrams go through queues 0-3,
# each queued once (the continue bit makes the egress rule skip what
# the ingress rule queued), all arrive; after imqd stops they still pass
# (--queue-bypass). The comments must place mangle POSTROUTING before SNAT,
# where imq_nat_hooks.sh measures it. Also: imqN are up with no addresses
# and IPv6 off, as the guide says.
. "$(dirname "$0")/lib.sh"
e2e_init imq_rules

N=2000
N6=500
PORT=7500
topo_create
imqd_conf "$T_TMP/imqd.conf" "$T_TMP/imqd.sock" <<EOF
[imq0]
queues = 0-3
continue-mark = 0x100/0x100

[imq1]
queues = 4,6
EOF
start_imqd_conf "$T_TMP/imqd.conf"
G() { nsx "$GW" "$@"; }

# The guide: imqd brings imqN up itself, with no addresses and IPv6 off.
for d in imq0 imq1; do
	assert_eq "$d addresses" "" "$(G ip -o addr show dev "$d")"
	assert_eq "$d disable_ipv6" 1 "$(G cat /proc/sys/net/ipv6/conf/$d/disable_ipv6)"
done

"$IMQCTL" -s "$IMQD_SOCK" rules imq0 >"$T_TMP/rules0" 2>"$T_TMP/rules.err" ||
	{ cat "$T_TMP/rules.err" >&2; fail "imqctl rules imq0 failed"; }
"$IMQCTL" -s "$IMQD_SOCK" rules imq1 >"$T_TMP/rules1" 2>"$T_TMP/rules.err" ||
	{ cat "$T_TMP/rules.err" >&2; fail "imqctl rules imq1 failed"; }
dump_file "imqctl rules imq0" "$T_TMP/rules0"
dump_file "imqctl rules imq1" "$T_TMP/rules1"

# has FILE LINE: LINE is one of FILE's lines, exactly.
has() {
	if grep -qxF -- "$2" "$1"; then pass_msg "printed: $2"; else mismatch "not printed: $2"; fi
}
tail='-m mark ! --mark 0x100/0x100 -j NFQUEUE --queue-balance 0:3 --queue-bypass'
for t in iptables ip6tables; do
	has "$T_TMP/rules0" "$t -t mangle -A PREROUTING -i IFACE $tail"
	has "$T_TMP/rules0" "$t -t mangle -A POSTROUTING -o IFACE $tail"
	for q in 4 6; do
		has "$T_TMP/rules1" "$t -t mangle -A PREROUTING -i IFACE -j NFQUEUE --queue-num $q --queue-bypass"
		has "$T_TMP/rules1" "$t -t mangle -A POSTROUTING -o IFACE -j NFQUEUE --queue-num $q --queue-bypass"
	done
done
assert_eq "imq0 command lines" 4 "$(grep -vc '^#' "$T_TMP/rules0")"
assert_eq "imq0 command lines without --queue-bypass" 0 "$(grep -v '^#' "$T_TMP/rules0" | grep -vc -- '--queue-bypass')"
assert_eq "imq1 command lines" 8 "$(grep -vc '^#' "$T_TMP/rules1")"
assert_eq "imq1 lines with a mark guard (it has no continue-mark)" 0 "$(grep -c -- '--mark' "$T_TMP/rules1")"
if grep -qi 'after SNAT' "$T_TMP/rules0"; then
	mismatch "imqctl rules says POSTROUTING is after SNAT: $(grep -i 'after SNAT' "$T_TMP/rules0" | head -n 1)" \
		"(mangle POSTROUTING runs before SNAT, priority -150 < 100; see imq_nat_hooks.sh)"
else
	pass_msg "no comment places mangle POSTROUTING after SNAT"
fi
if "$IMQCTL" -s "$IMQD_SOCK" rules nosuch0 >/dev/null 2>&1; then
	mismatch "imqctl rules nosuch0 succeeded"
else
	pass_msg "imqctl rules nosuch0 fails"
fi

# Run the printed commands: imq0's ingress on gw's side to src, its egress
# on the side to dst; imq1's on an interface that carries nothing here.
run_printed() {
	local file=$1 line n=0
	while IFS= read -r line; do
		[[ -z $line || $line == \#* ]] && continue
		case $line in
		*" -i IFACE "*) line=${line/IFACE/$2} ;;
		*" -o IFACE "*) line=${line/IFACE/$3} ;;
		*) mismatch "printed line without IFACE: $line"; continue ;;
		esac
		if G bash -c "$line" 2>"$T_TMP/ipt.err"; then
			n=$((n + 1))
		else
			mismatch "rejected: $line: $(cat "$T_TMP/ipt.err")"
		fi
	done <"$file"
	printf '%s\n' "$n"
}
assert_eq "imq0 printed commands accepted" 4 "$(run_printed "$T_TMP/rules0" "$GW_IN" "$GW_OUT")"
assert_eq "imq1 printed commands accepted" 8 "$(run_printed "$T_TMP/rules1" unused0 unused0)"
log "mangle table: $(G iptables -t mangle -S)"

# send TAG ADDR COUNT [-6]: COUNT datagrams in 16 flows src -> dst; prints how many arrived.
send() {
	# shellcheck disable=SC2086 # $4 is an optional word
	bg "$DST" timeout 30 "$UDPSEQ" recv -p "$PORT" -n "$3" -t 20 -i ${4:-} >"$T_TMP/recv.$1.json"
	local rpid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$2" -p "$PORT" -n "$3" -f 16 -r 5000 -t 10 \
		>"$T_TMP/send.$1.json" || fail "udpseq send ($1) failed"
	wait_pid "$rpid" 25 || fail "udpseq recv ($1) did not finish"
	json_field "$T_TMP/recv.$1.json" received
}
assert_eq "IPv4 datagrams at dst" "$N" "$(send v4 "$DST_IP" "$N")"
assert_eq "IPv6 datagrams at dst" "$N6" "$(send v6 "$DST6" "$N6" -6)"
check_counters
# The rules also queue IPv6 neighbour discovery (gw's own on its egress
# side too): count what each rule matched, and check every one was queued
# once. Such a packet can come at any time: read the rules' counters on
# both sides of imqd's, until neither moved in between.
rule_counts() {
	echo "$(ipt_pkts "$GW" iptables mangle PREROUTING 1) $(ipt_pkts "$GW" ip6tables mangle PREROUTING 1)" \
		"$(ipt_pkts "$GW" iptables mangle POSTROUTING 1) $(ipt_pkts "$GW" ip6tables mangle POSTROUTING 1)"
}
for try in 1 2 3 4 5; do
	before=$(rule_counts)
	imqd_counters imq0
	after=$(rule_counts)
	[ "$before" = "$after" ] && [ "$S_held" = 0 ] && break
	log "a packet was queued while the counters were read (try $try): $before / $after"
	sleep 0.5
done
read -r q4 q6 e4 e6 <<<"$after"
log "rules matched: ingress IPv4 $q4, IPv6 $q6; egress IPv4 $e4, IPv6 $e6 (gw's own neighbour discovery)"
assert_eq "IPv4 ingress rule packets" "$N" "$q4"
assert_ge "IPv6 ingress rule packets" "$N6" "$q6"
assert_eq "IPv4 egress rule packets (the continue bit skips what ingress queued)" 0 "$e4"
all=$((q4 + q6 + e4 + e6))
assert_eq "imqd received (each packet queued once)" "$all" "$S_received"
assert_eq "imqd accepted" "$all" "$S_accepted"
imqd_counters imq1
assert_eq "imq1 received (its rules carry nothing)" 0 "$S_received"
# One snapshot (the imq1 read above, which has imq0 in it too): gw's own
# neighbour discovery may have added a packet or two since the totals were read.
stats_vars "$T_TMP/stats.json" imq0
sum=0 per=
for q in $S_per_queue; do
	v=S_q${q}_received
	sum=$((sum + ${!v})) per="$per $q:${!v}"
done
log "imq0 per queue (queue:received):$per; its total $S_received, their sum $sum"
assert_eq "imq0 queues" "0 1 2 3" "$S_per_queue"
assert_eq "imq0 sum over queues 0-3 (same snapshot as its total)" "$S_received" "$sum"
assert_ge "imq0 sum over queues 0-3 (at least the packets the rules matched)" "$all" "$sum"
check_nothing_queued
stop_imqd

# imqd gone: the rules stay, --queue-bypass lets traffic through.
assert_eq "IPv4 datagrams at dst with imqd stopped" "$N" "$(send stopped "$DST_IP" "$N")"
finish

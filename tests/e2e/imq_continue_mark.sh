#!/usr/bin/env bash
# The continue-mark recipe of docs/migrating-from-imq.md (section 3), as
# written: a MARK rule after the guarded queue rule in mangle FORWARD.
#   Without continue-mark: every packet queued once, the MARK rule reached by
#   none (NFQUEUE ends the chain).
#   With the guide's continue-mark: every packet queued once (no loop), the
#   MARK rule applied to every packet after shaping (a later rule matching
#   0x20/0xf0 counts all, one matching it and the continue bit too), a MARK
#   rule before the queue rule runs twice per packet, and on imq0 the copy
#   carries the mark set before the queue rule but not the one set after.
. "$(dirname "$0")/lib.sh"
e2e_init imq_continue_mark

N=1000
PORT=7400
topo_create
G() { nsx "$GW" "$@"; }

guide_script continue-mark "$T_TMP/rules.sh" IN="$GW_IN"
cmark=$(guide_block continue-mark-conf | grep '^continue-mark') ||
	fail "no continue-mark line in the guide's block continue-mark-conf"

# send_count TAG: N datagrams src -> dst; sets GOT (datagrams dst received).
send_count() {
	bg "$DST" timeout 30 "$UDPSEQ" recv -p "$PORT" -n "$N" -t 20 -i >"$T_TMP/recv.$1.json"
	local rpid=$BG_PID
	wait_listen "$DST" udp "$PORT"
	timeout 20 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$PORT" -n "$N" -r 2000 -t 10 \
		>"$T_TMP/send.$1.json" || fail "udpseq send failed"
	wait_pid "$rpid" 25 || fail "udpseq recv did not finish"
	GOT=$(json_field "$T_TMP/recv.$1.json" received)
}

# counters_rules: the guide's rules plus counting rules after them.
counting_rules() {
	G iptables -t mangle -F FORWARD
	G bash -e "$T_TMP/rules.sh" || fail "the guide's continue-mark rules failed"
	G iptables -t mangle -A FORWARD -i "$GW_IN" -m mark --mark 0x20/0xf0 || fail "counting rule failed"
	G iptables -t mangle -A FORWARD -i "$GW_IN" -m mark --mark 0x120/0x1f0 || fail "counting rule failed"
}

# --- 1. plain accept: the rules after the queue rule are never reached.
start_imqd 0
counting_rules
send_count plain
log "plain: $(G iptables -t mangle -L FORWARD -v -x -n)"
assert_eq "plain: datagrams at dst" "$N" "$GOT"
assert_eq "plain: queue rule packets" "$N" "$(ipt_pkts "$GW" iptables mangle FORWARD 1)"
assert_eq "plain: MARK rule after the queue rule, packets" 0 "$(ipt_pkts "$GW" iptables mangle FORWARD 2)"
check_counters
assert_eq "plain: imqd accepted" "$N" "$S_accepted"
stop_imqd

# --- 2. continue-mark: the rules after run once the packet is shaped.
start_imqd 0 "$cmark"
log "imq0 configured with: $cmark"
counting_rules
G iptables -t mangle -I FORWARD 1 -i "$GW_IN" -j MARK --set-mark 0x1/0xf || fail "MARK before failed"
G tc qdisc replace dev imq0 root handle 1: htb default 30 || fail "htb on imq0 failed"
for c in 10 20 30; do
	G tc class add dev imq0 parent 1: classid 1:$c htb rate 200mbit quantum 60000 || fail "class 1:$c failed"
done
G tc filter add dev imq0 parent 1: prio 1 bpf bytecode "$(bpf_mark 0x20 0xf0)" flowid 1:20 &&
	G tc filter add dev imq0 parent 1: prio 2 bpf bytecode "$(bpf_mark 0x1 0xf)" flowid 1:10 ||
	fail "bpf filters on imq0 failed"
send_count cont
log "continue-mark: $(G iptables -t mangle -L FORWARD -v -x -n)"
assert_eq "continue: datagrams at dst" "$N" "$GOT"
assert_eq "continue: MARK rule before the queue rule, packets (runs twice)" "$((2 * N))" \
	"$(ipt_pkts "$GW" iptables mangle FORWARD 1)"
assert_eq "continue: queue rule packets (each queued once)" "$N" "$(ipt_pkts "$GW" iptables mangle FORWARD 2)"
assert_eq "continue: MARK rule after the queue rule, packets" "$N" "$(ipt_pkts "$GW" iptables mangle FORWARD 3)"
assert_eq "continue: later rule -m mark --mark 0x20/0xf0, packets" "$N" \
	"$(ipt_pkts "$GW" iptables mangle FORWARD 4)"
assert_eq "continue: later rule -m mark --mark 0x120/0x1f0 (continue bit kept), packets" "$N" \
	"$(ipt_pkts "$GW" iptables mangle FORWARD 5)"
assert_eq "continue: copies on imq0 with the mark set before the queue rule (1:10)" "$N" \
	"$(tc_class_pkts "$GW" imq0 1:10)"
assert_eq "continue: copies on imq0 with the mark set after the queue rule (1:20)" 0 \
	"$(tc_class_pkts "$GW" imq0 1:20)"
check_counters
assert_eq "continue: imqd received" "$N" "$S_received"
assert_eq "continue: imqd accepted" "$N" "$S_accepted"
check_nothing_queued
stop_imqd
finish

#!/usr/bin/env bash
# Where an NFQUEUE rule sits relative to NAT, as docs/migrating-from-imq.md
# states it (IMQ's AA/AB/BA/BB). A home gateway masquerades host H1 on its
# WAN; tc filters on imq0 sort each copy by the address it carries: H1's
# or the gateway's LAN address (internal; H1's as source too) into 1:10,
# the gateway's WAN address as destination (public) into 1:20, anything else
# into 1:30. For each chain, 20 datagrams must all land in the class the
# guide names:
#   replies to H1's masqueraded flow:  mangle PREROUTING -> public (before
#       de-NAT); mangle FORWARD, mangle POSTROUTING -> internal (after)
#   port forward (DNAT to H1):         mangle PREROUTING -> public (before
#       DNAT); mangle FORWARD -> internal
#   port forward to the gateway's LAN address: mangle INPUT -> that address
#       (after DNAT; counted as internal)
#   H1's upload (MASQUERADE):          mangle POSTROUTING -> internal (before
#       SNAT)
#   gw's own packets DNATed in nat OUTPUT: mangle OUTPUT -> original
#       destination (before DNAT); mangle POSTROUTING -> H1 (after)
. "$(dirname "$0")/lib.sh"
e2e_init imq_nat_hooks

N=20
topo_home
start_imqd 0
G() { nsx "$GW" "$@"; }

G iptables -t nat -A POSTROUTING -o "$WAN" -j MASQUERADE || fail "MASQUERADE rule failed"
G iptables -t nat -A PREROUTING -i "$WAN" -p udp --dport 7100 -j DNAT --to-destination "$H1_IP" ||
	fail "DNAT rule failed"
G iptables -t nat -A OUTPUT -p udp --dport 7200 -j DNAT --to-destination "$H1_IP" ||
	fail "OUTPUT DNAT rule failed"
G iptables -t nat -A PREROUTING -i "$WAN" -p udp --dport 7150 -j DNAT --to-destination "$GW_LAN_IP" ||
	fail "DNAT rule to the gateway failed"

G tc qdisc replace dev imq0 root handle 1: htb default 30 || fail "htb on imq0 failed"
for c in 10 20 30; do
	G tc class add dev imq0 parent 1: classid 1:$c htb rate 500mbit quantum 60000 ||
		fail "htb class 1:$c failed"
done
# Destination first: the gateway's own packets carry its WAN address as source.
G tc filter add dev imq0 parent 1: protocol ip prio 1 u32 match ip dst "$H1_IP/32" flowid 1:10 &&
	G tc filter add dev imq0 parent 1: protocol ip prio 1 u32 match ip dst "$GW_LAN_IP/32" flowid 1:10 &&
	G tc filter add dev imq0 parent 1: protocol ip prio 1 u32 match ip dst "$GW_WAN_IP/32" flowid 1:20 &&
	G tc filter add dev imq0 parent 1: protocol ip prio 2 u32 match ip src "$H1_IP/32" flowid 1:10 ||
	fail "u32 filters on imq0 failed"

# class_deltas: packets per class since the last call into DELTAS, as
# "internal public other".
declare -A LAST=([10]=0 [20]=0 [30]=0)
DELTAS=
class_deltas() {
	local c now out=()
	for c in 10 20 30; do
		now=$(tc_class_pkts "$GW" imq0 1:$c)
		out+=("$((now - LAST[$c]))")
		LAST[$c]=$now
	done
	DELTAS="${out[*]}"
}

# new_copies: copies on imq0 in all three classes since the last class_deltas.
new_copies() {
	local c n=0
	for c in 10 20 30; do n=$((n + $(tc_class_pkts "$GW" imq0 1:$c) - LAST[$c])); done
	echo "$n"
}

# expect WHAT CLASS: all N datagrams of the last step in CLASS (internal|public|other),
# once N copies went through imq0 (2 s at most).
expect() {
	local want
	wait_until 2 '[ "$(new_copies)" -ge "$N" ]'
	class_deltas
	case $2 in internal) want="$N 0 0" ;; public) want="0 $N 0" ;; other) want="0 0 $N" ;; esac
	assert_eq "$1: copies on imq0 by address (internal public other)" "$want" "$DELTAS"
}

# queue_at CHAIN MATCH...: the only queue rule is in mangle CHAIN.
queue_at() {
	local chain=$1
	shift
	G iptables -t mangle -F
	G iptables -t mangle -A "$chain" "$@" -p udp -j NFQUEUE --queue-num 0 --queue-bypass ||
		fail "NFQUEUE rule in mangle $chain failed"
}

# reply_flow PORT: H1 sends one datagram to the server, the server answers
# with N datagrams to whatever address and port it saw (the gateway's).
reply_flow() {
	local port=$1 got
	bg "$SERVER" timeout 15 "$PYTHON" "$TOOLS/udpreply.py" serve "$port" "$N" >"$T_TMP/server.$port"
	local spid=$BG_PID
	wait_listen "$SERVER" udp "$port"
	got=$(timeout 15 ip netns exec "$H1" "$PYTHON" "$TOOLS/udpreply.py" ask "$SERVER_IP" "$port" "$N") ||
		fail "H1's side of the reply flow failed"
	wait_pid "$spid" 15 || fail "server side of the reply flow failed"
	assert_eq "server saw H1 as (masqueraded)" "$GW_WAN_IP" "$(cat "$T_TMP/server.$port")"
	assert_eq "replies received by H1 (port $port)" "$N" "$got"
}

# send NS ADDR PORT: N datagrams, paced.
send() {
	timeout 15 ip netns exec "$1" "$UDPSEQ" send -d "$2" -p "$3" -n "$N" -r 1000 -t 5 >/dev/null ||
		fail "udpseq send from $1 to $2:$3 failed"
}

class_deltas

# 1. Replies to a masqueraded flow (the download direction).
queue_at PREROUTING -i "$WAN"
reply_flow 7001
expect "replies, mangle PREROUTING" public
queue_at FORWARD -i "$WAN"
reply_flow 7002
expect "replies, mangle FORWARD" internal
queue_at POSTROUTING -o "$LAN"
reply_flow 7003
expect "replies, mangle POSTROUTING" internal

# 2. A port forwarded to H1 (DNAT in nat PREROUTING).
queue_at PREROUTING -i "$WAN"
send "$SERVER" "$GW_WAN_IP" 7100
expect "port forward, mangle PREROUTING" public
queue_at FORWARD -i "$WAN"
send "$SERVER" "$GW_WAN_IP" 7100
expect "port forward, mangle FORWARD" internal

# 2b. A port forwarded to the gateway's LAN address: delivered locally (INPUT).
queue_at PREROUTING -i "$WAN"
send "$SERVER" "$GW_WAN_IP" 7150
expect "port forward to gw, mangle PREROUTING" public
queue_at INPUT -i "$WAN"
send "$SERVER" "$GW_WAN_IP" 7150
expect "port forward to gw, mangle INPUT" internal

# 3. H1's uploads, masqueraded on the WAN (SNAT in nat POSTROUTING).
queue_at POSTROUTING -o "$WAN"
send "$H1" "$SERVER_IP" 7300
expect "upload, mangle POSTROUTING" internal

# 4. The gateway's own packets to the server's port 7200, DNATed to H1 in nat OUTPUT.
queue_at OUTPUT
send "$GW" "$SERVER_IP" 7200
expect "local DNAT, mangle OUTPUT" other
queue_at POSTROUTING -o "$LAN"
send "$GW" "$SERVER_IP" 7200
expect "local DNAT, mangle POSTROUTING" internal

G iptables -t mangle -F
check_counters
assert_eq "imqd failopen" 0 "$S_failopen"
check_nothing_queued
stop_imqd
finish

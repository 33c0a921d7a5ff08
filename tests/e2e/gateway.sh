# What the end-to-end tests set and read on the gateway $GW: queue rules and
# the kernel's queues, devices, qdiscs and classes, hook scripts, sockets
# and memory of a process; sourced by lib.sh.

# shellcheck shell=bash

# ---------------------------------------------------------------- queues

# queue_rule PORT [QUEUE]: queue gw's UDP traffic from src to PORT (mangle
# PREROUTING on GW_IN) to QUEUE (default 0), --queue-bypass.
queue_rule() {
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$1" \
		-j NFQUEUE --queue-num "${2:-0}" --queue-bypass || fail "iptables NFQUEUE rule failed"
}

# nfq_col QUEUE COLUMN: a column of /proc/net/netfilter/nfnetlink_queue in gw
# for QUEUE (1 queue number, 3 queue_total, 6 queue_dropped, 7 user_dropped,
# 8 id_sequence); empty when the queue is not bound.
nfq_col() {
	nsx "$GW" awk -v q="$1" -v c="$2" '$1 == q { print $c }' /proc/net/netfilter/nfnetlink_queue
}

# ipt_pkts NS TOOL TABLE CHAIN RULENUM: packet counter of one rule.
ipt_pkts() {
	local n
	n=$(nsx "$1" "$2" -t "$3" -L "$4" "$5" -v -x -n 2>/dev/null | awk 'NF { print $1; exit }')
	[[ $n =~ ^[0-9]+$ ]] || fail "no packet counter for $2 -t $3 $4 rule $5 in $1"
	printf '%s\n' "$n"
}

# ---------------------------------------------------------------- devices, qdiscs

# dev_exists DEV: DEV is a link in $GW.
dev_exists() { ip -n "$GW" link show "$1" >/dev/null 2>&1; }

# dev_up [DEV]: DEV (default imq0) exists in $GW and is administratively up.
dev_up() {
	local flags
	flags=$(ip -n "$GW" -o link show "${1:-imq0}" 2>/dev/null) || return 1
	[[ $flags =~ [\<,]UP[,\>] ]]
}

# qdisc_kind [DEV]: the kind of DEV's (default imq0) root qdisc in $GW,
# empty if it has none or is missing.
qdisc_kind() { nsx "$GW" tc qdisc show dev "${1:-imq0}" root 2>/dev/null | awk 'NR == 1 { print $2 }'; }

# root_qdisc DEV: "KIND HANDLE" of DEV's root qdisc in $GW, e.g. "tbf 8001:".
root_qdisc() {
	nsx "$GW" tc qdisc show dev "$1" 2>/dev/null | awk '$1 == "qdisc" && / root / { print $2, $3; exit }'
}

# qdisc_bytes DEV: bytes sent by DEV's root qdisc in $GW (tc -s). A TCP
# GSO copy counts once per segment with its headers, so this is at least
# the bytes of the packets imqd accepted; tc's packet count of such copies is
# not one per packet.
qdisc_bytes() {
	nsx "$GW" tc -s qdisc show dev "$1" 2>/dev/null | awk '
		$1 == "qdisc" { root = / root / }
		root && $1 == "Sent" { print $2; exit }'
}

# qdisc_sent DEV: packets sent by DEV's root qdisc in $GW (tc -s).
qdisc_sent() {
	nsx "$GW" tc -s qdisc show dev "$1" 2>/dev/null | awk '
		$1 == "qdisc" { root = / root / }
		root && $1 == "Sent" { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^pkt/) { print $i; exit } }'
}

# qdisc_backlog DEV: packets DEV's root qdisc in $GW holds now (tc -s), empty
# if DEV has none.
qdisc_backlog() {
	nsx "$GW" tc -s qdisc show dev "$1" 2>/dev/null | awk '
		$1 == "qdisc" { root = / root / }
		root && $1 == "backlog" { sub(/p$/, "", $3); print $3; exit }'
}

# assert_qdisc_bytes WHAT ACCEPTED QDISC: the bytes a qdisc on imq0 sent
# against the IP bytes of the packets imqd accepted. Each segment's headers
# and the link-layer overhead put the qdisc 4-5% above (1.045 for TCP at MTU
# 1500); a packet passed without its copy puts it below, a copy sent twice
# far above.
assert_qdisc_bytes() {
	assert_ge "$1 (>= imqd accepted bytes)" "$2" "$3"
	assert_ge "$1: 1.10 x imqd accepted bytes (>= qdisc bytes)" "$3" "$(calc %.0f "$2 * 1.10")"
}

# tc_class_pkts NS DEV CLASSID: packets the class sent.
tc_class_pkts() {
	nsx "$1" tc -s class show dev "$2" classid "$3" 2>/dev/null |
		awk '$1 == "Sent" { print $4; found = 1; exit } END { if (!found) print 0 }'
}

# bpf_mark MARK [MASK]: classic-BPF bytecode for `tc filter ... bpf bytecode`
# matching (skb->mark & MASK) == MARK (cls_fw and u32's `match mark` are not
# available on this kernel).
bpf_mark() {
	local mark=$(($1)) mask=${2:-}
	if [ -z "$mask" ]; then
		printf '4,32 0 0 4294963220,21 0 1 %u,6 0 0 4294967295,6 0 0 0\n' "$mark"
	else
		printf '5,32 0 0 4294963220,84 0 0 %u,21 0 1 %u,6 0 0 4294967295,6 0 0 0\n' "$((mask))" "$mark"
	fi
}

# ---------------------------------------------------------------- hooks

# up_hook NAME TC_ARGS...: an up-hook script $T_TMP/NAME that records each
# run in $T_TMP/NAME.runs and sets imqN's root qdisc to TC_ARGS; prints its path.
up_hook() {
	local name=$1
	shift
	{
		printf '#!/bin/sh\n'
		printf 'echo "$(date +%%s.%%N) $IMQ_DEV $IMQ_QUEUES" >>%s\n' "$T_TMP/$name.runs"
		printf 'exec tc qdisc replace dev "$IMQ_DEV" root %s\n' "$*"
	} >"$T_TMP/$name"
	chmod +x "$T_TMP/$name"
	printf '%s' "$T_TMP/$name"
}

# hook_runs NAME: how often the hook NAME (up_hook) ran.
hook_runs() { [ -f "$T_TMP/$1.runs" ] && wc -l <"$T_TMP/$1.runs" || echo 0; }

# ---------------------------------------------------------------- processes

# rss_kb PID: VmRSS of PID in kB, empty if it is gone.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# nl_sock PID [QUEUE]: inode of PID's NFQUEUE socket bound to QUEUE (default 0):
# the NETLINK_NETFILTER socket whose port id the kernel lists for the queue.
nl_sock() {
	local pid=$1 portid ino
	portid=$(nfq_col "${2:-0}" 2) && [ -n "$portid" ] || return 1
	for ino in $(awk -v p="$portid" '$2 == 12 && $3 == p { print $10 }' "/proc/$pid/net/netlink"); do
		if find "/proc/$pid/fd" -lname "socket:\[$ino\]" 2>/dev/null | grep -q .; then
			echo "$ino"
			return 0
		fi
	done
	return 1
}

# nl_drops PID INODE: the Drops column of that netlink socket (messages the
# kernel could not put in its receive buffer).
nl_drops() { awk -v i="$2" '$10 == i { print $9 }' "/proc/$1/net/netlink"; }

# set_rcvbuf PID INODE BYTES: shrink the receive buffer of PID's socket
# INODE from outside (pidfd_getfd, then SO_RCVBUF), as a fault: the buffer
# imqd sized for its whole queue is no longer there. Prints the new size.
set_rcvbuf() { "$PYTHON" "$TOOLS/setrcvbuf.py" "$@"; }

# prio_htb DEV [MBIT]: on DEV in $GW an htb of MBIT (default 10) Mbit/s whose
# priority class 1:10 (a tenth of it, ceil all, prio 0) takes ICMP and whose
# bulk class 1:20 (the rest) everything else, each with a pfifo (100 and
# 1000 packets).
prio_htb() {
	local dev=$1 mbit=${2:-10}
	nsx "$GW" tc qdisc replace dev "$dev" root handle 1: htb default 20 &&
		nsx "$GW" tc class add dev "$dev" parent 1: classid 1:1 htb rate "${mbit}mbit" &&
		nsx "$GW" tc class add dev "$dev" parent 1:1 classid 1:10 htb rate "$((mbit * 100))kbit" \
			ceil "${mbit}mbit" prio 0 &&
		nsx "$GW" tc class add dev "$dev" parent 1:1 classid 1:20 htb rate "$((mbit * 900))kbit" \
			ceil "${mbit}mbit" prio 1 &&
		nsx "$GW" tc qdisc add dev "$dev" parent 1:10 pfifo limit 100 &&
		nsx "$GW" tc qdisc add dev "$dev" parent 1:20 pfifo limit 1000 &&
		nsx "$GW" tc filter add dev "$dev" parent 1: protocol ip prio 1 u32 match ip protocol 1 0xff \
			flowid 1:10 || fail "htb on $dev failed"
}

# ifb_redirect QDISC_FN: ifb0 in $GW, set up by QDISC_FN ifb0, with all of
# $GW_IN's ingress redirected to it; ifb_remove takes both away.
ifb_redirect() {
	nsx "$GW" ip link add ifb0 type ifb && nsx "$GW" ip link set ifb0 up ||
		fail "cannot create ifb0 in $GW"
	"$1" ifb0
	nsx "$GW" tc qdisc add dev "$GW_IN" handle ffff: ingress &&
		nsx "$GW" tc filter add dev "$GW_IN" parent ffff: protocol all prio 1 u32 match u32 0 0 \
			action mirred egress redirect dev ifb0 || fail "IFB redirect to ifb0 failed"
}

ifb_remove() {
	nsx "$GW" tc qdisc del dev "$GW_IN" ingress || fail "cannot remove the IFB redirect"
	nsx "$GW" ip link del ifb0
}

# Helpers of the IMQ migration tests (tests/e2e/imq_*.sh, counters_exact.sh),
# sourced after lib.sh: a full imqd.conf with several devices, a NAT home
# gateway topology, rule and class counters, recipes taken from
# docs/migrating-from-imq.md, and clean-up of what lib.sh does not know about
# (users, groups).

# shellcheck disable=SC2034,SC2154 # variables set here are used by the tests, S_* by eval
IMQ_GUIDE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/migrating-from-imq.md
IMQ_AT_EXIT=()              # commands run at exit, before lib.sh's cleanup
IMQ_DEVS=()                 # devices of the running imqd (imq_start)

# imq_init NAME [LIMIT]: e2e_init, plus our own exit commands before cleanup.
imq_init() {
	e2e_init "$@"
	trap imq_cleanup EXIT
}

imq_cleanup() {
	local rc=$? c
	set +e
	for c in "${IMQ_AT_EXIT[@]}"; do eval "$c" >/dev/null 2>&1; done
	# lib.sh's cleanup reads the exit status from $?.
	(exit "$rc")
	cleanup
}

# imq_at_exit 'COMMAND': run COMMAND (a string, eval'd) when the test exits.
imq_at_exit() { IMQ_AT_EXIT+=("$1"); }

# imq_start GLOBAL_LINES DEVICE_SECTIONS: imqd in $GW with this configuration
# (control-socket is added to [global]). Waits until every [device] is up,
# every queue bound and the control socket answers (so up hooks have run).
imq_start() {
	local global=$1 body=$2 conf=$T_TMP/imqd.conf i
	IMQD_SOCK=$T_TMP/imqd.sock
	IMQD_LOG=$T_TMP/imqd.log
	printf '[global]\ncontrol-socket = %s\n%s\n\n%s\n' "$IMQD_SOCK" "$global" "$body" >"$conf"
	mapfile -t IMQ_DEVS < <(sed -n 's/^\[\([^]]*\)\][[:space:]]*$/\1/p' <<<"$body" | grep -vx global)
	IMQD_QUEUES=()
	local spec
	while read -r spec; do
		mapfile -t -O "${#IMQD_QUEUES[@]}" IMQD_QUEUES < <(expand_queues "$spec")
	done < <(sed -n 's/^queues[[:space:]]*=[[:space:]]*//p' <<<"$body")
	ip netns exec "$GW" "$IMQD" -c "$conf" 2>"$IMQD_LOG" &
	IMQD_PID=$!
	for i in $(seq 100); do
		if ! kill -0 "$IMQD_PID" 2>/dev/null; then
			wait "$IMQD_PID"
			local rc=$?
			IMQD_PID=
			dump_file "imqd.conf" "$conf"
			dump_file "imqd log" "$IMQD_LOG"
			fail "imqd exited with status $rc during start-up"
		fi
		if imq_ready; then
			log "imqd ready (pid $IMQD_PID, devices ${IMQ_DEVS[*]}, queues ${IMQD_QUEUES[*]})"
			return 0
		fi
		sleep 0.1
	done
	dump_file "imqd.conf" "$conf"
	dump_file "imqd log" "$IMQD_LOG"
	fail "imqd not ready after 10 s (devices ${IMQ_DEVS[*]} up, queues ${IMQD_QUEUES[*]} bound)"
}

imq_ready() {
	local d q flags bound
	for d in "${IMQ_DEVS[@]}"; do
		flags=$(nsx "$GW" ip -o link show "$d" 2>/dev/null) || return 1
		[[ $flags =~ [\<,]UP[,\>] ]] || return 1
	done
	bound=$(nsx "$GW" awk '{print $1}' /proc/net/netfilter/nfnetlink_queue 2>/dev/null)
	for q in "${IMQD_QUEUES[@]}"; do
		grep -qx "$q" <<<"$bound" || return 1
	done
	"$IMQCTL" -s "$IMQD_SOCK" show >/dev/null 2>&1
}

# imq_stop: SIGTERM, exit 0 within 5 s, devices gone (lib.sh's stop_imqd checks imq0 only).
imq_stop() {
	local d
	stop_imqd
	for d in "${IMQ_DEVS[@]}"; do
		[ "$d" = imq0 ] && continue
		if nsx "$GW" ip link show "$d" >/dev/null 2>&1; then
			mismatch "$d still exists after imqd exited"
		fi
	done
}

# check_counters_dev DEV: as lib.sh's check_counters, for any device.
check_counters_dev() {
	local dev=$1 i
	imqd_alive
	for i in $(seq 20); do
		imqd_counters "$dev"
		[ "$S_held" = 0 ] && break
		sleep 0.1
	done
	log "$dev: received=$S_received accepted=$S_accepted dropped=$S_dropped failopen=$S_failopen held=$S_held"
	assert_eq "$dev held after traffic" 0 "$S_held"
	assert_eq "$dev received = accepted + dropped + failopen + held" "$S_received" \
		"$((S_accepted + S_dropped + S_failopen + S_held))"
}

# ---------------------------------------------------------------- counters

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

# ---------------------------------------------------------------- traffic

# iperf_many OUTPREFIX SECONDS "NS ADDR PORT [iperf3 options]"...: one iperf3
# client per argument, all at once (servers must already listen). Prints the
# receiver rates (Mbit/s), one line each, in argument order.
iperf_many() {
	local out=$1 secs=$2 i=0 spec ns addr port pids=() opts
	shift 2
	for spec in "$@"; do
		read -r ns addr port opts <<<"$spec"
		# shellcheck disable=SC2086 # opts are words
		bg "$ns" timeout $((secs + 15)) iperf3 -c "$addr" -p "$port" -t "$secs" -O 2 -J $opts \
			>"$out.$i.json" 2>&1
		pids+=("$BG_PID")
		i=$((i + 1))
	done
	for i in "${!pids[@]}"; do wait_pid "${pids[$i]}" $((secs + 20)); done
	for i in "${!pids[@]}"; do iperf_rate "$out.$i.json" || exit 1; done
}

# ---------------------------------------------------------------- topology

# topo_home: a home gateway. Hosts H1 and H2 on a LAN bridge br0 of GW
# (10.X.1.0/24, gw 10.X.1.1, hosts .10 and .11), GW's WAN gw0 to SERVER
# (10.X.2.1 <-> 10.X.2.2). SERVER has no route to the LAN: only NAT
# (MASQUERADE on gw0) lets the hosts reach it. Sets H1 H2 GW SERVER,
# LAN=br0 WAN=gw0, H1_IP H2_IP GW_LAN_IP GW_WAN_IP SERVER_IP.
topo_home() {
	ns_new a H1
	ns_new b H2
	ns_new g GW
	ns_new w SERVER
	LAN=br0 WAN=gw0
	H1_IP=10.$X.1.10 H2_IP=10.$X.1.11 GW_LAN_IP=10.$X.1.1
	GW_WAN_IP=10.$X.2.1 SERVER_IP=10.$X.2.2
	nsx "$GW" sysctl -qw net.ipv4.ip_forward=1 >/dev/null || fail "cannot enable forwarding in $GW"
	nsx "$GW" ip link add br0 type bridge || fail "cannot create br0 in $GW"
	nsx "$GW" ip link set br0 up
	link_pair "$H1" h0 "$GW" lan1
	link_pair "$H2" h0 "$GW" lan2
	nsx "$GW" ip link set lan1 master br0
	nsx "$GW" ip link set lan2 master br0
	link_pair "$GW" gw0 "$SERVER" w0
	nsx "$GW" ip addr add "$GW_LAN_IP/24" dev br0
	nsx "$GW" ip addr add "$GW_WAN_IP/24" dev gw0
	nsx "$H1" ip addr add "$H1_IP/24" dev h0
	nsx "$H2" ip addr add "$H2_IP/24" dev h0
	nsx "$SERVER" ip addr add "$SERVER_IP/24" dev w0
	nsx "$H1" ip route add default via "$GW_LAN_IP"
	nsx "$H2" ip route add default via "$GW_LAN_IP"
	local h
	for h in "$H1" "$H2"; do
		ping_ok "$h" "$GW_LAN_IP" || fail "no connectivity $h -> gw"
	done
	ping_ok "$GW" "$SERVER_IP" || fail "no connectivity gw -> server"
	log "home topology: $H1 $H2 -> $GW (br0 10.$X.1.1, NAT on gw0) -> $SERVER $SERVER_IP"
}

# ---------------------------------------------------------------- the guide

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
		VAL=${kv#*=} python3 - "$out" "$var" <<'EOF'
import os, re, sys
path, var = sys.argv[1], sys.argv[2]
text = open(path).read()
val = os.environ["VAL"]
text = re.sub(r"(?m)^%s=.*$" % re.escape(var), lambda m: "%s=%s" % (var, val), text)
open(path, "w").write(text)
EOF
	done
	chmod 0755 "$out"
}

# assert_le WHAT MAX MEASURED
assert_le() {
	if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$3" "$2"; then
		pass_msg "$1: $3 (<= $2)"
	else
		mismatch "$1: expected <= $2, measured $3"
	fi
}

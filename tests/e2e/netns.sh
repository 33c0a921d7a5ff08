# Network namespaces for imqd's end-to-end tests (lib.sh) and its benchmark
# (bench/run.sh): create, link, address, reach, and remove them. Sourced by
# both; nothing here prints or exits: each function returns non-zero on
# failure and the caller says what failed.

# shellcheck shell=bash

# Numbers handed out by netns_slot, one directory each, and the lock that
# makes taking one atomic.
NETNS_SLOT_DIR=${NETNS_SLOT_DIR:-/tmp/imqd-netns.slots}
NETNS_SLOT=

# netns_add NS: a namespace with lo up and no IPv6 duplicate address
# detection or router advertisements, so that addresses work at once.
netns_add() {
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up || return 1
	# Defaults first, so that devices made later inherit them.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 >/dev/null
}

# netns_veth NS_A IF_A NS_B IF_B [MTU]: a veth pair, one end in each namespace, both up.
netns_veth() {
	local mtu=()
	[ -n "${5:-}" ] && mtu=(mtu "$5")
	ip link add "$2" netns "$1" "${mtu[@]}" type veth peer name "$4" netns "$3" "${mtu[@]}" || return 1
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

# netns_addr NS IF ADDR/LEN...: addresses on IF; IPv6 ones without DAD.
netns_addr() {
	local ns=$1 dev=$2 a
	shift 2
	for a; do
		if [[ $a == *:* ]]; then
			ip -n "$ns" -6 addr add "$a" dev "$dev" nodad || return 1
		else
			ip -n "$ns" addr add "$a" dev "$dev" || return 1
		fi
	done
}

# netns_forward NS: NS routes IPv4 and IPv6 between its interfaces.
netns_forward() {
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
}

# netns_ping NS ADDR: one echo reply within five tries.
netns_ping() {
	local i
	for i in 1 2 3 4 5; do
		timeout 3 ip netns exec "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# netns_listening NS tcp|udp PORT: a socket in NS listens on PORT.
netns_listening() {
	local flag=-t
	[ "$2" = udp ] && flag=-u
	[ -n "$(ip netns exec "$1" ss -H -l -n "$flag" "sport = :$3" 2>/dev/null)" ]
}

# netns_wait_listen NS tcp|udp PORT [SECONDS]: until a socket listens there (default 5 s).
netns_wait_listen() {
	local i
	for ((i = 0; i < ${4:-5} * 10; i++)); do
		netns_listening "$1" "$2" "$3" && return 0
		sleep 0.1
	done
	return 1
}

# netns_delete NS...: kill whatever still runs in each namespace (its
# creator started it), then delete the namespace.
netns_delete() {
	local ns p
	for ns; do
		ip netns list 2>/dev/null | grep -qw -- "$ns" || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns delete "$ns" 2>/dev/null
	done
}

# netns_sweep PREFIX: delete the namespaces PREFIX<pid><role> whose pid no
# longer runs: left by a run killed with no chance to clean up (SIGKILL).
# Prints the names it deleted.
netns_sweep() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $ns =~ ^$1([0-9]+)[a-z][0-9]?$ ]] || continue
		pid=${BASH_REMATCH[1]}
		[ "$pid" = "$$" ] && continue
		kill -0 "$pid" 2>/dev/null && continue
		netns_delete "$ns"
		echo "$ns"
	done
}

# netns_slot: a number from 20 to 219 that no other running test holds, in
# NETNS_SLOT until netns_slot_free, for addresses that tell one test's
# namespaces from another's in logs and captures. Each number is a
# directory naming its holder's pid; one taken by a process that is gone is
# taken over. Tests started at once (ctest -j) never get the same number.
netns_slot() {
	local fd n i owner
	mkdir -p "$NETNS_SLOT_DIR" || return 1
	exec {fd}>>"$NETNS_SLOT_DIR/.lock" || return 1
	flock -w 10 "$fd" || { exec {fd}>&-; return 1; }
	NETNS_SLOT=
	for ((i = 0; i < 200; i++)); do
		n=$((($$ + i) % 200 + 20))
		owner=$(cat "$NETNS_SLOT_DIR/$n" 2>/dev/null)
		if [ -z "$owner" ] || ! kill -0 "$owner" 2>/dev/null; then
			echo "$$" >"$NETNS_SLOT_DIR/$n" && NETNS_SLOT=$n
			break
		fi
	done
	exec {fd}>&-
	[ -n "$NETNS_SLOT" ]
}

# netns_slot_free: give back the number netns_slot took.
netns_slot_free() {
	[ -n "$NETNS_SLOT" ] || return 0
	[ "$(cat "$NETNS_SLOT_DIR/$NETNS_SLOT" 2>/dev/null)" = "$$" ] && rm -f "$NETNS_SLOT_DIR/$NETNS_SLOT"
	NETNS_SLOT=
}

# Topologies of the end-to-end tests, on netns.sh; sourced by lib.sh. Each
# namespace is ie<pid><role>, recorded in T_NS for the EXIT trap; addresses
# use the test's own slot X (10.X.0.0/16, fd00:X::/32).

# shellcheck shell=bash disable=SC2034 # the variables set here are the tests'

# ns_new ROLE VAR: create namespace ie<pid>ROLE, store its name in VAR.
ns_new() {
	local ns=$E2E_NS_PREFIX$$$1
	T_NS+=("$ns")
	netns_add "$ns" || fail "cannot create namespace $ns"
	printf -v "$2" '%s' "$ns"
}

# link_pair NS_A IF_A NS_B IF_B: a veth pair, one end in each namespace, both up.
link_pair() { netns_veth "$@" || fail "cannot create veth $1/$2 <-> $3/$4"; }

# addr NS IF V4/LEN V6/LEN
addr() { netns_addr "$@" || fail "cannot add $3 and $4 on $1/$2"; }

# ping_ok NS ADDR: one reply within a few tries.
ping_ok() { netns_ping "$@"; }

# wait_listen NS tcp|udp PORT: until a socket listens there (5 s).
wait_listen() { netns_wait_listen "$1" "$2" "$3" 5 || fail "nothing listens on $2 port $3 in $1 after 5 s"; }

# topo_create [NSRC]: src(s) -> gw -> dst. Sets SRC GW DST (SRC2 with NSRC=2),
# GW_IN (gw's interface towards src), GW_IN2, GW_OUT (towards dst), and the
# addresses SRC_IP DST_IP SRC6 DST6 (SRC2_IP SRC2_6), GW_IN_IP GW_OUT_IP.
topo_create() {
	local nsrc=${1:-1}
	ns_new s SRC
	ns_new g GW
	ns_new d DST
	GW_IN=gs0 GW_OUT=gd0
	SRC_IP=10.$X.1.2 GW_IN_IP=10.$X.1.1 GW_OUT_IP=10.$X.2.1 DST_IP=10.$X.2.2
	SRC6=fd00:$X:1::2 DST6=fd00:$X:2::2
	netns_forward "$GW" || fail "cannot enable forwarding in $GW"
	link_pair "$SRC" s0 "$GW" gs0
	link_pair "$GW" gd0 "$DST" d0
	addr "$SRC" s0 "$SRC_IP/24" "$SRC6/64"
	addr "$GW" gs0 "$GW_IN_IP/24" "fd00:$X:1::1/64"
	addr "$GW" gd0 "$GW_OUT_IP/24" "fd00:$X:2::1/64"
	addr "$DST" d0 "$DST_IP/24" "$DST6/64"
	nsx "$SRC" ip route add default via "$GW_IN_IP"
	nsx "$SRC" ip -6 route add default via "fd00:$X:1::1"
	nsx "$DST" ip route add default via "$GW_OUT_IP"
	nsx "$DST" ip -6 route add default via "fd00:$X:2::1"
	local srcs=("$SRC")
	if [ "$nsrc" -ge 2 ]; then
		ns_new t SRC2
		GW_IN2=gs1 SRC2_IP=10.$X.3.2 SRC2_6=fd00:$X:3::2
		link_pair "$SRC2" s0 "$GW" gs1
		addr "$SRC2" s0 "$SRC2_IP/24" "$SRC2_6/64"
		addr "$GW" gs1 "10.$X.3.1/24" "fd00:$X:3::1/64"
		nsx "$SRC2" ip route add default via "10.$X.3.1"
		nsx "$SRC2" ip -6 route add default via "fd00:$X:3::1"
		srcs+=("$SRC2")
	fi
	local s
	for s in "${srcs[@]}"; do
		ping_ok "$s" "$DST_IP" || fail "no IPv4 connectivity $s -> $DST_IP"
		ping_ok "$s" "$DST6" || fail "no IPv6 connectivity $s -> $DST6"
	done
	log "topology: ${srcs[*]} -> $GW -> $DST (10.$X.0.0/16, fd00:$X::/32)"
}

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
	netns_forward "$GW" || fail "cannot enable forwarding in $GW"
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

#!/usr/bin/env bash
# imqd benchmark: one command, a namespace testbed src -> gw -> dst, every
# configuration measured in one run, a table on stdout and JSON in --out.
#
# usage: sudo bench/run.sh [--quick] [--imqd PATH] [--imqctl PATH] [--out FILE.json]
#                          [--perf FILE.txt] [--time SECONDS] [--reps N] [--modes "LIST"]
#                          [--rounds N] [--tcp-rounds N] [--shaped-rounds N]
#                          [--shaped-time SECONDS]
#
# Configurations, all with the queue rule (when any) on gw's src-facing veth:
#   plain      forwarding, no queue rule
#   bare       bench/nfq_bare, a bare NFQUEUE accept loop
#   bare-gso   the same with NFQA_CFG_F_GSO
#   bare-tun   the bare loop plus imqd's round trip: each packet also goes through a TUN
#              device with pfifo and is read back before its verdict (ping and UDP only:
#              the floor of imqd's design for latency and small packets)
#   ifb        ingress of g0 redirected to ifb0 (pfifo limit 10000 / tbf)
#   imqd       imqd with its defaults: gso = yes, copy = headers (pfifo limit 10000 / tbf)
#   imqd-full  imqd with copy = full: whole packets cross to imqd
#   imqd-seg   imqd with gso = no: the kernel segments GSO packets before queueing
#   imqd-rss   imqd, tbf 1mbit on imq0: memory with ~10,000 packets held
# Traffic goes only to addresses inside the namespaces made here. Every
# process and namespace made here is removed on exit, failure or Ctrl-C.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=../tests/e2e/netns.sh
. "$ROOT/tests/e2e/netns.sh"
IMQD=$ROOT/build/imqd
IMQCTL=
OUT=$BENCH_DIR/results.json
PERF_OUT=
QUICK=0
T=
REPS=
MODES=
ROUNDS=
TROUNDS=
SROUNDS=
ST=

usage() {
	sed -n '5,8p' "$0" | sed 's/^# //'
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--imqd) IMQD=$2; shift ;;
	--imqctl) IMQCTL=$2; shift ;;
	--out) OUT=$2; shift ;;
	--perf) PERF_OUT=$2; shift ;;
	--time) T=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--modes) MODES=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--tcp-rounds) TROUNDS=$2; shift ;;
	--shaped-rounds) SROUNDS=$2; shift ;;
	--shaped-time) ST=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; usage ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	: "${T:=1}" "${REPS:=1}" "${ROUNDS:=0}" "${TROUNDS:=0}" "${SROUNDS:=0}" "${ST:=$T}"; PINGS=50; RATES="10 100 1000"
else
	: "${T:=5}" "${REPS:=3}" "${ROUNDS:=5}" "${TROUNDS:=5}" "${SROUNDS:=3}" "${ST:=15}"; PINGS=500; RATES="10 100 1000"
fi
case $ROUNDS$TROUNDS$SROUNDS in *[!0-9]*) echo "run.sh: --rounds, --tcp-rounds and --shaped-rounds want whole numbers" >&2; exit 2 ;; esac
case $ST in '' | *[!0-9]* | 0*) echo "run.sh: --shaped-time wants a whole number of seconds" >&2; exit 2 ;; esac
case $T$REPS in *[!0-9]* | 0*) echo "run.sh: --time and --reps want whole numbers" >&2; exit 2 ;; esac
[ -n "$IMQCTL" ] || IMQCTL=$(dirname "$IMQD")/imqctl

P=imqb$$                      # namespaces imqb<pid>s, g, d
SRC=${P}s GW=${P}g DST=${P}d
SRC_IP=10.201.1.2 GW_IP1=10.201.1.1 GW_IP2=10.201.2.1 DST_IP=10.201.2.2
IPERF_PORT=5201 UDP_PORT=9000
TMP=
PIDS=()                       # background processes started here
CONSUMER_PID=                 # nfq_bare or imqd of the current mode
MODE=
ROUND=
IMQD_SOCK=
RECORDS=
ANOMALIES=

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
# Foreground only: a function run with & is a subshell, and $! would not be the command.
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---------------------------------------------------------------- clean-up

stop_pid() {   # stop_pid PID [SECONDS]: TERM, wait, then KILL; 0 if it went on TERM
	local pid=$1 t=${2:-5} i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < t * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

cleanup() {
	local pid
	trap - EXIT INT TERM HUP
	for pid in "${PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.3
	for pid in "${PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	# Processes left in our own namespaces were started by this script.
	netns_delete "$SRC" "$GW" "$DST"
	if [ -n "$TMP" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
	fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ---------------------------------------------------------------- checks, build

[ "$(id -u)" -eq 0 ] || { echo "run.sh: must run as root (namespaces, iptables, tc)" >&2; exit 1; }
for tool in ip tc iptables iperf3 ping cc python3 timeout; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
TMP=$(mktemp -d /tmp/imqbench.XXXXXX)
for ns in $(netns_sweep imqb); do log "removed stale namespace $ns of a run that was killed"; done
RECORDS=$TMP/records.jsonl ANOMALIES=$TMP/anomalies.txt
: >"$RECORDS"; : >"$ANOMALIES"

log "building nfq_bare and udpflood in $TMP"
cc -O2 -std=c11 -Wall -Wextra -pthread -o "$TMP/nfq_bare" "$BENCH_DIR/nfq_bare.c" -lmnl -lnetfilter_queue -luring ||
	{ echo "run.sh: nfq_bare does not build (libmnl-dev, libnetfilter-queue-dev?)" >&2; exit 1; }
cc -O2 -std=c11 -Wall -Wextra -o "$TMP/udpflood" "$BENCH_DIR/udpflood.c" ||
	{ echo "run.sh: udpflood does not build" >&2; exit 1; }
HAVE_IMQD=1
[ -x "$IMQD" ] || { log "no imqd at $IMQD: imqd rows skipped (build it, or --imqd PATH)"; HAVE_IMQD=0; }
[ -x "$IMQCTL" ] || IMQCTL=

# The parsing and the report, in Python for JSON and percentiles. The
# interpreter is found once: a version manager's python3 (pyenv's shim)
# takes half a second to start, and lib runs for each measurement.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
lib() { "$PYTHON" "$BENCH_DIR/report.py" "$@"; }

# rec MODE TEST JSON: one measurement.
# ROUND, when set, is the interleaved round the measurement belongs to.
rec() { printf '{"mode":"%s","test":"%s","round":%d,"data":%s}\n' "$1" "$2" "${ROUND:-0}" "$3" >>"$RECORDS"; }
# anomaly TEXT: something odd, reported at the end.
anomaly() { log "ANOMALY: $*"; printf '%s: %s\n' "${MODE:-setup}" "$*" >>"$ANOMALIES"; }

# ---------------------------------------------------------------- testbed

topo_create() {
	local ns
	for ns in "$SRC" "$GW" "$DST"; do
		netns_add "$ns" || return 1
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	netns_veth "$SRC" s0 "$GW" g0 1500 && netns_veth "$GW" g1 "$DST" d0 1500 || return 1
	netns_addr "$SRC" s0 $SRC_IP/24 && netns_addr "$GW" g0 $GW_IP1/24 &&
		netns_addr "$GW" g1 $GW_IP2/24 && netns_addr "$DST" d0 $DST_IP/24 || return 1
	ip -n "$SRC" route add default via $GW_IP1
	ip -n "$DST" route add default via $GW_IP2
	in_ns "$GW" sysctl -qw net.ipv4.ip_forward=1
	netns_ping "$SRC" $DST_IP
}

# Queue N's line of gw's /proc/net/netfilter/nfnetlink_queue, empty if unbound.
kq_line() {
	in_ns "$GW" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | awk -v q="${1:-0}" '$1 == q'
}
# Column C summed over gw's queues: 3 queue_total, 6 dropped, 8 id_sequence.
kq_col() {
	in_ns "$GW" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
		awk -v c="$1" '{ s += $c; n++ } END { if (n) printf "%.0f\n", s % 4294967296 }'
}

wait_for() {   # wait_for SECONDS COMMAND...: poll every 0.1 s
	local i n=$(($1 * 10)); shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}
queue_bound() { consumer_alive && [ -n "$(kq_line 0)" ]; }
imq0_up() { ip -n "$GW" link show imq0 2>/dev/null | grep -q '[<,]UP[,>]'; }
consumer_alive() { [ -n "$CONSUMER_PID" ] && kill -0 "$CONSUMER_PID" 2>/dev/null; }

QRULE="--queue-num 0"          # the queue rule's target options (bare-gso-x2 changes them)
# shellcheck disable=SC2086
queue_rule() { in_ns "$GW" iptables -t mangle "$1" PREROUTING -i g0 -j NFQUEUE $QRULE; }

# RPS on g0 over every CPU (or off): spreads src's flows over the CPUs, and so
# over the queues of --queue-cpu-fanout.
rps() {   # rps on|off
	local n mask=0
	n=$(nproc)
	[ "$1" = on ] && { [ "$n" -lt 32 ] && mask=$(printf '%x' $(((1 << n) - 1))) || mask=ffffffff; }
	in_ns "$GW" sh -c "echo $mask >/sys/class/net/g0/queues/rx-0/rps_cpus"
}

cpu_ticks() {  # utime + stime of PID, in clock ticks
	[ -r "/proc/$1/stat" ] || { echo 0; return; }
	sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }

imq_stats() {   # received held accepted failopen dropped id_gaps verdict_errors (imqctl)
	[ -n "$IMQCTL" ] && [ -n "$IMQD_SOCK" ] || return 0
	timeout 5 "$IMQCTL" -s "$IMQD_SOCK" stats -j >"$TMP/imqstats.json" 2>/dev/null || return 0
	lib imqstats "$TMP/imqstats.json"
}

# ---------------------------------------------------------------- configurations

start_bare() {   # start_bare [-g] [-j THREADS | -t DEV]
	ip netns exec "$GW" "$TMP/nfq_bare" -q 0 -v "$@" 2>"$TMP/$MODE.log" &
	CONSUMER_PID=$!; PIDS+=("$CONSUMER_PID")
	wait_for 5 queue_bound && sleep 0.2 && consumer_alive ||
		{ anomaly "nfq_bare did not bind queue 0: $(tail -2 "$TMP/$MODE.log" | tr '\n' ' ')"; return 1; }
	queue_rule -A
}

imqd_conf() {   # imqd_conf FILE EXTRA-LINES
	printf '[global]\ncontrol-socket = %s\n[imq0]\nqueues = 0\n%b' "$IMQD_SOCK" "$2" >"$1"
}

start_imqd() {   # start_imqd EXTRA-CONFIG-LINES
	local conf=$TMP/$MODE.conf
	IMQD_SOCK=$TMP/imqd.sock
	imqd_conf "$conf" "$1"
	if ! "$IMQD" -t -c "$conf" >"$TMP/$MODE.check" 2>&1; then
		anomaly "imqd rejects the configuration: $(tr '\n' ' ' <"$TMP/$MODE.check")"
		return 1
	fi
	ip netns exec "$GW" "$IMQD" -c "$conf" >"$TMP/$MODE.log" 2>&1 &
	CONSUMER_PID=$!; PIDS+=("$CONSUMER_PID")
	if ! wait_for 10 imq0_up || ! wait_for 10 queue_bound || ! sleep 0.2 || ! consumer_alive; then
		anomaly "imqd not ready in 10 s (imq0 up, queue 0 bound): $(tail -3 "$TMP/$MODE.log" | tr '\n' ' ')"
		return 1
	fi
	in_ns "$GW" tc qdisc replace dev imq0 root pfifo limit 10000
	queue_rule -A
}

start_ifb() {
	ip -n "$GW" link add ifb0 type ifb && ip -n "$GW" link set ifb0 up || return 1
	in_ns "$GW" tc qdisc replace dev ifb0 root pfifo limit 10000
	in_ns "$GW" tc qdisc add dev g0 handle ffff: ingress || return 1
	# matchall where the kernel has it, else a u32 filter that matches everything.
	in_ns "$GW" tc filter add dev g0 parent ffff: matchall action mirred egress redirect dev ifb0 \
		2>/dev/null ||
		in_ns "$GW" tc filter add dev g0 parent ffff: protocol all prio 1 u32 match u32 0 0 \
			action mirred egress redirect dev ifb0
}

mode_start() {   # mode_start MODE; 1 if it could not be set up
	MODE=$1; CONSUMER_PID=; IMQD_SOCK=
	log "== $MODE"
	case $MODE in
	plain) ;;
	bare) start_bare ;;
	bare-gso) start_bare -g ;;
	bare-gso-x2)   # two threads, two queues, the flows spread over them by CPU
		rps on && QRULE="--queue-balance 0:1 --queue-cpu-fanout" && start_bare -g -j 2 ;;
	bare-tun)
		ip -n "$GW" tuntap add dev tunb0 mode tun && ip -n "$GW" link set tunb0 up &&
			in_ns "$GW" tc qdisc replace dev tunb0 root pfifo limit 10000 && start_bare -t tunb0 ;;
	ifb) start_ifb ;;
	imqd) start_imqd "on-overflow = drop\n" ;;
	imqd-full) start_imqd "on-overflow = drop\ncopy = full\n" ;;
	imqd-seg) start_imqd "on-overflow = drop\ngso = no\n" ;;
	imqd-rss) start_imqd "on-overflow = drop\nqueue-maxlen = 16384\ndrop-timeout = 60s\n" ;;
	esac
}

mode_stop() {
	local left
	in_ns "$GW" iptables -t mangle -F PREROUTING 2>/dev/null
	if [ -n "$CONSUMER_PID" ]; then
		sleep 0.5
		left=$(kq_col 3)
		[ -n "$left" ] && [ "$left" != 0 ] &&
			anomaly "$left packets still in the kernel queue 0.5 s after the traffic"
		consumer_alive || anomaly "consumer (pid $CONSUMER_PID) had exited before the end: $(tail -3 "$TMP/$MODE.log" | tr '\n' ' ')"
		stop_pid "$CONSUMER_PID" 5 || anomaly "consumer did not exit within 5 s of SIGTERM (killed)"
		case $MODE in imqd*)
			grep -av 'started\|stopping\|stopped\|shaping NFQUEUE' "$TMP/$MODE.log" 2>/dev/null |
				sort | uniq -c | sort -rn | head -5 | while read -r line; do anomaly "imqd log: $line"; done ;;
		esac
		[ -n "$(kq_col 1)" ] && anomaly "queues still bound after the consumer exited: $(in_ns "$GW" awk '{printf "%s ", $1}' /proc/net/netfilter/nfnetlink_queue)"
	fi
	if [ "$MODE" = ifb ]; then
		in_ns "$GW" tc qdisc del dev g0 ingress 2>/dev/null
		ip -n "$GW" link del ifb0 2>/dev/null
	fi
	[ "$MODE" = bare-tun ] && ip -n "$GW" tuntap del dev tunb0 mode tun 2>/dev/null
	[ "$MODE" = bare-gso-x2 ] && rps off
	CONSUMER_PID=; IMQD_SOCK=; QRULE="--queue-num 0"
}

shaper_dev() { case $MODE in ifb) echo ifb0 ;; imqd*) echo imq0 ;; esac; }

# ---------------------------------------------------------------- measurements

iperf_server() {   # iperf_server [SECONDS]
	ip netns exec "$DST" timeout $((${1:-$T} + 30)) iperf3 -s -1 -p $IPERF_PORT >/dev/null 2>&1 &
	IPERF_SRV=$!; PIDS+=("$IPERF_SRV")
	netns_wait_listen "$DST" tcp $IPERF_PORT 5
}

iperf_client() {   # iperf_client STREAMS OMIT OUTFILE [SECONDS]
	local t=${4:-$T}
	in_ns "$SRC" timeout $((t + $2 + 20)) iperf3 -c $DST_IP -p $IPERF_PORT -P "$1" -t $((t + $2)) \
		-O "$2" -J >"$3" 2>/dev/null
}

# Before/after snapshot of the consumer's CPU time and packet counters.
snap() {   # snap: "ticks id_sequence imq_received"
	local ticks=0 seq=0 recv=0 st
	if [ -n "$CONSUMER_PID" ]; then
		ticks=$(cpu_ticks "$CONSUMER_PID")
		seq=$(kq_col 8); seq=${seq:-0}
		st=$(imq_stats); [ -n "$st" ] && recv=${st%% *}
	fi
	echo "$ticks $seq $recv"
}

# Merge JSON measurement $1 with the consumer's CPU use between snapshots $2 and $3.
with_cpu() {
	local json=$1 secs=$4
	[ -n "$CONSUMER_PID" ] || { echo "$json"; return; }
	lib cpu "$json" "$2" "$3" "$secs" "$(getconf CLK_TCK)"
}

measure_ping_idle() {   # measure_ping_idle [TEST [PINGS]]
	local n=${2:-$PINGS}
	in_ns "$SRC" timeout $((n / 50 + 10)) ping -n -i 0.01 -c "$n" -W 1 $DST_IP >"$TMP/ping.txt" 2>&1
	rec "$MODE" "${1:-ping_idle}" "$(lib ping "$TMP/ping.txt")"
}

# TCP, 1 stream, REPS times; ping runs alongside each, all its samples pooled.
measure_tcp1_and_loaded_ping() {
	local a b n=$(((T - 1) * 100)) pid r files=()
	[ "$n" -ge 50 ] || n=50
	for ((r = 1; r <= REPS; r++)); do
		iperf_server || { anomaly "iperf3 server did not start"; return; }
		a=$(snap)
		iperf_client 1 0 "$TMP/tcp1.json" &
		pid=$!
		sleep 0.5
		in_ns "$SRC" timeout $((T + 10)) ping -n -i 0.01 -c "$n" -W 1 $DST_IP >"$TMP/pingl.$r" 2>&1
		files+=("$TMP/pingl.$r")
		wait "$pid"
		b=$(snap)
		wait "$IPERF_SRV" 2>/dev/null
		rec "$MODE" tcp1 "$(with_cpu "$(lib iperf "$TMP/tcp1.json")" "$a" "$b" "$T")"
	done
	rec "$MODE" ping_load "$(lib ping "${files[@]}")"
}

measure_tcp8() {
	local r
	for ((r = 1; r <= REPS; r++)); do measure_tcp_once 8 tcp8; done
}

# One TCP run of STREAMS streams recorded as TEST.
measure_tcp_once() {   # measure_tcp_once STREAMS TEST
	local a b
	iperf_server || { anomaly "iperf3 server did not start"; return; }
	a=$(snap)
	iperf_client "$1" 0 "$TMP/tcpr.json"
	b=$(snap)
	wait "$IPERF_SRV" 2>/dev/null
	rec "$MODE" "$2" "$(with_cpu "$(lib iperf "$TMP/tcpr.json")" "$a" "$b" "$T")"
}

measure_udp() {
	local r
	for ((r = 1; r <= REPS; r++)); do measure_udp_once; done
}

measure_udp_once() {   # measure_udp_once [TEST]
	local a b rpid out test=${1:-udp}
	ip netns exec "$DST" timeout $((T + 20)) "$TMP/udpflood" -l -p $UDP_PORT -t $((T + 5)) -w 10 -i 1 \
		>"$TMP/udprx.json" 2>"$TMP/udprx.err" &
	rpid=$!; PIDS+=("$rpid")
	wait_for 5 grep -q listening "$TMP/udprx.err"
	a=$(snap)
	in_ns "$SRC" timeout $((T + 10)) "$TMP/udpflood" -d $DST_IP -p $UDP_PORT -s 64 -t "$T" -F 8 \
		>"$TMP/udptx.json" 2>/dev/null
	b=$(snap)
	wait "$rpid"
	out=$(lib udp "$TMP/udprx.json" "$TMP/udptx.json" 2>/dev/null)
	[ -n "$out" ] || out='{}'
	rec "$MODE" "$test" "$(with_cpu "$out" "$a" "$b" "$T")"
}

measure_unshaped() {
	measure_ping_idle
	measure_tcp1_and_loaded_ping
	measure_tcp8
	measure_udp
}

# TCP with 4 streams through tbf at each rate: REPS runs of T seconds recorded as
# tbf_RATE, or with arguments N runs of S seconds recorded as TEST_RATE.
measure_shaped() {   # measure_shaped [N TEST S]
	local dev rate burst r n=${1:-$REPS} test=${2:-tbf} t=${3:-$T}
	dev=$(shaper_dev)
	for rate in $RATES; do
		# A burst above 64 KB lets whole GSO packets through tbf on either device.
		burst=131072
		[ "$rate" -ge 1000 ] && burst=524288
		in_ns "$GW" tc qdisc replace dev "$dev" root tbf rate "${rate}mbit" burst "$burst" latency 50ms ||
			{ anomaly "tbf $rate mbit on $dev failed"; continue; }
		for ((r = 1; r <= n; r++)); do
			iperf_server "$t" || { anomaly "iperf3 server did not start"; continue; }
			iperf_client 4 1 "$TMP/tbf.json" "$t"
			wait "$IPERF_SRV" 2>/dev/null
			rec "$MODE" "${test}_$rate" "$(lib tbf "$(lib iperf "$TMP/tbf.json")" "$rate")"
		done
	done
	in_ns "$GW" tc qdisc replace dev "$dev" root pfifo limit 10000
}

# Counters of imqd against the kernel's, after the traffic of a mode.
check_imqd_counters() {
	local st recv held acc fo drop gaps verr seq kdrop
	st=$(imq_stats)
	[ -n "$st" ] || { [ -n "$IMQCTL" ] && anomaly "imqctl stats gave no JSON"; return; }
	read -r recv held acc fo drop gaps verr <<<"$st"
	seq=$(kq_col 8) kdrop=$(kq_col 6)
	rec "$MODE" counters "{\"received\":$recv,\"held\":$held,\"accepted\":$acc,\"failopen\":$fo,\"dropped\":$drop,\"id_gaps\":$gaps,\"verdict_errors\":$verr,\"kernel_id_sequence\":${seq:-null},\"kernel_queue_dropped\":${kdrop:-null}}"
	lib imqdev "$TMP/imqstats.json" >"$TMP/imqdev.json" 2>/dev/null &&
		rec "$MODE" imqctl "$(cat "$TMP/imqdev.json")"
	[ "$held" = 0 ] || anomaly "imqctl reports $held packets held after the traffic stopped"
	[ -n "$seq" ] && [ "$recv" != "$seq" ] &&
		anomaly "imqctl received $recv but the kernel assigned $seq packet ids"
	[ $((acc + fo + drop)) -eq "$recv" ] ||
		anomaly "received $recv != accepted $acc + failopen $fo + dropped $drop"
	[ "$gaps" = 0 ] || anomaly "$gaps id gaps"
	[ "$verr" = 0 ] || anomaly "$verr verdict errors"
	[ "$fo" = 0 ] || log "note: $fo packets accepted fail-open (not through the qdisc)"
}

# CPU profile of imqd under unshaped TCP load (8 streams).
measure_perf() {
	command -v perf >/dev/null || { anomaly "perf not installed (apt-get install linux-perf)"; return; }
	iperf_server || return
	iperf_client 8 0 "$TMP/perf-tcp.json" &
	local pid=$!
	sleep 1
	if ! timeout 30 perf record -q -g -o "$TMP/perf.data" -p "$CONSUMER_PID" -- sleep 5 \
		>"$TMP/perf.err" 2>&1; then
		anomaly "perf record failed: $(tail -2 "$TMP/perf.err" | tr '\n' ' ')"
	fi
	wait "$pid"; wait "$IPERF_SRV" 2>/dev/null
	[ -s "$TMP/perf.data" ] || return
	{
		echo "# perf record -g -p <imqd> -- sleep 5, imqd defaults, iperf3 -P 8 unshaped"
		echo "# throughput during the profile: $(lib iperf "$TMP/perf-tcp.json")"
		echo "## self cost by symbol"
		perf report -i "$TMP/perf.data" --stdio --no-children --sort sym -g none 2>/dev/null |
			grep -E '^ +[0-9]' | head -40
		echo "## self cost by shared object"
		perf report -i "$TMP/perf.data" --stdio --no-children --sort dso -g none 2>/dev/null |
			grep -E '^ +[0-9]' | head -10
		echo "## cost with callees (children), syscalls and imqd functions"
		perf report -i "$TMP/perf.data" --stdio --children --sort sym -g none 2>/dev/null |
			grep -E '^ +[0-9]' | grep -E 'sys_|\[\.\]' | head -30
	} >"$PERF_OUT"
	rec perf summary "{\"file\":\"$PERF_OUT\"}"
	log "perf profile written to $PERF_OUT"
}

# VmRSS while about 10,000 packets are held behind tbf 1mbit on imq0.
measure_rss() {
	local idle st held kq rss best=0 best_rss="" best_kq="" hwm i
	idle=$(status_kb "$CONSUMER_PID" VmRSS)
	in_ns "$GW" tc qdisc replace dev imq0 root tbf rate 1mbit burst 10k limit 4mb
	ip netns exec "$SRC" timeout 20 "$TMP/udpflood" -d $DST_IP -p $UDP_PORT -s 64 -n 11000 -t 10 \
		>"$TMP/rsstx.json" 2>/dev/null &
	local tx=$!
	for ((i = 0; i < 60; i++)); do
		sleep 0.1
		st=$(imq_stats); held=$(echo "$st" | awk '{print $2}')
		[ -n "$held" ] || held=$(kq_col 3)
		kq=$(kq_col 3); rss=$(status_kb "$CONSUMER_PID" VmRSS)
		if [ "${held:-0}" -gt "$best" ]; then best=$held best_rss=$rss best_kq=$kq; fi
		[ "$best" -gt 0 ] && [ "${held:-0}" -lt $((best / 2)) ] && break
	done
	wait "$tx"
	hwm=$(status_kb "$CONSUMER_PID" VmHWM)
	rec rss summary "{\"held_at_peak\":$best,\"kernel_queue_at_peak\":${best_kq:-null},\"rss_kb\":${best_rss:-null},\"idle_rss_kb\":${idle:-null},\"hwm_kb\":${hwm:-null},\"sent\":$(cat "$TMP/rsstx.json" 2>/dev/null || echo null)}"
	[ "$best" -ge 9000 ] || anomaly "only $best packets held at peak (wanted ~10000)"
	# The backlog drains at 1 Mbit/s; nothing may stay behind. (Changing or replacing
	# the tbf would free the queued copies and leave their packets to drop-timeout.)
	wait_for 30 sh -c "[ \"\$(ip netns exec $GW cat /proc/net/netfilter/nfnetlink_queue | awk '\$1 == 0 {print \$3}')\" = 0 ]" ||
		anomaly "backlog did not drain in 30 s at 1 Mbit/s: $(kq_col 3) left in the kernel queue"
}

# ---------------------------------------------------------------- run

START=$(date +%s)
lib meta "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$T" "$QUICK" "$IMQD" \
	"$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" "$PINGS" "$REPS" \
	"$ST" >"$TMP/meta.json"

topo_create || { echo "run.sh: cannot build the namespace testbed" >&2; exit 1; }

if [ -z "$MODES" ]; then
	MODES="plain bare bare-gso bare-gso-x2 bare-tun ifb"
	[ "$HAVE_IMQD" = 1 ] && MODES="$MODES imqd imqd-full imqd-seg imqd-rss"
fi
for m in $MODES; do
	[ "$m" = imqd-rss ] && continue
	if mode_start "$m"; then
		if [ "$m" = bare-tun ]; then
			measure_ping_idle
			measure_udp
		else
			measure_unshaped
		fi
		case $m in ifb | imqd | imqd-seg) measure_shaped ;; esac
		case $m in imqd*) check_imqd_counters ;; esac
		[ "$m" = imqd ] && [ -n "$PERF_OUT" ] && measure_perf
	else
		anomaly "set-up of $m failed; its measurements are missing"
	fi
	mode_stop
done
if [ "$HAVE_IMQD" = 1 ] && [[ " $MODES " == *" imqd-rss "* ]]; then
	if mode_start imqd-rss; then
		measure_rss
	else
		anomaly "set-up of imqd-rss failed"
	fi
	mode_stop
fi

# rounds N WHAT MODES MEASURE...: N interleaved rounds; in each, every
# configuration of MODES in turn gets its own set-up and runs MEASURE, its
# records carrying the round's number (ROUND).
rounds() {
	local n=$1 what=$2 modes=$3 r m
	shift 3
	[ -n "$modes" ] || return 0
	for ((r = 1; r <= n; r++)); do
		ROUND=$r
		log "== $what round $r of $n:$modes"
		for m in $modes; do
			if mode_start "$m"; then
				"$@"
			else
				anomaly "set-up of $m failed in ${what%% *} round $r"
			fi
			mode_stop
		done
	done
	ROUND=
}

# present_modes M...: those of M in this run (imqd only when there is one).
present_modes() {
	local m
	for m; do
		[[ " $MODES " == *" $m "* ]] && { [ "$m" != imqd ] || [ "$HAVE_IMQD" = 1 ]; } && printf ' %s' "$m"
	done
}

# Shaped rates again, IFB and imqd taking turns, longer runs: at 10 Mbit/s a
# 5 s TCP run moves by 1-2% from one repetition to the next, on either
# device, more than the 1% being measured.
shaped_turn() {
	measure_shaped 1 tbfround "$ST"
	[ "$MODE" != imqd ] || check_imqd_counters
}
SROUND_MODES=$(present_modes ifb imqd)
[ "$SROUND_MODES" = " ifb imqd" ] || SROUNDS=0
[ "$SROUNDS" -gt 0 ] && log "shaped rounds: ${ST} s per rate"
rounds "$SROUNDS" shaped "$SROUND_MODES" shaped_turn

# Unshaped TCP again, the bare F_GSO loop, IFB and imqd taking turns: a
# single turn's 1-stream figure moves by 10-40% with the machine's state.
tcp_turn() {
	measure_tcp_once 1 tcp1_round
	measure_tcp_once 8 tcp8_round
}
TROUND_MODES=$(present_modes bare-gso ifb imqd)
# Rounds pair imqd with the others: without imqd and one of them, none.
case $TROUND_MODES in *imqd*) [ "$(wc -w <<<"$TROUND_MODES")" -ge 2 ] || TROUNDS=0 ;; *) TROUNDS=0 ;; esac
rounds "$TROUNDS" TCP "$TROUND_MODES" tcp_turn

# Idle latency and small packets again, the consumers taking turns: a few
# microseconds matter for latency, and the machine's state drifts more than
# that between one configuration's turn and the next (and moves the UDP rate
# by a third). Each round gives each its own set-up, 1000 pings and one UDP run.
latency_turn() {
	measure_ping_idle ping_round 1000
	measure_udp_once udp_round
}
rounds "$ROUNDS" "latency and UDP" "$(present_modes bare-gso bare-tun imqd)" latency_turn

log "done in $(($(date +%s) - START)) s"
mkdir -p "$(dirname "$OUT")"
lib report "$RECORDS" "$ANOMALIES" "$TMP/meta.json" "$OUT"

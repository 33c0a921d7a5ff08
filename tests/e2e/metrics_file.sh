#!/usr/bin/env bash
# metrics-file as a node exporter's textfile collector reads it: written at
# start-up and every metrics-interval (1s here) with mode 0644, its counters
# following the traffic (800 datagrams through imq0: received_packets_total
# 800, as imqctl counts them). A reload that moves the file writes the new one
# and removes the old one (its counters would stand still); a reload that
# changes control-socket, control-group or user says they wait for a restart,
# again at each reload until the file names the running values again, and
# the old socket keeps working. A file whose directory is missing is
# reported once and written once the directory is there. SIGTERM removes the
# file.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init metrics_file

CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
PROM=$T_TMP/prom/imqd.prom
PROM2=$T_TMP/prom/other.prom
PORT=9300
N=800
mkdir -p "$T_TMP/prom"

# metric FILE NAME: the value of NAME{device="imq0"} in FILE.
metric() { awk -v m="$2{device=\"imq0\"}" '$1 == m { print $2 }' "$1" 2>/dev/null; }

# conf CONTROL-SOCKET METRICS-FILE: the config, imq0 on queue 0, written every 1s.
conf() {
	imqd_conf "$CONF" "$1" "metrics-file = $2
metrics-interval = 1s" <<EOF
[imq0]
queues = 0
EOF
}

# reload_to METRICS-FILE: a reload that also names another control socket.
reload_to() {
	conf "$T_TMP/new.sock" "$1"
	out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload failed: $out"
}

topo_create
conf "$SOCK" "$PROM"
start_imqd_conf "$CONF"
[ -f "$PROM" ] || fail "no $PROM after start-up"
assert_eq "mode of the metrics file" 644 "$(stat -c %a "$PROM")"
assert_eq "imqd_received_packets_total at start-up" 0 "$(metric "$PROM" imqd_received_packets_total)"
grep -q '^imqd_device_info{device="imq0",state="up",' "$PROM" ||
	mismatch "no imqd_device_info line for imq0 in state up: $(grep device_info "$PROM")"

nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$PORT" \
	-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"
udp_recv a "$PORT" "$N" 20
udp_send a "$PORT" "$N" 10 -s 500 -r 2000 -f 2 || mismatch "udpseq send failed"
udp_check a "$N"
# Within two intervals the file has the traffic in it.
for _ in $(seq 25); do
	[ "$(metric "$PROM" imqd_received_packets_total)" = "$N" ] && break
	sleep 0.1
done
check_counters
assert_eq "imqd_received_packets_total after the traffic" "$S_received" \
	"$(metric "$PROM" imqd_received_packets_total)"
assert_eq "imqd_received_packets_total = datagrams sent" "$N" "$(metric "$PROM" imqd_received_packets_total)"

# A reload that moves the file and changes the control socket.
reload_to "$PROM2"
[ -f "$PROM2" ] || mismatch "no $PROM2 after the reload that names it"
[ -e "$PROM" ] && mismatch "$PROM still there after the reload moved the metrics file"
assert_eq "imqd_received_packets_total in the new file" "$N" "$(metric "$PROM2" imqd_received_packets_total)"
WAITS="control-socket = $T_TMP/new.sock takes effect when imqd restarts; until then it stays $SOCK"
assert_eq "log lines: control-socket waits for a restart" 1 "$(log_count "$IMQD_LOG" "$WAITS")"
"$IMQCTL" -s "$SOCK" show >/dev/null || mismatch "the running control socket stopped answering"
[ -e "$T_TMP/new.sock" ] && mismatch "a control socket was made at the new path before a restart"

# A file in a directory that is not there yet: said once, not every interval;
# written as soon as the directory appears.
PROM3=$T_TMP/later/imqd.prom
reload_to "$PROM3"
[ -e "$PROM2" ] && mismatch "$PROM2 still there after the reload named another file"
assert_eq "log lines: control-socket still waits for a restart, after another reload" 2 \
	"$(log_count "$IMQD_LOG" "$WAITS")"
sleep 3.5
assert_eq "log lines: cannot write the file in a missing directory, over 3 intervals" 1 \
	"$(log_count "$IMQD_LOG" "cannot write $PROM3: No such file or directory")"
mkdir "$T_TMP/later"
for _ in $(seq 30); do [ -f "$PROM3" ] && break; sleep 0.1; done
[ -f "$PROM3" ] || mismatch "no $PROM3 within 3 s of its directory appearing"
assert_eq "imqd_received_packets_total in the late file" "$N" "$(metric "$PROM3" imqd_received_packets_total)"
assert_eq "log lines: writing the file again" 1 "$(log_count "$IMQD_LOG" "writing $PROM3 again")"
# Back to the socket in effect: nothing waits for a restart any more.
conf "$SOCK" "$PROM3"
out=$("$IMQCTL" -s "$SOCK" reload 2>&1) || mismatch "imqctl reload failed: $out"
assert_eq "log lines: takes effect when imqd restarts, after a reload back to the socket in effect" 2 \
	"$(log_count "$IMQD_LOG" "takes effect when imqd restarts")"

stop_imqd
[ -e "$PROM3" ] && mismatch "$PROM3 still there after imqd stopped"
finish

#!/usr/bin/env bash
# Netlink receive-buffer overrun. imqd is stopped (SIGSTOP) for 1.5 s while a
# UDP burst is queued to it, then continued (SIGCONT).
#  0. Its own receive buffer: sized for the whole queue, it must hold the
#     burst (no overrun, no id gap, every datagram arrives).
#  1. The buffer shrunk to 64 KB from outside (pidfd_getfd + SO_RCVBUF), the
#     default on-overflow = accept: the kernel cannot deliver most messages
#     and passes those packets itself. imqd counts the skipped ids (id_gaps),
#     nothing is stranded in the kernel queue, every datagram arrives.
#  2. The same with on-overflow = drop: the kernel drops them (user_dropped,
#     nfnetlink_queue column 7) and id_gaps equals that count.
# In all: counters add up, column 3 returns to 0.
. "$(dirname "$0")/lib.sh"
e2e_init fault_overrun

SIZE=1000
TRAIL=20

topo_create

# burst NAME PORT N: SIGSTOP, N datagrams to PORT as fast as they go, 1.5 s,
# SIGCONT, then TRAIL datagrams to PORT+1 so imqd sees the ids after any gap.
# Sets GOT (datagrams that reached dst on both ports).
burst() {
	local name=$1 port=$2 n=$3 main trail
	stamp_recv "$DST" $((port + 1)) 15 "$name-trail" 2
	trail=$RECV_PID
	# Idle for up to 5 s: with on-overflow = accept the kernel passes most of
	# the burst at once, and what it queued comes 1.5 s later, when imqd runs.
	stamp_recv "$DST" "$port" 15 "$name" 5
	main=$RECV_PID
	kill_imqd STOP
	timeout 10 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p "$port" -n "$n" -s "$SIZE" -t 5 \
		>"$T_TMP/send-$port.json" || log "$name: burst sender: $(cat "$T_TMP/send-$port.json")"
	log "$name: burst of $(stream_sent "$port") sent while imqd is stopped;" \
		"kernel queue $(nfq_col 0 3), user_dropped $(nfq_col 0 7)"
	sleep 1.5
	kill_imqd CONT
	wait_until 3 '[ "$(queued_now)" = 0 ]'
	timeout 10 ip netns exec "$SRC" "$UDPSEQ" send -d "$DST_IP" -p $((port + 1)) -n "$TRAIL" -s 100 -r 200 -t 5 \
		>"$T_TMP/send-$((port + 1)).json" || fail "$name: trailing sender failed"
	RECV_PID=$main
	stamp_wait "$name" 20
	RECV_PID=$trail
	stamp_wait "$name-trail" 10
	GOT=$(($(json_field "$T_TMP/$name.json" unique) + $(json_field "$T_TMP/$name-trail.json" unique)))
	SENT=$(($(stream_sent "$port") + $(stream_sent $((port + 1)))))
	check_counters
	check_nothing_queued
}

rule() {
	nsx "$GW" iptables -t mangle -A PREROUTING -i "$GW_IN" -p udp --dport "$1:$(($1 + 1))" \
		-j NFQUEUE --queue-num 0 --queue-bypass || fail "iptables NFQUEUE rule failed"
}

start_imqd 0
nsx "$GW" tc qdisc replace dev imq0 root pfifo limit 10000 || fail "tc pfifo on imq0 failed"
sock=$(nl_sock "$IMQD_PID") || fail "cannot find imqd's NFQUEUE socket"
log "imqd's NFQUEUE socket: inode $sock, receive buffer as imqd set it"

# 0. imqd's own buffer.
rule 9141
burst own 9141 5000
drops0=$(nl_drops "$IMQD_PID" "$sock")
assert_eq "0: netlink socket drops with imqd's own buffer" 0 "$drops0"
assert_eq "0: id_gaps with imqd's own buffer" 0 "${S_id_gaps:-0}"
assert_eq "0: datagrams at dst" "$SENT" "$GOT"
own_sent=$SENT own_got=$GOT

# 1. Shrunk buffer, on-overflow = accept.
gaps_before=${S_id_gaps:-0} recv_before=$S_received ud_before=$(nfq_col 0 7)
log "1: receive buffer now $(set_rcvbuf "$IMQD_PID" "$sock" 65536) bytes"
rule 9143
burst accept 9143 3000
drops1=$(nl_drops "$IMQD_PID" "$sock")
gaps1=$((S_id_gaps - gaps_before))
log "1: netlink drops $drops1, id_gaps $gaps1, user_dropped $(nfq_col 0 7), queue_dropped $(nfq_col 0 6)"
assert_gt "1: netlink socket drops (the overrun happened)" 0 "$drops1"
assert_gt "1: id_gaps counted" 0 "$gaps1"
assert_eq "1: imqd received + id_gaps = sent" "$SENT" "$((S_received - recv_before + gaps1))"
assert_eq "1: user_dropped (on-overflow = accept: the kernel passed them)" "$ud_before" "$(nfq_col 0 7)"
assert_eq "1: datagrams at dst (imqd's and the kernel's accepts)" "$SENT" "$GOT"
assert_log "1: skipped ids logged" 'the kernel passed unshaped [0-9]+ packets itself'
assert_eq "1: kernel_passed = id_gaps" "$gaps1" "$((S_kernel_passed))"
acc_sent=$SENT acc_got=$GOT
stop_imqd

# 2. Shrunk buffer, on-overflow = drop.
start_imqd 0 "on-overflow = drop"
nsx "$GW" tc qdisc replace dev imq0 root pfifo limit 10000 || fail "tc pfifo on imq0 failed"
sock=$(nl_sock "$IMQD_PID") || fail "cannot find imqd's NFQUEUE socket"
ud_before=$(nfq_col 0 7)
log "2: receive buffer now $(set_rcvbuf "$IMQD_PID" "$sock" 65536) bytes"
burst drop 9143 3000
gaps2=${S_id_gaps:-0}
ud2=$(($(nfq_col 0 7) - ud_before))
log "2: netlink drops $(nl_drops "$IMQD_PID" "$sock"), id_gaps $gaps2, user_dropped $ud2"
assert_gt "2: id_gaps counted" 0 "$gaps2"
assert_eq "2: id_gaps = kernel user_dropped" "$ud2" "$gaps2"
assert_eq "2: kernel_dropped = id_gaps" "$gaps2" "$S_kernel_dropped"
assert_eq "2: imqd received + id_gaps = sent" "$SENT" "$((S_received + gaps2))"
assert_eq "2: datagrams at dst = imqd accepted + failopen" "$((S_accepted + S_failopen))" "$GOT"
stop_imqd

result "test=fault_overrun own_sent=$own_sent own_received=$own_got" \
	"accept_sent=$acc_sent accept_received=$acc_got accept_id_gaps=$gaps1 accept_nl_drops=$drops1" \
	"drop_sent=$SENT drop_received=$GOT drop_id_gaps=$gaps2 drop_user_dropped=$ud2"
finish

#!/usr/bin/env bash
# sd_notify: imqd started with NOTIFY_SOCKET (a datagram socket this test's
# python helper listens on) and WATCHDOG_USEC=400000 sends READY=1 once imq0
# and its queue are up, RELOADING=1 then READY=1 around a SIGHUP reload,
# STOPPING=1 on SIGTERM, in that order, and WATCHDOG=1 about every 200 ms.
# With WATCHDOG_PID naming another process it sends no WATCHDOG=1; without
# NOTIFY_SOCKET it starts and stops normally.
# shellcheck source=lib.sh disable=SC2154 # S_* are set by imqd_counters
. "$(dirname "$0")/lib.sh"
e2e_init notify

CONF=$T_TMP/imqd.conf
SOCK=$T_TMP/imqd.sock
NSOCK=$T_TMP/notify.sock
HELPER=$T_TMP/notify.py

# notify.py SOCKET RECORDS PIDFILE -- CMD...: bind SOCKET, run CMD with
# NOTIFY_SOCKET=SOCKET (the rest of the environment as given), write its pid,
# and record each datagram as a JSON line {"t": monotonic seconds, "msg": text}
# until CMD exits (60 s at most). At the first READY=1 it also records what
# CMD's network namespace looks like then: imq0 present, queues bound.
cat >"$HELPER" <<'EOF'
import json, os, select, socket, subprocess, sys, time

path, records, pidfile = sys.argv[1:4]
cmd = sys.argv[5:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
env = dict(os.environ, NOTIFY_SOCKET=path)
child = subprocess.Popen(cmd, env=env)
with open(pidfile + ".new", "w") as f:
    f.write("%d\n" % child.pid)
os.rename(pidfile + ".new", pidfile)
out = open(records, "w", buffering=1)
deadline = time.monotonic() + 60
ready_seen = False

def snapshot(pid):
    try:
        with open("/proc/%d/net/dev" % pid) as f:
            dev = any(l.split(":")[0].strip() == "imq0" for l in f)
        with open("/proc/%d/net/netfilter/nfnetlink_queue" % pid) as f:
            queues = sorted(int(l.split()[0]) for l in f if l.strip())
    except OSError as e:
        return {"error": str(e)}
    return {"imq0": dev, "queues": queues}

def drain(timeout):
    global ready_seen
    r, _, _ = select.select([s], [], [], timeout)
    if not r:
        return False
    data = s.recv(65536)
    t = time.monotonic()
    msg = data.decode("utf-8", "replace")
    rec = {"t": t, "msg": msg}
    if not ready_seen and "READY=1" in msg.split("\n"):
        ready_seen = True
        rec["at_ready"] = snapshot(child.pid)
    out.write(json.dumps(rec) + "\n")
    return True

while child.poll() is None and time.monotonic() < deadline:
    drain(0.05)
if child.poll() is None:
    child.kill()
    child.wait()
while drain(0.2):
    pass
out.write(json.dumps({"exit": child.returncode}) + "\n")
out.close()
EOF

# analyse RECORDS: key=value lines about the recorded datagrams.
analyse() {
	python3 - "$1" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
msgs = [r for r in recs if "msg" in r]
events, wd, status, ready_state = [], [], 0, None
for r in msgs:
    for a in r["msg"].split("\n"):
        if a in ("READY=1", "RELOADING=1", "STOPPING=1"):
            events.append(a.split("=")[0])
        elif a == "WATCHDOG=1":
            wd.append(r["t"])
        elif a.startswith("STATUS="):
            status += 1
    if "at_ready" in r and ready_state is None:
        ready_state = r["at_ready"]
gaps = [(b - a) * 1000 for a, b in zip(wd, wd[1:])]
print("events=%s" % ",".join(events))
print("watchdogs=%d" % len(wd))
print("wd_mean_ms=%.1f" % (sum(gaps) / len(gaps) if gaps else -1))
print("wd_min_ms=%.1f" % (min(gaps) if gaps else -1))
print("wd_max_ms=%.1f" % (max(gaps) if gaps else -1))
print("statuses=%d" % status)
st = ready_state or {}
print("ready_imq0=%s" % st.get("imq0", "unknown"))
print("ready_queues=%s" % ",".join(str(q) for q in st.get("queues", [])))
ex = [r["exit"] for r in recs if "exit" in r]
print("exit=%s" % (ex[0] if ex else "none"))
EOF
}

# run_helper NAME [ENV...]: start imqd in $GW under the helper (with ENV),
# which records its notifications in $T_TMP/NAME.rec; waits until imqd is ready.
run_helper() {
	local name=$1
	shift
	rm -f "$NSOCK" "$T_TMP/$name.pid"
	IMQD_PIDFILE=$T_TMP/$name.pid start_imqd_conf "$CONF" env -u WATCHDOG_PID -u WATCHDOG_USEC "$@" \
		python3 "$HELPER" "$NSOCK" "$T_TMP/$name.rec" "$T_TMP/$name.pid" --
}

ns_new g GW
imqd_conf "$CONF" "$SOCK" <<EOF
[imq0]
queues = 0
EOF

# 1. The whole life: start, SIGHUP, SIGTERM.
run_helper main WATCHDOG_USEC=400000
sleep 1.5
kill -HUP "$IMQD_PID"
wait_log "$IMQD_LOG" 'configuration reloaded' 1 5 || mismatch "no 'configuration reloaded' in the log within 5 s of SIGHUP"
sleep 1
stop_imqd
log "datagrams: $(grep -c '"msg"' "$T_TMP/main.rec") recorded"
eval "$(analyse "$T_TMP/main.rec")" || fail "cannot analyse $T_TMP/main.rec"
log "events $events; $watchdogs WATCHDOG=1, gaps mean $wd_mean_ms ms (min $wd_min_ms, max $wd_max_ms); $statuses STATUS"
assert_eq "READY/RELOADING/STOPPING sequence" "READY,RELOADING,READY,STOPPING" "$events"
assert_ge "WATCHDOG=1 pings in about 2.5 s" 6 "$watchdogs"
if python3 -c 'import sys; sys.exit(0 if 100 <= float(sys.argv[1]) <= 300 else 1)' "$wd_mean_ms"; then
	pass_msg "mean gap between WATCHDOG=1 pings: $wd_mean_ms ms (100 to 300)"
else
	mismatch "mean gap between WATCHDOG=1 pings: expected 100 to 300 ms, measured $wd_mean_ms"
fi
assert_gt "STATUS= messages" 0 "$statuses"
assert_eq "imq0 existed when READY=1 arrived" True "$ready_imq0"
assert_eq "queues bound when READY=1 arrived" 0 "$ready_queues"
assert_eq "imqd exit status (main run)" 0 "$exit"

# 2. WATCHDOG_PID of another process: no WATCHDOG=1, still READY and STOPPING.
run_helper otherpid WATCHDOG_USEC=400000 WATCHDOG_PID=1
sleep 1
stop_imqd
eval "$(analyse "$T_TMP/otherpid.rec")" || fail "cannot analyse $T_TMP/otherpid.rec"
log "WATCHDOG_PID=1: events $events; $watchdogs WATCHDOG=1"
assert_eq "WATCHDOG=1 pings with WATCHDOG_PID=1" 0 "$watchdogs"
assert_eq "READY/STOPPING sequence with WATCHDOG_PID=1" "READY,STOPPING" "$events"
assert_eq "imqd exit status (WATCHDOG_PID=1)" 0 "$exit"

# 3. No NOTIFY_SOCKET at all: a normal start and stop.
start_imqd_conf "$CONF" env -u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID
sleep 0.5
imqd_alive
stop_imqd
finish

#!/usr/bin/env python3
"""sd_notify messages of a daemon, recorded and summed up, for
tests/e2e/notify.sh.

  notifyrec.py record SOCKET RECORDS PIDFILE -- CMD...
      Binds the datagram socket SOCKET, runs CMD with NOTIFY_SOCKET=SOCKET
      (the rest of the environment as given), writes CMD's pid to PIDFILE,
      and records each datagram as a JSON line {"t": monotonic seconds,
      "msg": text} in RECORDS until CMD exits (60 s at most, then it is
      killed); at the first READY=1 it also records what CMD's network
      namespace looks like then (imq0 present, queues bound). Exits with
      CMD's exit status.
  notifyrec.py analyse RECORDS
      key=value lines: events (READY, RELOADING, STOPPING in order),
      watchdogs (WATCHDOG=1 count), wd_mean_ms, wd_min_ms, wd_max_ms (gaps
      between them, -1 without two), statuses (STATUS= count), ready_imq0,
      ready_queues (at the first READY=1), exit (CMD's status).
"""
import json
import os
import select
import socket
import subprocess
import sys
import time


def snapshot(pid):
    """imq0's presence and the bound queues in PID's network namespace."""
    try:
        with open("/proc/%d/net/dev" % pid) as f:
            dev = any(line.split(":")[0].strip() == "imq0" for line in f)
        with open("/proc/%d/net/netfilter/nfnetlink_queue" % pid) as f:
            queues = sorted(int(line.split()[0]) for line in f if line.strip())
    except OSError as e:
        return {"error": str(e)}
    return {"imq0": dev, "queues": queues}


def record(path, records, pidfile, cmd, limit=60):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    child = subprocess.Popen(cmd, env=dict(os.environ, NOTIFY_SOCKET=path))
    with open(pidfile + ".new", "w") as f:
        f.write("%d\n" % child.pid)
    os.rename(pidfile + ".new", pidfile)
    ready_seen = False
    with open(records, "w", buffering=1) as out:
        def drain(timeout):
            nonlocal ready_seen
            r, _, _ = select.select([s], [], [], timeout)
            if not r:
                return False
            msg = s.recv(65536).decode("utf-8", "replace")
            rec = {"t": time.monotonic(), "msg": msg}
            if not ready_seen and "READY=1" in msg.split("\n"):
                ready_seen = True
                rec["at_ready"] = snapshot(child.pid)
            out.write(json.dumps(rec) + "\n")
            return True

        deadline = time.monotonic() + limit
        while child.poll() is None and time.monotonic() < deadline:
            drain(0.05)
        if child.poll() is None:
            child.kill()
            child.wait()
        while drain(0.2):
            pass
        out.write(json.dumps({"exit": child.returncode}) + "\n")
    # Killed by a signal: the status a shell would give.
    return 128 - child.returncode if child.returncode < 0 else child.returncode


def analyse(lines):
    """The key=value lines for the records in LINES."""
    recs = [json.loads(line) for line in lines if line.strip()]
    events, wd, status, ready_state = [], [], 0, None
    for r in (r for r in recs if "msg" in r):
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
    st = ready_state or {}
    ex = [r["exit"] for r in recs if "exit" in r]
    return ["events=%s" % ",".join(events),
            "watchdogs=%d" % len(wd),
            "wd_mean_ms=%.1f" % (sum(gaps) / len(gaps) if gaps else -1),
            "wd_min_ms=%.1f" % (min(gaps) if gaps else -1),
            "wd_max_ms=%.1f" % (max(gaps) if gaps else -1),
            "statuses=%d" % status,
            "ready_imq0=%s" % st.get("imq0", "unknown"),
            "ready_queues=%s" % ",".join(str(q) for q in st.get("queues", [])),
            "exit=%s" % (ex[0] if ex else "none")]


def main(argv):
    if len(argv) >= 7 and argv[1] == "record" and argv[5] == "--":
        return record(argv[2], argv[3], argv[4], argv[6:])
    if len(argv) == 3 and argv[1] == "analyse":
        with open(argv[2]) as f:
            print("\n".join(analyse(f)))
        return 0
    sys.exit("usage: notifyrec.py record SOCKET RECORDS PIDFILE -- CMD... | analyse RECORDS")


if __name__ == "__main__":
    sys.exit(main(sys.argv))

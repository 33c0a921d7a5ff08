#!/usr/bin/env python3
"""Clients that misuse imqd's control socket, for the fault tests.

  ctlclients.py abuse SOCKET
      A. bad requests, one client each: garbage, NUL bytes, unknown and
         malformed commands, 100 KB lines with and without a newline, a
         request cut short; B. 5 slow clients (one byte every 0.2 s) and 50
         silent ones at once, for up to 8 s; C. 300 connect-and-close in a
         row. Prints one JSON object: per bad request [answer, seconds,
         closed], and counts of what became of B's and C's clients.
  ctlclients.py hog SOCKET STOPFILE
      Connects up to 40 idle clients, prints "connected N", and holds them
      until STOPFILE exists (30 s at most).
  ctlclients.py lockout SOCKET CLIENTS SECONDS
      Keeps CLIENTS clients that never send a request; each connects again
      as soon as imqd closes it (its client timeout, or "error too many
      clients" at once). After SECONDS prints one JSON object: connections
      made, how many imqd refused, how many it cut off after their silence,
      and how many connects found the listen backlog full.
"""
import json
import os
import random
import select
import socket
import sys
import time

BAD_REQUESTS = {
    "nul_bytes": b"stats\0\0\0\n",
    "unknown": b"frobnicate\n",
    "two_args": b"stats imq0 imq1\n",
    "reload_arg": b"reload now\n",
    "bad_device": b"stats nosuchdev\n",
    "oversized_newline": b"a" * 100000 + b"\n",
    "oversized_no_newline": b"b" * 100000,
}


class Connector:
    """Connects to PATH; a full listen backlog answers EAGAIN at once, so retry for 2 s."""

    def __init__(self, path):
        self.path = path
        self.backlog_full = 0

    def __call__(self, timeout=3.0):
        deadline = time.monotonic() + 2
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(self.path)
                return s
            except BlockingIOError:
                s.close()
                self.backlog_full += 1
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.001)


def answer(s, limit=5.0):
    """Everything the server sends until EOF, the seconds it took, and whether it closed."""
    t0 = time.monotonic()
    data = b""
    s.settimeout(limit)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data.decode(errors="replace"), round(time.monotonic() - t0, 3), True
            data += b
    except ConnectionResetError:
        # closed with our unread request bytes still queued: a reset is a close
        return data.decode(errors="replace"), round(time.monotonic() - t0, 3), True
    except socket.timeout:
        return data.decode(errors="replace"), round(time.monotonic() - t0, 3), False


def send_quiet(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def bad_requests(connect, rng):
    """A: each bad request on a client of its own; name -> (answer, seconds, closed)."""
    cases = {"garbage": bytes(rng.getrandbits(8) | 0x80 for _ in range(300)) + b"\n"}
    cases.update(BAD_REQUESTS)
    out = {}
    for name, req in cases.items():
        s = connect()
        send_quiet(s, req)
        out[name] = answer(s)
        s.close()
    s = connect()
    s.sendall(b"stats")
    s.shutdown(socket.SHUT_WR)
    out["unterminated"] = answer(s)
    s.close()
    return out


def tally(ends, still_open):
    """B's counts from ENDS: (kind, i) -> (seconds until closed, what the server said)."""
    def pick(kind, refused=None):
        return [t for (k, _), (t, d) in ends.items()
                if k == kind and (refused is None or ("too many" in d) == refused)]
    return {"silent_refused": len(pick("silent", True)), "silent_cut": len(pick("silent", False)),
            "silent_cut_max_s": max(pick("silent", False) or [0]),
            "slow_cut": len(pick("slow")), "slow_cut_max_s": max(pick("slow") or [0]),
            "slow_refused": len(pick("slow", True)), "still_open": still_open}


def idle_clients(connect, secs=8):
    """B: 5 slow clients and 50 silent ones until the server closes them (SECS at most)."""
    t0 = time.monotonic()
    slow = [connect() for _ in range(5)]
    silent = [connect() for _ in range(50)]
    pending = {s: ("silent", i) for i, s in enumerate(silent)}
    pending.update({s: ("slow", i) for i, s in enumerate(slow)})
    ends, got = {}, {}
    next_byte = time.monotonic()
    while pending and time.monotonic() - t0 < secs:
        now = time.monotonic()
        if now >= next_byte:
            for s in slow:
                if s in pending:
                    try:
                        s.send(b"x")
                    except OSError:
                        pass
            next_byte = now + 0.2
        r, _, _ = select.select(list(pending), [], [], max(0.01, next_byte - time.monotonic()))
        for s in r:
            try:
                b = s.recv(4096)
            except ConnectionResetError:
                b = b""
            if b:
                got[s] = got.get(s, b"") + b
                continue
            ends[pending.pop(s)] = (round(time.monotonic() - t0, 3),
                                    got.get(s, b"").decode(errors="replace"))
    out = tally(ends, len(pending))
    for s in silent + slow:
        s.close()
    return out


def flood(connect, n=300):
    """C: N connect-and-close in a row; how many connected and the seconds it took."""
    t0 = time.monotonic()
    ok = 0
    for _ in range(n):
        try:
            connect(1.0).close()
            ok += 1
        except OSError:
            pass
    return {"flood_connects": ok, "flood_s": round(time.monotonic() - t0, 3)}


def abuse(path):
    connect = Connector(path)
    out = bad_requests(connect, random.Random(3))
    out.update(idle_clients(connect))
    out.update(flood(connect))
    out["backlog_full_retries"] = connect.backlog_full
    return out


def hog(path, stop, n=40, secs=30):
    """Up to N idle clients, held until STOP exists or SECS pass."""
    held = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            held.append(s)
        except OSError:
            s.close()
    print("connected", len(held), flush=True)
    deadline = time.time() + secs
    while not os.path.exists(stop) and time.time() < deadline:
        time.sleep(0.1)
    for s in held:
        s.close()
    return len(held)


def lockout_connect(path, stats):
    """A non-blocking connection to PATH, retried while the listen backlog is full."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        try:
            s.connect(path)
            stats["connections"] += 1
            return s
        except BlockingIOError:
            s.close()
            stats["backlog_full"] += 1
            time.sleep(0.001)


def lockout(path, clients, secs):
    """CLIENTS silent clients on PATH for SECS, each reconnecting once closed; the counts."""
    stats = {"connections": 0, "refused": 0, "cut": 0, "backlog_full": 0}
    said = {}
    for _ in range(clients):
        s = lockout_connect(path, stats)
        said[s] = b""
    end = time.monotonic() + secs
    while time.monotonic() < end:
        r, _, _ = select.select(list(said), [], [], max(0.0, min(0.1, end - time.monotonic())))
        for s in r:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            if data:
                said[s] += data
                continue
            stats["refused" if said.pop(s).startswith(b"error too many clients") else "cut"] += 1
            s.close()
            said[lockout_connect(path, stats)] = b""
    for s in said:
        s.close()
    return stats


def main(argv):
    if len(argv) == 3 and argv[1] == "abuse":
        print(json.dumps(abuse(argv[2])))
    elif len(argv) == 4 and argv[1] == "hog":
        hog(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "lockout":
        print(json.dumps(lockout(argv[2], int(argv[3]), float(argv[4]))), flush=True)
    else:
        sys.exit("usage: ctlclients.py abuse SOCKET | hog SOCKET STOPFILE | "
                 "lockout SOCKET CLIENTS SECONDS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

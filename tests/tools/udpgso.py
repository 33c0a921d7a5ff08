#!/usr/bin/env python3
# UDP GSO sender and receiver of numbered datagrams, for tests/e2e:
#   udpgso.py send ADDR PORT SENDS SEGS SEGSIZE MBIT
#     SENDS sends of SEGS datagrams of SEGSIZE bytes each, cut by the kernel
#     (UDP_SEGMENT, as QUIC stacks use), paced to MBIT; prints {"sent", "errors"}.
#   udpgso.py recv PORT COUNT SECONDS
#     until COUNT datagrams or SECONDS (2 s quiet after the first); prints
#     {"received", "duplicates", "mbit"}.
import json, socket, struct, sys, time
if sys.argv[1] == "send":
    addr, port, sends, segs, size, mbit = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
        int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(17, 103, size)  # SOL_UDP, UDP_SEGMENT: the kernel cuts each send
    s.connect((addr, port))
    start, sent, errors = time.time(), 0, 0
    for i in range(sends):
        buf = b"".join(struct.pack("!I", i * segs + k).ljust(size, b"\0") for k in range(segs))
        try:
            s.send(buf)
        except OSError:
            errors += 1
        sent += len(buf)
        pause = start + sent * 8 / (mbit * 1e6) - time.time()
        if pause > 0:
            time.sleep(pause)
    print(json.dumps({"sent": sends * segs, "errors": errors}))
else:
    port, count, secs = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.bind(("::", port))
    print("listening", file=sys.stderr, flush=True)
    seen, dups, nbytes, first, last = set(), 0, 0, None, None
    end = time.time() + secs
    while len(seen) < count and time.time() < end:
        s.settimeout(max(0.01, min(2.0 if first else secs, end - time.time())))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        last = time.time()
        first = first or last
        n = struct.unpack("!I", d[:4])[0]
        dups += n in seen
        seen.add(n)
        nbytes += len(d)
    dur = last - first if first and last and last > first else 0
    print(json.dumps({"received": len(seen), "duplicates": dups,
                      "mbit": nbytes * 8 / dur / 1e6 if dur else 0}))

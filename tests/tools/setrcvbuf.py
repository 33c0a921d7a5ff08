#!/usr/bin/env python3
"""Shrink another process's socket receive buffer from outside, as a fault.

  setrcvbuf.py PID INODE BYTES
      Takes a copy of PID's socket with inode INODE (pidfd_getfd) and sets
      its SO_RCVBUF to BYTES; prints the size the kernel then reports. Run
      as root.
"""
import ctypes
import os
import socket
import sys

SYS_PIDFD_GETFD = 438  # x86_64 and arm64


def find_fd(pid, inode):
    """PID's descriptor number for socket INODE, or None."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                return int(fd)
        except OSError:
            pass
    return None


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: setrcvbuf.py PID INODE BYTES")
    pid, inode, size = int(argv[1]), argv[2], int(argv[3])
    target = find_fd(pid, inode)
    if target is None:
        sys.exit("no socket %s in process %d" % (inode, pid))
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
    if fd < 0:
        sys.exit("pidfd_getfd: %s" % os.strerror(ctypes.get_errno()))
    s = socket.socket(fileno=fd)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    print(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    s.detach()
    os.close(fd)
    os.close(pidfd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env bash
# imqctl as installed in the system test's container, run there as root:
# the test's IMQCTL, so that tests/e2e/lib.sh's counter checks read the
# packaged imqd. SYS_LEADER is the host's pid of the container's PID 1.
exec nsenter -t "${SYS_LEADER:?set by tests/system/lib.sh}" -a /usr/sbin/imqctl "$@"

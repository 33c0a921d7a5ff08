/* Device hooks: programs run when imqN comes up or goes away, beside the event loop. */
#ifndef IMQD_HOOK_H
#define IMQD_HOOK_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Run hooks from BASE's loop: each is watched there, none is waited for (the loop goes on). */
void hook_init(struct event_base *base);

/*
 * Run ARGV (no shell) with IMQ_DEV=DEV and IMQ_QUEUES set, killing it and
 * what it started after TIMEOUT_MS. It starts once the hooks queued before
 * it for DEV have ended, so a device's hooks run one at a time and in
 * order; other devices' hooks and the datapath do not wait. Its exit
 * status, or why it failed, is logged with WHAT ("up", "down"). KEEP_FD
 * (-1: none) is closed once it has ended: a down hook keeps the TUN fd, and
 * so the device, until then. 0, or -1 when it cannot be queued (logged).
 * Any thread may call it: a worker's hook is handed to the main loop.
 */
int hook_run(char *const argv[], const char *what, const char *dev, const uint16_t *queues,
             size_t nqueues, unsigned timeout_ms, int keep_fd);

/* Hooks queued or running now. */
size_t hook_pending(void);

/* Run every queued hook to its end, waiting for each (at exit, once the loop has stopped). */
void hook_finish(void);

/* Run hooks as USER with CAP_NET_ADMIN and CAP_NET_RAW only, while imqd is still root (NULL: as
 * imqd). */
void hook_set_user(const char *user);

#endif

/* Device hooks: programs run when imqN comes up or goes away. */
#ifndef IMQD_HOOK_H
#define IMQD_HOOK_H

#include <stddef.h>
#include <stdint.h>

/* Run ARGV (no shell) with IMQ_DEV=DEV and IMQ_QUEUES set, killing it after TIMEOUT_MS; returns its
 * exit status, -1 if it could not run or was killed. Logs failures with WHAT ("up", "down"). */
int hook_run(char *const argv[], const char *what, const char *dev, const uint16_t *queues,
             size_t nqueues, unsigned timeout_ms);

/* Run hooks as USER with CAP_NET_ADMIN and CAP_NET_RAW only, while imqd is still root (NULL: as
 * imqd). */
void hook_set_user(const char *user);

#endif

/* Control socket: a UNIX stream socket answering imqctl's requests from the event loop. */
#ifndef IMQD_CTL_H
#define IMQD_CTL_H

#include <stddef.h>
#include <stdio.h>

#include "conf.h"
#include "rules.h"

struct event_base;
struct stats_device;
struct ctl;

/* What the daemon provides to answer requests. */
struct ctl_ops {
	/* Fill up to MAX views of the current devices (all when DEV is NULL); return how many. */
	size_t (*snapshot)(void *arg, const char *dev, struct stats_device *out, size_t max);
	/*
	 * Reload the config now; write any errors to ERR. -1: not valid, nothing
	 * changed; -2: applied except what ERR names.
	 */
	int (*reload)(void *arg, FILE *err);
	/* Print the rules for DEV (all if NULL) in FORMAT to OUT; -1 if DEV is unknown. */
	int (*rules)(void *arg, const char *dev, enum rules_format format, FILE *out);
	void *arg;
};

/* Listen on PATH (replacing a stale socket), owned by GROUP (NULL: unchanged), mode 0660. */
struct ctl *ctl_open(struct event_base *base, const char *path, const char *group,
                     const struct ctl_ops *ops);

/* Stop listening, drop every client and remove the socket file. */
void ctl_close(struct ctl *ctl);

/* Where imqd listens and imqctl connects unless configured otherwise. */
#define CTL_DEFAULT_PATH "/run/imqd/imqd.sock"
/* Maximum devices in one answer. */
#define CTL_MAX_DEVICES CONF_MAX_DEVICES
/* Longest request line accepted; longer ones are refused and the client cut off. */
#define CTL_MAX_REQUEST 512
/*
 * A client that has not sent a whole request within this time is cut off,
 * and so is one that has not read its whole answer within this time of it
 * being ready.
 */
#define CTL_CLIENT_TIMEOUT_MS 2000

#endif

/* One imqN device's datapath: queued packets in, copies through the qdisc, verdicts out. */
#ifndef IMQD_DEVICE_H
#define IMQD_DEVICE_H

#include <stdbool.h>

struct event_base;
struct conf_device;
struct stats_device;
struct stats_counters;
struct imqdev;

/*
 * Create or reattach imqN, bind its queues, run its up hook; NULL with the
 * reason logged. Its shards run on the workers (worker.h), or on BASE's
 * loop when there are none. CONF must outlive the device or be replaced
 * through device_update/device_set_conf.
 */
struct imqdev *device_start(struct event_base *base, const struct conf_device *conf);

/* Run the down hook, accept everything held, unbind the queues, remove imqN unless it persists. */
void device_stop(struct imqdev *dev);

/* First half of a reload: unbind the queues CONF no longer lists, so another device may take them.
 */
void device_release_queues(struct imqdev *dev, const struct conf_device *conf);

/* Second half: apply CONF in place (bind new queues, new parameters); 0 or -1 (logged). */
int device_update(struct imqdev *dev, const struct conf_device *conf);

/* CONF replaces an identical section of the previous configuration (hooks are read from it). */
void device_set_conf(struct imqdev *dev, const struct conf_device *conf);

/* Name of the device. */
const char *device_name(const struct imqdev *dev);

/* DEV runs its configuration in full: every queue bound (a reload can leave one that another
 * process has bound) and nothing left undone by an update that ran out of memory. */
bool device_complete(struct imqdev *dev);

/* Log the copies imqN dropped for want of room in its ring since the last call (at most a
 * line per 10 s, and a reading per second). */
void device_check_ring(struct imqdev *dev);

/* Counters of the device summed over its queues; cheap, for periodic status. */
void device_totals(struct imqdev *dev, struct stats_counters *out);

/* A view of the device's counters, valid until the next call for DEV. */
void device_snapshot(struct imqdev *dev, struct stats_device *out);

#endif

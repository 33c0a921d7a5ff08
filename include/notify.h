/* systemd's notification protocol (sd_notify), spoken directly; silent without NOTIFY_SOCKET. */
#ifndef IMQD_NOTIFY_H
#define IMQD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Every device is up and every queue bound. */
void notify_ready(size_t ndevs);

/* A reload has begun (notify_ready ends it). */
void notify_reloading(void);

/* Shutdown has begun. */
void notify_stopping(void);

/* One-line status: devices, packets held, drops, passed unshaped. */
void notify_status(size_t ndevs, uint64_t held, uint64_t drops, uint64_t failopen);

/* Keep-alive ping, when the service manager asked for one. */
void notify_watchdog(void);

/* The watchdog interval the service manager asked for in microseconds, 0 if none. */
uint64_t notify_watchdog_usec(void);

#endif

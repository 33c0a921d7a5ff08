/*
 * The watchdog: a process of its own that gives a flooded queue its kernel
 * fail-open back when imqd stops running, so that a queue imqd switched to
 * dropping what it cannot take (on-flood = drop) never stays that way
 * without imqd.
 */
#ifndef IMQD_WATCHDOG_H
#define IMQD_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

/* A queue held whose slot imqd has not beaten for this long: its fail-open goes back on. */
#define WATCHDOG_STALL_MS 500
/* imqd beats a held queue's slot at least this often. */
#define WATCHDOG_BEAT_MS 100

/*
 * Fork the watchdog, running as USER (NULL: as imqd) with CAP_NET_ADMIN.
 * Before any thread starts. 0, or -1 (logged): then watchdog_hold refuses.
 */
int watchdog_start(const char *user);

/* Whether the watchdog runs: it has checked its slots within WATCHDOG_STALL_MS. */
bool watchdog_alive(uint64_t now_ns);

/*
 * Give the watchdog FD, the netlink socket QUEUE is bound on, before its
 * fail-open goes off. From any thread. A slot >= 0 to beat from now on, or
 * -1 when there is no watchdog (the fail-open must then stay on).
 */
int watchdog_hold(int fd, uint16_t queue);

/* imqd runs the queue of SLOT: at least every WATCHDOG_BEAT_MS while held. */
void watchdog_beat(int slot, uint64_t now_ns);

/* Whether the watchdog switched SLOT's fail-open back on (imqd did not run), or could not
 * hold it. Only while SLOT is held. */
bool watchdog_fired(int slot);

/* Whether the id the kernel had given SLOT's queue last when the watchdog fired is known: *ID. */
bool watchdog_fired_id(int slot, uint32_t *id);

/* The watchdog closes its copy of SLOT's socket; SLOT is free again. From any thread. */
void watchdog_release(int slot);

/* From the main loop, every second or so: log once and reap a watchdog that has exited. */
void watchdog_reap(void);

/* Stop the watchdog and wait for it (every slot released first). */
void watchdog_stop(void);

#endif

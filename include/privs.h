/* Least privilege: run as an unprivileged user keeping only CAP_NET_ADMIN and CAP_NET_RAW. */
#ifndef IMQD_PRIVS_H
#define IMQD_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Switch to USER, keeping CAP_NET_ADMIN and CAP_NET_RAW (also for hooks): 0,
 * 1 when imqd already runs as USER (nothing switched), or -1 (logged).
 * The switch of user is every thread's, but capabilities are each thread's
 * own: every other thread calls privs_thread_prepare before and
 * privs_thread_finish after, or it is left with no capability at all.
 */
int privs_drop(const char *user);

/* Whether privs_drop(USER) would switch (not when imqd already runs as USER). */
bool privs_will_switch(const char *user);

/* On a thread other than privs_drop's, before it: bound the capabilities, keep them. 0 or -1. */
int privs_thread_prepare(void);

/* On that thread, after privs_drop: keep CAP_NET_ADMIN and CAP_NET_RAW only. 0 or -1. */
int privs_thread_finish(void);

/* Why imqd, as it runs now, cannot switch to USER; NULL when it can or already is USER. */
const char *privs_cannot(const char *user);

/*
 * access(2) of PATHS[0..N) for MODE as USER would see them (its groups,
 * directories on the way, ACLs, read-only and noexec mounts), from root: in
 * a child that switches to USER. ERRS[i] is 0 or the errno. 0, or -1 with
 * errno when the check could not be made: EPERM (not root), ENOENT (no such
 * user), the errno of pipe or fork, ECHILD (the child could not switch).
 */
int privs_access_as(const char *user, const char *const *paths, size_t n, int mode, int *errs);

#endif

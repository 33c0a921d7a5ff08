/* Least privilege: run as an unprivileged user keeping only CAP_NET_ADMIN and CAP_NET_RAW. */
#ifndef IMQD_PRIVS_H
#define IMQD_PRIVS_H

/*
 * Switch to USER, keeping CAP_NET_ADMIN and CAP_NET_RAW (also for hooks): 0,
 * 1 when imqd already runs as USER (nothing switched), or -1 (logged).
 */
int privs_drop(const char *user);

/* Why imqd, as it runs now, cannot switch to USER; NULL when it can or already is USER. */
const char *privs_cannot(const char *user);

#endif

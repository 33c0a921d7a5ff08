/* Least privilege: run as an unprivileged user keeping only CAP_NET_ADMIN and CAP_NET_RAW. */
#ifndef IMQD_PRIVS_H
#define IMQD_PRIVS_H

/* Switch to USER, keeping CAP_NET_ADMIN and CAP_NET_RAW (also for hooks); 0 or -1 (logged). */
int privs_drop(const char *user);

#endif

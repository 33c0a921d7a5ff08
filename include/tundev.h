/* imqN TUN devices: create or reattach, configure, query. */
#ifndef IMQD_TUNDEV_H
#define IMQD_TUNDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TUNDEV_VNET_HDR 10 /* sizeof(struct virtio_net_hdr) */

/* Open (creating if needed) TUN device NAME, layer 3, each packet read with a struct
 * virtio_net_hdr in front (TUNDEV_VNET_HDR bytes) and TCP GSO packets kept whole; non-blocking fd
 * or -1. *CREATED tells whether it was new. With MULTIQUEUE the device has a TX queue per fd
 * opened so (each open adds the next one, from 0); EINVAL if it exists without, or with it and
 * MULTIQUEUE is false. */
int tundev_open(const char *name, bool persist, bool multiqueue, bool *created);

/* Set MTU and TXQUEUELEN, turn IPv6 autoconfiguration off, bring NAME up; 0 or -1. */
int tundev_setup(const char *name, unsigned mtu, unsigned txqueuelen);

/* Mark the device behind FD persistent or not; 0 or -1. */
int tundev_persist(int fd, bool persist);

/* What tundev_state finds. */
enum tundev_state {
	TUNDEV_UP,
	TUNDEV_DOWN,
	TUNDEV_MISSING,
	TUNDEV_UNKNOWN, /* no socket to ask with (EMFILE, ENOMEM): errno says why */
};

/* Whether NAME exists and is up; its ifindex in *IFINDEX. */
enum tundev_state tundev_state(const char *name, int *ifindex);

/* NAME's MTU and transmit queue length; 0 or -1. */
int tundev_params(const char *name, unsigned *mtu, unsigned *txqueuelen);

/* MTU of interface NAME, or -1. */
int tundev_mtu(const char *name);

/* NAME's TX dropped counter: copies its qdisc released that the device dropped, for want of
 * room in the ring imqd reads them from (txqueuelen copies) but for rare cases; 0, or -1
 * with errno (ENODEV: there is no such device). */
int tundev_tx_dropped(const char *name, uint64_t *dropped);

/* Kind of NAME's root qdisc ("tbf", "htb", ...) into BUF; "" when unknown. */
void tundev_qdisc(int ifindex, char *buf, size_t size);

#endif

/* AF_PACKET injection of copies into imqN, through its root qdisc. */
#ifndef IMQD_INJECT_H
#define IMQD_INJECT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct inject;

/* One copy to send: CAPLEN bytes of DATA followed by PAD zero bytes. */
struct inject_pkt {
	/* A TCP (or, with udp set, UDP) GSO copy when gso_size is set: the qdisc counts the headers
	 * (HDRLEN bytes, the transport header at L4OFF) of each gso_size-byte segment, and may cut
	 * it into those segments. */
	uint16_t gso_size;
	uint16_t hdrlen;
	uint16_t l4off;
	bool udp;
	const uint8_t *data;
	uint32_t caplen;
	uint32_t pad;
	uint16_t proto;    /* ETH_P_IP or ETH_P_IPV6, host order */
	uint32_t mark;     /* skb mark of the copy, for tc filters on imqN */
	uint32_t priority; /* skb priority of the copy (htb/prio pick classes by it) */
	int err;           /* set by inject_send: 0 or errno */
};

/* A non-blocking packet socket on IFINDEX, SNDBUF bytes of send buffer, sending up to BATCH copies
 * per call. */
struct inject *inject_open(int ifindex, int sndbuf, size_t batch);

void inject_close(struct inject *inj);

/*
 * Raise the send buffer to SNDBUF bytes (a reload made the backlog longer or
 * the copies larger); a smaller SNDBUF changes nothing.
 */
void inject_raise_sndbuf(struct inject *inj, int sndbuf);

/* The socket's cookie (SO_COOKIE), which names it to a BPF program; 0 if unknown. */
uint64_t inject_cookie(const struct inject *inj);

/* Send to IFINDEX from now on (imqN was recreated). */
void inject_set_ifindex(struct inject *inj, int ifindex);

/* Send PKTS[0..N) (N <= batch) in as few system calls as possible; each gets its err. */
void inject_send(struct inject *inj, struct inject_pkt *pkts, size_t n);

/* Largest pad inject_send can add. */
#define INJECT_MAX_PAD 65536

#endif

/* NFQUEUE netlink socket: bind queues, receive packets in batches, batch verdicts. */
#ifndef IMQD_NFQUEUE_H
#define IMQD_NFQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nfqueue;

/* One packet message from the kernel; DATA points into the receive buffers. */
struct nfqueue_packet {
	uint16_t queue;
	uint32_t id;
	uint16_t proto; /* hw_protocol: ETH_P_IP, ETH_P_IPV6 (host order) */
	uint32_t mark;
	uint32_t priority; /* skb->priority (CLASSIFY), 0 if unset */
	uint32_t len;      /* length of the packet */
	uint32_t caplen;   /* bytes present at DATA */
	uint32_t skbinfo;  /* NFQA_SKB_* */
	uint32_t indev;    /* ifindex it came in on, 0 if none */
	uint32_t outdev;   /* ifindex it goes out on, 0 if not known yet */
	bool truncated;    /* its message did not fit the receive buffer: no data */
	uint8_t *data;     /* the handler may rewrite it: it is what its copy is made from */
};

/* How a queue is bound. */
struct nfqueue_params {
	uint32_t copy_range;
	uint32_t maxlen;
	bool fail_open;
	bool gso;
};

/* Handlers for what a receive pass finds. */
struct nfqueue_ops {
	/* A batch of packets; they stay valid until the handler returns. */
	void (*packets)(void *arg, struct nfqueue_packet *pkts, size_t n);
	/* A netlink error for our request SEQ (a refused verdict or config). */
	void (*error)(void *arg, uint32_t seq, int err);
	/* The receive buffer overflowed: the kernel decided some packets itself. */
	void (*overrun)(void *arg);
	void *arg;
};

/* Open a socket receiving up to BATCH messages of up to MSGSIZE bytes per pass. */
struct nfqueue *nfqueue_open(size_t batch, size_t msgsize, int rcvbuf,
                             const struct nfqueue_ops *ops);

/* Close the socket: the kernel drops what is still queued to any queue bound to it. */
void nfqueue_close(struct nfqueue *nfq);

int nfqueue_fd(const struct nfqueue *nfq);

/* Receive messages of up to MSGSIZE bytes from now on (never less than before: messages
 * already queued keep their size), with a receive buffer of RCVBUF bytes; 0 or -1 (then the
 * buffer may be what it was). */
int nfqueue_set_msgsize(struct nfqueue *nfq, size_t msgsize, int rcvbuf);

/* Ask for a receive buffer of RCVBUF bytes (the kernel doubles it); 0 or -1. */
int nfqueue_set_rcvbuf(struct nfqueue *nfq, int rcvbuf);

/* Bind QUEUE and set PARAMS, waiting for the kernel's answer (packets arriving meanwhile go to the
 * handler); 0 or -1 with errno. */
int nfqueue_bind(struct nfqueue *nfq, uint16_t queue, const struct nfqueue_params *params);

/* Change PARAMS of a bound QUEUE without waiting for an answer. */
int nfqueue_set_params(struct nfqueue *nfq, uint16_t queue, const struct nfqueue_params *params);

/*
 * Switch QUEUE's fail-open on or off (NFQA_CFG_F_FAIL_OPEN: what the kernel
 * does with a packet it cannot queue), on the netlink socket FD it is bound
 * on; the kernel takes a queue's configuration from that socket only. No
 * answer is asked for; an error comes back with SEQ. 0 or -1 with errno.
 */
int nfqueue_fd_failopen(int fd, uint16_t queue, bool on, uint32_t seq);

/* The same on NFQ's own socket. */
int nfqueue_set_failopen(struct nfqueue *nfq, uint16_t queue, bool on);

/* Bytes of messages waiting in NFQ's receive buffer (*USED) and its size (*SIZE); 0 or -1. */
int nfqueue_backlog(const struct nfqueue *nfq, uint32_t *used, uint32_t *size);

/* Messages the kernel could not put in NFQ's full receive buffer, so far (wraps); 0 or -1. */
int nfqueue_drops(const struct nfqueue *nfq, uint32_t *drops);

/* The id the kernel gave QUEUE's latest packet (this network namespace's /proc); 0 or -1. */
int nfqueue_last_id(uint16_t queue, uint32_t *id);

/* Unbind QUEUE: the kernel drops what is still queued to it. */
int nfqueue_unbind(struct nfqueue *nfq, uint16_t queue);

/* Receive one batch of what is waiting and hand it to the handlers; returns messages read, 0 if
 * none, -1 on error. */
int nfqueue_recv(struct nfqueue *nfq);

/* Decide packet ID of QUEUE; what goes when, and how, is nfqueue_flush's. */
void nfqueue_verdict(struct nfqueue *nfq, uint16_t queue, uint32_t id, uint32_t verdict,
                     bool set_mark, uint32_t mark);

/*
 * Send the verdicts that can go now in one system call: runs of one
 * verdict from a queue's oldest packet as batch messages, others alone;
 * drops that a batch may soon take wait (at most NFQUEUE_HOLD_DROPS a
 * queue). 0 or -1.
 */
int nfqueue_flush(struct nfqueue *nfq);

/* The same, and every drop held back too (the timer's tick). */
int nfqueue_flush_all(struct nfqueue *nfq);

/* Drop verdicts a queue may hold back for a batch: their packets stay in the kernel's queue. */
#define NFQUEUE_HOLD_DROPS 1024
/* Verdicts sent so far inside NFQNL_MSG_VERDICT_BATCH messages. */
uint64_t nfqueue_batched(const struct nfqueue *nfq);

#endif

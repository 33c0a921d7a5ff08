/* Packets held while their copy is in imqN's qdisc: matching, flow order, timeouts. */
#ifndef IMQD_PENDING_H
#define IMQD_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pending;

/* A held packet: what its verdict and its counters need. */
struct pending_pkt {
	uint32_t id;   /* NFQUEUE packet id */
	uint16_t qidx; /* index of its queue in the device's queue list */
	uint8_t ecn;   /* its ECN field (FLOW_ECN_*) */
	bool ce;       /* a segment of its copy came back marked Congestion Experienced */
	bool split;    /* sent as nsegs plain copies, one per segment it is on the wire */
	uint32_t len;  /* bytes of the real packet */
	uint32_t mark;
	uint64_t hash; /* flow_copy_hash of the copy */
	uint64_t flow; /* flow_info.key */
	uint64_t t_ns; /* when it was held */
	/* A copy sent whole as a TCP or UDP GSO packet, which the qdisc may split into segments: */
	uint64_t conn;      /* flow_info.conn; 0 for other copies */
	uint32_t seq;       /* flow_info.seq of its first segment: TCP sequence number, UDP tag */
	uint32_t span;      /* seq values its segments cover (UDP: IP IDs, or 1: a flow label) */
	uint16_t nsegs;     /* segments it splits into */
	uint16_t seen;      /* segments of it that came back so far */
	uint64_t t_seg_ns;  /* when the first of them came back */
	uint64_t t_last_ns; /* when the last so far came back */
	uint64_t t_over_ns; /* when a later packet of its flow came back first; 0: none has */
};

#define PENDING_NONE (-1)

/*
 * A table for at most LIMIT held packets. It starts small and grows as
 * packets are held, never per packet: a doubling now and then.
 */
struct pending *pending_new(size_t limit);

/* Free the table (held packets are forgotten: decide them first). */
void pending_free(struct pending *p);

/* Hold PKT; returns its slot, or PENDING_NONE when the table is full (or cannot grow). */
int pending_add(struct pending *p, const struct pending_pkt *pkt);

/* The held packet in SLOT. */
const struct pending_pkt *pending_get(const struct pending *p, int slot);

/* Forget SLOT (its verdict has been decided). */
void pending_remove(struct pending *p, int slot);

/* Oldest held packet whose copy hashes to HASH, or PENDING_NONE. */
int pending_match(const struct pending *p, uint64_t hash);

/* Oldest held packet of SLOT's flow if it is older than SLOT, else PENDING_NONE. */
int pending_flow_older(const struct pending *p, int slot);

/* The held packet of SLOT's flow after SLOT in holding order, or PENDING_NONE. */
int pending_flow_next(const struct pending *p, int slot);

/* Oldest held GSO copy of connection CONN whose segments cover sequence number SEQ, or
 * PENDING_NONE. */
int pending_segment(const struct pending *p, uint64_t conn, uint32_t seq);

/* Count one more segment of SLOT back, at NOW; returns how many have come back. */
unsigned pending_segment_seen(struct pending *p, int slot, uint64_t now);

/* SLOT's packet is of the queue at QIDX in its device's list (the list changed). */
void pending_set_qidx(struct pending *p, int slot, uint16_t qidx);

/* Note that (part of) SLOT's copy came back marked Congestion Experienced. */
void pending_mark_ce(struct pending *p, int slot);

/* Note that a later packet of SLOT's flow came back first, at NOW, unless one already did;
 * returns whether this is the first. */
bool pending_mark_overtaken(struct pending *p, int slot, uint64_t now);

/* Oldest held packet of all, or PENDING_NONE. */
int pending_oldest(const struct pending *p);

/* The held packet after SLOT in holding order, or PENDING_NONE. */
int pending_next(const struct pending *p, int slot);

/* Number of packets held. */
size_t pending_count(const struct pending *p);

/* Packets the table has room for now, without growing. */
size_t pending_capacity(const struct pending *p);

/*
 * Memory every held packet costs, in all: its slot, its FIFOs, its share
 * of the buckets, and the entries imqd keeps of it when it is given up on.
 */
#define PENDING_SLOT_BYTES 240

/*
 * Let the tables of the process together grow to BYTES of memory (at
 * PENDING_SLOT_BYTES a packet): a table that would pass it holds no more
 * packets, and its device fails them open or drops them as configured,
 * rather than the process outgrowing its memory limit.
 */
void pending_set_budget(size_t bytes);

/* Packets the tables of the process may hold together. */
size_t pending_budget_slots(void);

/* Packets the table may hold. */
size_t pending_limit(const struct pending *p);

/* Let the table hold LIMIT packets (never fewer than it holds now). */
void pending_set_limit(struct pending *p, size_t limit);

/*
 * Give memory back when far fewer packets are held than there is room for:
 * 1 if the table was rebuilt smaller, 0 if not worth it, -1 when out of
 * memory. Slots change: call it only where no slot is kept.
 */
int pending_compact(struct pending *p);

#endif

/*
 * Verdict sequencing for one NFQUEUE queue: which verdicts can go as one
 * NFQNL_MSG_VERDICT_BATCH message, which must go alone, and which may wait.
 */
#ifndef IMQD_VSEQ_H
#define IMQD_VSEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vseq;

/* A plain verdict, one a batch message can carry. */
enum vseq_verdict {
	VSEQ_ACCEPT,
	VSEQ_DROP,
};

/* What vseq_emit asks to be sent: one packet's verdict, or a batch up to ID. */
struct vseq_out {
	bool batch;
	enum vseq_verdict verdict;
	uint32_t id;
	uint32_t count; /* packets it decides */
};

/* Hold at most HOLD drop verdicts back, waiting to join a batch. */
struct vseq *vseq_new(size_t hold);

void vseq_free(struct vseq *s);

/* The queue was bound anew: the kernel numbers its packets from scratch. */
void vseq_reset(struct vseq *s);

/*
 * The kernel queued packet ID (ids it skipped before it never reached
 * imqd: no verdict is due for them). 0, or -1 when out of memory: ID is
 * then not tracked, and its verdict must go alone.
 */
int vseq_received(struct vseq *s, uint32_t id);

/*
 * Note VERDICT for ID. Returns false when ID is not tracked (never
 * received, or beyond the window): the caller sends the verdict alone.
 */
bool vseq_decide(struct vseq *s, uint32_t id, enum vseq_verdict verdict);

/*
 * ID got its verdict alone, outside the sequence (one with a mark, say):
 * batches may pass over it.
 */
void vseq_sent(struct vseq *s, uint32_t id);

/*
 * Hand OUT the messages that can go now. Runs of the same verdict from the
 * oldest id that is still the kernel's go as batches (without BATCHES, one
 * message per packet); an accept that no batch can reach yet goes alone
 * (an accept never waits); a drop waits for a batch, unless more than the
 * held-back bound wait or ALL is set (the queue is going away, or time is
 * up). Accepts leave in the order they were decided: when that is not id
 * order (a qdisc that reorders), they go alone, in that order.
 */
void vseq_emit(struct vseq *s, bool all, bool batches,
               void (*out)(void *arg, const struct vseq_out *o), void *arg);

/* Drop verdicts held back now. */
size_t vseq_held(const struct vseq *s);

#endif

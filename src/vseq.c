/*
 * Verdict sequencing for one NFQUEUE queue.
 *
 * The kernel keeps a queue's packets in a list in id order and
 * NFQNL_MSG_VERDICT_BATCH gives one verdict to every packet of the list up
 * to an id: one message, one lock, one walk, where a verdict of its own
 * costs all three per packet. A batch is right for a run of ids whose
 * packets all get that verdict; ids whose packets already left the list
 * (skipped by the kernel, or decided alone) may lie inside it. The window
 * [base, end) holds one state per id received and not yet out of the
 * kernel's list: runs from base go as batches. An accept beyond an
 * undecided packet goes alone at once; a drop waits there for its run to
 * reach base (a FIFO qdisc refuses the copies after the ones it holds:
 * once those are accepted, the drops behind them go together), bounded so
 * that the kernel's queue does not fill with them.
 */
#include "vseq.h"

#include <stdlib.h>
#include <string.h>

#define VSEQ_MIN 1024
#define VSEQ_MAX (1u << 24) /* ids in the window, at most */

enum {
	VSEQ_GONE,  /* not in the kernel's list: skipped, or its verdict went */
	VSEQ_UNDEC, /* received, no verdict yet */
	VSEQ_ACC,   /* accepted, not sent yet */
	VSEQ_DROPD, /* dropped, not sent yet */
};

struct vseq {
	uint8_t *st; /* state of id i at st[i & (cap - 1)] */
	uint32_t cap;
	bool started;
	uint32_t base; /* oldest id whose verdict has not gone */
	uint32_t end;  /* one after the newest id received */
	size_t hold;
	size_t ndrop;  /* drops waiting */
	uint32_t *acc; /* accepts decided since the last emit */
	size_t nacc, acccap;
};

struct vseq *
vseq_new(size_t hold)
{
	struct vseq *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->hold = hold;
	s->cap = VSEQ_MIN;
	s->st = calloc(s->cap, 1);
	if (s->st == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
vseq_free(struct vseq *s)
{
	if (s == NULL)
		return;
	free(s->st);
	free(s->acc);
	free(s);
}

void
vseq_reset(struct vseq *s)
{
	memset(s->st, 0, s->cap);
	s->started = false;
	s->base = s->end = 0;
	s->ndrop = 0;
	s->nacc = 0;
}

static uint8_t *
vseq_at(const struct vseq *s, uint32_t id)
{
	return &s->st[id & (s->cap - 1)];
}

static bool
vseq_in(const struct vseq *s, uint32_t id)
{
	return s->started && id - s->base < s->end - s->base;
}

/* Room for ids up to ID in the window; 0 or -1. */
static int
vseq_grow(struct vseq *s, uint32_t id)
{
	uint64_t need = (uint64_t)(id - s->base) + 1;
	uint32_t cap = s->cap;

	if (need <= cap)
		return 0;
	while (cap < need && cap < VSEQ_MAX)
		cap *= 2;
	if (cap < need)
		return -1;
	uint8_t *st = calloc(cap, 1);
	if (st == NULL)
		return -1;
	for (uint32_t i = s->base; i != s->end; i++)
		st[i & (cap - 1)] = *vseq_at(s, i);
	free(s->st);
	s->st = st;
	s->cap = cap;
	return 0;
}

int
vseq_received(struct vseq *s, uint32_t id)
{
	if (!s->started) {
		s->started = true;
		s->base = s->end = id;
	}
	/* An id from before the window, or from far ahead: not tracked. */
	if (id - s->end >= 0x80000000u || vseq_grow(s, id) < 0)
		return -1;
	/* The ids skipped before it never were in the kernel's list. */
	for (; s->end != id; s->end++)
		*vseq_at(s, s->end) = VSEQ_GONE;
	*vseq_at(s, id) = VSEQ_UNDEC;
	s->end = id + 1;
	return 0;
}

bool
vseq_decide(struct vseq *s, uint32_t id, enum vseq_verdict verdict)
{
	if (!vseq_in(s, id) || *vseq_at(s, id) != VSEQ_UNDEC)
		return false;
	if (verdict == VSEQ_DROP) {
		*vseq_at(s, id) = VSEQ_DROPD;
		s->ndrop++;
		return true;
	}
	if (s->nacc == s->acccap) {
		size_t cap = s->acccap ? s->acccap * 2 : 64;
		uint32_t *a = realloc(s->acc, cap * sizeof(*a));
		if (a == NULL)
			return false;
		s->acc = a;
		s->acccap = cap;
	}
	*vseq_at(s, id) = VSEQ_ACC;
	s->acc[s->nacc++] = id;
	return true;
}

void
vseq_sent(struct vseq *s, uint32_t id)
{
	if (vseq_in(s, id) && *vseq_at(s, id) == VSEQ_UNDEC)
		*vseq_at(s, id) = VSEQ_GONE;
}

/* Mark ID's verdict as gone out, keeping the count of waiting drops. */
static void
vseq_gone(struct vseq *s, uint32_t id)
{
	uint8_t *st = vseq_at(s, id);

	if (*st == VSEQ_DROPD)
		s->ndrop--;
	*st = VSEQ_GONE;
}

/* Batches of the runs from base, up to the first undecided id (BATCHES: else singles). */
static void
vseq_runs(struct vseq *s, bool batches, void (*out)(void *, const struct vseq_out *), void *arg)
{
	while (s->base != s->end) {
		uint8_t t = *vseq_at(s, s->base);
		if (t == VSEQ_UNDEC)
			return;
		if (t == VSEQ_GONE) {
			s->base++;
			continue;
		}
		/* The run: ids of verdict T, and gone ones among them. */
		uint32_t last = s->base, i = s->base, count = 0;
		for (; i != s->end; i++) {
			uint8_t u = *vseq_at(s, i);
			if (u == t) {
				last = i;
				count++;
			} else if (u != VSEQ_GONE) {
				break;
			}
		}
		enum vseq_verdict v = t == VSEQ_ACC ? VSEQ_ACCEPT : VSEQ_DROP;
		if (batches) {
			struct vseq_out o = {true, v, last, count};
			out(arg, &o);
		}
		for (uint32_t j = s->base; j != last + 1; j++) {
			if (!batches && *vseq_at(s, j) == t) {
				struct vseq_out o = {false, v, j, 1};
				out(arg, &o);
			}
			vseq_gone(s, j);
		}
		s->base = last + 1;
	}
}

/* The accepts decided since the last emit, alone, in the order they were decided. */
static void
vseq_accepts(struct vseq *s, void (*out)(void *, const struct vseq_out *), void *arg)
{
	for (size_t k = 0; k < s->nacc; k++) {
		uint32_t id = s->acc[k];
		if (!vseq_in(s, id) || *vseq_at(s, id) != VSEQ_ACC)
			continue;
		struct vseq_out o = {false, VSEQ_ACCEPT, id, 1};
		out(arg, &o);
		vseq_gone(s, id);
	}
	s->nacc = 0;
}

/* Whether the accepts since the last emit were decided in rising id order. */
static bool
vseq_rising(const struct vseq *s)
{
	for (size_t k = 1; k < s->nacc; k++)
		if ((int32_t)(s->acc[k] - s->acc[k - 1]) <= 0)
			return false;
	return true;
}

void
vseq_emit(struct vseq *s, bool all, bool batches, void (*out)(void *arg, const struct vseq_out *o),
          void *arg)
{
	if (!s->started)
		return;
	/* A batch reinjects in id order: accepts decided in another go first, alone. */
	if (!vseq_rising(s))
		vseq_accepts(s, out, arg);
	vseq_runs(s, batches, out, arg);
	/* Accepts no run reached: alone, now. */
	vseq_accepts(s, out, arg);
	/* Too many drops waiting, or no more waiting: alone, all of them. */
	if (s->ndrop > 0 && (all || s->ndrop > s->hold)) {
		for (uint32_t i = s->base; i != s->end && s->ndrop > 0; i++) {
			if (*vseq_at(s, i) != VSEQ_DROPD)
				continue;
			struct vseq_out o = {false, VSEQ_DROP, i, 1};
			out(arg, &o);
			vseq_gone(s, i);
		}
	}
	while (s->base != s->end && *vseq_at(s, s->base) == VSEQ_GONE)
		s->base++;
}

size_t
vseq_held(const struct vseq *s)
{
	return s->ndrop;
}

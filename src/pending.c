/* Packets held while their copy is in imqN's qdisc: matching, flow order, timeouts. */
#include "pending.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/*
 * Every held packet is on its copy-hash bucket chain (to find it when the
 * copy comes back), its flow's FIFO (to see which older packets of the flow
 * the qdisc dropped) and the global FIFO (timeouts, shutdown). A copy sent as
 * a TCP GSO packet is also on its connection's FIFO, which finds it again
 * from any of the segments the qdisc may cut it into.
 * Slots and FIFO heads come from arrays that start small and double when
 * full, up to the table's limit: memory follows what is held, not what
 * could be. Free ones are chained.
 */
enum { PENDING_FLOW, PENDING_CONN, PENDING_NINDEX };

#define PENDING_MIN 16              /* slots of a new table */
#define PENDING_MAX (INT32_MAX / 4) /* slots of any table, at most */

/*
 * Slots of every table together, and how many there may be
 * (pending_set_budget). Tables of several workers grow and shrink at once:
 * both are atomic, and a table reserves its growth before it takes it.
 */
static _Atomic size_t pending_total;
static _Atomic size_t pending_budget = PENDING_MAX;

struct pending_link {
	int32_t prev, next;
	int32_t fifo; /* index in the index's fifos[], PENDING_NONE when not on one */
};

struct pending_entry {
	struct pending_pkt pkt;
	uint64_t seq;  /* order of holding; ties between identical copies */
	int32_t hnext; /* next in hash bucket; free-list link when unused */
	int32_t gprev, gnext;
	struct pending_link link[PENDING_NINDEX];
};

struct pending_fifo {
	uint64_t key;
	int32_t head, tail; /* oldest, newest entry */
	int32_t hnext;      /* next FIFO in bucket; free-list link when unused */
};

/* FIFOs of held packets that share a key (a flow, a connection). */
struct pending_index {
	struct pending_fifo *fifos;
	int32_t *buckets;
	int32_t free;
};

/* A slot, two FIFOs, three buckets' worth of two, two late-table entries: PENDING_SLOT_BYTES. */
_Static_assert(sizeof(struct pending_entry) + PENDING_NINDEX * sizeof(struct pending_fifo) +
                       (1 + PENDING_NINDEX) * 2 * sizeof(int32_t) + 2 * sizeof(uint64_t) <=
                   PENDING_SLOT_BYTES,
               "PENDING_SLOT_BYTES is below what a held packet costs");

struct pending {
	struct pending_entry *entries;
	int32_t *hbuckets; /* copy hash -> entry chain */
	struct pending_index index[PENDING_NINDEX];
	size_t nbuckets; /* power of two, at least twice the capacity, for every table */
	size_t capacity; /* slots allocated */
	size_t limit;    /* slots it may grow to */
	size_t count;
	uint64_t seq;
	int32_t free_entry;
	int32_t ghead, gtail;
};

static size_t
pending_bucket(const struct pending *p, uint64_t h)
{
	/* The hashes are already mixed; fold the high half in anyway. */
	return (size_t)((h ^ (h >> 32)) & (p->nbuckets - 1));
}

/* Put every entry and FIFO in use (among the first N) into the buckets, all empty before. */
static void
pending_rehash(struct pending *p, size_t n)
{
	for (int32_t s = p->ghead; s != PENDING_NONE; s = p->entries[s].gnext) {
		size_t b = pending_bucket(p, p->entries[s].pkt.hash);
		p->entries[s].hnext = p->hbuckets[b];
		p->hbuckets[b] = s;
	}
	for (int x = 0; x < PENDING_NINDEX; x++) {
		struct pending_index *ix = &p->index[x];
		for (size_t f = 0; f < n; f++) {
			if (ix->fifos[f].head == PENDING_NONE)
				continue;
			size_t b = pending_bucket(p, ix->fifos[f].key);
			ix->fifos[f].hnext = ix->buckets[b];
			ix->buckets[b] = (int32_t)f;
		}
	}
}

/* The slots of a new table: PENDING_MIN, or LIMIT when that is less. */
static size_t
pending_first_capacity(size_t limit)
{
	return limit < PENDING_MIN ? limit : PENDING_MIN;
}

/* Bucket array of N entries, all empty; NULL when out of memory. */
static int32_t *
pending_buckets_new(int32_t *old, size_t n)
{
	int32_t *b = realloc(old, n * sizeof(*b));

	if (b != NULL)
		for (size_t i = 0; i < n; i++)
			b[i] = PENDING_NONE;
	return b;
}

/*
 * Make room for CAPACITY packets: grow the arrays, chain the new slots and
 * FIFOs as free, and, where the bucket arrays grow too, put every entry and
 * FIFO in use back into its bucket. Slots keep their numbers. 0 or -1 (out of
 * memory: the table is as it was, maybe with longer arrays).
 */
static int
pending_grow(struct pending *p, size_t capacity)
{
	size_t old = p->capacity, nb = p->nbuckets;

	/* Every table of the process together stays within the budget. */
	size_t more = capacity > old ? capacity - old : 0;
	if (more > 0 && atomic_fetch_add(&pending_total, more) + more > pending_budget) {
		atomic_fetch_sub(&pending_total, more);
		return -1;
	}

	while (nb < capacity * 2)
		nb <<= 1;
	struct pending_entry *e = realloc(p->entries, capacity * sizeof(*e));
	if (e == NULL)
		goto unreserve;
	p->entries = e;
	for (int x = 0; x < PENDING_NINDEX; x++) {
		struct pending_fifo *f = realloc(p->index[x].fifos, capacity * sizeof(*f));
		if (f == NULL)
			goto unreserve;
		p->index[x].fifos = f;
	}
	if (nb != p->nbuckets) {
		int32_t *hb = pending_buckets_new(NULL, nb);
		int32_t *ib[PENDING_NINDEX];
		int x;
		for (x = 0; x < PENDING_NINDEX; x++)
			if ((ib[x] = pending_buckets_new(NULL, nb)) == NULL)
				break;
		if (hb == NULL || x < PENDING_NINDEX) {
			free(hb);
			while (x-- > 0)
				free(ib[x]);
			goto unreserve;
		}
		free(p->hbuckets);
		p->hbuckets = hb;
		for (x = 0; x < PENDING_NINDEX; x++) {
			free(p->index[x].buckets);
			p->index[x].buckets = ib[x];
		}
		p->nbuckets = nb;
		pending_rehash(p, old);
	}
	for (size_t i = old; i < capacity; i++) {
		p->entries[i].hnext = i + 1 < capacity ? (int32_t)(i + 1) : p->free_entry;
		for (int x = 0; x < PENDING_NINDEX; x++) {
			struct pending_index *ix = &p->index[x];
			ix->fifos[i].head = PENDING_NONE;
			ix->fifos[i].hnext = i + 1 < capacity ? (int32_t)(i + 1) : ix->free;
		}
	}
	if (capacity > old) {
		p->free_entry = (int32_t)old;
		for (int x = 0; x < PENDING_NINDEX; x++)
			p->index[x].free = (int32_t)old;
	}
	p->capacity = capacity;
	return 0;
unreserve:
	atomic_fetch_sub(&pending_total, more);
	return -1;
}

struct pending *
pending_new(size_t limit)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL || limit == 0 || limit > PENDING_MAX)
		goto fail;
	p->limit = limit;
	p->nbuckets = 16;
	p->free_entry = PENDING_NONE;
	p->ghead = p->gtail = PENDING_NONE;
	p->hbuckets = pending_buckets_new(NULL, p->nbuckets);
	if (p->hbuckets == NULL)
		goto fail;
	for (int x = 0; x < PENDING_NINDEX; x++) {
		p->index[x].free = PENDING_NONE;
		p->index[x].buckets = pending_buckets_new(NULL, p->nbuckets);
		if (p->index[x].buckets == NULL)
			goto fail;
	}
	if (pending_grow(p, pending_first_capacity(limit)) < 0)
		goto fail;
	return p;
fail:
	pending_free(p);
	return NULL;
}

void
pending_free(struct pending *p)
{
	if (p == NULL)
		return;
	atomic_fetch_sub(&pending_total, p->capacity);
	free(p->entries);
	free(p->hbuckets);
	for (int x = 0; x < PENDING_NINDEX; x++) {
		free(p->index[x].fifos);
		free(p->index[x].buckets);
	}
	free(p);
}

/* The FIFO of KEY in index X, or PENDING_NONE. */
static int32_t
pending_fifo_find(const struct pending *p, int x, uint64_t key)
{
	const struct pending_index *ix = &p->index[x];
	int32_t f;

	for (f = ix->buckets[pending_bucket(p, key)]; f != PENDING_NONE; f = ix->fifos[f].hnext)
		if (ix->fifos[f].key == key)
			break;
	return f;
}

/* Append entry S to the FIFO of KEY in index X, creating the FIFO if needed. */
static void
pending_fifo_append(struct pending *p, int x, uint64_t key, int32_t s)
{
	struct pending_index *ix = &p->index[x];
	struct pending_link *l = &p->entries[s].link[x];
	int32_t f = pending_fifo_find(p, x, key);

	if (f == PENDING_NONE) {
		size_t b = pending_bucket(p, key);
		/* There are never more FIFOs than entries, so this cannot run dry. */
		f = ix->free;
		ix->free = ix->fifos[f].hnext;
		ix->fifos[f].key = key;
		ix->fifos[f].head = ix->fifos[f].tail = PENDING_NONE;
		ix->fifos[f].hnext = ix->buckets[b];
		ix->buckets[b] = f;
	}
	l->fifo = f;
	l->next = PENDING_NONE;
	l->prev = ix->fifos[f].tail;
	if (l->prev != PENDING_NONE)
		p->entries[l->prev].link[x].next = s;
	else
		ix->fifos[f].head = s;
	ix->fifos[f].tail = s;
}

/* Take entry S off its FIFO in index X, freeing the FIFO when it empties. */
static void
pending_fifo_unlink(struct pending *p, int x, int32_t s)
{
	struct pending_index *ix = &p->index[x];
	struct pending_link *l = &p->entries[s].link[x];
	struct pending_fifo *fifo;

	if (l->fifo == PENDING_NONE)
		return;
	fifo = &ix->fifos[l->fifo];
	if (l->prev != PENDING_NONE)
		p->entries[l->prev].link[x].next = l->next;
	else
		fifo->head = l->next;
	if (l->next != PENDING_NONE)
		p->entries[l->next].link[x].prev = l->prev;
	else
		fifo->tail = l->prev;
	if (fifo->head == PENDING_NONE) {
		int32_t *link = &ix->buckets[pending_bucket(p, fifo->key)];
		while (*link != l->fifo)
			link = &ix->fifos[*link].hnext;
		*link = fifo->hnext;
		fifo->hnext = ix->free;
		ix->free = l->fifo;
	}
	l->fifo = PENDING_NONE;
}

int
pending_add(struct pending *p, const struct pending_pkt *pkt)
{
	if (p->free_entry == PENDING_NONE && p->capacity < p->limit) {
		size_t more = p->capacity * 2 < p->limit ? p->capacity * 2 : p->limit;
		(void)pending_grow(p, more);
	}
	int32_t s = p->free_entry;

	if (s == PENDING_NONE)
		return PENDING_NONE;
	struct pending_entry *e = &p->entries[s];
	p->free_entry = e->hnext;
	e->pkt = *pkt; /* seen too: a packet moved to a new table by a reload keeps its progress */
	e->seq = p->seq++;

	size_t b = pending_bucket(p, pkt->hash);
	e->hnext = p->hbuckets[b];
	p->hbuckets[b] = s;

	pending_fifo_append(p, PENDING_FLOW, pkt->flow, s);
	e->link[PENDING_CONN].fifo = PENDING_NONE;
	if (pkt->conn != 0)
		pending_fifo_append(p, PENDING_CONN, pkt->conn, s);

	e->gnext = PENDING_NONE;
	e->gprev = p->gtail;
	if (e->gprev != PENDING_NONE)
		p->entries[e->gprev].gnext = s;
	else
		p->ghead = s;
	p->gtail = s;
	p->count++;
	return s;
}

const struct pending_pkt *
pending_get(const struct pending *p, int slot)
{
	return &p->entries[slot].pkt;
}

void
pending_remove(struct pending *p, int slot)
{
	struct pending_entry *e = &p->entries[slot];
	int32_t *link = &p->hbuckets[pending_bucket(p, e->pkt.hash)];

	while (*link != slot)
		link = &p->entries[*link].hnext;
	*link = e->hnext;

	for (int x = 0; x < PENDING_NINDEX; x++)
		pending_fifo_unlink(p, x, slot);

	if (e->gprev != PENDING_NONE)
		p->entries[e->gprev].gnext = e->gnext;
	else
		p->ghead = e->gnext;
	if (e->gnext != PENDING_NONE)
		p->entries[e->gnext].gprev = e->gprev;
	else
		p->gtail = e->gprev;

	e->hnext = p->free_entry;
	p->free_entry = slot;
	p->count--;
}

int
pending_match(const struct pending *p, uint64_t hash)
{
	int32_t best = PENDING_NONE;

	/* Identical copies are interchangeable; the oldest goes first, as the qdisc sends them. */
	for (int32_t s = p->hbuckets[pending_bucket(p, hash)]; s != PENDING_NONE;
	     s = p->entries[s].hnext) {
		if (p->entries[s].pkt.hash != hash)
			continue;
		if (best == PENDING_NONE || p->entries[s].seq < p->entries[best].seq)
			best = s;
	}
	return best;
}

int
pending_flow_older(const struct pending *p, int slot)
{
	int32_t head = p->index[PENDING_FLOW].fifos[p->entries[slot].link[PENDING_FLOW].fifo].head;

	return head == slot ? PENDING_NONE : head;
}

int
pending_flow_next(const struct pending *p, int slot)
{
	return p->entries[slot].link[PENDING_FLOW].next;
}

int
pending_segment(const struct pending *p, uint64_t conn, uint32_t seq)
{
	const struct pending_index *ix = &p->index[PENDING_CONN];
	int32_t f = pending_fifo_find(p, PENDING_CONN, conn);

	if (f == PENDING_NONE)
		return PENDING_NONE;
	/* The qdisc sends a connection's segments in order: the one sought is nearly always first.
	 */
	for (int32_t s = ix->fifos[f].head; s != PENDING_NONE;
	     s = p->entries[s].link[PENDING_CONN].next) {
		const struct pending_pkt *pp = &p->entries[s].pkt;
		uint32_t off = seq - pp->seq;
		if (off >= pp->span)
			continue;
		/*
		 * A copy's sequence numbers run on into its padding, where the next
		 * packet's real ones begin: a segment that is not the one this copy
		 * sends next (the qdisc dropped its tail) and that starts a later
		 * copy of the connection is that copy's first.
		 */
		uint32_t gso = pp->nsegs > 0 ? (pp->span + pp->nsegs - 1u) / pp->nsegs : pp->span;
		if (pp->nsegs == 0 || off == (uint32_t)pp->seen * gso)
			return s;
		for (int32_t n = p->entries[s].link[PENDING_CONN].next; n != PENDING_NONE;
		     n = p->entries[n].link[PENDING_CONN].next)
			if (p->entries[n].pkt.seq == seq)
				return n;
		return s;
	}
	return PENDING_NONE;
}

unsigned
pending_segment_seen(struct pending *p, int slot, uint64_t now)
{
	struct pending_pkt *pp = &p->entries[slot].pkt;

	if (pp->seen == 0)
		pp->t_seg_ns = now;
	pp->t_last_ns = now;
	if (pp->seen < UINT16_MAX)
		pp->seen++;
	return pp->seen;
}

void
pending_set_qidx(struct pending *p, int slot, uint16_t qidx)
{
	p->entries[slot].pkt.qidx = qidx;
}

void
pending_mark_ce(struct pending *p, int slot)
{
	p->entries[slot].pkt.ce = true;
}

bool
pending_mark_overtaken(struct pending *p, int slot, uint64_t now)
{
	struct pending_pkt *pp = &p->entries[slot].pkt;

	if (pp->t_over_ns != 0)
		return false;
	pp->t_over_ns = now != 0 ? now : 1;
	return true;
}

int
pending_oldest(const struct pending *p)
{
	return p->ghead;
}

int
pending_next(const struct pending *p, int slot)
{
	return p->entries[slot].gnext;
}

size_t
pending_count(const struct pending *p)
{
	return p->count;
}

size_t
pending_capacity(const struct pending *p)
{
	return p->capacity;
}

void
pending_set_budget(size_t bytes)
{
	size_t slots = bytes / PENDING_SLOT_BYTES;

	pending_budget = slots < PENDING_MIN   ? PENDING_MIN
	                 : slots > PENDING_MAX ? PENDING_MAX
	                                       : slots;
}

size_t
pending_budget_slots(void)
{
	return pending_budget;
}

size_t
pending_limit(const struct pending *p)
{
	return p->limit;
}

void
pending_set_limit(struct pending *p, size_t limit)
{
	p->limit = limit < p->count ? p->count : limit > PENDING_MAX ? PENDING_MAX : limit;
}

int
pending_compact(struct pending *p)
{
	size_t want = pending_first_capacity(p->limit);

	while (want < p->count * 2)
		want *= 2;
	if (want * 4 > p->capacity)
		return 0;
	struct pending *n = pending_new(p->limit);
	if (n == NULL || (want > n->capacity && pending_grow(n, want) < 0)) {
		pending_free(n);
		return -1;
	}
	/* Oldest first: each flow's and connection's FIFO keeps its order. */
	for (int32_t s = p->ghead; s != PENDING_NONE; s = p->entries[s].gnext)
		pending_add(n, &p->entries[s].pkt);
	n->seq = p->seq;
	struct pending tmp = *p;
	*p = *n;
	*n = tmp;
	pending_free(n);
	return 1;
}

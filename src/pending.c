/* Packets held while their copy is in imqN's qdisc: matching, flow order, timeouts. */
#include "pending.h"

#include <stdbool.h>
#include <stdlib.h>

/*
 * Every held packet is on three lists: its copy-hash bucket chain (to find it
 * when the copy comes back), its flow's FIFO (to see which older packets of
 * the flow the qdisc dropped) and the global FIFO (timeouts, shutdown).
 * Slots and flows come from arrays sized at creation; free ones are chained.
 */
struct pending_entry {
	struct pending_pkt pkt;
	uint64_t seq;  /* order of holding; ties between identical copies */
	int32_t hnext; /* next in hash bucket */
	int32_t fprev, fnext;
	int32_t gprev, gnext;
	int32_t flow; /* index in flows[], or free-list link when unused */
};

struct pending_flow {
	uint64_t key;
	int32_t head, tail; /* oldest, newest entry */
	int32_t hnext;      /* next flow in bucket; free-list link when unused */
};

struct pending {
	struct pending_entry *entries;
	struct pending_flow *flows;
	int32_t *hbuckets; /* copy hash -> entry chain */
	int32_t *fbuckets; /* flow key -> flow chain */
	size_t nbuckets;   /* power of two, for both tables */
	size_t capacity;
	size_t count;
	uint64_t seq;
	int32_t free_entry;
	int32_t free_flow;
	int32_t ghead, gtail;
};

static size_t
pending_bucket(const struct pending *p, uint64_t h)
{
	/* The hashes are already mixed; fold the high half in anyway. */
	return (size_t)((h ^ (h >> 32)) & (p->nbuckets - 1));
}

struct pending *
pending_new(size_t capacity)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL || capacity == 0 || capacity > INT32_MAX / 4)
		goto fail;
	p->capacity = capacity;
	p->nbuckets = 16;
	while (p->nbuckets < capacity * 2)
		p->nbuckets <<= 1;
	p->entries = calloc(capacity, sizeof(*p->entries));
	p->flows = calloc(capacity, sizeof(*p->flows));
	p->hbuckets = malloc(p->nbuckets * sizeof(*p->hbuckets));
	p->fbuckets = malloc(p->nbuckets * sizeof(*p->fbuckets));
	if (!p->entries || !p->flows || !p->hbuckets || !p->fbuckets)
		goto fail;
	for (size_t i = 0; i < p->nbuckets; i++)
		p->hbuckets[i] = p->fbuckets[i] = PENDING_NONE;
	for (size_t i = 0; i < capacity; i++) {
		p->entries[i].flow = i + 1 < capacity ? (int32_t)(i + 1) : PENDING_NONE;
		p->flows[i].hnext = i + 1 < capacity ? (int32_t)(i + 1) : PENDING_NONE;
	}
	p->free_entry = 0;
	p->free_flow = 0;
	p->ghead = p->gtail = PENDING_NONE;
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
	free(p->entries);
	free(p->flows);
	free(p->hbuckets);
	free(p->fbuckets);
	free(p);
}

static int32_t
pending_flow_get(struct pending *p, uint64_t key)
{
	size_t b = pending_bucket(p, key);
	int32_t f;

	for (f = p->fbuckets[b]; f != PENDING_NONE; f = p->flows[f].hnext)
		if (p->flows[f].key == key)
			return f;
	/* There are never more flows than entries, so this cannot run dry. */
	f = p->free_flow;
	p->free_flow = p->flows[f].hnext;
	p->flows[f].key = key;
	p->flows[f].head = p->flows[f].tail = PENDING_NONE;
	p->flows[f].hnext = p->fbuckets[b];
	p->fbuckets[b] = f;
	return f;
}

static void
pending_flow_put(struct pending *p, int32_t f)
{
	size_t b = pending_bucket(p, p->flows[f].key);
	int32_t *link = &p->fbuckets[b];

	while (*link != f)
		link = &p->flows[*link].hnext;
	*link = p->flows[f].hnext;
	p->flows[f].hnext = p->free_flow;
	p->free_flow = f;
}

int
pending_add(struct pending *p, const struct pending_pkt *pkt)
{
	int32_t s = p->free_entry;

	if (s == PENDING_NONE)
		return PENDING_NONE;
	struct pending_entry *e = &p->entries[s];
	p->free_entry = e->flow;
	e->pkt = *pkt;
	e->seq = p->seq++;

	size_t b = pending_bucket(p, pkt->hash);
	e->hnext = p->hbuckets[b];
	p->hbuckets[b] = s;

	int32_t f = pending_flow_get(p, pkt->flow);
	e->flow = f;
	e->fnext = PENDING_NONE;
	e->fprev = p->flows[f].tail;
	if (e->fprev != PENDING_NONE)
		p->entries[e->fprev].fnext = s;
	else
		p->flows[f].head = s;
	p->flows[f].tail = s;

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
	size_t b = pending_bucket(p, e->pkt.hash);
	int32_t *link = &p->hbuckets[b];

	while (*link != slot)
		link = &p->entries[*link].hnext;
	*link = e->hnext;

	struct pending_flow *fl = &p->flows[e->flow];
	if (e->fprev != PENDING_NONE)
		p->entries[e->fprev].fnext = e->fnext;
	else
		fl->head = e->fnext;
	if (e->fnext != PENDING_NONE)
		p->entries[e->fnext].fprev = e->fprev;
	else
		fl->tail = e->fprev;
	if (fl->head == PENDING_NONE)
		pending_flow_put(p, e->flow);

	if (e->gprev != PENDING_NONE)
		p->entries[e->gprev].gnext = e->gnext;
	else
		p->ghead = e->gnext;
	if (e->gnext != PENDING_NONE)
		p->entries[e->gnext].gprev = e->gprev;
	else
		p->gtail = e->gprev;

	e->flow = p->free_entry;
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
	int32_t head = p->flows[p->entries[slot].flow].head;

	return head == slot ? PENDING_NONE : head;
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

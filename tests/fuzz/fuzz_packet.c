/*
 * libFuzzer target for what imqd reads of a packet and for its held-packet
 * table: flow_parse, flow_tunnel_hdrlen, flow_copy_hash and
 * pending_add/match/flow_older/segment/remove, driven by a script of operations in the input and
 * checked against a plain model of the table.
 *
 * Input: one byte of table capacity (1..64), then operations:
 *   0 LEN_HI LEN_LO EXTRA MARK BYTES[LEN]  hold a packet (LEN bytes present,
 *                                          its length LEN + EXTRA)
 *   1 K   a copy of held packet K comes back: match it, drop older ones of
 *         its flow, release it (what device_copy_back does)
 *   2     the oldest held packet times out
 *   3 K   held packet K is decided directly (pending_remove)
 *   4 LEN BYTES[LEN]  a copy imqd never sent comes back: it must not match
 *                     unless a held packet has the very same copy hash
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "pending.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_CAP 64
#define FUZZ_MAX_PKT 2048

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The model: held packets in the order they were held. */
struct model_pkt {
	int slot;
	uint64_t hash;
	uint64_t flow;
	uint32_t id;
};

struct model {
	struct model_pkt pkts[FUZZ_MAX_CAP];
	size_t n;
	size_t cap;
};

struct input {
	const uint8_t *p;
	size_t left;
};

static bool
take(struct input *in, size_t n, const uint8_t **out)
{
	if (in->left < n)
		return false;
	*out = in->p;
	in->p += n;
	in->left -= n;
	return true;
}

static int
take_byte(struct input *in)
{
	const uint8_t *b;

	return take(in, 1, &b) ? b[0] : -1;
}

static size_t
model_find(const struct model *m, int slot)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->pkts[i].slot == slot)
			return i;
	abort();
}

static void
model_remove(struct pending *p, struct model *m, size_t i)
{
	pending_remove(p, m->pkts[i].slot);
	memmove(&m->pkts[i], &m->pkts[i + 1], (m->n - i - 1) * sizeof(m->pkts[0]));
	m->n--;
	CHECK(pending_count(p) == m->n);
}

/* The table agrees with the model on count, oldest, and every hash's first match. */
static void
model_check(const struct pending *p, const struct model *m)
{
	CHECK(pending_count(p) == m->n);
	CHECK(pending_oldest(p) == (m->n > 0 ? m->pkts[0].slot : PENDING_NONE));
	for (size_t i = 0; i < m->n; i++) {
		size_t first = i;
		for (size_t j = 0; j < i; j++)
			if (m->pkts[j].hash == m->pkts[i].hash) {
				first = j;
				break;
			}
		CHECK(pending_match(p, m->pkts[i].hash) == m->pkts[first].slot);
		const struct pending_pkt *pp = pending_get(p, m->pkts[i].slot);
		CHECK(pp->hash == m->pkts[i].hash && pp->flow == m->pkts[i].flow &&
		      pp->id == m->pkts[i].id);
		/* The flow's next packet in holding order. */
		int next = PENDING_NONE;
		for (size_t j = i + 1; j < m->n; j++)
			if (m->pkts[j].flow == m->pkts[i].flow) {
				next = m->pkts[j].slot;
				break;
			}
		CHECK(pending_flow_next(p, m->pkts[i].slot) == next);
	}
}

/* flow_copy_hash of a copy must not depend on how much of it was present beyond its zeros. */
static uint64_t
copy_hash(const uint8_t *pkt, size_t caplen, size_t len)
{
	static uint8_t padded[FLOW_ID_BYTES];
	size_t n = len < FLOW_ID_BYTES ? len : FLOW_ID_BYTES;
	size_t k = caplen < n ? caplen : n;
	uint64_t h = flow_copy_hash(pkt, caplen, len);

	memset(padded, 0, sizeof(padded));
	memcpy(padded, pkt, k);
	CHECK(flow_copy_hash(padded, n, len) == h);
	return h;
}

static void
op_hold(struct pending *p, struct model *m, struct input *in, uint32_t id)
{
	const uint8_t *hdr, *pkt;
	struct flow_info fi, fi2;

	if (!take(in, 4, &hdr))
		return;
	size_t caplen = ((size_t)hdr[0] << 8 | hdr[1]) % (FUZZ_MAX_PKT + 1);
	size_t len = caplen + hdr[2];
	uint32_t mark = hdr[3];
	if (!take(in, caplen, &pkt))
		return;
	/* An exact-size heap copy, so ASan sees any read past the packet. */
	uint8_t *copy = malloc(caplen > 0 ? caplen : 1);
	CHECK(copy != NULL);
	memcpy(copy, pkt, caplen);
	bool ok = flow_parse(copy, caplen, len, mark, &fi);
	int ecn = flow_ecn(copy, caplen);
	CHECK(ecn >= -1 && ecn <= FLOW_ECN_CE &&
	      (ecn >= 0) == (caplen >= 2 && (copy[0] >> 4 == 4 || copy[0] >> 4 == 6)));
	CHECK(flow_parse(copy, caplen, len, mark, &fi2) == ok && fi.key == fi2.key &&
	      fi.hdrlen == fi2.hdrlen && fi.conn == fi2.conn && fi.tcp == fi2.tcp &&
	      fi.udp == fi2.udp && fi.seq == fi2.seq);
	CHECK(!fi.tcp || (ok && fi.l4off + 20 <= caplen && fi.hdrlen <= caplen));
	CHECK(!fi.udp || (ok && fi.l4off + 8 <= caplen && !fi.tcp));
	/* A tunnel's headers end inside the packet, past the outer UDP header. */
	uint32_t th = flow_tunnel_hdrlen(copy, caplen, len, &fi);
	CHECK(th == 0 || (fi.udp && th > fi.l4off + 8 && th <= len));
	if ((fi.tcp || fi.udp) && pending_segment(p, fi.conn, fi.seq) != PENDING_NONE)
		pending_segment_seen(p, pending_segment(p, fi.conn, fi.seq), id);
	struct pending_pkt pp = {
	    .id = id,
	    .len = (uint32_t)len,
	    .mark = mark,
	    .hash = copy_hash(copy, caplen, len),
	    .flow = fi.key,
	    .t_ns = id,
	    .conn = (fi.tcp || fi.udp) && hdr[2] > 0 ? fi.conn : 0,
	    .seq = fi.seq,
	    .span = hdr[2],
	    .nsegs = 2,
	};
	free(copy);
	int slot = pending_add(p, &pp);
	if (m->n == m->cap) {
		CHECK(slot == PENDING_NONE);
		return;
	}
	CHECK(slot != PENDING_NONE && slot >= 0 && (size_t)slot < m->cap);
	for (size_t i = 0; i < m->n; i++)
		CHECK(m->pkts[i].slot != slot);
	m->pkts[m->n++] = (struct model_pkt){slot, pp.hash, pp.flow, id};
}

/* As device_copy_back: the matched packet's older flow-mates were dropped by the qdisc. */
static void
op_copy_back(struct pending *p, struct model *m, uint64_t hash)
{
	int slot = pending_match(p, hash);
	int older;

	if (slot == PENDING_NONE) {
		for (size_t i = 0; i < m->n; i++)
			CHECK(m->pkts[i].hash != hash);
		return;
	}
	size_t idx = model_find(m, slot);
	CHECK(m->pkts[idx].hash == hash);
	while ((older = pending_flow_older(p, slot)) != PENDING_NONE) {
		size_t o = model_find(m, older);
		CHECK(o < idx && m->pkts[o].flow == m->pkts[idx].flow);
		for (size_t j = 0; j < o; j++)
			CHECK(m->pkts[j].flow != m->pkts[idx].flow);
		model_remove(p, m, o);
		idx--;
	}
	for (size_t j = 0; j < idx; j++)
		CHECK(m->pkts[j].flow != m->pkts[idx].flow);
	model_remove(p, m, idx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct model m = {.n = 0};
	uint32_t id = 0;
	int c = take_byte(&in);

	if (c < 0)
		return 0;
	m.cap = (size_t)c % FUZZ_MAX_CAP + 1;
	struct pending *p = pending_new(m.cap);
	CHECK(p != NULL && pending_limit(p) == m.cap);
	while ((c = take_byte(&in)) >= 0) {
		int k;
		const uint8_t *bytes;
		switch (c % 5) {
		case 0:
			op_hold(p, &m, &in, ++id);
			break;
		case 1:
			if ((k = take_byte(&in)) >= 0 && m.n > 0)
				op_copy_back(p, &m, m.pkts[(size_t)k % m.n].hash);
			break;
		case 2:
			if (m.n > 0)
				model_remove(p, &m, 0);
			break;
		case 3:
			if ((k = take_byte(&in)) >= 0 && m.n > 0)
				model_remove(p, &m, (size_t)k % m.n);
			break;
		case 4:
			if ((k = take_byte(&in)) >= 0 && take(&in, (size_t)k, &bytes))
				op_copy_back(p, &m, copy_hash(bytes, (size_t)k, (size_t)k));
			break;
		}
		model_check(p, &m);
	}
	while (m.n > 0)
		model_remove(p, &m, m.n - 1);
	CHECK(pending_oldest(p) == PENDING_NONE);
	pending_free(p);
	return 0;
}

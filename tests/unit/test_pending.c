/* Unit tests of the held-packet table and of flow keys and copy hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "pending.h"

static struct pending_pkt
pkt(uint32_t id, uint64_t hash, uint64_t flow)
{
	struct pending_pkt p = {.id = id, .hash = hash, .flow = flow, .t_ns = id};
	return p;
}

static void
test_match_and_remove(void **state)
{
	struct pending *p = pending_new(8);

	(void)state;
	assert_non_null(p);
	int a = pending_add(p, &(struct pending_pkt){.id = 1, .hash = 100, .flow = 1});
	int b = pending_add(p, &(struct pending_pkt){.id = 2, .hash = 200, .flow = 2});
	assert_int_equal(pending_count(p), 2);
	assert_int_equal(pending_match(p, 200), b);
	assert_int_equal(pending_match(p, 100), a);
	assert_int_equal(pending_match(p, 300), PENDING_NONE);
	pending_remove(p, b);
	assert_int_equal(pending_match(p, 200), PENDING_NONE);
	assert_int_equal(pending_get(p, pending_match(p, 100))->id, 1);
	pending_remove(p, a);
	assert_int_equal(pending_count(p), 0);
	assert_int_equal(pending_oldest(p), PENDING_NONE);
	pending_free(p);
}

/* Byte-identical copies come back oldest first, each held packet exactly once. */
static void
test_identical_copies(void **state)
{
	struct pending *p = pending_new(64);

	(void)state;
	for (uint32_t id = 1; id <= 50; id++) {
		struct pending_pkt pp = pkt(id, 42, 7);
		assert_int_not_equal(pending_add(p, &pp), PENDING_NONE);
	}
	for (uint32_t id = 1; id <= 50; id++) {
		int s = pending_match(p, 42);
		assert_int_not_equal(s, PENDING_NONE);
		assert_int_equal(pending_get(p, s)->id, id);
		assert_int_equal(pending_flow_older(p, s), PENDING_NONE);
		pending_remove(p, s);
	}
	assert_int_equal(pending_match(p, 42), PENDING_NONE);
	pending_free(p);
}

/* Ids near the 32-bit wrap are just ids: order comes from holding order. */
static void
test_id_wrap(void **state)
{
	struct pending *p = pending_new(8);
	uint32_t ids[] = {0xfffffffeu, 0xffffffffu, 0, 1};

	(void)state;
	for (int i = 0; i < 4; i++) {
		struct pending_pkt pp = pkt(ids[i], 9, 1);
		pending_add(p, &pp);
	}
	for (int i = 0; i < 4; i++) {
		int s = pending_oldest(p);
		assert_int_equal(pending_get(p, s)->id, ids[i]);
		pending_remove(p, s);
	}
	pending_free(p);
}

/* A later copy of a flow coming back first names the older ones as dropped; other flows are
 * untouched. */
static void
test_flow_order(void **state)
{
	struct pending *p = pending_new(16);

	(void)state;
	int a1 = pending_add(p, &(struct pending_pkt){.id = 1, .hash = 1, .flow = 0xa});
	int b1 = pending_add(p, &(struct pending_pkt){.id = 2, .hash = 2, .flow = 0xb});
	int a2 = pending_add(p, &(struct pending_pkt){.id = 3, .hash = 3, .flow = 0xa});
	int a3 = pending_add(p, &(struct pending_pkt){.id = 4, .hash = 4, .flow = 0xa});

	assert_int_equal(pending_flow_older(p, a1), PENDING_NONE);
	assert_int_equal(pending_flow_older(p, b1), PENDING_NONE);
	assert_int_equal(pending_flow_older(p, a3), a1);
	pending_remove(p, a1);
	assert_int_equal(pending_flow_older(p, a3), a2);
	pending_remove(p, a2);
	assert_int_equal(pending_flow_older(p, a3), PENDING_NONE);
	assert_int_equal(pending_oldest(p), b1);
	pending_free(p);
}

/* Full table refuses, and slots are reused after removal; nothing is allocated per packet. */
static void
test_capacity_and_reuse(void **state)
{
	struct pending *p = pending_new(4);
	int s[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		struct pending_pkt pp = pkt((uint32_t)i, (uint64_t)i, (uint64_t)i);
		s[i] = pending_add(p, &pp);
		assert_int_not_equal(s[i], PENDING_NONE);
	}
	struct pending_pkt extra = pkt(9, 9, 9);
	assert_int_equal(pending_add(p, &extra), PENDING_NONE);
	for (int round = 0; round < 1000; round++) {
		int o = pending_oldest(p);
		pending_remove(p, o);
		struct pending_pkt pp =
		    pkt((uint32_t)(100 + round), (uint64_t)round % 3, (uint64_t)round % 2);
		assert_int_not_equal(pending_add(p, &pp), PENDING_NONE);
		assert_int_equal(pending_count(p), 4);
	}
	pending_free(p);
}

/* Random adds, matches and removals against a simple model. */
static void
test_random_model(void **state)
{
	enum { CAP = 256, OPS = 200000 };
	struct pending *p = pending_new(CAP);
	uint32_t model[CAP]; /* ids held, in holding order */
	uint64_t mhash[CAP];
	size_t n = 0;
	uint32_t next = 1;

	(void)state;
	srand(1);
	for (int op = 0; op < OPS; op++) {
		if (n < CAP && (n == 0 || rand() % 2)) {
			uint64_t h = (uint64_t)(rand() % 64);
			struct pending_pkt pp = pkt(next, h, h % 8);
			assert_int_not_equal(pending_add(p, &pp), PENDING_NONE);
			model[n] = next++;
			mhash[n++] = h;
			continue;
		}
		uint64_t h = mhash[(size_t)rand() % n];
		int s = pending_match(p, h);
		assert_int_not_equal(s, PENDING_NONE);
		size_t i = 0;
		while (mhash[i] != h)
			i++;
		assert_int_equal(pending_get(p, s)->id, model[i]);
		pending_remove(p, s);
		memmove(&model[i], &model[i + 1], (n - i - 1) * sizeof(model[0]));
		memmove(&mhash[i], &mhash[i + 1], (n - i - 1) * sizeof(mhash[0]));
		n--;
		assert_int_equal(pending_count(p), n);
	}
	pending_free(p);
}

/* Ids in holding order, walked from the oldest. */
static size_t
held_ids(const struct pending *p, uint32_t *ids, size_t max)
{
	size_t n = 0;

	for (int s = pending_oldest(p); s != PENDING_NONE && n < max; s = pending_next(p, s))
		ids[n++] = pending_get(p, s)->id;
	return n;
}

/*
 * A table grows from a few slots to its limit as packets are held, and gives
 * memory back once they are gone; matching, flow order and holding order are
 * the same all along.
 */
static void
test_grow_and_compact(void **state)
{
	enum { LIMIT = 5000, KEEP = 100 };
	struct pending *p = pending_new(LIMIT);
	static uint32_t ids[LIMIT];

	(void)state;
	assert_non_null(p);
	assert_int_equal(pending_limit(p), LIMIT);
	assert_true(pending_capacity(p) < LIMIT);
	for (uint32_t id = 1; id <= LIMIT; id++) {
		struct pending_pkt pp = {.id = id, .hash = id % 97, .flow = id % 13};
		if (id % 5 == 0) {
			pp.conn = 1 + id % 3;
			pp.seq = id * 100;
			pp.span = 100;
		}
		assert_int_not_equal(pending_add(p, &pp), PENDING_NONE);
	}
	assert_int_equal(pending_capacity(p), LIMIT);
	assert_int_equal(pending_add(p, &(struct pending_pkt){.id = 9999}), PENDING_NONE);
	assert_int_equal(held_ids(p, ids, LIMIT), LIMIT);
	for (uint32_t i = 0; i < LIMIT; i++)
		assert_int_equal(ids[i], i + 1);
	/* The oldest of each hash first; each flow's head is its oldest packet. */
	for (uint64_t h = 0; h < 97; h++)
		assert_int_equal(pending_get(p, pending_match(p, h))->id, h == 0 ? 97 : h);
	int s = pending_match(p, 1); /* id 1, flow 1: the head of its flow */
	assert_int_equal(pending_flow_older(p, s), PENDING_NONE);
	assert_int_equal(pending_get(p, pending_flow_next(p, s))->id, 14);
	assert_int_equal(pending_get(p, pending_segment(p, 1 + 4000 % 3, 400050))->id, 4000);

	/* Let all but the newest KEEP go, then compact. */
	for (uint32_t i = 0; i < LIMIT - KEEP; i++)
		pending_remove(p, pending_oldest(p));
	size_t before = pending_capacity(p);
	assert_int_equal(pending_compact(p), 1);
	assert_true(pending_capacity(p) < before / 4);
	assert_true(pending_capacity(p) >= KEEP);
	assert_int_equal(pending_count(p), KEEP);
	assert_int_equal(pending_limit(p), LIMIT);
	assert_int_equal(held_ids(p, ids, LIMIT), KEEP);
	for (uint32_t i = 0; i < KEEP; i++)
		assert_int_equal(ids[i], LIMIT - KEEP + 1 + i);
	for (uint64_t h = 0; h < 97; h++) {
		uint32_t oldest = LIMIT - KEEP + 1;
		while (oldest % 97 != h)
			oldest++;
		assert_int_equal(pending_get(p, pending_match(p, h))->id, oldest);
	}
	s = pending_match(p, (LIMIT - KEEP + 1) % 97);
	assert_int_equal(pending_flow_older(p, s), PENDING_NONE);
	assert_int_equal(pending_get(p, pending_segment(p, 1 + 5000 % 3, 500050))->id, 5000);
	assert_int_equal(pending_compact(p), 0);
	/* It grows again up to its limit; a limit below what it holds is what it holds. */
	for (uint32_t id = LIMIT + 1; pending_count(p) < LIMIT; id++)
		assert_int_not_equal(pending_add(p, &(struct pending_pkt){.id = id, .hash = id}),
		                     PENDING_NONE);
	pending_set_limit(p, 10);
	assert_int_equal(pending_limit(p), LIMIT);
	pending_free(p);
}

/* Every table of the process together stays within the memory budget, freed slots return to it. */
static void
test_budget(void **state)
{
	(void)state;
	pending_set_budget(100 * PENDING_SLOT_BYTES);
	assert_int_equal(pending_budget_slots(), 100);
	struct pending *a = pending_new(1000), *b = pending_new(1000);
	assert_non_null(a);
	assert_non_null(b);
	uint32_t na = 0, nb = 0;
	while (pending_add(a, &(struct pending_pkt){.id = na, .hash = na}) != PENDING_NONE)
		na++;
	/* Doublings from 16: a stops at 64, the last that fits beside b's 16. */
	assert_int_equal(na, 64);
	while (pending_add(b, &(struct pending_pkt){.id = nb, .hash = nb}) != PENDING_NONE)
		nb++;
	assert_int_equal(nb, 32);
	assert_true(pending_capacity(a) + pending_capacity(b) <= 100);
	pending_free(a);
	while (pending_add(b, &(struct pending_pkt){.id = nb, .hash = nb}) != PENDING_NONE)
		nb++;
	assert_int_equal(nb, 64);
	pending_free(b);
	pending_set_budget(SIZE_MAX);
}

static void
test_flow_keys(void **state)
{
	uint8_t a[60] = {0x45, 0, 0, 60, 0,  0, 0x40, 0, 64,   6,    0,    0,
	                 10,   0, 0, 1,  10, 0, 0,    2, 0x30, 0x39, 0x00, 0x50};
	uint8_t b[60];
	struct flow_info fa, fb;

	(void)state;
	a[20 + 12] = 0x50; /* TCP data offset 20 bytes */
	a[20 + 13] = 0x10; /* ACK */
	memcpy(b, a, sizeof(a));
	b[20 + 4] = 0x7f; /* other sequence number: same flow */
	assert_true(flow_parse(a, sizeof(a), 1400, 0, &fa));
	assert_true(flow_parse(b, sizeof(b), 1400, 0, &fb));
	assert_int_equal(fa.hdrlen, 40);
	assert_int_equal(fa.l4off, 20);
	assert_int_equal(fa.iplen, 60);
	assert_true(fa.tcp);
	assert_int_equal(fb.seq, 0x7f000000u);
	assert_true(fa.key == fb.key);
	assert_true(fa.conn == fb.conn);
	a[20 + 12] = 0x80; /* TCP data offset 32 bytes */
	flow_parse(a, sizeof(a), 1400, 0, &fa);
	assert_int_equal(fa.hdrlen, 52);
	b[23] = 0x51; /* other destination port: another flow and connection */
	flow_parse(b, sizeof(b), 1400, 0, &fb);
	assert_false(fa.key == fb.key);
	assert_false(fa.conn == fb.conn);
	flow_parse(a, sizeof(a), 1400, 1, &fb); /* other mark: another flow, same connection */
	assert_false(fa.key == fb.key);
	assert_true(fa.conn == fb.conn);
	flow_parse(a, sizeof(a), 60, 0, &fb); /* small packet, e.g. a pure ACK */
	assert_false(fa.key == fb.key);
	a[20 + 13] = 0x11; /* FIN: another flow, same connection */
	flow_parse(a, sizeof(a), 1400, 0, &fb);
	assert_false(fa.key == fb.key);
	assert_true(fa.conn == fb.conn);
	a[20 + 13] = 0x10;

	/* A TCP header cut short is no segment to match. */
	assert_true(flow_parse(a, 45, 1400, 0, &fa));
	assert_false(fa.tcp);
	/* Truncated and garbage packets are reported, not crashed on. */
	assert_false(flow_parse(a, 10, 1400, 0, &fa));
	uint8_t junk[3] = {0x60, 1, 2};
	assert_false(flow_parse(junk, sizeof(junk), 3, 0, &fa));
	assert_false(flow_parse(junk, 0, 0, 0, &fa));
	a[0] = 0x4f; /* header length beyond the data */
	assert_false(flow_parse(a, 40, 40, 0, &fa));
	assert_false(fa.tcp);
}

static void
test_copy_hash(void **state)
{
	uint8_t buf[300];

	(void)state;
	memset(buf, 0, sizeof(buf));
	for (int i = 0; i < 40; i++)
		buf[i] = (uint8_t)i;
	/* A headers-only copy padded with zeros hashes as the whole zero-padded copy. */
	assert_true(flow_copy_hash(buf, 40, 300) == flow_copy_hash(buf, 300, 300));
	/* A read cut off after FLOW_ID_BYTES hashes as the whole copy. */
	assert_true(flow_copy_hash(buf, 300, 300) ==
	            flow_copy_hash(buf, FLOW_ID_BYTES, FLOW_ID_BYTES));
	assert_false(flow_copy_hash(buf, 100, 100) == flow_copy_hash(buf, 99, 99));
	uint64_t h = flow_copy_hash(buf, 40, 300);
	buf[5] ^= 1;
	assert_false(flow_copy_hash(buf, 40, 300) == h);
}

/* A copy the qdisc marked CE (ECN field and IPv4 checksum changed) still finds its packet. */
static void
test_copy_hash_ecn(void **state)
{
	uint8_t v4[60], v6[60];

	(void)state;
	memset(v4, 0, sizeof(v4));
	v4[0] = 0x45;
	v4[1] = 0x2a; /* DSCP 10, ECT(0) */
	v4[9] = 6;
	v4[10] = 0x12;
	v4[11] = 0x34;
	v4[20] = 7;
	assert_int_equal(flow_ecn(v4, sizeof(v4)), FLOW_ECN_ECT0);
	uint64_t h = flow_copy_hash(v4, sizeof(v4), 1500);
	v4[1] |= FLOW_ECN_CE;
	v4[11] -= 1;
	assert_int_equal(flow_ecn(v4, sizeof(v4)), FLOW_ECN_CE);
	assert_true(flow_copy_hash(v4, sizeof(v4), 1500) == h);
	v4[20] = 8; /* anything past the header still counts */
	assert_false(flow_copy_hash(v4, sizeof(v4), 1500) == h);

	memset(v6, 0, sizeof(v6));
	v6[0] = 0x60;
	v6[1] = 0x1a; /* traffic class 0x01 (ECT(1)), flow label 0xa.... */
	v6[2] = 0xbc;
	v6[6] = 17;
	assert_int_equal(flow_ecn(v6, sizeof(v6)), FLOW_ECN_ECT1);
	h = flow_copy_hash(v6, sizeof(v6), 1500);
	v6[1] |= 0x30;
	assert_int_equal(flow_ecn(v6, sizeof(v6)), FLOW_ECN_CE);
	assert_true(flow_copy_hash(v6, sizeof(v6), 1500) == h);
	v6[1] ^= 0x01; /* the flow label is not left out */
	assert_false(flow_copy_hash(v6, sizeof(v6), 1500) == h);

	assert_int_equal(flow_ecn(v6, 1), -1);
	v6[0] = 0x20;
	assert_int_equal(flow_ecn(v6, sizeof(v6)), -1);
}

static void
test_segments(void **state)
{
	struct pending *p = pending_new(16);
	struct pending_pkt a = {.id = 1,
	                        .hash = 11,
	                        .flow = 5,
	                        .conn = 7,
	                        .seq = 0xfffff000u,
	                        .span = 0x2000,
	                        .nsegs = 4};
	struct pending_pkt b = {
	    .id = 2, .hash = 12, .flow = 5, .conn = 7, .seq = 0x1000, .span = 0x2000, .nsegs = 4};
	struct pending_pkt c = {.id = 3, .hash = 13, .flow = 5};

	(void)state;
	int sa = pending_add(p, &a);
	int sb = pending_add(p, &b);
	int sc = pending_add(p, &c);
	/* Sequence numbers wrap. */
	assert_int_equal(pending_segment(p, 7, 0xfffff000u), sa);
	assert_int_equal(pending_segment(p, 7, 0x0fff), sa);
	assert_int_equal(pending_segment(p, 7, 0x1000), sb);
	assert_int_equal(pending_segment(p, 7, 0x2fff), sb);
	assert_int_equal(pending_segment(p, 7, 0x3000), PENDING_NONE);
	assert_int_equal(pending_segment(p, 8, 0x1000), PENDING_NONE);
	assert_int_equal(pending_segment_seen(p, sb, 1), 1);
	assert_int_equal(pending_segment_seen(p, sb, 1), 2);
	assert_int_equal(pending_get(p, sa)->seen, 0);
	pending_remove(p, sa);
	assert_int_equal(pending_segment(p, 7, 0), PENDING_NONE);
	assert_int_equal(pending_flow_older(p, sc), sb);
	pending_remove(p, sb);
	assert_int_equal(pending_segment(p, 7, 0x1000), PENDING_NONE);
	/* A reused slot starts counting afresh. */
	int sd = pending_add(p, &b);
	assert_int_equal(pending_get(p, sd)->seen, 0);
	assert_int_equal(pending_segment(p, 7, 0x1800), sd);
	/* A packet copied into another table (a reload resizing it) keeps the segments seen. */
	assert_int_equal(pending_segment_seen(p, sd, 1), 1);
	struct pending *q = pending_new(4);
	assert_non_null(q);
	int se = pending_add(q, pending_get(p, sd));
	assert_int_equal(pending_get(q, se)->seen, 1);
	pending_free(q);
	pending_remove(p, sc);
	pending_remove(p, sd);
	assert_int_equal(pending_count(p), 0);
	pending_free(p);
}

/*
 * A copy's padding runs into the next copy's sequence numbers: with the
 * first copy's tail dropped, the next copy's first segment is the next
 * copy's; the first copy's own segments there stay its own.
 */
static void
test_segments_padding(void **state)
{
	struct pending *p = pending_new(8);
	/* 0x1000 bytes of payload and 0x100 of padding in 17 segments of 0x100. */
	struct pending_pkt a = {
	    .id = 1, .hash = 1, .flow = 5, .conn = 7, .seq = 0, .span = 0x1100, .nsegs = 17};
	struct pending_pkt b = {
	    .id = 2, .hash = 2, .flow = 5, .conn = 7, .seq = 0x1000, .span = 0x1100, .nsegs = 17};

	(void)state;
	int sa = pending_add(p, &a);
	int sb = pending_add(p, &b);
	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(pending_segment(p, 7, i * 0x100), sa);
		pending_segment_seen(p, sa, 1);
	}
	/* Its 17th segment, all padding, starts where b's payload does. */
	assert_int_equal(pending_segment(p, 7, 0x1000), sa);
	/* Its tail dropped after 4 segments: 0x1000 is b's first. */
	pending_remove(p, sa);
	pending_remove(p, sb);
	sa = pending_add(p, &a);
	sb = pending_add(p, &b);
	for (unsigned i = 0; i < 4; i++)
		pending_segment_seen(p, sa, 1);
	assert_int_equal(pending_segment(p, 7, 0x1000), sb);
	assert_int_equal(pending_segment(p, 7, 0x400), sa);
	/* Nothing of it back yet: a segment of its padding that no copy starts at is its own. */
	pending_remove(p, sa);
	pending_remove(p, sb);
	sa = pending_add(p, &a);
	sb = pending_add(p, &b);
	assert_int_equal(pending_segment(p, 7, 0x1080), sa);
	assert_int_equal(pending_segment(p, 7, 0x1000), sb);
	pending_remove(p, sa);
	pending_remove(p, sb);
	pending_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_and_remove),
	    cmocka_unit_test(test_identical_copies),
	    cmocka_unit_test(test_id_wrap),
	    cmocka_unit_test(test_flow_order),
	    cmocka_unit_test(test_capacity_and_reuse),
	    cmocka_unit_test(test_random_model),
	    cmocka_unit_test(test_grow_and_compact),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_flow_keys),
	    cmocka_unit_test(test_copy_hash),
	    cmocka_unit_test(test_copy_hash_ecn),
	    cmocka_unit_test(test_segments),
	    cmocka_unit_test(test_segments_padding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

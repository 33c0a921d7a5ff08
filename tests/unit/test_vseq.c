/* Unit tests of verdict sequencing (src/vseq.c): which verdicts go as batches, alone, or wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vseq.h"

static struct vseq_out outs[64];
static size_t nouts;

static void
record(void *arg, const struct vseq_out *o)
{
	(void)arg;
	assert_true(nouts < 64);
	outs[nouts++] = *o;
}

static void
emit_batches(struct vseq *s, bool all, bool batches)
{
	nouts = 0;
	vseq_emit(s, all, batches, record, NULL);
}

static void
emit(struct vseq *s, bool all)
{
	emit_batches(s, all, true);
}

static void
assert_out(size_t i, bool batch, enum vseq_verdict v, uint32_t id)
{
	assert_true(i < nouts);
	assert_int_equal(outs[i].batch, batch);
	assert_int_equal(outs[i].verdict, v);
	assert_int_equal(outs[i].id, id);
}

static struct vseq *
received(size_t hold, uint32_t first, uint32_t last)
{
	struct vseq *s = vseq_new(hold);

	assert_non_null(s);
	for (uint32_t id = first; id != last + 1; id++)
		assert_int_equal(vseq_received(s, id), 0);
	return s;
}

/* The oldest packets accepted in order: one batch. */
static void
test_fifo_accepts(void **state)
{
	struct vseq *s = received(100, 1, 10);

	(void)state;
	for (uint32_t id = 1; id <= 3; id++)
		assert_true(vseq_decide(s, id, VSEQ_ACCEPT));
	emit(s, false);
	assert_int_equal(nouts, 1);
	assert_out(0, true, VSEQ_ACCEPT, 3);
	vseq_free(s);
}

/* Drops behind an undecided packet wait, then go as one batch behind the accepts. */
static void
test_drops_wait_for_their_run(void **state)
{
	struct vseq *s = received(100, 1, 6);

	(void)state;
	assert_true(vseq_decide(s, 3, VSEQ_DROP));
	assert_true(vseq_decide(s, 4, VSEQ_DROP));
	emit(s, false);
	assert_int_equal(nouts, 0);
	assert_int_equal(vseq_held(s), 2);
	assert_true(vseq_decide(s, 1, VSEQ_ACCEPT));
	assert_true(vseq_decide(s, 2, VSEQ_ACCEPT));
	emit(s, false);
	assert_int_equal(nouts, 2);
	assert_out(0, true, VSEQ_ACCEPT, 2);
	assert_out(1, true, VSEQ_DROP, 4);
	assert_int_equal(vseq_held(s), 0);
	vseq_free(s);
}

/* An accept never waits: beyond an undecided packet it goes alone; later ones batch past it. */
static void
test_accept_alone(void **state)
{
	struct vseq *s = received(100, 1, 3);

	(void)state;
	assert_true(vseq_decide(s, 2, VSEQ_ACCEPT));
	emit(s, false);
	assert_int_equal(nouts, 1);
	assert_out(0, false, VSEQ_ACCEPT, 2);
	assert_true(vseq_decide(s, 1, VSEQ_DROP));
	emit(s, false);
	assert_int_equal(nouts, 1);
	assert_out(0, true, VSEQ_DROP, 1);
	/* A verdict for an id that already has one is not the sequence's. */
	assert_false(vseq_decide(s, 2, VSEQ_DROP));
	vseq_free(s);
}

/* Ids the kernel skipped and ids decided alone lie inside batches; a run of them alone sends
 * nothing. */
static void
test_gaps_and_sent(void **state)
{
	struct vseq *s = received(100, 1, 1);

	(void)state;
	assert_int_equal(vseq_received(s, 5), 0); /* 2-4 skipped */
	assert_int_equal(vseq_received(s, 6), 0);
	vseq_sent(s, 1);
	assert_true(vseq_decide(s, 5, VSEQ_ACCEPT));
	emit(s, false);
	assert_int_equal(nouts, 1);
	assert_out(0, true, VSEQ_ACCEPT, 5);
	vseq_sent(s, 6);
	emit(s, false);
	assert_int_equal(nouts, 0);
	assert_false(vseq_decide(s, 6, VSEQ_DROP));
	assert_false(vseq_decide(s, 7, VSEQ_DROP)); /* never received */
	vseq_free(s);
}

/* More drops waiting than the bound, or the queue going: all of them alone. */
static void
test_hold_bound_and_all(void **state)
{
	struct vseq *s = received(2, 1, 5);

	(void)state;
	assert_true(vseq_decide(s, 2, VSEQ_DROP));
	assert_true(vseq_decide(s, 3, VSEQ_DROP));
	emit(s, false);
	assert_int_equal(nouts, 0);
	assert_true(vseq_decide(s, 4, VSEQ_DROP));
	emit(s, false);
	assert_int_equal(nouts, 3);
	assert_out(0, false, VSEQ_DROP, 2);
	assert_out(2, false, VSEQ_DROP, 4);
	assert_true(vseq_decide(s, 5, VSEQ_DROP));
	emit(s, false);
	assert_int_equal(nouts, 0);
	emit(s, true);
	assert_int_equal(nouts, 1);
	assert_out(0, false, VSEQ_DROP, 5);
	vseq_free(s);
}

/* A backlog of thousands (the window grows), ids that wrap, and a queue bound anew. */
static void
test_grow_wrap_reset(void **state)
{
	struct vseq *s = received(100, 0xfffff000u, 0x1000u);

	(void)state;
	for (uint32_t id = 0xfffff000u; id != 0x1001u; id++)
		assert_true(vseq_decide(s, id, id % 1000 == 0 ? VSEQ_DROP : VSEQ_ACCEPT));
	emit(s, false);
	/* Runs of accepts between single drops, each a batch, across the wrap. */
	assert_int_equal(nouts, 2 * 9 + 1);
	assert_out(0, true, VSEQ_ACCEPT, 0xfffff31fu);
	assert_out(1, true, VSEQ_DROP, 0xfffff320u); /* 4294964000 */
	assert_out(nouts - 1, true, VSEQ_ACCEPT, 0x1000u);
	vseq_reset(s);
	assert_int_equal(vseq_received(s, 1), 0);
	assert_true(vseq_decide(s, 1, VSEQ_ACCEPT));
	emit(s, false);
	assert_int_equal(nouts, 1);
	assert_out(0, true, VSEQ_ACCEPT, 1);
	vseq_free(s);
}

/*
 * Accepts leave in the order they were decided: a qdisc that released 3
 * before 1 and 2 gets three messages in that order, not a batch in id
 * order. The drops keep their batch.
 */
static void
test_qdisc_order_kept(void **state)
{
	struct vseq *s = received(100, 1, 5);

	(void)state;
	assert_true(vseq_decide(s, 3, VSEQ_ACCEPT));
	assert_true(vseq_decide(s, 1, VSEQ_ACCEPT));
	assert_true(vseq_decide(s, 2, VSEQ_ACCEPT));
	assert_true(vseq_decide(s, 4, VSEQ_DROP));
	assert_true(vseq_decide(s, 5, VSEQ_DROP));
	emit(s, false);
	assert_int_equal(nouts, 4);
	assert_out(0, false, VSEQ_ACCEPT, 3);
	assert_out(1, false, VSEQ_ACCEPT, 1);
	assert_out(2, false, VSEQ_ACCEPT, 2);
	assert_out(3, true, VSEQ_DROP, 5);
	assert_int_equal(outs[3].count, 2);
	vseq_free(s);
}

/* Without batches (verdicts of a failed send still wait), runs go one message a packet. */
static void
test_no_batches(void **state)
{
	struct vseq *s = received(100, 1, 3);

	(void)state;
	for (uint32_t id = 1; id <= 3; id++)
		assert_true(vseq_decide(s, id, id == 2 ? VSEQ_DROP : VSEQ_ACCEPT));
	emit_batches(s, false, false);
	assert_int_equal(nouts, 3);
	assert_out(0, false, VSEQ_ACCEPT, 1);
	assert_out(1, false, VSEQ_DROP, 2);
	assert_out(2, false, VSEQ_ACCEPT, 3);
	vseq_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo_accepts),
	    cmocka_unit_test(test_drops_wait_for_their_run),
	    cmocka_unit_test(test_accept_alone),
	    cmocka_unit_test(test_gaps_and_sent),
	    cmocka_unit_test(test_hold_bound_and_all),
	    cmocka_unit_test(test_grow_wrap_reset),
	    cmocka_unit_test(test_qdisc_order_kept),
	    cmocka_unit_test(test_no_batches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

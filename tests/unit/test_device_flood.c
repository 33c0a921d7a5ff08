/*
 * Unit tests of how the ids the kernel skipped are split into passed and
 * dropped (src/device_flood.c, device_gap_dropped): the spans of ids it
 * dropped while a flood or on-overflow = drop had the queue's fail-open
 * off, seen by imqd only when it reads past them, maybe after the next
 * switch or reload; and which gaps are taken as a flood (device_id_seen).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "device_int.h"

struct fixture {
	struct conf_device cf;
	struct device dev;
	struct device_sock sock;
	struct device_queue q;
};

static int
setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.cf.on_overflow = CONF_ACCEPT;
	f.cf.on_flood = CONF_DROP;
	f.dev.conf = &f.cf;
	f.q.sock = &f.sock;
	/* A queue no kernel has: the switches take the kernel's next id as imqd's. */
	f.q.num = 65531;
	*state = &f;
	return 0;
}

/* A span of dropped ids from FROM to TO (OPEN: not ended yet). */
static void
span(struct fixture *f, uint32_t from, uint32_t to, bool open)
{
	unsigned i = f->sock.ndrops++;

	f->sock.drops[i].from = from;
	f->sock.drops[i].to = to;
	f->sock.drops[i].open = open;
}

static uint32_t
dropped(struct fixture *f, uint32_t first, uint32_t gap)
{
	return device_gap_dropped(&f->dev, &f->q, first, gap);
}

static void
test_no_span(void **state)
{
	struct fixture *f = *state;

	/* Fail-open on throughout: every skipped id passed. */
	device_drops_bound(&f->dev, &f->q);
	assert_int_equal(dropped(f, 100, 50), 0);
}

static void
test_bound_drop(void **state)
{
	struct fixture *f = *state;

	/* on-overflow = drop from the binding on: every one dropped. */
	f->cf.on_overflow = CONF_DROP;
	device_drops_bound(&f->dev, &f->q);
	assert_int_equal(dropped(f, 100, 50), 50);
	assert_int_equal(dropped(f, 1, 10), 10);
}

static void
test_reload_overflow(void **state)
{
	struct fixture *f = *state;

	/* accept, then drop from id 500 on, then accept again from 800 on. */
	device_drops_bound(&f->dev, &f->q);
	f->q.next_id = 500;
	f->cf.on_overflow = CONF_DROP;
	device_drops_overflow(&f->dev, &f->q, false);
	f->q.next_id = 800;
	f->cf.on_overflow = CONF_ACCEPT;
	device_drops_overflow(&f->dev, &f->q, true);
	/* Gaps read after both reloads: each id as it was decided. */
	assert_int_equal(dropped(f, 100, 50), 0);
	assert_int_equal(dropped(f, 480, 100), 80);  /* 500-579 */
	assert_int_equal(dropped(f, 700, 200), 100); /* 700-799 */
	assert_int_equal(f->sock.ndrops, 0);
	/* A reload that keeps on-overflow changes nothing. */
	device_drops_overflow(&f->dev, &f->q, false);
	assert_int_equal(f->sock.ndrops, 0);
}

static void
test_closed_span(void **state)
{
	struct fixture *f = *state;

	span(f, 120, 130, false);
	/* Ids 100-149: 120-129 dropped, the rest passed. */
	assert_int_equal(dropped(f, 100, 50), 10);
	/* Seen past its end: gone. */
	assert_int_equal(f->sock.ndrops, 0);
	assert_int_equal(dropped(f, 200, 50), 0);
}

static void
test_span_across_gaps(void **state)
{
	struct fixture *f = *state;

	span(f, 120, 200, false);
	assert_int_equal(dropped(f, 100, 40), 20);  /* 120-139 */
	assert_int_equal(f->sock.ndrops, 1);        /* 140-199 still to come */
	assert_int_equal(dropped(f, 150, 100), 50); /* 150-199 */
	assert_int_equal(f->sock.ndrops, 0);
}

static void
test_open_span(void **state)
{
	struct fixture *f = *state;

	/* Fail-open still off: everything from its start on was dropped. */
	span(f, 120, 0, true);
	assert_int_equal(dropped(f, 100, 50), 30);
	assert_int_equal(dropped(f, 1000, 50), 50);
	assert_int_equal(f->sock.ndrops, 1);
}

static void
test_two_spans_one_gap(void **state)
{
	struct fixture *f = *state;

	/* Off, on (the watchdog), off again (imqd continued), before imqd read past them. */
	span(f, 100, 300, false);
	span(f, 500, 0, true);
	assert_int_equal(dropped(f, 50, 500), 200 + 50); /* 100-299 and 500-549 */
	assert_int_equal(f->sock.ndrops, 1);
	assert_true(f->sock.drops[0].open);
}

static void
test_wrap(void **state)
{
	struct fixture *f = *state;

	/* Ids wrap at 2^32. */
	span(f, UINT32_MAX - 9, 10, false);
	assert_int_equal(dropped(f, UINT32_MAX - 19, 40), 20);
	assert_int_equal(f->sock.ndrops, 0);
}

#define SEC 1000000000ULL

/* Q has read up to id 99, and is not flooded. */
static void
seen_up_to_99(struct fixture *f)
{
	f->q.seen = true;
	f->q.next_id = 100;
	/* No switching of the fail-open: the fixture has no socket to switch it on. */
	f->sock.shut_retry_ns = UINT64_MAX;
}

static void
test_last_gap_of_flood(void **state)
{
	struct fixture *f = *state;

	/*
	 * The flood dropped ids 100-149 with the fail-open off, then ended and the
	 * fail-open came back on: read now, those ids are its last, not a new one.
	 */
	seen_up_to_99(f);
	span(f, 100, 150, false);
	device_id_seen(&f->dev, &f->q, 150, 10 * SEC);
	assert_int_equal(f->q.c.kernel_dropped, 50);
	assert_int_equal(f->q.c.kernel_passed, 0);
	assert_int_equal(f->q.c.id_gaps, 50);
	assert_int_equal(f->sock.skip_last_ns, 0);
	assert_int_equal(f->q.next_id, 151);
	/* The next packet right after it: no gap, nothing new either. */
	device_id_seen(&f->dev, &f->q, 151, 10 * SEC + 1);
	assert_int_equal(f->q.c.id_gaps, 50);
	assert_int_equal(f->sock.skip_last_ns, 0);
}

static void
test_passed_gap_floods(void **state)
{
	struct fixture *f = *state;

	/* Ids the kernel passed because the buffer was full: a flood begins. */
	seen_up_to_99(f);
	device_id_seen(&f->dev, &f->q, 150, 10 * SEC);
	assert_int_equal(f->q.c.kernel_passed, 50);
	assert_int_equal(f->q.c.kernel_dropped, 0);
	assert_int_equal(f->sock.skip_first_ns, 10 * SEC);
	assert_int_equal(f->sock.skip_last_ns, 10 * SEC);
	/* Another within 100 ms: the same flood goes on (DEVICE_FLOOD_MS of them make it stand). */
	device_id_seen(&f->dev, &f->q, 300, 10 * SEC + 50000000ULL);
	assert_int_equal(f->q.c.kernel_passed, 50 + 149);
	assert_int_equal(f->sock.skip_first_ns, 10 * SEC);
	assert_int_equal(f->sock.skip_last_ns, 10 * SEC + 50000000ULL);
}

static void
test_dropped_gap_while_dropping(void **state)
{
	struct fixture *f = *state;

	/* With on-overflow = drop the kernel still drops: its gaps are part of a flood. */
	f->cf.on_overflow = CONF_DROP;
	device_drops_bound(&f->dev, &f->q);
	seen_up_to_99(f);
	device_id_seen(&f->dev, &f->q, 150, 10 * SEC);
	assert_int_equal(f->q.c.kernel_dropped, 50);
	assert_int_equal(f->sock.skip_last_ns, 10 * SEC);
}

static void
test_first_packet_no_gap(void **state)
{
	struct fixture *f = *state;

	/* The first packet of a binding sets where ids go on from; ids going back are no gap. */
	device_id_seen(&f->dev, &f->q, 1000, SEC);
	assert_int_equal(f->q.c.id_gaps, 0);
	assert_int_equal(f->q.next_id, 1001);
	device_id_seen(&f->dev, &f->q, 10, SEC);
	assert_int_equal(f->q.c.id_gaps, 0);
	assert_int_equal(f->q.next_id, 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_no_span, setup),
	    cmocka_unit_test_setup(test_bound_drop, setup),
	    cmocka_unit_test_setup(test_reload_overflow, setup),
	    cmocka_unit_test_setup(test_closed_span, setup),
	    cmocka_unit_test_setup(test_span_across_gaps, setup),
	    cmocka_unit_test_setup(test_open_span, setup),
	    cmocka_unit_test_setup(test_two_spans_one_gap, setup),
	    cmocka_unit_test_setup(test_wrap, setup),
	    cmocka_unit_test_setup(test_last_gap_of_flood, setup),
	    cmocka_unit_test_setup(test_passed_gap_floods, setup),
	    cmocka_unit_test_setup(test_dropped_gap_while_dropping, setup),
	    cmocka_unit_test_setup(test_first_packet_no_gap, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

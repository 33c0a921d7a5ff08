/*
 * Unit tests of how a device is cut into shards and where they run
 * (src/device_split.c): blocks of queues, one shard per worker at most,
 * and the least loaded worker for each new shard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "device_int.h"

static void
test_count(void **state)
{
	(void)state;
	/* Without workers, or with one, one shard; else one per worker, at most one per queue. */
	assert_int_equal(device_split_count(8, 0), 1);
	assert_int_equal(device_split_count(8, 1), 1);
	assert_int_equal(device_split_count(1, 4), 1);
	assert_int_equal(device_split_count(2, 4), 2);
	assert_int_equal(device_split_count(4, 2), 2);
	assert_int_equal(device_split_count(64, 32), 32);
}

/* The blocks of NQUEUES queues over NSHARDS shards cover the list once, in order, evenly. */
static void
check_blocks(size_t nqueues, size_t nshards)
{
	size_t next = 0, lo = nqueues, hi = 0;

	for (size_t k = 0; k < nshards; k++) {
		size_t first, n;
		device_split_block(nqueues, nshards, k, &first, &n);
		assert_int_equal(first, next);
		assert_true(n > 0);
		next += n;
		lo = n < lo ? n : lo;
		hi = n > hi ? n : hi;
		/* Larger blocks first. */
		if (k > 0) {
			size_t pf, pn;
			device_split_block(nqueues, nshards, k - 1, &pf, &pn);
			assert_true(pn >= n);
		}
	}
	assert_int_equal(next, nqueues);
	assert_true(hi - lo <= 1);
}

static void
test_blocks(void **state)
{
	size_t first, n;

	(void)state;
	/* Queues 0-3 on 2 workers: 0-1 and 2-3, so --queue-balance 0:1 is one tree. */
	device_split_block(4, 2, 0, &first, &n);
	assert_int_equal(first, 0);
	assert_int_equal(n, 2);
	device_split_block(4, 2, 1, &first, &n);
	assert_int_equal(first, 2);
	assert_int_equal(n, 2);
	/* 5 on 2: 3 and 2. */
	device_split_block(5, 2, 0, &first, &n);
	assert_int_equal(n, 3);
	device_split_block(5, 2, 1, &first, &n);
	assert_int_equal(first, 3);
	assert_int_equal(n, 2);
	for (size_t q = 1; q <= 40; q++)
		for (size_t s = 1; s <= q && s <= 12; s++)
			check_blocks(q, s);
}

static void
test_worker(void **state)
{
	size_t load[4] = {3, 1, 1, 0};
	bool taken[4] = {false, false, false, true};

	(void)state;
	assert_int_equal(device_split_worker(load, NULL, 4), 3);
	/* The least loaded that is free; the lowest number on ties. */
	assert_int_equal(device_split_worker(load, taken, 4), 1);
	taken[1] = true;
	assert_int_equal(device_split_worker(load, taken, 4), 2);
	taken[2] = taken[0] = true;
	assert_int_equal(device_split_worker(load, taken, 4), 4);
	assert_int_equal(device_split_worker(load, NULL, 0), 0);
}

/* Devices started one after another spread over the workers as their queues say. */
static void
test_spread(void **state)
{
	static const size_t devs[] = {4, 1, 1, 2, 1};
	size_t load[3] = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		load[device_split_worker(load, NULL, 3)] += devs[i];
	/* 4 on worker 0; 1 and 1 on 1 and 2; 2 on 1; 1 on 2. */
	assert_int_equal(load[0], 4);
	assert_int_equal(load[1], 3);
	assert_int_equal(load[2], 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count),
	    cmocka_unit_test(test_blocks),
	    cmocka_unit_test(test_worker),
	    cmocka_unit_test(test_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

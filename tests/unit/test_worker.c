/* Unit tests of the worker threads: calls run on the worker and are waited for, deferred
 * functions run on the main loop, in order, and worker_stop runs what is left. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "worker.h"

#define NDEFER 100

struct probe {
	pthread_t thread;
	bool on_main;
	struct event_base *base;
	int ran;
};

static void
probe_cb(void *arg)
{
	struct probe *p = arg;

	p->thread = pthread_self();
	p->on_main = worker_on_main();
	p->ran++;
}

static void
test_no_workers(void **state)
{
	struct event_base *base = event_base_new();
	struct probe p = {0};

	(void)state;
	assert_int_equal(worker_start(base, 0), 0);
	assert_int_equal(worker_count(), 0);
	assert_ptr_equal(worker_base(NULL), base);
	/* Without workers, calls and deferred functions run at once, on this thread. */
	worker_call(NULL, probe_cb, &p);
	assert_int_equal(p.ran, 1);
	assert_true(pthread_equal(p.thread, pthread_self()));
	assert_int_equal(worker_defer(probe_cb, &p), 0);
	assert_int_equal(p.ran, 2);
	assert_true(p.on_main);
	worker_stop();
	event_base_free(base);
}

/* State of one worker's part of test_defer, touched only on that worker until it is done. */
struct deferring {
	int order[NDEFER]; /* written on the main thread, in the order the functions ran */
	int n;
	struct event_base *main;
};

struct deferred {
	struct deferring *d;
	int seq;
};

static struct deferred jobs[NDEFER];

static void
deferred_cb(void *arg)
{
	struct deferred *j = arg;

	assert_true(worker_on_main());
	j->d->order[j->d->n++] = j->seq;
	if (j->d->n == NDEFER)
		event_base_loopbreak(j->d->main);
}

static void
defer_many_cb(void *arg)
{
	struct deferring *d = arg;

	assert_false(worker_on_main());
	for (int i = 0; i < NDEFER; i++) {
		jobs[i] = (struct deferred){d, i};
		assert_int_equal(worker_defer(deferred_cb, &jobs[i]), 0);
	}
	/* Nothing of it ran yet: the main thread waits in worker_call, not in its loop. */
	assert_int_equal(d->n, 0);
}

static void
test_calls_and_defer(void **state)
{
	struct event_base *base = event_base_new();
	struct probe p[2] = {{0}};
	struct deferring d = {.main = base};

	(void)state;
	assert_int_equal(worker_start(base, 2), 0);
	assert_int_equal(worker_count(), 2);
	assert_null(worker_get(2));
	for (size_t i = 0; i < 2; i++) {
		struct worker *w = worker_get(i);
		assert_int_equal(worker_index(w), i);
		assert_ptr_not_equal(worker_base(w), base);
		for (int k = 0; k < 1000; k++)
			worker_call(w, probe_cb, &p[i]);
		assert_int_equal(p[i].ran, 1000);
		assert_false(p[i].on_main);
		assert_false(pthread_equal(p[i].thread, pthread_self()));
	}
	assert_false(pthread_equal(p[0].thread, p[1].thread));
	worker_call(worker_get(1), defer_many_cb, &d);
	event_base_dispatch(base);
	assert_int_equal(d.n, NDEFER);
	for (int i = 0; i < NDEFER; i++)
		assert_int_equal(d.order[i], i);
	/* Left for the main loop and not run yet when the workers stop: worker_stop runs it. */
	d.n = 0;
	worker_call(worker_get(0), defer_many_cb, &d);
	worker_stop();
	assert_int_equal(d.n, NDEFER);
	assert_int_equal(worker_count(), 0);
	event_base_free(base);
}

static void
loop_exit_cb(void *arg)
{
	event_base_loopexit(arg, NULL);
}

/* A worker whose loop ends without worker_stop runs it again: later calls still complete. */
static void
test_loop_ends(void **state)
{
	struct event_base *base = event_base_new();
	struct probe p = {0};

	(void)state;
	assert_int_equal(worker_start(base, 1), 0);
	alarm(10); /* a call that never completes fails the test instead of hanging it */
	for (int k = 0; k < 3; k++) {
		worker_call(worker_get(0), loop_exit_cb, worker_base(worker_get(0)));
		worker_call(worker_get(0), probe_cb, &p);
	}
	alarm(0);
	assert_int_equal(p.ran, 3);
	assert_false(p.on_main);
	worker_stop();
	assert_int_equal(worker_count(), 0);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_workers),
	    cmocka_unit_test(test_calls_and_defer),
	    cmocka_unit_test(test_loop_ends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Worker threads: each runs an event loop of its own for the shards of
 * devices it was given. Nothing on the packet path is shared between
 * threads; the main thread reaches a worker only through calls posted to
 * its loop (worker_call, which waits), and a worker reaches the main loop
 * only through functions it leaves there (worker_defer, which does not).
 * Both are a list under a mutex and an eventfd the loop watches.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

/* A function to run on another thread's loop. */
struct worker_job {
	void (*fn)(void *arg);
	void *arg;
	bool done; /* worker_call: it has returned */
	struct worker_job *next;
};

/* A list of jobs for one loop, and the eventfd that wakes it. */
struct worker_inbox {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled when a job is done */
	struct worker_job *head, **tail;
	int efd;
	struct event *ev;
};

struct worker {
	size_t index;
	pthread_t thread;
	bool running;
	bool stopping; /* worker_break_cb ran: its loop may end (the worker's own) */
	struct event_base *base;
	struct worker_inbox inbox;
	struct log_limit lim_loop;
};

static struct worker *workers;
static size_t nworkers;
static struct event_base *worker_main_base;
static struct worker_inbox worker_main_inbox; /* functions workers left for the main loop */
static bool worker_main_ready;
static _Thread_local struct worker *worker_self; /* NULL on the main thread */

static void
worker_wake(struct worker_inbox *in)
{
	uint64_t one = 1;

	/* A full counter (never, at 2^64 - 1) still wakes the loop. */
	while (write(in->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void
worker_push(struct worker_inbox *in, struct worker_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&in->lock);
	*in->tail = j;
	in->tail = &j->next;
	pthread_mutex_unlock(&in->lock);
	worker_wake(in);
}

/* Run every job in IN, in the order they came; FREE_JOBS: they were allocated (deferred). */
static void
worker_run_inbox(struct worker_inbox *in, bool free_jobs)
{
	struct worker_job *j;

	for (;;) {
		pthread_mutex_lock(&in->lock);
		j = in->head;
		if (j != NULL) {
			in->head = j->next;
			if (in->head == NULL)
				in->tail = &in->head;
		}
		pthread_mutex_unlock(&in->lock);
		if (j == NULL)
			return;
		j->fn(j->arg);
		if (free_jobs) {
			free(j);
			continue;
		}
		/* The caller may free J as soon as it sees done: signal under the lock. */
		pthread_mutex_lock(&in->lock);
		j->done = true;
		pthread_cond_broadcast(&in->cond);
		pthread_mutex_unlock(&in->lock);
	}
}

static void
worker_inbox_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_inbox *in = arg;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN && errno != EINTR)
		log_warn("worker: reading its eventfd");
	worker_run_inbox(in, in == &worker_main_inbox);
}

static int
worker_inbox_init(struct worker_inbox *in, struct event_base *base)
{
	memset(in, 0, sizeof(*in));
	in->tail = &in->head;
	in->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in->efd < 0)
		return -1;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	in->ev = event_new(base, in->efd, EV_READ | EV_PERSIST, worker_inbox_cb, in);
	if (in->ev == NULL || event_add(in->ev, NULL) < 0)
		return -1;
	return 0;
}

static void
worker_inbox_free(struct worker_inbox *in)
{
	if (in->ev != NULL)
		event_free(in->ev);
	in->ev = NULL;
	if (in->efd >= 0) {
		close(in->efd);
		pthread_mutex_destroy(&in->lock);
		pthread_cond_destroy(&in->cond);
	}
	in->efd = -1;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	worker_self = w;
	snprintf(name, sizeof(name), "imqd-w%zu", w->index);
	pthread_setname_np(pthread_self(), name);
	/*
	 * Only worker_stop ends the loop. A loop that ends otherwise is run
	 * again: the queues its shards read would hold their packets in the
	 * kernel for good, and worker_call would wait forever.
	 */
	for (;;) {
		event_base_dispatch(w->base);
		if (w->stopping)
			break;
		log_limited(&w->lim_loop, LOG_ERR,
		            "worker %zu: its event loop ended: running it again", w->index);
		usleep(10000);
	}
	return NULL;
}

/* Start worker W's thread, which blocks every signal: the main loop takes them. */
static int
worker_spawn(struct worker *w)
{
	sigset_t all, old;
	int err;

	w->inbox.efd = -1;
	w->base = event_base_new();
	if (w->base == NULL || worker_inbox_init(&w->inbox, w->base) < 0)
		return -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		errno = err;
		return -1;
	}
	w->running = true;
	return 0;
}

int
worker_start(struct event_base *main, size_t n)
{
	worker_main_base = main;
	if (!worker_main_ready) {
		worker_main_inbox.efd = -1;
		if (worker_inbox_init(&worker_main_inbox, main) < 0) {
			log_warn("cannot set up calls from the workers");
			worker_inbox_free(&worker_main_inbox);
			return -1;
		}
		worker_main_ready = true;
	}
	if (n == 0)
		return 0;
	workers = calloc(n, sizeof(*workers));
	if (workers == NULL) {
		log_warn("cannot start %zu workers", n);
		return -1;
	}
	for (nworkers = 0; nworkers < n; nworkers++) {
		workers[nworkers].index = nworkers;
		if (worker_spawn(&workers[nworkers]) < 0) {
			log_warn("cannot start worker %zu", nworkers);
			nworkers++; /* worker_stop frees what it has */
			worker_stop();
			return -1;
		}
	}
	return 0;
}

static void
worker_break_cb(void *arg)
{
	struct worker *w = arg;

	w->stopping = true;
	event_base_loopbreak(w->base);
}

void
worker_stop(void)
{
	for (size_t i = 0; i < nworkers; i++) {
		struct worker *w = &workers[i];
		if (w->running) {
			worker_call(w, worker_break_cb, w);
			pthread_join(w->thread, NULL);
		}
		worker_inbox_free(&w->inbox);
		if (w->base != NULL)
			event_base_free(w->base);
	}
	free(workers);
	workers = NULL;
	nworkers = 0;
	/* What the workers left for the main loop (down hooks, say) still runs. */
	if (worker_main_ready) {
		worker_run_inbox(&worker_main_inbox, true);
		worker_inbox_free(&worker_main_inbox);
		worker_main_ready = false;
	}
}

size_t
worker_count(void)
{
	return nworkers;
}

struct worker *
worker_get(size_t i)
{
	return i < nworkers ? &workers[i] : NULL;
}

size_t
worker_index(const struct worker *w)
{
	return w->index;
}

struct event_base *
worker_base(struct worker *w)
{
	return w != NULL ? w->base : worker_main_base;
}

void
worker_call(struct worker *w, void (*fn)(void *arg), void *arg)
{
	struct worker_job j = {.fn = fn, .arg = arg};

	if (w == NULL || w == worker_self) {
		fn(arg);
		return;
	}
	worker_push(&w->inbox, &j);
	pthread_mutex_lock(&w->inbox.lock);
	while (!j.done)
		pthread_cond_wait(&w->inbox.cond, &w->inbox.lock);
	pthread_mutex_unlock(&w->inbox.lock);
}

int
worker_defer(void (*fn)(void *arg), void *arg)
{
	struct worker_job *j;

	if (worker_self == NULL || !worker_main_ready) {
		fn(arg);
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -1;
	j->fn = fn;
	j->arg = arg;
	worker_push(&worker_main_inbox, j);
	return 0;
}

bool
worker_on_main(void)
{
	return worker_self == NULL;
}

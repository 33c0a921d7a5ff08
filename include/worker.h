/* Datapath threads, each with an event loop of its own, and calls between them and the main loop.
 */
#ifndef IMQD_WORKER_H
#define IMQD_WORKER_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct worker;

/*
 * Let workers hand functions to MAIN, the main thread's loop (worker_defer),
 * and start N workers (N = 0: none, the datapath runs on MAIN). 0, or -1
 * with the reason logged and no worker running.
 */
int worker_start(struct event_base *main, size_t n);

/* Stop every worker (their loops must hold no events), then run what they left for MAIN. */
void worker_stop(void);

/* Workers running: 0 when the datapath runs on the main loop. */
size_t worker_count(void);

/* Worker I, 0 <= I < worker_count(). */
struct worker *worker_get(size_t i);

/* Number of worker W (0 ... worker_count() - 1). */
size_t worker_index(const struct worker *w);

/* The loop of W, or the main loop when W is NULL. */
struct event_base *worker_base(struct worker *w);

/*
 * Run FN(ARG) on W's thread, between two of its events, and return once it
 * has returned; with W NULL, on the calling thread. Only the main thread
 * calls into workers: a worker never waits for another thread.
 */
void worker_call(struct worker *w, void (*fn)(void *arg), void *arg);

/*
 * Run FN(ARG) on the main loop: at once on the main thread; from a worker,
 * soon after, without waiting for it. 0, or -1 when out of memory (FN will
 * not run).
 */
int worker_defer(void (*fn)(void *arg), void *arg);

/* Whether the calling thread is the main thread (no worker's). */
bool worker_on_main(void);

#endif

/*
 * How a device is cut into shards, and which worker runs each (pure
 * functions). A device without multiqueue has one TUN fd, so it is one
 * shard. A multiqueue device has a shard per worker, at most one per
 * queue: shard k takes the k-th of as many contiguous blocks of its sorted
 * queues, as even as they can be, and TX queue k of imqN, so a rule that
 * sends addresses to one block's queues keeps them on one qdisc tree
 * (mq's class 7fff:k+1). New shards go to the worker with the fewest
 * queues; a shard never moves to another worker while it runs.
 */
#include "device_int.h"

size_t
device_split_count(size_t nqueues, size_t nworkers)
{
	if (nworkers < 2 || nqueues < 2)
		return 1;
	return nqueues < nworkers ? nqueues : nworkers;
}

void
device_split_block(size_t nqueues, size_t nshards, size_t k, size_t *first, size_t *n)
{
	size_t base = nqueues / nshards, extra = nqueues % nshards;

	/* The first EXTRA blocks have one queue more. */
	*n = base + (k < extra);
	*first = k * base + (k < extra ? k : extra);
}

size_t
device_split_worker(const size_t *load, const bool *taken, size_t nworkers)
{
	size_t best = nworkers;

	for (size_t i = 0; i < nworkers; i++) {
		if (taken != NULL && taken[i])
			continue;
		if (best == nworkers || load[i] < load[best])
			best = i;
	}
	return best;
}

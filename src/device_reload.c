/* Reload: a device takes a new configuration in place, its queues and held packets kept. */
#include "device_int.h"

#include <stdlib.h>

void
device_release_queues(struct device *dev, const struct conf_device *cf)
{
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_queue *q = &dev->queues[i];
		bool kept = false;
		for (size_t j = 0; j < cf->nqueues; j++)
			kept = kept || cf->queues[j] == q->num;
		if (kept || !q->bound)
			continue;
		/*
		 * As at shutdown: what it holds first, then what is still queued,
		 * unshaped; unbinding makes the kernel drop whatever is left of it.
		 */
		device_release(dev, (int)i, STATS_FO_SHUTDOWN);
		nfqueue_flush(dev->nfq);
		q->releasing = true;
		device_recv_queued(dev);
		device_drain(dev, q);
		device_recv_queued(dev);
		nfqueue_unbind(dev->nfq, q->num);
		q->bound = false;
		q->releasing = false;
		log_info("%s: queue %u released", dev->name, q->num);
	}
}

/*
 * Held packets the table must have room for under CF: the kernel holds
 * queue-maxlen packets per queue, or more for a while when a reload shrank it
 * below what a queue holds (it then queues nothing new there until the
 * backlog drains below the new limit).
 */
static size_t
device_room(struct device *dev, const struct conf_device *cf)
{
	size_t n = 0;

	for (size_t i = 0; i < cf->nqueues; i++) {
		const struct device_queue *q = device_queue(dev, cf->queues[i]);
		uint64_t held = q != NULL ? q->c.held : 0;
		n += held > cf->queue_maxlen ? (size_t)held : cf->queue_maxlen;
	}
	return n;
}

/*
 * The table the held packets move to on a reload: the one device_prepare
 * made, or a new one; at least as large as what is held now.
 */
static struct pending *
device_next_held(struct device *dev, size_t capacity)
{
	struct pending *p = dev->spare;

	dev->spare = NULL;
	if (capacity < pending_count(dev->held))
		capacity = pending_count(dev->held);
	if (p != NULL && pending_capacity(p) >= capacity)
		return p;
	pending_free(p);
	return pending_new(capacity);
}

void
device_prepare(struct device *dev, const struct conf_device *cf)
{
	size_t capacity = device_room(dev, cf);

	pending_free(dev->spare);
	if (capacity < pending_count(dev->held))
		capacity = pending_count(dev->held);
	dev->spare = pending_new(capacity);
	(void)device_late_size(dev, capacity);
}

/*
 * Move the held packets into NEXT, in the same order, with the indexes of
 * their queues in the new list (OLDNUMS: the queues of the old one). A packet
 * whose queue is gone is accepted (device_release_queues accepts those first).
 */
static void
device_move_held(struct device *dev, struct pending *next, const uint16_t *oldnums)
{
	int slot;

	while ((slot = pending_oldest(dev->held)) != PENDING_NONE) {
		struct pending_pkt pp = *pending_get(dev->held, slot);
		/* Held packets index the old list: pp.qidx < n. */
		struct device_queue *q = device_queue(dev, oldnums[pp.qidx]);
		pending_remove(dev->held, slot);
		if (q == NULL) {
			device_accept(dev, oldnums[pp.qidx], pp.id, pp.mark);
			dev->gone.held--;
			dev->gone.failopen[STATS_FO_SHUTDOWN]++;
			continue;
		}
		pp.qidx = (uint16_t)(q - dev->queues);
		pending_add(next, &pp);
	}
	pending_free(dev->held);
	dev->held = next;
}

int
device_update(struct device *dev, const struct conf_device *cf)
{
	size_t oldn = dev->nqueues;
	uint16_t *oldnums = calloc(oldn, sizeof(*oldnums));
	int ret = 0;

	const struct conf_device *old = dev->conf;
	bool retune = cf->mtu != old->mtu || cf->overhead != old->overhead ||
	              cf->txqueuelen != old->txqueuelen || cf->gso != old->gso;

	/* The section of the running configuration from now on, whatever fails below. */
	device_use_conf(dev, cf);
	dev->incomplete = true;
	if (oldnums == NULL) {
		log_err("%s: out of memory; the new configuration is not applied", dev->name);
		return -1;
	}
	for (size_t i = 0; i < oldn; i++)
		oldnums[i] = dev->queues[i].num;
	struct pending *next = device_next_held(dev, device_room(dev, cf));
	if (next == NULL || device_late_size(dev, device_capacity(cf)) < 0 ||
	    device_set_queues(dev, cf) < 0) {
		log_err("%s: out of memory for the new queues; they are not bound", dev->name);
		pending_free(next);
		free(oldnums);
		return -1;
	}
	device_move_held(dev, next, oldnums);
	/* Room for the new backlog's copies (gso, mtu and queue-maxlen size it). */
	if (dev->inj != NULL)
		inject_raise_sndbuf(dev->inj, device_sndbuf(cf, pending_capacity(dev->held)));
	/* Buffers for the longer messages a new copy range brings, before the kernel sends any. */
	size_t msgsize;
	int rcvbuf = device_nfq_sizes(dev, &msgsize);
	if (nfqueue_set_msgsize(dev->nfq, msgsize, rcvbuf) < 0) {
		log_warn("%s: cannot grow the receive buffers", dev->name);
		ret = -1;
	}
	if (retune && tundev_setup(dev->name, dev->plan.tunmtu, cf->txqueuelen) < 0) {
		log_warn("%s: cannot reconfigure device", dev->name);
		ret = -1;
	}
	if (dev->tunfd >= 0)
		tundev_persist(dev->tunfd, cf->persist);
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_queue *q = &dev->queues[i];
		struct nfqueue_params params = device_params(cf);
		/* New queues, and any a reload before could not bind. */
		if (q->bound)
			nfqueue_set_params(dev->nfq, q->num, &params);
		else if (device_bind(dev, q) < 0)
			ret = -1;
		else
			log_info("%s: queue %u bound", dev->name, q->num);
	}
	free(oldnums);
	device_timer_start(dev);
	nfqueue_flush(dev->nfq);
	dev->incomplete = false;
	return ret;
}

void
device_set_conf(struct device *dev, const struct conf_device *cf)
{
	dev->conf = cf;
}

/* Reload: a device takes a new configuration in place, its queues and held packets kept. */
#include "device_int.h"

#include <stdlib.h>

void
device_shard_release_queues(struct device *dev, const struct conf_device *cf)
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
		device_flush(dev);
		q->releasing = true;
		device_recv_queued(dev, q);
		device_drain(dev, q);
		device_recv_queued(dev, q);
		device_count_trailing(dev, q);
		nfqueue_unbind(q->sock->nfq, q->num);
		device_sock_close(dev, q);
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
 * The held packets index the queue list OLDNUMS was: point them at the same
 * queues in the new one. A packet whose queue is gone is accepted
 * (device_release_queues lets those go first).
 */
static void
device_requeue_held(struct device *dev, const uint16_t *oldnums)
{
	int slot, next;

	for (slot = pending_oldest(dev->held); slot != PENDING_NONE; slot = next) {
		const struct pending_pkt *pp = pending_get(dev->held, slot);
		struct device_queue *q = device_queue(dev, oldnums[pp->qidx]);
		next = pending_next(dev->held, slot);
		if (q != NULL) {
			pending_set_qidx(dev->held, slot, (uint16_t)(q - dev->queues));
			continue;
		}
		device_accept(dev, oldnums[pp->qidx], pp->id, pp->mark);
		dev->gone.held--;
		dev->gone.failopen[STATS_FO_SHUTDOWN]++;
		device_late_add(dev, pp);
		pending_remove(dev->held, slot);
	}
}

int
device_shard_update(struct device *dev, const struct conf_device *cf)
{
	size_t oldn = dev->nqueues;
	uint16_t *oldnums = calloc(oldn, sizeof(*oldnums));
	int ret = 0;

	const struct conf_device *old = dev->conf;
	bool retune = cf->mtu != old->mtu || cf->overhead != old->overhead ||
	              cf->txqueuelen != old->txqueuelen || cf->gso != old->gso;
	bool was_drop = old->on_overflow == CONF_DROP;

	/* The section of the running configuration from now on, whatever fails below. */
	device_use_conf(dev, cf);
	dev->incomplete = true;
	if (oldnums == NULL) {
		log_err("%s: out of memory; the new configuration is not applied", dev->name);
		return -1;
	}
	for (size_t i = 0; i < oldn; i++)
		oldnums[i] = dev->queues[i].num;
	if (device_set_queues(dev, cf) < 0) {
		log_err("%s: out of memory for the new queues; they are not bound", dev->name);
		free(oldnums);
		return -1;
	}
	device_requeue_held(dev, oldnums);
	/* The table grows as packets are held: nothing to allocate now, however large. */
	pending_set_limit(dev->held, device_room(dev, cf));
	/* Room for the new backlog's copies (gso, mtu and queue-maxlen size it). */
	if (dev->inj != NULL)
		inject_raise_sndbuf(dev->inj, device_sndbuf(cf, pending_limit(dev->held)));
	/* Buffers for the longer messages a new copy range brings, before the kernel sends any. */
	size_t msgsize;
	int rcvbuf = device_nfq_sizes(dev, &msgsize);
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_sock *sock = dev->queues[i].sock;
		if (sock == NULL)
			continue;
		if (nfqueue_set_msgsize(sock->nfq, msgsize, rcvbuf) < 0) {
			log_warn("%s: cannot size the receive buffers of queue %u", dev->name,
			         dev->queues[i].num);
			ret = -1;
			continue;
		}
		device_flood_reset(dev, &dev->queues[i]); /* a flood still on cuts it again */
	}
	if (retune && tundev_setup(dev->name, dev->plan.tunmtu, cf->txqueuelen) < 0) {
		log_warn("%s: cannot reconfigure device", dev->name);
		ret = -1;
	}
	if (dev->tunfd >= 0)
		tundev_persist(dev->tunfd, cf->persist);
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_queue *q = &dev->queues[i];
		struct nfqueue_params params = device_params(dev, q);
		/* New queues, and any a reload before could not bind. */
		if (q->bound) {
			device_drops_overflow(dev, q, was_drop);
			nfqueue_set_params(q->sock->nfq, q->num, &params);
		} else if (device_bind(dev, q) < 0)
			ret = -1;
		else
			log_info("%s: queue %u bound", dev->name, q->num);
	}
	free(oldnums);
	device_timer_start(dev);
	device_flush(dev);
	dev->incomplete = false;
	return ret;
}

void
device_shard_set_conf(struct device *dev, const struct conf_device *cf)
{
	dev->conf = cf;
}

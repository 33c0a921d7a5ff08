/* Verdicts: what each copy that comes back, or does not, says of its held packet. */
#include "device_int.h"

#include <string.h>

#include <linux/netfilter.h>

/* Accepted packets go on; with a continue mark they re-run the chain past the queue rule. */
void
device_accept(struct device *dev, uint16_t queue, uint32_t id, uint32_t mark)
{
	if (dev->conf->continue_mask != 0)
		device_verdict(dev, queue, id, NF_REPEAT, true,
		               (mark & ~dev->conf->continue_mask) | dev->conf->continue_mark);
	else
		device_verdict(dev, queue, id, NF_ACCEPT, false, 0);
}

/*
 * Accept a packet whose copy the qdisc marked Congestion Experienced, with
 * ecn-mark set: it re-runs the chain carrying the ecn mark (and the continue
 * mark, if any), where a rule ahead of the queue rule sets CE in its header
 * (-j TOS --set-tos 0x03/0x03) and the queue rule lets it by.
 */
static void
device_accept_marked(struct device *dev, uint16_t queue, uint32_t id, uint32_t mark)
{
	const struct conf_device *cf = dev->conf;

	mark = (mark & ~cf->continue_mask) | cf->continue_mark;
	mark = (mark & ~cf->ecn_mask) | cf->ecn_mark;
	device_verdict(dev, queue, id, NF_REPEAT, true, mark);
}

void
device_failopen(struct device *dev, struct device_queue *q, uint32_t id, uint32_t mark,
                uint32_t len, enum stats_failopen why)
{
	if (dev->conf->on_error == CONF_DROP && why != STATS_FO_SHUTDOWN) {
		q->c.dropped_error++;
		device_verdict(dev, q->num, id, NF_DROP, false, 0);
	} else {
		q->c.failopen[why]++;
		device_accept(dev, q->num, id, mark);
	}
	if (why != STATS_FO_SHUTDOWN)
		log_limited(&dev->lim_failopen, LOG_WARNING,
		            "%s: queue %u: packet of %u bytes %s unshaped: %s", dev->name, q->num,
		            len,
		            dev->conf->on_error == CONF_DROP ? "dropped, not passed" : "passed",
		            stats_failopen_name(why));
}

/* Whether the qdisc marked the copy of PP, of which N bytes are at COPY, Congestion Experienced. */
static bool
device_ce(const struct pending_pkt *pp, const uint8_t *copy, size_t n)
{
	return (pp->ecn == FLOW_ECN_ECT0 || pp->ecn == FLOW_ECN_ECT1) &&
	       flow_ecn(copy, n) == FLOW_ECN_CE;
}

/*
 * Decide a held packet: verdict, counters, and forget it. A packet whose copy
 * the qdisc marked CE (an AQM such as fq_codel or cake, which marks where it
 * would drop) leaves marked CE too with ecn-mark set (device_accept_marked).
 * Without it imqd cannot mark the packet: a verdict can only replace a packet
 * whole, and imqd has its headers only. It is dropped then, the signal the
 * qdisc gives a packet without ECN, so the sender still slows down.
 */
static void
device_decide(struct device *dev, int slot, bool accept, uint64_t now, uint64_t *counter)
{
	const struct pending_pkt *pp = pending_get(dev->held, slot);
	struct device_queue *q = &dev->queues[pp->qidx];
	bool marked = accept && pp->ce;

	if (marked && dev->conf->ecn_mask == 0) {
		accept = marked = false;
		counter = &q->c.dropped_ecn;
		log_limited(&dev->lim_ecn, LOG_NOTICE,
		            "%s: the qdisc marked a copy Congestion Experienced (ECN): dropping "
		            "its packet instead (set ecn-mark to pass the mark on)",
		            dev->name);
	}
	if (accept) {
		q->c.accepted++;
		q->c.accepted_bytes += pp->len;
		if (marked) {
			q->c.marked_ecn++;
			device_accept_marked(dev, q->num, pp->id, pp->mark);
		} else {
			device_accept(dev, q->num, pp->id, pp->mark);
		}
		uint64_t us = (now - pp->t_ns) / 1000;
		dev->hold_us[dev->hold_n++ % DEVICE_HOLD_RING] =
		    us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		stats_hold_observe(&dev->hold_hist, us);
	} else {
		(*counter)++;
		device_verdict(dev, q->num, pp->id, NF_DROP, false, 0);
		device_late_add(dev, pp);
	}
	q->c.held--;
	pending_remove(dev->held, slot);
}

/*
 * A copy of LEN bytes that matches nothing held: given up on, or not imqd's.
 * FI is its parse, NULL if it has none.
 */
static void
device_stray(struct device *dev, uint64_t hash, const struct flow_info *fi, size_t len)
{
	if (device_late_has(dev, hash) || (fi != NULL && (fi->tcp || fi->udp) &&
	                                   device_late_has(dev, fi->conn ^ DEVICE_LATE_CONN))) {
		dev->unmatched++;
		return;
	}
	dev->stray++;
	log_limited(&dev->lim_stray, LOG_NOTICE,
	            "%s: ignoring a packet of %zu bytes on %s that imqd did not send", dev->name,
	            len, dev->name);
}

/*
 * A GSO copy the qdisc cut into segments and sent only in part: the packet
 * can only go whole or not at all. Either choice is off by some segments;
 * make the one that brings the bytes passed beyond what the qdisc sent back
 * towards zero, so over time the packets that pass match the qdisc's count.
 */
static void
device_decide_partial(struct device *dev, int slot, uint64_t now)
{
	const struct pending_pkt *pp = pending_get(dev->held, slot);
	struct device_queue *q = &dev->queues[pp->qidx];
	int64_t sent = (int64_t)((uint64_t)pp->len * pp->seen / pp->nsegs);
	int64_t over = dev->partial_excess + ((int64_t)pp->len - sent);
	int64_t under = dev->partial_excess - sent;
	bool accept = (over < 0 ? -over : over) <= (under < 0 ? -under : under);

	q->c.partial++;
	device_late_add(dev, pp); /* its other segments may still come */
	if (pp->ce && dev->conf->ecn_mask == 0) {
		/* Marked, and no ecn-mark: dropped either way, counted as such by device_decide. */
		dev->partial_excess = under;
		device_decide(dev, slot, true, now, NULL);
		return;
	}
	/* The smaller of the two never exceeds the longest packet: no debt builds up. */
	dev->partial_excess = accept ? over : under;
	device_decide(dev, slot, accept, now, &q->c.dropped_order);
}

/* A packet a later one of its flow overtook, and whose copy did not come back since. */
static void
device_drop_overtaken(struct device *dev, int slot, uint64_t now)
{
	const struct pending_pkt *pp = pending_get(dev->held, slot);

	if (pp->seen > 0)
		device_decide_partial(dev, slot, now);
	else
		device_decide(dev, slot, false, now, &dev->queues[pp->qidx].c.dropped_order);
}

/*
 * The copy of SLOT came back. A qdisc keeps a flow in order, so the older
 * packets of its flow were dropped inside it. A qdisc can also reorder a
 * flow (netem with jitter, classes by packet length): their copies then
 * come back within reorder-window, and they go on late, as they would from
 * the same qdisc on IFB. What has not come back by then is dropped
 * (device_overdue); with no window, at once.
 */
static void
device_drop_older(struct device *dev, int slot, uint64_t now)
{
	int older;

	if (dev->conf->reorder_window_ms == 0) {
		while ((older = pending_flow_older(dev->held, slot)) != PENDING_NONE)
			device_drop_overtaken(dev, older, now);
		return;
	}
	for (older = pending_flow_older(dev->held, slot); older != PENDING_NONE && older != slot;
	     older = pending_flow_next(dev->held, older))
		if (pending_mark_overtaken(dev->held, older, now))
			dev->overtaken++;
}

/*
 * A segment of a GSO copy the qdisc cut up (tbf does, for a copy larger than
 * its burst). The packet goes when its last segment does, if none was dropped.
 */
static bool
device_segment_back(struct device *dev, const struct flow_info *fi, const uint8_t *copy, size_t n,
                    uint64_t now)
{
	int slot;

	if (!(fi->tcp || fi->udp) || fi->iplen < fi->hdrlen)
		return false;
	/* TCP: by sequence number; UDP: by the IP ID or flow label of device_udp_tag. */
	slot = pending_segment(dev->held, fi->conn, fi->seq);
	if (slot == PENDING_NONE)
		return false;
	if (device_ce(pending_get(dev->held, slot), copy, n))
		pending_mark_ce(dev->held, slot);
	unsigned seen = pending_segment_seen(dev->held, slot, now);
	if (seen == 1) {
		dev->segmenting++;
		device_drop_older(dev, slot, now);
	}

	const struct pending_pkt *pp = pending_get(dev->held, slot);
	if (fi->udp) {
		/* All of it back, or (IPv4, whose segments are numbered) its last one. */
		if (seen >= pp->nsegs)
			device_decide(dev, slot, true, now, NULL);
		else if (pp->span > 1 && fi->seq - pp->seq == pp->span - 1u)
			device_decide_partial(dev, slot, now);
		return true;
	}
	uint32_t end = fi->seq + (fi->iplen - fi->hdrlen) - pp->seq;
	if (end >= pp->span) {
		if (seen >= pp->nsegs)
			device_decide(dev, slot, true, now, NULL);
		else
			device_decide_partial(dev, slot, now);
	}
	return true;
}

/* A copy came out of the qdisc: N bytes of it (at most DEVICE_READ_BYTES) are at COPY. */
void
device_copy_back(struct device *dev, const uint8_t *copy, size_t n, uint64_t now)
{
	uint64_t hash = flow_copy_hash(copy, n, n);
	int slot = pending_match(dev->held, hash);

	if (slot == PENDING_NONE) {
		struct flow_info fi;
		bool ok = flow_parse(copy, n, n, 0, &fi);
		if (!ok || !device_segment_back(dev, &fi, copy, n, now))
			device_stray(dev, hash, ok ? &fi : NULL, ok && fi.iplen > n ? fi.iplen : n);
		return;
	}
	const struct pending_pkt *pp = pending_get(dev->held, slot);
	if (device_ce(pp, copy, n))
		pending_mark_ce(dev->held, slot);
	if (pp->split) {
		/* One of its plain copies: it goes when the last one does. */
		unsigned seen = pending_segment_seen(dev->held, slot, now);
		if (seen == 1) {
			dev->segmenting++;
			device_drop_older(dev, slot, now);
		}
		if (seen >= pp->nsegs)
			device_decide(dev, slot, true, now, NULL);
		return;
	}
	device_drop_older(dev, slot, now);
	device_decide(dev, slot, true, now, NULL);
}

/*
 * Let the packets held for queue QIDX (all of them when QIDX < 0) go without
 * their copies, which are gone or no longer matter: accepted, or dropped by
 * on-error = drop unless imqd is letting go of them on purpose (WHY is
 * STATS_FO_SHUTDOWN: a stop, or a queue a reload releases).
 */
void
device_release(struct device *dev, int qidx, enum stats_failopen why)
{
	int slot, next;

	if (dev->held == NULL)
		return;
	for (slot = pending_oldest(dev->held); slot != PENDING_NONE; slot = next) {
		const struct pending_pkt *pp = pending_get(dev->held, slot);
		struct device_queue *q = &dev->queues[pp->qidx];
		next = pending_next(dev->held, slot);
		if (qidx >= 0 && pp->qidx != qidx)
			continue;
		/* held drops after the verdict is in the buffer: a flush the verdict
		 * makes room with may batch-accept a queue only once nothing of it is held. */
		if (why != STATS_FO_SHUTDOWN && dev->conf->on_error == CONF_DROP) {
			q->c.dropped_error++;
			device_verdict(dev, q->num, pp->id, NF_DROP, false, 0);
		} else {
			q->c.failopen[why]++;
			device_accept(dev, q->num, pp->id, pp->mark);
		}
		q->c.held--;
		device_late_add(dev, pp);
		pending_remove(dev->held, slot);
	}
}

void
device_release_gone(struct device *dev)
{
	size_t held = dev->held != NULL ? pending_count(dev->held) : 0;

	if (held == 0)
		return;
	device_release(dev, -1, STATS_FO_DEVICE_DOWN);
	log_limited(&dev->lim_gone, LOG_WARNING,
	            "%s: the device is gone or down: %zu held packets %s unshaped: device_down",
	            dev->name, held,
	            dev->conf->on_error == CONF_DROP ? "dropped, not passed" : "passed");
}

/*
 * Held packets whose fate is known before drop-timeout:
 * - overtaken in their flow for longer than reorder-window (device_drop_older);
 * - a GSO copy the qdisc cut into segments, some of them back, and then no
 *   more for much longer than the gaps between them (8 times, plus 50 ms for
 *   a class that waits its turn): the qdisc dropped the rest (tbf drops the
 *   tail of what does not fit). Deciding it now rather than when the flow's
 *   next packet comes or drop-timeout ends, which at the end of a burst can
 *   be seconds. One segment alone gives no gap to go by: 500 ms.
 * A walk over all held packets, only while there are such packets.
 */
static void
device_overdue(struct device *dev, uint64_t now)
{
	uint64_t window = (uint64_t)dev->conf->reorder_window_ms * DEVICE_MS;
	size_t nseg = 0, nover = 0;
	int slot, next;

	if (dev->segmenting == 0 && dev->overtaken == 0)
		return;
	for (slot = pending_oldest(dev->held); slot != PENDING_NONE; slot = next) {
		const struct pending_pkt *pp = pending_get(dev->held, slot);
		next = pending_next(dev->held, slot);
		if (pp->t_over_ns != 0 && now - pp->t_over_ns >= window) {
			device_drop_overtaken(dev, slot, now);
			continue;
		}
		if (pp->seen > 0) {
			uint64_t wait = 500 * DEVICE_MS;
			if (pp->seen >= 2)
				wait = 8 * ((pp->t_last_ns - pp->t_seg_ns) / (pp->seen - 1u)) +
				       50 * DEVICE_MS;
			if (now - pp->t_last_ns >= wait) {
				device_decide_partial(dev, slot, now);
				continue;
			}
		}
		nover += pp->t_over_ns != 0;
		nseg += pp->seen > 0;
	}
	/* Recounted: decisions elsewhere do not decrement them. */
	dev->segmenting = nseg;
	dev->overtaken = nover;
}

void
device_expire(struct device *dev, uint64_t now)
{
	uint64_t limit = (uint64_t)dev->conf->drop_timeout_ms * DEVICE_MS;
	uint64_t before = 0;
	int slot;

	for (size_t i = 0; i < dev->nqueues; i++)
		before += dev->queues[i].c.dropped_timeout;
	while ((slot = pending_oldest(dev->held)) != PENDING_NONE) {
		const struct pending_pkt *pp = pending_get(dev->held, slot);
		if (now - pp->t_ns < limit)
			break;
		if (pp->seen > 0)
			device_decide_partial(dev, slot, now);
		else
			device_decide(dev, slot, false, now,
			              &dev->queues[pp->qidx].c.dropped_timeout);
	}
	uint64_t after = 0;
	for (size_t i = 0; i < dev->nqueues; i++)
		after += dev->queues[i].c.dropped_timeout;
	dev->timeouts_unlogged += after - before;
	device_overdue(dev, now);
	/* One line per 10 s at most, with every packet in it. */
	if (dev->timeouts_unlogged > 0 &&
	    (dev->timeouts_ns == 0 || now - dev->timeouts_ns >= DEVICE_LOG_NS)) {
		log_notice("%s: %llu copies did not come back within %ums and were dropped "
		           "(%llu in all)",
		           dev->name, (unsigned long long)dev->timeouts_unlogged,
		           dev->conf->drop_timeout_ms,
		           (unsigned long long)(after + dev->gone.dropped_timeout));
		dev->timeouts_ns = now;
		dev->timeouts_unlogged = 0;
	}
}

/* Packets in: hold each one and send its copies into imqN. */
#include "device_int.h"

#include <errno.h>
#include <net/if.h>

#include <linux/if_ether.h>
#include <linux/netfilter.h>

static enum stats_failopen
device_errno_reason(int err)
{
	switch (err) {
	case ENETDOWN:
	case ENXIO:
	case ENODEV:
		return STATS_FO_DEVICE_DOWN;
	case EMSGSIZE:
		return STATS_FO_TOO_BIG;
	case EAGAIN:
	case ENOMEM:
		return STATS_FO_NO_BUFFER;
	default:
		return STATS_FO_INJECT_ERROR;
	}
}

/* Count the ids after the last packet imqd read from Q up to LAST, the kernel's last. */
static void
device_count_last(struct device *dev, struct device_queue *q, uint32_t last)
{
	if (!q->seen)
		q->next_id = 1; /* ids start at 1 with each binding */
	uint32_t gap = last + 1 - q->next_id;
	if (gap == 0 || gap >= 0x80000000u)
		return;
	device_count_gap(dev, q, gap);
	q->seen = true;
	q->next_id = last + 1;
}

/*
 * Whether the kernel may have skipped ids of Q that imqd has not counted:
 * Q's socket lost more messages (*DROPS) than imqd knows of. Each skipped
 * id is a message lost there, so a socket that lost none is done with
 * without reading /proc, a file as long as there are queues.
 */
static bool
device_drops_unseen(const struct device_queue *q, uint32_t *drops)
{
	*drops = 0;
	return q->sock == NULL || nfqueue_drops(q->sock->nfq, drops) < 0 ||
	       *drops != q->sock->drops_known;
}

void
device_count_trailing(struct device *dev, struct device_queue *q)
{
	uint32_t last, drops;

	if (device_drops_unseen(q, &drops) && nfqueue_last_id(q->num, &last) == 0)
		device_count_last(dev, q, last);
}

/*
 * The ids the kernel skipped last show only with the next packet imqd takes,
 * and on a quiet queue that may be long after: the counters would lag the
 * rule's meanwhile. A queue whose last id has not moved for a health period
 * and whose socket is empty has nothing on its way: what lies past imqd's
 * last is what the kernel decided, counted now. Only queues whose socket
 * lost messages imqd does not know of are looked at.
 */
void
device_count_quiet(struct device *dev)
{
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_queue *q = &dev->queues[i];
		struct device_sock *sock = q->sock;
		uint32_t drops, last, used, size;
		if (sock == NULL || !q->bound || !device_drops_unseen(q, &drops) ||
		    nfqueue_last_id(q->num, &last) < 0)
			continue;
		bool still = sock->quiet_seen && last == sock->quiet_id;
		sock->quiet_id = last;
		sock->quiet_seen = true;
		if (!still || nfqueue_backlog(sock->nfq, &used, &size) < 0 || used > 0)
			continue;
		device_count_last(dev, q, last);
		/* What else it lost were acknowledgements, not packets. */
		sock->drops_known = drops;
	}
}

static void
device_count_in(struct device *dev, struct device_queue *q, const struct nfqueue_packet *p,
                uint64_t now)
{
	q->c.received++;
	q->c.received_bytes += p->len;
	device_id_seen(dev, q, p->id, now);
}

/* MTU of the interface a packet uses: the size of the segments a GSO packet becomes. */
static uint32_t
device_seg_mtu(struct device *dev, const struct nfqueue_packet *p)
{
	uint32_t ifindex = p->indev != 0 ? p->indev : p->outdev;
	size_t i = ifindex % DEVICE_MTU_CACHE;
	char name[IF_NAMESIZE];

	if (ifindex == 0)
		return 1500;
	if (dev->mtus[i].ifindex != ifindex) {
		dev->mtus[i].ifindex = ifindex;
		dev->mtus[i].mtu = 1500;
		if (if_indextoname(ifindex, name) != NULL) {
			int mtu = tundev_mtu(name);
			if (mtu >= PLAN_MIN_SEG)
				dev->mtus[i].mtu = (uint32_t)mtu;
		}
	}
	return dev->mtus[i].mtu;
}

/*
 * Q holds queue-maxlen packets: P goes on unshaped or is dropped, as
 * on-overflow says, and is counted; the kernel's own queue is longer
 * (device_params), so this is where a full queue is decided.
 */
static void
device_overflow(struct device *dev, struct device_queue *q, const struct nfqueue_packet *p)
{
	bool pass = dev->conf->on_overflow == CONF_ACCEPT;

	if (pass) {
		q->c.failopen[STATS_FO_OVERFLOW]++;
		device_accept(dev, q->num, p->id, p->mark);
	} else {
		q->c.dropped_overflow++;
		device_verdict(dev, q->num, p->id, NF_DROP, false, 0);
	}
	log_limited(&dev->lim_full, LOG_WARNING,
	            "%s: queue %u is full (queue-maxlen %u): %s new packets", dev->name, q->num,
	            dev->conf->queue_maxlen, pass ? "passing unshaped" : "dropping");
}

static int device_send_staged(struct device *dev, size_t k);

/*
 * Hold P and stage its copies in dev->ipkts from K on; returns where the next
 * packet's go (K when P was decided at once). A batch that has no room for
 * them is sent first, and what the qdisc let through read back.
 */
static size_t
device_stage(struct device *dev, struct device_queue *q, struct nfqueue_packet *p, uint64_t now,
             size_t k)
{
	uint32_t caplen = p->caplen < p->len ? p->caplen : p->len;
	struct inject_pkt ip = {.mark = p->mark, .priority = p->priority};
	struct flow_info fi;
	struct plan plan;

	if (!dev->up) {
		device_failopen(dev, q, p->id, p->mark, p->len, STATS_FO_DEVICE_DOWN);
		return k;
	}
	/*
	 * With copy = full a copy can still come up cut short: a packet queued
	 * before a reload changed the copy range, or one longer than the range.
	 * Its copy is padded as with copy = headers; it is shaped all the same.
	 */
	if (p->len > dev->maxlen) {
		device_failopen(dev, q, p->id, p->mark, p->len, STATS_FO_TOO_BIG);
		return k;
	}
	if (q->c.held >= dev->conf->queue_maxlen) {
		device_overflow(dev, q, p);
		return k;
	}
	struct pending_pkt pp = {
	    .id = p->id,
	    .qidx = (uint16_t)(q - dev->queues),
	    .len = p->len,
	    .mark = p->mark,
	    .t_ns = now,
	};
	if (!flow_parse(p->data, caplen, p->len, p->mark, &fi))
		q->c.malformed++;
	pp.flow = fi.key;
	int ecn = flow_ecn(p->data, caplen);
	pp.ecn = ecn < 0 ? FLOW_ECN_NOT_ECT : (uint8_t)ecn;
	/* Only a packet that may be longer than a segment needs its interface's MTU. */
	uint32_t seg_mtu = dev->conf->gso && p->len > PLAN_MIN_SEG ? device_seg_mtu(dev, p) : 0;
	plan_copies(&dev->plan, &dev->tags, p->data, caplen, p->len, &fi, seg_mtu, &pp, &ip, &plan);
	if (caplen > plan.len)
		caplen = plan.len;
	pp.hash = flow_copy_hash(p->data, caplen, plan.len);
	if (k + plan.copies > DEVICE_BATCH) {
		/*
		 * Read back what the qdisc let straight through before more goes in:
		 * TUN's ring holds txqueuelen copies. P is not held yet, so nothing
		 * read back can decide it (a stale copy with P's hash would) and free
		 * the slot its copies are about to name.
		 */
		device_readback(dev, device_send_staged(dev, k));
		k = 0;
	}
	int slot = pending_add(dev->held, &pp);
	if (slot == PENDING_NONE) {
		if (pending_count(dev->held) < pending_limit(dev->held))
			log_limited(
			    &dev->lim_mem, LOG_WARNING,
			    "%s: no memory to hold more packets (%zu held; imqd's tables may "
			    "hold %zu in all within its memory limit)",
			    dev->name, pending_count(dev->held), pending_budget_slots());
		device_failopen(dev, q, p->id, p->mark, p->len, STATS_FO_NO_BUFFER);
		return k;
	}
	q->c.held++; /* the peaks are taken once the batch's copies are in (device_peaks) */
	/* The late table keeps twice as many entries as the held table has room for. */
	if (pending_capacity(dev->held) * 2 > dev->nlate && dev->nlate < DEVICE_LATE_MAX)
		(void)device_late_size(dev, pending_capacity(dev->held));
	uint16_t proto = p->proto;
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		proto = (caplen > 0 && p->data[0] >> 4 == 6) ? ETH_P_IPV6 : ETH_P_IP;
	ip.data = p->data;
	ip.caplen = caplen;
	ip.proto = proto;
	for (uint32_t i = 0; i < plan.copies; i++, k++) {
		dev->ipkts[k] = ip;
		dev->ipkts[k].pad = plan.len + (i < plan.extra) - caplen;
		dev->islot[k] = slot;
	}
	return k;
}

/*
 * A copy of the N in this batch found imqN gone or down, and its qdisc
 * reset with it: no held copy will come back. The held packets go now, in
 * the order they came, before this one and the ones after it, which would
 * otherwise fail open at once and overtake them until the health check
 * (on the loop's next turn now, not at its next tick) let them go.
 */
static void
device_gone(struct device *dev, size_t n)
{
	device_release_gone(dev);
	for (size_t j = 0; j < n; j++)
		dev->islot[j] = PENDING_NONE;
	device_health_soon(dev);
}

static void
device_inject_result(struct device *dev, size_t k, size_t n)
{
	int slot = dev->islot[k];
	int err = dev->ipkts[k].err;
	const struct pending_pkt *pp;
	struct device_queue *q;

	if (err == 0 || slot == PENDING_NONE)
		return;
	pp = pending_get(dev->held, slot);
	q = &dev->queues[pp->qidx];
	if (pp->split) {
		/* One copy of several failed: the packet is decided; the others are not its. */
		for (size_t j = 0; j < n; j++)
			if (dev->islot[j] == slot)
				dev->islot[j] = PENDING_NONE;
		device_late_add(dev, pp); /* its copies that went in still come back */
	}
	if (err == ENOBUFS) {
		/* The qdisc refused the copy: the real packet meets the same fate. */
		q->c.dropped_enqueue++;
		device_verdict(dev, q->num, pp->id, NF_DROP, false, 0);
	} else {
		enum stats_failopen why = device_errno_reason(err);
		if (why == STATS_FO_DEVICE_DOWN) {
			device_gone(dev, n);
			return;
		}
		device_failopen(dev, q, pp->id, pp->mark, pp->len, why);
	}
	q->c.held--;
	pending_remove(dev->held, slot);
}

/*
 * Record the peaks of held packets, per queue and for the device, after a
 * batch's copies went in: a packet whose copy the qdisc refused never waited.
 */
static void
device_peaks(struct device *dev, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		if (dev->ipkts[i].err != 0 || dev->islot[i] == PENDING_NONE)
			continue;
		struct device_queue *q = &dev->queues[pending_get(dev->held, dev->islot[i])->qidx];
		if (q->c.held > q->c.peak_held)
			q->c.peak_held = q->c.held;
	}
	if (pending_count(dev->held) > dev->peak_held)
		dev->peak_held = pending_count(dev->held);
}

/* Send the K copies staged and act on what the qdisc said of each; returns how many it took. */
static int
device_send_staged(struct device *dev, size_t k)
{
	int sent = 0;

	if (k == 0)
		return 0;
	inject_send(dev->inj, dev->ipkts, k);
	for (size_t i = 0; i < k; i++) {
		sent += dev->ipkts[i].err == 0;
		device_inject_result(dev, i, k);
	}
	device_peaks(dev, k);
	return sent;
}

void
device_nfq_packets_cb(void *arg, struct nfqueue_packet *pkts, size_t n)
{
	struct device *dev = arg;
	uint64_t now = log_now_ns();
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct nfqueue_packet *p = &pkts[i];
		struct device_queue *q = device_queue(dev, p->queue);

		if (q == NULL) {
			/*
			 * Never since each queue has its own socket: a queue leaves the
			 * table only after its socket is closed. Should it happen, the
			 * verdict finds no socket and says so (device_nfq_verdict_cb).
			 */
			device_accept(dev, p->queue, p->id, p->mark);
			dev->gone.received++;
			dev->gone.received_bytes += p->len;
			dev->gone.failopen[STATS_FO_SHUTDOWN]++;
			continue;
		}
		device_count_in(dev, q, p, now);
		if (p->truncated) {
			/* Its message was cut short (the copy range grew): it names the packet
			 * only. */
			device_failopen(dev, q, p->id, p->mark, p->len, STATS_FO_TOO_BIG);
			continue;
		}
		if (dev->stopping || q->releasing) {
			device_failopen(dev, q, p->id, p->mark, p->len, STATS_FO_SHUTDOWN);
			continue;
		}
		k = device_stage(dev, q, p, now, k);
	}
	int sent = device_send_staged(dev, k);
	/*
	 * Copies the qdisc let straight through are already waiting: spare a
	 * wakeup. Their verdicts go before the read that finds the device empty.
	 */
	device_readback(dev, sent);
	device_flush(dev);
	device_readback(dev, DEVICE_READ_MAX);
	device_flush(dev);
}

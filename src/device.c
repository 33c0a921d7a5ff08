/* One imqN device's datapath: queued packets in, copies through the qdisc, verdicts out. */
#include "device.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/fs.h>
#include <linux/if_ether.h>
#include <liburing.h>
#include <linux/netfilter.h>

#include "conf.h"
#include "flow.h"
#include "hook.h"
#include "inject.h"
#include "log.h"
#include "nfqueue.h"
#include "pending.h"
#include "stats.h"
#include "tundev.h"

#define DEVICE_BATCH 64       /* packets per receive pass */
#define DEVICE_READ_MAX 1024  /* copies read back per wakeup */
#define DEVICE_HOLD_RING 4096 /* recent hold times kept for percentiles */
#define DEVICE_LATE_MIN 4096  /* least slots for copies given up on (late, not stray) */
#define DEVICE_LATE_WAYS 8    /* entries per bucket of that table */
#define DEVICE_LOG_NS (10ULL * 1000000000ULL)  /* drop-timeout lines: at most one per 10 s */
#define DEVICE_LATE_CONN 0x9e3779b97f4a7c15ULL /* marks a connection's key in it */
#define DEVICE_MS 1000000ULL                   /* a millisecond, in nanoseconds */
#define DEVICE_HEALTH_MS 1000
#define DEVICE_MSG_OVERHEAD 512   /* netlink headers and attributes around a payload */
#define DEVICE_GSO_MTU 65535      /* imqN's MTU, and the longest GSO copy, with gso on */
#define DEVICE_READ_BYTES 256     /* of each copy read back: enough to tell which it is */
#define DEVICE_MTU_CACHE 64       /* ifindex -> MTU, for the segments of GSO packets */
#define DEVICE_MIN_SEG 576        /* smallest interface MTU taken for segments */
#define DEVICE_UDP_MAX_SEGS 128   /* segments of a UDP GSO copy, at most (UDP_MAX_SEGMENTS) */
#define DEVICE_GSO_COPY_BYTES 128 /* copy-bytes that hold the headers of any GSO packet */
#define DEVICE_URING_READS 64     /* reads of copies per io_uring submission, at most */
#define DEVICE_URING_FIRST 4      /* the first submission's when how many is not known */

struct device_queue {
	uint16_t num;
	bool bound;     /* ours in the kernel: drain and unbind it when done */
	bool releasing; /* being given up: what still comes in passes, not shaped */
	bool seen;
	uint32_t next_id;
	struct stats_counters c;
};

struct device {
	struct event_base *base;
	struct conf_device cf;          /* scalars of the config; list pointers are not used */
	const struct conf_device *conf; /* the section itself, for its hooks */
	bool hooked;                    /* the up hook ran: run the down hook before removal */
	char name[CONF_IFNAMSIZ];
	int ifindex;
	int tunfd;
	bool up;
	bool stopping;
	struct event *tun_ev;
	struct event *nfq_ev;
	struct event *timer_ev;
	uint64_t next_health_ns;
	struct nfqueue *nfq;
	struct inject *inj;
	struct pending *held;
	struct pending *spare; /* the next reload's table for held, made by device_prepare */
	bool incomplete;       /* an update ran out of memory: the next reload applies it again */
	struct device_queue *queues; /* sorted by num */
	size_t nqueues;
	uint64_t peak_held;
	struct stats_counters gone; /* counters of the queues reloads took away */
	uint64_t stray;
	uint64_t unmatched;
	uint32_t hold_us[DEVICE_HOLD_RING];
	size_t hold_n;
	uint64_t *late; /* hashes of copies given up on: twice the capacity, a power of two */
	size_t nlate;
	struct inject_pkt ipkts[DEVICE_BATCH];
	int islot[DEVICE_BATCH];
	uint8_t rdbuf[TUNDEV_VNET_HDR + DEVICE_READ_BYTES];
	/* Reads of copies in batches, one system call each; without it, read(2) per copy. */
	struct io_uring uring;
	bool uring_on;
	uint8_t (*rdbufs)[TUNDEV_VNET_HDR + DEVICE_READ_BYTES]; /* DEVICE_URING_READS of them */
	struct stats_counters *snap; /* per-queue copies for device_snapshot */
	uint16_t *snap_queues;
	char qdisc[32];
	unsigned tunmtu; /* imqN's MTU: the longest copy */
	unsigned maxlen; /* the longest packet that can be shaped */
	struct {
		uint32_t ifindex;
		uint32_t mtu;
	} mtus[DEVICE_MTU_CACHE];
	struct log_limit lim_failopen, lim_order, lim_stray, lim_read, lim_verdict, lim_attach,
	    lim_mtu, lim_txqlen, lim_full, lim_ecn;
	uint64_t timeouts_ns;       /* when timeouts were last logged */
	uint64_t timeouts_unlogged; /* packets dropped by drop-timeout since */
	int64_t partial_excess; /* bytes passed beyond what the qdisc sent, by partial GSO copies */
	uint32_t udp_id;        /* next IP ID range for a UDP GSO copy */
	uint32_t udp_label;     /* next IPv6 flow label for one */
	size_t segmenting; /* held GSO copies with segments back (at least; see device_overdue) */
	size_t overtaken;  /* held packets a later one of their flow overtook (at least) */
	bool timer_fast;   /* the timer ticks every half reorder-window while some are */
};

static uint64_t
device_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct device_queue *
device_queue(struct device *dev, uint16_t num)
{
	size_t lo = 0, hi = dev->nqueues;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (dev->queues[mid].num == num)
			return &dev->queues[mid];
		if (dev->queues[mid].num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Accepted packets go on; with a continue mark they re-run the chain past the queue rule. */
static void
device_accept(struct device *dev, uint16_t queue, uint32_t id, uint32_t mark)
{
	if (dev->cf.continue_mask != 0)
		nfqueue_verdict(dev->nfq, queue, id, NF_REPEAT, true,
		                (mark & ~dev->cf.continue_mask) | dev->cf.continue_mark);
	else
		nfqueue_verdict(dev->nfq, queue, id, NF_ACCEPT, false, 0);
}

static void
device_failopen(struct device *dev, struct device_queue *q, uint32_t id, uint32_t mark,
                uint32_t len, enum stats_failopen why)
{
	if (dev->cf.on_error == CONF_DROP && why != STATS_FO_SHUTDOWN) {
		q->c.dropped_error++;
		nfqueue_verdict(dev->nfq, q->num, id, NF_DROP, false, 0);
	} else {
		q->c.failopen[why]++;
		device_accept(dev, q->num, id, mark);
	}
	if (why != STATS_FO_SHUTDOWN)
		log_limited(&dev->lim_failopen, LOG_WARNING,
		            "%s: queue %u: packet of %u bytes %s unshaped: %s", dev->name, q->num,
		            len, dev->cf.on_error == CONF_DROP ? "dropped, not passed" : "passed",
		            stats_failopen_name(why));
}

/* Bucket of KEY in the table of copies given up on. */
static uint64_t *
device_late_bucket(struct device *dev, uint64_t key)
{
	return &dev->late[(key & (dev->nlate / DEVICE_LATE_WAYS - 1)) * DEVICE_LATE_WAYS];
}

static void
device_late_key(struct device *dev, uint64_t key)
{
	uint64_t *b = device_late_bucket(dev, key);

	int k;

	for (k = 0; k < DEVICE_LATE_WAYS - 1 && b[k] != key && b[k] != 0; k++)
		;
	/* Newest first: a full bucket forgets its oldest, never one just given up on. */
	memmove(b + 1, b, (size_t)k * sizeof(*b));
	b[0] = key;
}

static bool
device_late_has(struct device *dev, uint64_t key)
{
	const uint64_t *b = device_late_bucket(dev, key);

	for (int k = 0; k < DEVICE_LATE_WAYS; k++)
		if (b[k] == key)
			return true;
	return false;
}

/*
 * Room for twice as many copies given up on as packets can be held: a late
 * copy found no more there is counted as a stray. Entries move to a larger
 * table; a smaller one is kept.
 */
static int
device_late_size(struct device *dev, size_t capacity)
{
	size_t n = DEVICE_LATE_MIN;
	uint64_t *old = dev->late;
	size_t oldn = dev->nlate;

	while (n < 2 * capacity && n < ((size_t)1 << 24))
		n *= 2;
	if (n <= oldn)
		return 0;
	dev->late = calloc(n, sizeof(*dev->late));
	if (dev->late == NULL) {
		dev->late = old;
		return -1;
	}
	dev->nlate = n;
	for (size_t i = 0; i < oldn; i++)
		if (old[i] != 0)
			device_late_key(dev, old[i]);
	free(old);
	return 0;
}

/*
 * PP is decided before all of its copy came back: remember it, so that what
 * comes back later counts as unmatched rather than stray. Segments of a GSO
 * copy are known by their connection.
 */
static void
device_late_add(struct device *dev, const struct pending_pkt *pp)
{
	device_late_key(dev, pp->hash);
	if (pp->conn != 0 && pp->nsegs > 1 && pp->seen < pp->nsegs)
		device_late_key(dev, pp->conn ^ DEVICE_LATE_CONN);
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
 * would drop) cannot be marked itself: a verdict can only replace a packet
 * whole, and imqd has its headers only. It is dropped, the signal the qdisc
 * gives a packet without ECN, so the sender still slows down.
 */
static void
device_decide(struct device *dev, int slot, bool accept, uint64_t now, uint64_t *counter)
{
	const struct pending_pkt *pp = pending_get(dev->held, slot);
	struct device_queue *q = &dev->queues[pp->qidx];

	if (accept && pp->ce) {
		accept = false;
		counter = &q->c.dropped_ecn;
		log_limited(&dev->lim_ecn, LOG_NOTICE,
		            "%s: the qdisc marked a copy Congestion Experienced (ECN): dropping "
		            "its packet instead, as imqd cannot mark it",
		            dev->name);
	}
	if (accept) {
		q->c.accepted++;
		q->c.accepted_bytes += pp->len;
		device_accept(dev, q->num, pp->id, pp->mark);
		uint64_t us = (now - pp->t_ns) / 1000;
		dev->hold_us[dev->hold_n++ % DEVICE_HOLD_RING] =
		    us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	} else {
		(*counter)++;
		nfqueue_verdict(dev->nfq, q->num, pp->id, NF_DROP, false, 0);
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
	if (pp->ce) {
		/* Marked: dropped either way, and counted as such by device_decide. */
		dev->partial_excess = under;
		device_decide(dev, slot, true, now, NULL);
		return;
	}
	/* The smaller of the two never exceeds the longest packet: no debt builds up. */
	dev->partial_excess = accept ? over : under;
	device_decide(dev, slot, accept, now, &q->c.dropped_order);
}

static int device_timer_start(struct device *dev);

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

	if (dev->cf.reorder_window_ms == 0) {
		while ((older = pending_flow_older(dev->held, slot)) != PENDING_NONE)
			device_drop_overtaken(dev, older, now);
		return;
	}
	for (older = pending_flow_older(dev->held, slot); older != PENDING_NONE && older != slot;
	     older = pending_flow_next(dev->held, older))
		if (pending_mark_overtaken(dev->held, older, now))
			dev->overtaken++;
	if (dev->overtaken > 0 && !dev->timer_fast)
		device_timer_start(dev);
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
	slot = pending_segment(dev->held, fi->conn, fi->tcpseq);
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
		else if (pp->span > 1 && fi->tcpseq - pp->tcpseq == pp->span - 1u)
			device_decide_partial(dev, slot, now);
		return true;
	}
	uint32_t end = fi->tcpseq + (fi->iplen - fi->hdrlen) - pp->tcpseq;
	if (end >= pp->span) {
		if (seen >= pp->nsegs)
			device_decide(dev, slot, true, now, NULL);
		else
			device_decide_partial(dev, slot, now);
	}
	return true;
}

/* A copy came out of the qdisc: N bytes of it (at most DEVICE_READ_BYTES) are at COPY. */
static void
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

/* A read of the TUN fd failed with ERR (not EAGAIN): the device went away under us. */
static void
device_read_failed(struct device *dev, int err)
{
	/* Stop polling, let the health check act. */
	log_limited(&dev->lim_read, LOG_ERR, "%s: reading copies: %s", dev->name, strerror(err));
	if (dev->tun_ev != NULL)
		event_del(dev->tun_ev);
	dev->next_health_ns = 0;
}

/*
 * Read back up to MAX copies with io_uring, up to DEVICE_URING_READS reads
 * per system call (on machines where a system call costs a microsecond, a
 * read(2) per copy was a quarter of imqd's time with small packets). The
 * reads are non-blocking (RWF_NOWAIT): they run inside the call, in order,
 * and one that finds the device empty fails with EAGAIN instead of waiting.
 * Returns 0, or a negative errno when io_uring cannot go on: the caller then
 * reads with read(2); every copy a completed read took has been handled.
 */
static int
device_readback_uring(struct device *dev, int max, uint64_t now)
{
	/*
	 * As many reads as copies are expected (MAX, after a batch went in), or
	 * when that is not known (DEVICE_READ_MAX) a few, doubling while all find
	 * a copy: a read that finds the device empty is cheap, 63 of them not.
	 */
	unsigned want = max < DEVICE_READ_MAX ? DEVICE_URING_READS : DEVICE_URING_FIRST;

	while (max > 0) {
		unsigned n = (unsigned)max < want ? (unsigned)max : want;
		int res[DEVICE_URING_READS];
		for (unsigned i = 0; i < n; i++) {
			/* The submission queue is empty here: every batch goes in whole. */
			struct io_uring_sqe *sqe = io_uring_get_sqe(&dev->uring);
			if (sqe == NULL)
				return -EBUSY;
			/* Only the head of each copy: the read cuts off the rest. */
			io_uring_prep_read(sqe, dev->tunfd, dev->rdbufs[i], sizeof(dev->rdbufs[i]),
			                   0);
			sqe->rw_flags = RWF_NOWAIT;
			io_uring_sqe_set_data64(sqe, i);
			res[i] = 1; /* not completed */
		}
		int r;
		do /* EINTR: nothing was submitted */
			r = io_uring_submit_and_wait(&dev->uring, n);
		while (r == -EINTR);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&dev->uring, head, cqe)
		{
			uint64_t i = io_uring_cqe_get_data64(cqe);
			if (i < n)
				res[i] = cqe->res;
			seen++;
		}
		io_uring_cq_advance(&dev->uring, seen);
		/* Where TUN takes no RWF_NOWAIT (before Linux 6.4) every read is refused alike. */
		if (seen > 0 && res[0] == -EOPNOTSUPP)
			return -EOPNOTSUPP;
		int err = 0;
		for (unsigned i = 0; i < n; i++) {
			if (res[i] >= TUNDEV_VNET_HDR)
				device_copy_back(dev, dev->rdbufs[i] + TUNDEV_VNET_HDR,
				                 (size_t)res[i] - TUNDEV_VNET_HDR, now);
			else if (res[i] < 0 && res[i] != -EAGAIN && res[i] != -EINTR && err == 0)
				err = -res[i];
		}
		/* Reads that did not go in, or did not complete at once, are not waited for. */
		if (r != (int)n || seen != n)
			return r < 0 ? r : -EIO;
		if (err != 0) {
			device_read_failed(dev, err);
			return 0;
		}
		if (res[n - 1] < 0)
			break; /* the device is empty */
		max -= (int)n;
		want = want * 2 < DEVICE_URING_READS ? want * 2 : DEVICE_URING_READS;
	}
	return 0;
}

/* Read back up to MAX copies, fewer when the device has no more. */
static void
device_readback(struct device *dev, int max)
{
	uint64_t now = device_now_ns();

	if (dev->uring_on) {
		int r = device_readback_uring(dev, max, now);
		if (r == 0)
			return;
		/* The ring's requests, if any were left, are cancelled with it; rdbufs stay. */
		dev->uring_on = false;
		io_uring_queue_exit(&dev->uring);
		if (r == -EOPNOTSUPP)
			log_notice(
			    "%s: this kernel's TUN devices take no non-blocking io_uring reads: "
			    "reading copies one system call each",
			    dev->name);
		else
			log_warnx(
			    "%s: io_uring reads failed (%s): reading copies one system call each",
			    dev->name, strerror(-r));
	}
	for (int i = 0; i < max; i++) {
		/* Only the head of each copy: the read cuts off the rest. */
		ssize_t n = read(dev->tunfd, dev->rdbuf, sizeof(dev->rdbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				device_read_failed(dev, errno);
			break;
		}
		if (n < TUNDEV_VNET_HDR)
			continue;
		device_copy_back(dev, dev->rdbuf + TUNDEV_VNET_HDR, (size_t)n - TUNDEV_VNET_HDR,
		                 now);
	}
}

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

static void
device_count_in(struct device *dev, struct device_queue *q, const struct nfqueue_packet *p)
{
	q->c.received++;
	q->c.received_bytes += p->len;
	/* Ids the kernel skipped were packets it could not send us; it decided those itself. */
	if (q->seen && p->id != q->next_id) {
		uint32_t gap = p->id - q->next_id;
		if (gap < 0x80000000u) {
			q->c.id_gaps += gap;
			log_limited(
			    &dev->lim_verdict, LOG_WARNING,
			    "%s: queue %u: kernel skipped %u packet ids (receive buffer overrun)",
			    dev->name, q->num, gap);
		}
	}
	q->seen = true;
	q->next_id = p->id + 1;
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
			if (mtu >= DEVICE_MIN_SEG)
				dev->mtus[i].mtu = (uint32_t)mtu;
		}
	}
	return dev->mtus[i].mtu;
}

/*
 * Segments P (with HDRLEN bytes of headers) becomes on its interface when
 * gso is on; 1 when it fits one.
 */
static uint32_t
device_nsegs(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen)
{
	if (!dev->cf.gso || p->len <= DEVICE_MIN_SEG || hdrlen == 0)
		return 1;
	uint32_t seg = device_seg_mtu(dev, p);
	if (p->len <= seg || hdrlen + 64 >= seg)
		return 1;
	uint32_t mss = seg - hdrlen;
	return (p->len - hdrlen + mss - 1) / mss;
}

/*
 * Bytes the qdisc should count for P: what it occupies on the wire as
 * segments, each with its own headers and link-layer overhead, as a qdisc
 * on the real interface or IFB would count it.
 */
static uint64_t
device_wire_len(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen, uint32_t nsegs)
{
	/* HDRLEN: what each of its NSEGS segments repeats (device_seg_hdrlen). */
	return p->len + (uint64_t)(nsegs - 1) * hdrlen + (uint64_t)nsegs * dev->cf.overhead;
}

/*
 * UDP segments carry no sequence number: tag the copy so that the segments a
 * qdisc cuts from it can be told from another copy's. IPv4: an IP ID range
 * of its own (segmentation numbers the segments' IDs up from the copy's);
 * IPv6: a flow label of its own (every segment keeps it). The real packet's
 * header is rewritten in the receive buffer, which only the copy is made from.
 */
static void
device_udp_tag(struct device *dev, struct nfqueue_packet *p, struct pending_pkt *pp)
{
	uint8_t *h = p->data;

	if ((h[0] >> 4) == 4) {
		uint32_t id = dev->udp_id;
		if (id + pp->nsegs > 0x10000)
			id = 0;
		dev->udp_id = id + pp->nsegs;
		/* RFC 1624: the header checksum follows the new ID. */
		uint32_t sum = (uint16_t) ~(h[10] << 8 | h[11]);
		sum += (uint16_t) ~(h[4] << 8 | h[5]);
		sum += id;
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		h[10] = (uint8_t)(~sum >> 8);
		h[11] = (uint8_t)~sum;
		h[4] = (uint8_t)(id >> 8);
		h[5] = (uint8_t)id;
		pp->tcpseq = id;
		pp->span = pp->nsegs;
	} else {
		uint32_t label = dev->udp_label++ & 0xfffff;
		h[1] = (uint8_t)((h[1] & 0xf0) | label >> 16);
		h[2] = (uint8_t)(label >> 8);
		h[3] = (uint8_t)label;
		pp->tcpseq = label;
		pp->span = 1;
	}
}

/*
 * Make P's copy a TCP or UDP GSO packet, counted by the qdisc as the segments P
 * becomes on the wire: each segment's headers and link-layer overhead, as a
 * qdisc on the real interface or IFB counts them. The qdisc adds the headers
 * of every segment after the first; the overhead goes in as padding spread
 * over the same segments. The copy must stay below 64 KB (longer GSO packets
 * are segmented before they reach imqN), so where padding would not fit,
 * the headers of extra, smaller segments stand in for most of it. Returns
 * the copy's length, or 0 when P is not a TCP or UDP packet larger than a segment.
 */
static uint32_t
device_gso_copy(struct device *dev, struct nfqueue_packet *p, const struct flow_info *fi,
                uint32_t seghdr, uint32_t nsegs, struct pending_pkt *pp, struct inject_pkt *ip)
{
	if (!(fi->tcp || fi->udp) || fi->iplen != p->len || p->len > DEVICE_GSO_MTU || nsegs < 2)
		return 0;
	uint32_t hdr = fi->hdrlen;
	uint32_t payload = p->len - hdr;
	/*
	 * Bytes the qdisc must count beyond the copy's own headers: link-layer
	 * overhead, and a tunnel's headers that each real segment repeats.
	 */
	uint32_t extra = nsegs * dev->cf.overhead + (nsegs - 1) * (seghdr - hdr);
	uint32_t room = DEVICE_GSO_MTU - p->len;
	uint32_t more = extra > room ? (extra - room + hdr - 1) / hdr : 0;
	/*
	 * The kernel takes a UDP GSO packet of at most 128 segments: a packet of
	 * more goes in as plain copies, and a tunnel's largest packets, whose
	 * padding would need more, are counted up to ~1% (IPv6 inside: 3%) short.
	 */
	uint32_t most = fi->udp ? DEVICE_UDP_MAX_SEGS : UINT16_MAX;
	if (nsegs > most)
		return 0; /* plain copies instead (device_split) */
	if (nsegs + more > most)
		more = nsegs < most ? most - nsegs : 0;
	uint32_t pad = more * hdr > extra ? 0 : extra - more * hdr;
	if (pad > room)
		pad = room;
	uint32_t total = nsegs + more;
	uint32_t span = payload + pad;
	uint32_t gso_size = (span + total - 1) / total;
	if (gso_size > UINT16_MAX || (span + gso_size - 1) / gso_size != total)
		return 0;
	pp->conn = fi->conn;
	pp->tcpseq = fi->tcpseq;
	pp->span = span;
	pp->nsegs = (uint16_t)total;
	if (fi->udp)
		device_udp_tag(dev, p, pp);
	ip->gso_size = (uint16_t)gso_size;
	ip->udp = fi->udp;
	ip->hdrlen = (uint16_t)hdr;
	ip->l4off = (uint16_t)fi->l4off;
	return hdr + span;
}

/*
 * Header bytes each segment of P repeats: its network and TCP/UDP headers,
 * or, for a UDP tunnel, every header from the outer IP to the inner TCP/UDP
 * (a VXLAN segment of TCP over IPv4 repeats 102 bytes, not 28).
 */
static uint32_t
device_seg_hdrlen(struct device *dev, const struct nfqueue_packet *p, uint32_t caplen,
                  const struct flow_info *fi)
{
	uint32_t t = 0;

	if (fi->udp && dev->cf.gso && p->len > DEVICE_MIN_SEG)
		t = flow_tunnel_hdrlen(p->data, caplen, p->len, fi);
	return t > fi->hdrlen && t < p->len ? t : fi->hdrlen;
}

/*
 * A packet longer than one segment that cannot go in as a GSO copy (a
 * protocol other than TCP and UDP: a tunnel's GSO packet, a datagram
 * reassembled from fragments) goes in as plain copies, one per segment it is
 * (or was) on the wire, DEVICE_BATCH at most: a qdisc counts them as it
 * counts the segments or fragments, and a tbf takes them one by one. Returns
 * how many, with *LEN the length of each and the first *EXTRA one byte
 * longer; 1 when P goes in as one copy.
 */
static uint32_t
device_split(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen, uint32_t nsegs,
             uint32_t *len, uint32_t *extra)
{
	if (nsegs < 2)
		return 1;
	uint64_t wire = device_wire_len(dev, p, hdrlen, nsegs);
	uint32_t n = nsegs < DEVICE_BATCH ? nsegs : DEVICE_BATCH;
	*len = (uint32_t)(wire / n);
	*extra = (uint32_t)(wire % n);
	return n;
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
	uint32_t len = 0, copies = 1, extra = 0;

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
	uint32_t seghdr = device_seg_hdrlen(dev, p, caplen, &fi);
	uint32_t nsegs = device_nsegs(dev, p, seghdr);
	len = device_gso_copy(dev, p, &fi, seghdr, nsegs, &pp, &ip);
	if (len == 0 && (copies = device_split(dev, p, seghdr, nsegs, &len, &extra)) > 1) {
		pp.split = true;
		pp.nsegs = (uint16_t)copies;
	}
	if (len == 0) { /* one segment: its length and overhead, at most the device's MTU */
		uint64_t wire = device_wire_len(dev, p, seghdr, 1);
		len = wire < dev->tunmtu ? (uint32_t)wire : dev->tunmtu;
	}
	if (caplen > len)
		caplen = len;
	pp.hash = flow_copy_hash(p->data, caplen, len);
	if (k + copies > DEVICE_BATCH) {
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
		device_failopen(dev, q, p->id, p->mark, p->len, STATS_FO_NO_BUFFER);
		return k;
	}
	q->c.held++; /* the peaks are taken once the batch's copies are in (device_peaks) */
	if (q->c.held >= dev->cf.queue_maxlen)
		log_limited(&dev->lim_full, LOG_WARNING,
		            "%s: queue %u is full (queue-maxlen %u): the kernel %s itself",
		            dev->name, q->num, dev->cf.queue_maxlen,
		            dev->cf.on_overflow == CONF_ACCEPT ? "passes new packets unshaped"
		                                               : "drops new packets");
	uint16_t proto = p->proto;
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		proto = (caplen > 0 && p->data[0] >> 4 == 6) ? ETH_P_IPV6 : ETH_P_IP;
	ip.data = p->data;
	ip.caplen = caplen;
	ip.proto = proto;
	for (uint32_t i = 0; i < copies; i++, k++) {
		dev->ipkts[k] = ip;
		dev->ipkts[k].pad = len + (i < extra) - caplen;
		dev->islot[k] = slot;
	}
	return k;
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
		nfqueue_verdict(dev->nfq, q->num, pp->id, NF_DROP, false, 0);
	} else {
		enum stats_failopen why = device_errno_reason(err);
		if (why == STATS_FO_DEVICE_DOWN)
			dev->next_health_ns = 0;
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

static void
device_packets_cb(void *arg, struct nfqueue_packet *pkts, size_t n)
{
	struct device *dev = arg;
	uint64_t now = device_now_ns();
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct nfqueue_packet *p = &pkts[i];
		struct device_queue *q = device_queue(dev, p->queue);

		if (q == NULL) {
			/* A queue unbound by a reload can still deliver what was in flight. */
			device_accept(dev, p->queue, p->id, p->mark);
			dev->gone.received++;
			dev->gone.received_bytes += p->len;
			dev->gone.failopen[STATS_FO_SHUTDOWN]++;
			continue;
		}
		device_count_in(dev, q, p);
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
	nfqueue_flush(dev->nfq);
	device_readback(dev, DEVICE_READ_MAX);
	nfqueue_flush(dev->nfq);
}

static void
device_nfq_error(void *arg, uint32_t seq, int err)
{
	struct device *dev = arg;

	dev->queues[0].c.verdict_errors++;
	log_limited(&dev->lim_verdict, LOG_ERR, "%s: kernel refused request %u: %s", dev->name, seq,
	            strerror(err));
}

static void
device_nfq_overrun(void *arg)
{
	struct device *dev = arg;

	log_limited(&dev->lim_verdict, LOG_WARNING,
	            "%s: netlink receive buffer overrun: the kernel decided some packets itself",
	            dev->name);
}

/* Nothing of QUEUE is held: every packet received from it has its verdict. */
static bool
device_nfq_settled(void *arg, uint16_t queue)
{
	struct device *dev = arg;
	const struct device_queue *q = device_queue(dev, queue);

	return q != NULL && q->bound && q->c.held == 0;
}

static void
device_nfq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;

	(void)fd;
	(void)what;
	/* Drain a bounded number of batches so one busy device cannot starve the loop. */
	for (int i = 0; i < 16; i++) {
		int n = nfqueue_recv(dev->nfq);
		if (n < 0)
			log_limited(&dev->lim_read, LOG_ERR, "%s: receiving from nfqueue: %s",
			            dev->name, strerror(errno));
		if (n < DEVICE_BATCH)
			break;
	}
}

static void
device_tun_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;

	(void)fd;
	(void)what;
	device_readback(dev, DEVICE_READ_MAX);
	nfqueue_flush(dev->nfq);
}

/* Accept everything held: the copies are gone or no longer matter. */
static void
device_release_all(struct device *dev, enum stats_failopen why)
{
	int slot;

	if (dev->held == NULL)
		return;
	while ((slot = pending_oldest(dev->held)) != PENDING_NONE) {
		const struct pending_pkt *pp = pending_get(dev->held, slot);
		struct device_queue *q = &dev->queues[pp->qidx];
		/* held drops after the verdict is in the buffer: a flush the verdict
		 * makes room with may batch-accept a queue only once nothing of it is held. */
		if (why != STATS_FO_SHUTDOWN && dev->cf.on_error == CONF_DROP) {
			q->c.dropped_error++;
			nfqueue_verdict(dev->nfq, q->num, pp->id, NF_DROP, false, 0);
		} else {
			q->c.failopen[why]++;
			device_accept(dev, q->num, pp->id, pp->mark);
		}
		q->c.held--;
		device_late_add(dev, pp);
		pending_remove(dev->held, slot);
	}
	nfqueue_flush(dev->nfq);
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
	uint64_t window = (uint64_t)dev->cf.reorder_window_ms * DEVICE_MS;
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

static void
device_expire(struct device *dev, uint64_t now)
{
	uint64_t limit = (uint64_t)dev->cf.drop_timeout_ms * 1000000ULL;
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
		           dev->cf.drop_timeout_ms,
		           (unsigned long long)(after + dev->gone.dropped_timeout));
		dev->timeouts_ns = now;
		dev->timeouts_unlogged = 0;
	}
}

static int device_attach(struct device *dev);

static void
device_hook(struct device *dev, char **argv, const char *what)
{
	if (argv == NULL)
		return;
	uint16_t nums[dev->nqueues > 0 ? dev->nqueues : 1];
	for (size_t i = 0; i < dev->nqueues; i++)
		nums[i] = dev->queues[i].num;
	hook_run(argv, what, dev->name, nums, dev->nqueues, dev->cf.hook_timeout_ms);
	dev->hooked = true;
}

static void device_detach(struct device *dev);

/*
 * An MTU or transmit queue length set by hand: a short queue (0 drops every
 * copy) or a small MTU breaks shaping quietly. The configuration owns both.
 */
static void
device_check_params(struct device *dev)
{
	unsigned mtu, txqlen;

	if (tundev_params(dev->name, &mtu, &txqlen) < 0 ||
	    (mtu == dev->tunmtu && txqlen == dev->cf.txqueuelen))
		return;
	if (mtu != dev->tunmtu)
		log_limited(&dev->lim_mtu, LOG_WARNING,
		            "%s: mtu was changed by hand to %u; setting it back to %u (set mtu in "
		            "the configuration instead)",
		            dev->name, mtu, dev->tunmtu);
	if (txqlen != dev->cf.txqueuelen)
		log_limited(&dev->lim_txqlen, LOG_WARNING,
		            "%s: txqueuelen was changed by hand to %u; setting it back to %u (set "
		            "txqueuelen in the configuration instead)",
		            dev->name, txqlen, dev->cf.txqueuelen);
	if (tundev_setup(dev->name, dev->tunmtu, dev->cf.txqueuelen) < 0)
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot configure device: %s", dev->name,
		            strerror(errno));
}

static void
device_health(struct device *dev)
{
	int ifindex;
	int state = tundev_state(dev->name, &ifindex);

	if (state == 2) {
		/* Not knowing is no reason to take the device down: ask again next time. */
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot check the device: %s", dev->name,
		            strerror(errno));
		return;
	}
	if (state == 1 && ifindex == dev->ifindex && dev->tunfd >= 0) {
		if (dev->tun_ev != NULL && !event_pending(dev->tun_ev, EV_READ, NULL))
			event_add(dev->tun_ev, NULL);
		device_check_params(dev);
		if (!dev->up)
			log_notice("%s: up again, shaping resumed", dev->name);
		dev->up = true;
		return;
	}
	if (dev->up) {
		log_warnx("%s: %s: %s until it is back", dev->name,
		          state < 0 || ifindex != dev->ifindex ? "device is gone"
		                                               : "device is down",
		          dev->cf.on_error == CONF_DROP ? "dropping packets (on-error = drop)"
		                                        : "passing packets unshaped");
		dev->up = false;
	}
	/* Its qdisc was reset with it: no held copy will come back. */
	device_release_all(dev, STATS_FO_DEVICE_DOWN);
	if (state == 0 && ifindex == dev->ifindex && dev->tunfd >= 0) {
		/* The qdisc survives a down/up: bringing the link back is enough. */
		if (tundev_setup(dev->name, dev->tunmtu, dev->cf.txqueuelen) == 0) {
			log_notice("%s: was set down; up again, shaping resumed", dev->name);
			dev->up = true;
		}
		return;
	}
	/* Gone, replaced, or ours but not attached (an attach that failed half way). */
	if (state < 0 || ifindex != dev->ifindex || dev->tunfd < 0) {
		device_detach(dev);
		if (device_attach(dev) == 0) {
			log_notice("%s: recreated, shaping resumed", dev->name);
			dev->up = true;
			device_hook(dev, dev->conf->up, "up");
		}
	}
}

static void
device_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;
	uint64_t now = device_now_ns();

	(void)fd;
	(void)what;
	device_expire(dev, now);
	log_limit_flush(&dev->lim_failopen);
	log_limit_flush(&dev->lim_order);
	log_limit_flush(&dev->lim_stray);
	log_limit_flush(&dev->lim_read);
	log_limit_flush(&dev->lim_verdict);
	log_limit_flush(&dev->lim_attach);
	log_limit_flush(&dev->lim_mtu);
	log_limit_flush(&dev->lim_txqlen);
	log_limit_flush(&dev->lim_full);
	log_limit_flush(&dev->lim_ecn);
	if (now >= dev->next_health_ns) {
		dev->next_health_ns = now + DEVICE_HEALTH_MS * 1000000ULL;
		memset(dev->mtus, 0, sizeof(dev->mtus));
		device_health(dev);
	}
	if (dev->timer_fast && dev->overtaken == 0)
		device_timer_start(dev); /* back to the slow tick */
	nfqueue_flush(dev->nfq);
}

static int
device_sndbuf(const struct conf_device *cf, size_t capacity)
{
	/* A copy costs its size plus skb overhead; charge the whole backlog (the kernel takes only
	 * what the qdisc actually holds). */
	uint64_t per = (uint64_t)(cf->gso ? DEVICE_GSO_MTU : cf->mtu) + cf->overhead + 1024;
	uint64_t total = per * capacity;

	if (total > 1ULL << 30)
		total = 1ULL << 30;
	return total > INT32_MAX / 2 ? INT32_MAX / 2 : (int)total;
}

/* Create or reattach imqN and the socket that injects into it. */
static int
device_attach(struct device *dev)
{
	bool created;

	/* Rate-limited: the health check retries every second while the device is gone. */
	dev->tunfd = tundev_open(dev->name, dev->cf.persist, &created);
	if (dev->tunfd < 0) {
		if (errno == EINVAL && !created)
			log_limited(
			    &dev->lim_attach, LOG_ERR,
			    "%s: cannot open TUN device: an interface of that name exists and "
			    "is not a TUN device imqd can use",
			    dev->name);
		else
			log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot open TUN device: %s",
			            dev->name, strerror(errno));
		return -1;
	}
	if (tundev_setup(dev->name, dev->tunmtu, dev->cf.txqueuelen) < 0) {
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot configure device: %s", dev->name,
		            strerror(errno));
		goto close_tun;
	}
	if (tundev_state(dev->name, &dev->ifindex) != 1) {
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot find the device it set up: %s",
		            dev->name, strerror(errno));
		goto close_tun;
	}
	if (dev->inj == NULL)
		dev->inj =
		    inject_open(dev->ifindex, device_sndbuf(&dev->cf, pending_capacity(dev->held)),
		                DEVICE_BATCH);
	if (dev->inj == NULL) {
		log_warn("%s: cannot open packet socket", dev->name);
		goto close_tun;
	}
	inject_set_ifindex(dev->inj, dev->ifindex);
	dev->tun_ev = event_new(dev->base, dev->tunfd, EV_READ | EV_PERSIST, device_tun_cb, dev);
	if (dev->tun_ev == NULL || event_add(dev->tun_ev, NULL) < 0)
		goto close_tun;
	log_info("%s: %s, ifindex %d, mtu %u", dev->name, created ? "created" : "reattached",
	         dev->ifindex, dev->tunmtu);
	return 0;
close_tun:
	device_detach(dev);
	return -1;
}

static void
device_detach(struct device *dev)
{
	if (dev->tun_ev != NULL)
		event_free(dev->tun_ev);
	dev->tun_ev = NULL;
	if (dev->tunfd >= 0)
		close(dev->tunfd);
	dev->tunfd = -1;
}

static struct nfqueue_params
device_params(const struct conf_device *cf)
{
	struct nfqueue_params p = {
	    .copy_range = cf->copy == CONF_COPY_HEADERS ? cf->copy_bytes
	                                                : (cf->gso ? DEVICE_GSO_MTU : cf->mtu),
	    .maxlen = cf->queue_maxlen,
	    .fail_open = cf->on_overflow == CONF_ACCEPT,
	    .gso = cf->gso,
	};
	return p;
}

static int
device_bind(struct device *dev, struct device_queue *q)
{
	struct nfqueue_params params = device_params(&dev->cf);

	if (nfqueue_bind(dev->nfq, q->num, &params) < 0) {
		if (errno == EPERM)
			log_err("%s: cannot bind NFQUEUE queue %u: another process has it",
			        dev->name, q->num);
		else
			log_warn("%s: cannot bind NFQUEUE queue %u", dev->name, q->num);
		return -1;
	}
	q->bound = true;
	return 0;
}

static void
device_sum(struct stats_counters *t, const struct stats_counters *c)
{
	t->received += c->received;
	t->received_bytes += c->received_bytes;
	t->accepted += c->accepted;
	t->accepted_bytes += c->accepted_bytes;
	t->dropped_enqueue += c->dropped_enqueue;
	t->dropped_order += c->dropped_order;
	t->dropped_timeout += c->dropped_timeout;
	t->dropped_error += c->dropped_error;
	t->dropped_ecn += c->dropped_ecn;
	for (int i = 0; i < STATS_FO_MAX; i++)
		t->failopen[i] += c->failopen[i];
	t->held += c->held;
	t->id_gaps += c->id_gaps;
	t->malformed += c->malformed;
	t->partial += c->partial;
	t->verdict_errors += c->verdict_errors;
}

static int
device_set_queues(struct device *dev, const struct conf_device *cf)
{
	struct device_queue *qs = calloc(cf->nqueues, sizeof(*qs));
	struct stats_counters *snap = calloc(cf->nqueues, sizeof(*snap));
	uint16_t *snapq = calloc(cf->nqueues, sizeof(*snapq));

	if (qs == NULL || snap == NULL || snapq == NULL) {
		free(qs);
		free(snap);
		free(snapq);
		return -1;
	}
	for (size_t i = 0; i < cf->nqueues; i++) {
		struct device_queue *old = device_queue(dev, cf->queues[i]);
		if (old != NULL)
			qs[i] = *old;
		qs[i].num = cf->queues[i];
	}
	/* The device's totals keep counting what its queues did before they went. */
	for (size_t i = 0; i < dev->nqueues; i++) {
		bool kept = false;
		for (size_t j = 0; j < cf->nqueues; j++)
			kept = kept || cf->queues[j] == dev->queues[i].num;
		if (!kept)
			device_sum(&dev->gone, &dev->queues[i].c);
	}
	free(dev->queues);
	free(dev->snap);
	free(dev->snap_queues);
	dev->queues = qs;
	dev->snap = snap;
	dev->snap_queues = snapq;
	dev->nqueues = cf->nqueues;
	return 0;
}

static size_t
device_capacity(const struct conf_device *cf)
{
	return (size_t)cf->queue_maxlen * cf->nqueues;
}

/* The longest message the queues can send up, and the receive buffer for a full backlog. */
static int
device_nfq_sizes(const struct device *dev, size_t *msgsize)
{
	size_t copy = dev->cf.copy == CONF_COPY_HEADERS ? dev->cf.copy_bytes : dev->maxlen;
	uint64_t rcvbuf = (uint64_t)device_capacity(&dev->cf) * (copy + 1024);

	if (rcvbuf < (8u << 20))
		rcvbuf = 8u << 20;
	if (rcvbuf > (1u << 30))
		rcvbuf = 1u << 30;
	*msgsize = copy + DEVICE_MSG_OVERHEAD;
	return (int)rcvbuf;
}

static int
device_open_nfq(struct device *dev)
{
	struct nfqueue_ops ops = {
	    .packets = device_packets_cb,
	    .error = device_nfq_error,
	    .overrun = device_nfq_overrun,
	    .settled = device_nfq_settled,
	    .arg = dev,
	};
	size_t msgsize;
	int rcvbuf = device_nfq_sizes(dev, &msgsize);

	dev->nfq = nfqueue_open(DEVICE_BATCH, msgsize, rcvbuf, &ops);
	if (dev->nfq == NULL) {
		log_warn("%s: cannot open nfqueue socket", dev->name);
		return -1;
	}
	dev->nfq_ev =
	    event_new(dev->base, nfqueue_fd(dev->nfq), EV_READ | EV_PERSIST, device_nfq_cb, dev);
	if (dev->nfq_ev == NULL || event_add(dev->nfq_ev, NULL) < 0)
		return -1;
	return 0;
}

static void
device_copy_conf(struct device *dev, const struct conf_device *cf)
{
	dev->maxlen = cf->gso ? DEVICE_GSO_MTU : cf->mtu;
	dev->tunmtu = cf->gso ? DEVICE_GSO_MTU : cf->mtu + cf->overhead;
	if (dev->tunmtu > DEVICE_GSO_MTU)
		dev->tunmtu = DEVICE_GSO_MTU;
	memset(dev->mtus, 0, sizeof(dev->mtus));
	dev->cf = *cf;
	dev->cf.queues = NULL;
	dev->cf.up = NULL;
	dev->cf.down = NULL;
	dev->cf.next = NULL;
}

/*
 * (Re)start the timer: every quarter of drop-timeout, between 10 and 250 ms;
 * every half reorder-window while packets are overtaken.
 */
static int
device_timer_start(struct device *dev)
{
	unsigned ms = dev->cf.drop_timeout_ms / 4;
	struct timeval tv;

	dev->timer_fast = dev->overtaken > 0 && dev->cf.reorder_window_ms > 0;
	if (dev->timer_fast && dev->cf.reorder_window_ms / 2 < ms)
		ms = dev->cf.reorder_window_ms / 2;
	if (ms < 10)
		ms = 10;
	if (ms > 250)
		ms = 250;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (dev->timer_ev == NULL)
		dev->timer_ev = event_new(dev->base, -1, EV_PERSIST, device_timer_cb, dev);
	if (dev->timer_ev == NULL)
		return -1;
	return event_add(dev->timer_ev, &tv);
}

/* io_uring for the reads of copies, where the kernel allows it (it may be off: read(2) then). */
static void
device_uring_open(struct device *dev)
{
	dev->rdbufs = calloc(DEVICE_URING_READS, sizeof(*dev->rdbufs));
	if (dev->rdbufs == NULL)
		return;
	int r = io_uring_queue_init(DEVICE_URING_READS, &dev->uring, 0);
	if (r < 0) {
		log_notice("%s: no io_uring (%s): reading copies one system call each", dev->name,
		           strerror(-r));
		free(dev->rdbufs);
		dev->rdbufs = NULL;
		return;
	}
	dev->uring_on = true;
}

struct device *
device_start(struct event_base *base, const struct conf_device *cf)
{
	struct device *dev = calloc(1, sizeof(*dev));

	if (dev == NULL)
		return NULL;
	dev->base = base;
	dev->conf = cf;
	dev->tunfd = -1;
	snprintf(dev->name, sizeof(dev->name), "%s", cf->name);
	device_copy_conf(dev, cf);
	device_uring_open(dev);
	dev->held = pending_new(device_capacity(cf));
	if (dev->held == NULL)
		log_err("%s: no memory for the table of %zu packets it may hold (queue-maxlen %u x "
		        "%zu queues)",
		        dev->name, device_capacity(cf), cf->queue_maxlen, cf->nqueues);
	if (dev->held == NULL || device_set_queues(dev, cf) < 0 ||
	    device_late_size(dev, device_capacity(cf)) < 0)
		goto fail;
	if (device_attach(dev) < 0 || device_open_nfq(dev) < 0 || device_timer_start(dev) < 0)
		goto fail;
	dev->up = true;
	for (size_t i = 0; i < dev->nqueues; i++)
		if (device_bind(dev, &dev->queues[i]) < 0)
			goto fail;
	char qs[128] = "";
	FILE *f = fmemopen(qs, sizeof(qs) - 1, "w");
	if (f != NULL) {
		conf_print_queues(f, cf);
		fclose(f);
	}
	log_notice("%s: shaping NFQUEUE queue%s %s", dev->name, dev->nqueues > 1 ? "s" : "", qs);
	if (cf->gso && cf->copy == CONF_COPY_HEADERS && cf->copy_bytes < DEVICE_GSO_COPY_BYTES)
		log_warnx("%s: copy-bytes %u may cut the headers of GSO packets, which then go in "
		          "as plain copies (a tbf with a smaller burst drops them); use %u or more",
		          dev->name, cf->copy_bytes, DEVICE_GSO_COPY_BYTES);
	device_hook(dev, cf->up, "up");
	dev->hooked = true;
	return dev;
fail:
	device_stop(dev);
	return NULL;
}

/* Let the kernel pass new packets itself, then answer everything it gave us. */
static void
device_drain(struct device *dev, struct device_queue *q)
{
	struct nfqueue_params params = device_params(&dev->cf);

	params.maxlen = 0;
	params.fail_open = true;
	nfqueue_set_params(dev->nfq, q->num, &params);
}

/*
 * Before a queue is drained (device_drain), pass what the kernel has
 * already queued to the socket: once drained, the kernel passes new packets
 * itself, and those would overtake the older ones still waiting here. After
 * the drain, read what the drained queue still has in the socket before it
 * is unbound (unbinding drops it). Bounded: with traffic arriving on other
 * queues as fast as it is passed the socket never empties, but it never
 * holds more messages than the queues' limits together, so that many are
 * read.
 */
static void
device_recv_queued(struct device *dev)
{
	size_t passes = device_capacity(&dev->cf) / DEVICE_BATCH + 2;

	while (passes-- > 0 && nfqueue_recv(dev->nfq) > 0)
		;
	nfqueue_flush(dev->nfq);
}

void
device_stop(struct device *dev)
{
	if (dev == NULL)
		return;
	if (dev->hooked && dev->conf != NULL)
		device_hook(dev, dev->conf->down, "down");
	if (dev->nfq != NULL) {
		/*
		 * Held packets first: they are older than any the kernel passes
		 * itself once drained, and would otherwise arrive behind them.
		 */
		device_release_all(dev, STATS_FO_SHUTDOWN);
		dev->stopping = true;
		device_recv_queued(dev);
		for (size_t i = 0; i < dev->nqueues; i++)
			if (dev->queues[i].bound)
				device_drain(dev, &dev->queues[i]);
		while (nfqueue_recv(dev->nfq) > 0)
			;
		device_release_all(dev, STATS_FO_SHUTDOWN);
		for (size_t i = 0; i < dev->nqueues; i++)
			if (dev->queues[i].bound)
				nfqueue_unbind(dev->nfq, dev->queues[i].num);
	}
	if (dev->nfq_ev != NULL)
		event_free(dev->nfq_ev);
	if (dev->timer_ev != NULL)
		event_free(dev->timer_ev);
	nfqueue_close(dev->nfq);
	if (dev->tunfd >= 0 && !dev->cf.persist)
		tundev_persist(dev->tunfd, false);
	device_detach(dev);
	inject_close(dev->inj);
	pending_free(dev->held);
	pending_free(dev->spare);
	free(dev->queues);
	free(dev->snap);
	free(dev->snap_queues);
	free(dev->late);
	if (dev->uring_on)
		io_uring_queue_exit(&dev->uring);
	free(dev->rdbufs);
	log_info("%s: stopped", dev->name);
	free(dev);
}

/* Accept what Q still holds: unbinding makes the kernel drop whatever is left in it. */
static void
device_release_held(struct device *dev, struct device_queue *q)
{
	uint16_t qidx = (uint16_t)(q - dev->queues);
	int slot = pending_oldest(dev->held);

	while (slot != PENDING_NONE) {
		int next = pending_next(dev->held, slot);
		const struct pending_pkt *pp = pending_get(dev->held, slot);
		if (pp->qidx == qidx) {
			q->c.failopen[STATS_FO_SHUTDOWN]++;
			device_accept(dev, q->num, pp->id, pp->mark);
			q->c.held--; /* after the verdict, as in device_release_all */
			device_late_add(dev, pp);
			pending_remove(dev->held, slot);
		}
		slot = next;
	}
	nfqueue_flush(dev->nfq);
}

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
		/* As at shutdown: what it holds first, then what is still queued, unshaped. */
		device_release_held(dev, q);
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
 * The table the held packets move to on a reload: the one device_prepare
 * made, or a new one; at least as large as what is held now.
 */
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

	/* The section of the running configuration from now on, whatever fails below. */
	dev->conf = cf;
	dev->incomplete = true;
	if (oldnums == NULL) {
		log_err("%s: out of memory; the new configuration is not applied", dev->name);
		return -1;
	}
	for (size_t i = 0; i < oldn; i++)
		oldnums[i] = dev->queues[i].num;
	bool retune = cf->mtu != dev->cf.mtu || cf->overhead != dev->cf.overhead ||
	              cf->txqueuelen != dev->cf.txqueuelen || cf->gso != dev->cf.gso;
	device_copy_conf(dev, cf);
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
	if (retune && tundev_setup(dev->name, dev->tunmtu, cf->txqueuelen) < 0) {
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

bool
device_complete(const struct device *dev)
{
	if (dev->incomplete)
		return false;
	for (size_t i = 0; i < dev->nqueues; i++)
		if (!dev->queues[i].bound)
			return false;
	return true;
}

const char *
device_name(const struct device *dev)
{
	return dev->name;
}

unsigned long
device_held(const struct device *dev)
{
	return (unsigned long)pending_count(dev->held);
}

static int
device_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
device_hold_stats(const struct device *dev, struct stats_hold *out)
{
	size_t n = dev->hold_n < DEVICE_HOLD_RING ? dev->hold_n : DEVICE_HOLD_RING;
	uint32_t *v;

	memset(out, 0, sizeof(*out));
	if (n == 0 || (v = malloc(n * sizeof(*v))) == NULL)
		return;
	memcpy(v, dev->hold_us, n * sizeof(*v));
	qsort(v, n, sizeof(*v), device_cmp_u32);
	out->p50_us = v[(n - 1) / 2];
	out->p99_us = v[(n - 1) * 99 / 100];
	out->max_us = v[n - 1];
	free(v);
}

void
device_totals(const struct device *dev, struct stats_counters *out)
{
	*out = dev->gone;
	for (size_t i = 0; i < dev->nqueues; i++)
		device_sum(out, &dev->queues[i].c);
}

void
device_snapshot(struct device *dev, struct stats_device *out)
{
	memset(out, 0, sizeof(*out));
	out->name = dev->name;
	out->state = dev->up ? "up" : (dev->tunfd < 0 ? "missing" : "down");
	tundev_qdisc(dev->ifindex, dev->qdisc, sizeof(dev->qdisc));
	out->qdisc = dev->qdisc;
	out->total = dev->gone;
	for (size_t i = 0; i < dev->nqueues; i++) {
		dev->snap[i] = dev->queues[i].c;
		dev->snap_queues[i] = dev->queues[i].num;
		device_sum(&out->total, &dev->queues[i].c);
	}
	out->total.peak_held = dev->peak_held;
	out->queues = dev->snap_queues;
	out->nqueues = dev->nqueues;
	out->queue_counters = dev->snap;
	device_hold_stats(dev, &out->hold);
	out->stray = dev->stray;
	out->unmatched = dev->unmatched;
	out->verdicts_batched = dev->nfq != NULL ? nfqueue_batched(dev->nfq) : 0;
}

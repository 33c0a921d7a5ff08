/* A queue under a flood beyond imqd's intake: its receive buffer cut, its kernel fail-open off. */
#include "device_int.h"

#include <string.h>

#include "watchdog.h"

/*
 * A receive buffer sized for a whole queue absorbs a burst or a stall of
 * imqd, and nothing is decided without it. Under a flood beyond imqd's
 * intake it only fills up and stays full: the packets imqd shapes then
 * wait in it behind tens of thousands of messages (a quarter of a second
 * at full flood) before they reach the qdisc, and imqd reads messages long
 * gone from the CPU's caches; the same share is decided by the kernel
 * either way. So once the kernel has been skipping ids for
 * DEVICE_FLOOD_MS, the queue is flooded: its buffer is cut to
 * DEVICE_RCVBUF_CUT, a few milliseconds of packets, and its fail-open goes
 * off (device_flood_shut); DEVICE_CALM_MS without a skip ends that
 * (device_flood_tick).
 */
static void
device_flood_cut(struct device *dev, struct device_queue *q)
{
	struct device_sock *sock = q->sock;
	/* DEVICE_RCVBUF_CUT, or room for four batches of the longest messages if that is more. */
	size_t msgsize;
	int whole = device_nfq_sizes(dev, &msgsize);
	uint64_t cut = 4 * DEVICE_BATCH * (uint64_t)(msgsize + DEVICE_MIN_TRUESIZE);

	if (cut < DEVICE_RCVBUF_CUT)
		cut = DEVICE_RCVBUF_CUT;
	if (cut >= (uint64_t)whole)
		return;
	if (nfqueue_set_rcvbuf(sock->nfq, (int)cut) < 0) {
		log_warn("%s: queue %u: cannot cut the receive buffer", dev->name, q->num);
		return;
	}
	sock->cut = true;
	log_notice("%s: queue %u: more arrives than imqd takes in (the kernel has decided "
	           "packets itself for %u ms): receive buffer cut to %u KB while it lasts, so "
	           "that the packets imqd shapes do not wait behind a full one",
	           dev->name, q->num, DEVICE_FLOOD_MS, (unsigned)(cut >> 10));
}

/* The id the kernel gives Q's next packet: from its /proc file, else the next imqd expects. */
static uint32_t
device_flood_next_id(const struct device_queue *q)
{
	uint32_t id;

	return nfqueue_last_id(q->num, &id) == 0 ? id + 1 : q->next_id;
}

/*
 * Which ids the kernel dropped is known from its /proc file at each switch
 * (device_flood_shut, device_flood_open, the watchdog's), to within the
 * packets of the microseconds between the reading and the switch. imqd sees
 * a gap only when it reads past it, maybe a switch or two later.
 */
uint32_t
device_gap_dropped(struct device *dev, struct device_queue *q, uint32_t first, uint32_t gap)
{
	struct device_sock *sock = q->sock;
	uint32_t dropped = 0;

	if (sock == NULL)
		return dev->conf->on_overflow == CONF_DROP ? gap : 0;
	for (unsigned i = 0; i < sock->ndrops; i++) {
		uint32_t to = sock->drops[i].to, id;
		bool open = sock->drops[i].open;
		if (open && q->c.flood_dropping && watchdog_fired(sock->wd_slot)) {
			/* It did before this tick saw it. */
			to = watchdog_fired_id(sock->wd_slot, &id) ? id + 1 : first;
			open = false;
		}
		/* Offsets from FIRST, within the gap. */
		int64_t lo = (int32_t)(sock->drops[i].from - first);
		int64_t hi = open ? (int64_t)gap : (int64_t)(int32_t)(to - first);
		if (lo < 0)
			lo = 0;
		if (hi > gap)
			hi = gap;
		if (hi > lo)
			dropped += (uint32_t)(hi - lo);
	}
	/* Those that end before the ids after this gap are done with. */
	unsigned kept = 0;
	for (unsigned i = 0; i < sock->ndrops; i++)
		if (sock->drops[i].open || (int32_t)(sock->drops[i].to - (first + gap)) > 0)
			sock->drops[kept++] = sock->drops[i];
	sock->ndrops = kept;
	return dropped;
}

uint32_t
device_count_gap(struct device *dev, struct device_queue *q, uint32_t gap)
{
	uint32_t dropped = device_gap_dropped(dev, q, q->next_id, gap);

	q->c.id_gaps += gap;
	if (q->sock != NULL)
		q->sock->drops_known += gap;
	q->c.kernel_passed += gap - dropped;
	q->c.kernel_dropped += dropped;
	log_limited(&dev->lim_verdict, LOG_WARNING,
	            "%s: queue %u: the kernel %s %u packets itself: imqd's receive buffer was full",
	            dev->name, q->num,
	            dropped == gap ? "dropped"
	            : dropped == 0 ? "passed unshaped"
	                           : "passed unshaped or dropped",
	            gap);
	return dropped;
}

void
device_id_seen(struct device *dev, struct device_queue *q, uint32_t id, uint64_t now)
{
	/*
	 * Ids the kernel skipped were packets it could not send us (the receive
	 * buffer was full); it decided those itself, as on-overflow and on-flood
	 * say.
	 */
	uint32_t gap = id - q->next_id;
	if (q->seen && gap != 0 && gap < 0x80000000u) {
		/*
		 * A gap dropped whole while the fail-open was off, read once it is on
		 * again, is the last of a flood that is over, seen only now that more
		 * came: no new flood begins with it.
		 */
		if (device_count_gap(dev, q, gap) < gap || device_kernel_drops(dev, q))
			device_sock_skipped(dev, q, now);
	}
	q->seen = true;
	q->next_id = id + 1;
}

/* Open a span of dropped ids from FROM on (the oldest goes if there is no room: its gaps
 * count as passed). */
static void
device_drops_open(struct device_sock *sock, uint32_t from)
{
	if (sock->ndrops == DEVICE_DROP_RANGES)
		memmove(sock->drops, sock->drops + 1, --sock->ndrops * sizeof(sock->drops[0]));
	sock->drops[sock->ndrops].from = from;
	sock->drops[sock->ndrops++].open = true;
}

/* Close the open span, if any, before TO. */
static void
device_drops_close(struct device_sock *sock, uint32_t to)
{
	if (sock->ndrops > 0 && sock->drops[sock->ndrops - 1].open) {
		sock->drops[sock->ndrops - 1].open = false;
		sock->drops[sock->ndrops - 1].to = to;
	}
}

void
device_drops_bound(struct device *dev, struct device_queue *q)
{
	q->sock->ndrops = 0;
	if (dev->conf->on_overflow == CONF_DROP)
		device_drops_open(q->sock, 1); /* ids start at 1 with each binding */
}

/*
 * A reload switches Q's fail-open for a new on-overflow (WAS_DROP its old
 * one): the ids from the kernel's next on are decided the new way, those
 * before it the old way, however late imqd reads their gaps.
 */
void
device_drops_overflow(struct device *dev, struct device_queue *q, bool was_drop)
{
	bool drop = dev->conf->on_overflow == CONF_DROP;

	if (q->sock == NULL || drop == was_drop)
		return;
	if (drop)
		device_drops_open(q->sock, device_flood_next_id(q));
	else
		device_drops_close(q->sock, device_flood_next_id(q));
}

bool
device_kernel_drops(const struct device *dev, const struct device_queue *q)
{
	if (dev->conf->on_overflow == CONF_DROP)
		return true;
	/* Fail-open off, unless the watchdog has switched it on since. */
	return q != NULL && q->c.flood_dropping && !watchdog_fired(q->sock->wd_slot);
}

/*
 * With on-overflow = accept, what cannot reach imqd passes unshaped: beyond
 * imqd's intake a flood would escape the shaper. With on-flood = drop the
 * kernel drops it instead while the queue is flooded, as the qdisc would
 * have dropped it: imqd switches the queue's fail-open off, the watchdog
 * holding a copy of its socket to switch it back on should imqd stop
 * running meanwhile (src/watchdog.c). Without a watchdog it stays on.
 */
static void
device_flood_shut(struct device *dev, struct device_queue *q, uint64_t now)
{
	struct device_sock *sock = q->sock;

	if (q->c.flood_dropping || dev->conf->on_overflow != CONF_ACCEPT ||
	    dev->conf->on_flood != CONF_DROP || now < sock->shut_retry_ns)
		return;
	int slot = watchdog_hold(nfqueue_fd(sock->nfq), q->num);
	if (slot < 0) {
		sock->shut_retry_ns = now + DEVICE_CALM_MS * DEVICE_MS;
		log_limited(&dev->lim_flood, LOG_WARNING,
		            "%s: queue %u: no watchdog: the kernel's fail-open stays on, and what "
		            "imqd cannot take of the flood passes unshaped",
		            dev->name, q->num);
		return;
	}
	uint32_t from = device_flood_next_id(q);
	if (nfqueue_set_failopen(sock->nfq, q->num, false) < 0) {
		watchdog_release(slot);
		sock->shut_retry_ns = now + DEVICE_CALM_MS * DEVICE_MS;
		log_warn("%s: queue %u: cannot switch the kernel's fail-open off", dev->name,
		         q->num);
		return;
	}
	sock->wd_slot = slot;
	device_drops_open(sock, from);
	watchdog_beat(slot, now);
	q->c.flood_dropping = 1;
	if (!dev->timer_beat)
		device_timer_start(dev);
	log_notice("%s: queue %u: flooded: the kernel drops what imqd cannot take while it "
	           "lasts (kernel fail-open off, on-flood = drop)",
	           dev->name, q->num);
}

void
device_flood_open(struct device *dev, struct device_queue *q, bool closing)
{
	struct device_sock *sock = q->sock;

	if (!q->c.flood_dropping)
		return;
	uint32_t to;
	bool fired = watchdog_fired(sock->wd_slot);
	if (!fired || !watchdog_fired_id(sock->wd_slot, &to))
		to = fired ? q->next_id : device_flood_next_id(q);
	else
		to++;
	/* After the watchdog's too: one message, and no doubt left. */
	if (nfqueue_set_failopen(sock->nfq, q->num, true) < 0 && !closing) {
		log_warn("%s: queue %u: cannot switch the kernel's fail-open back on", dev->name,
		         q->num);
		return; /* the watchdog keeps its copy: the next tick tries again */
	}
	if (fired) {
		/* Here, not at the tick: a reload or a stop may take the queue before it. */
		q->c.watchdog++;
		log_warnx("%s: queue %u: imqd did not tend the queue for %u ms or more (stopped, "
		          "stalled, or busy with a reload), and its watchdog switched the kernel's "
		          "fail-open back on: the flood passed unshaped meanwhile",
		          dev->name, q->num, WATCHDOG_STALL_MS);
	}
	device_drops_close(sock, to);
	watchdog_release(sock->wd_slot);
	q->c.flood_dropping = 0;
}

void
device_sock_skipped(struct device *dev, struct device_queue *q, uint64_t now)
{
	struct device_sock *sock = q->sock;

	if (sock == NULL)
		return;
	if (now - sock->skip_last_ns > DEVICE_FLOOD_MS * DEVICE_MS)
		sock->skip_first_ns = now;
	sock->skip_last_ns = now;
	device_flood_shut(dev, q, now);
	if (!q->c.flooded) {
		if (now - sock->skip_first_ns < DEVICE_FLOOD_MS * DEVICE_MS)
			return;
		q->c.flooded = 1; /* device_flood_tick ends it */
		device_flood_cut(dev, q);
	}
}

/*
 * The kernel decides packets itself only once the receive buffer is full,
 * and imqd learns it only when it reads past the gap in the ids: through a
 * buffer sized for the whole queue, thousands of packets later, all passed
 * unshaped. So a buffer more than half full while imqd runs switches the
 * fail-open off too: imqd is taking packets as fast as it can, and more come.
 */
void
device_flood_backlog(struct device *dev, struct device_sock *sock)
{
	struct device_queue *q = device_queue(dev, sock->num);
	uint32_t used, size;

	if (q == NULL || q->sock != sock || nfqueue_backlog(sock->nfq, &used, &size) < 0 ||
	    used < size / 2)
		return;
	uint64_t now = log_now_ns();
	/* No calm before DEVICE_CALM_MS without it; the kernel may skip ids soon. */
	sock->press_last_ns = now;
	if (dev->conf->on_overflow == CONF_ACCEPT && dev->conf->on_flood == CONF_DROP)
		device_flood_shut(dev, q, now);
}

void
device_flood_reset(struct device *dev, struct device_queue *q)
{
	device_flood_open(dev, q, false);
	q->c.flooded = 0;
	if (q->sock != NULL)
		q->sock->cut = false;
}

/* Forget Q's spans that end before the id imqd expects next: their gaps are all counted. */
static void
device_flood_retire(struct device_queue *q)
{
	struct device_sock *sock = q->sock;
	unsigned kept = 0;

	for (unsigned i = 0; i < sock->ndrops; i++)
		if (sock->drops[i].open || (int32_t)(sock->drops[i].to - q->next_id) > 0)
			sock->drops[kept++] = sock->drops[i];
	sock->ndrops = kept;
}

bool
device_flood_beating(const struct device *dev)
{
	for (size_t i = 0; i < dev->nqueues; i++)
		if (dev->queues[i].c.flood_dropping)
			return true;
	return false;
}

/*
 * The timer's tick: beat the watchdog for each queue whose fail-open is off,
 * take back those it switched on, and end the floods that are over.
 */
void
device_flood_tick(struct device *dev, uint64_t now)
{
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_queue *q = &dev->queues[i];
		struct device_sock *sock = q->sock;
		if (sock == NULL)
			continue;
		device_flood_retire(q);
		if (!q->c.flooded && !q->c.flood_dropping)
			continue;
		if (q->c.flood_dropping && watchdog_fired(sock->wd_slot)) {
			device_flood_open(dev, q, false); /* counts and logs it */
		} else if (q->c.flood_dropping && !watchdog_alive(now)) {
			/* Nothing would switch it on should imqd stall. */
			device_flood_open(dev, q, false);
			log_limited(
			    &dev->lim_flood, LOG_WARNING,
			    "%s: queue %u: the watchdog is not running: the kernel's fail-open "
			    "is back on, and what imqd cannot take of the flood passes unshaped",
			    dev->name, q->num);
		} else if (q->c.flood_dropping) {
			watchdog_beat(sock->wd_slot, now);
		}
		/* After a stall, what waits in the buffer is the flood going on. */
		uint32_t used, size;
		if (nfqueue_backlog(sock->nfq, &used, &size) == 0 && used >= size / 2)
			sock->press_last_ns = now;
		if (now - sock->skip_last_ns < DEVICE_CALM_MS * DEVICE_MS ||
		    now - sock->press_last_ns < DEVICE_CALM_MS * DEVICE_MS)
			continue;
		size_t msgsize;
		int rcvbuf = device_nfq_sizes(dev, &msgsize);
		if (sock->cut && nfqueue_set_rcvbuf(sock->nfq, rcvbuf) < 0)
			continue; /* the next tick tries again */
		device_flood_open(dev, q, false);
		if (q->c.flood_dropping)
			continue;
		q->c.flooded = 0;
		log_notice("%s: queue %u: the kernel has decided no packet for %u ms: flood over%s",
		           dev->name, q->num, DEVICE_CALM_MS,
		           sock->cut ? ", receive buffer back to its size" : "");
		sock->cut = false;
	}
}

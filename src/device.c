/* One shard of an imqN device: start, stop, its events and timer, and its counters. */
#include "device_int.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watchdog.h"

struct device_queue *
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

static void
device_sock_packets_cb(void *arg, struct nfqueue_packet *pkts, size_t n)
{
	struct device_sock *sock = arg;

	device_nfq_packets_cb(sock->dev, pkts, n);
}

/* A refused verdict or setting: counted on the queue whose socket heard of it. */
static void
device_nfq_error_cb(void *arg, uint32_t seq, int err)
{
	struct device_sock *sock = arg;
	struct device *dev = sock->dev;
	struct device_queue *q = device_queue(dev, sock->num);

	(q != NULL ? q : &dev->queues[0])->c.verdict_errors++;
	log_limited(&dev->lim_verdict, LOG_ERR, "%s: queue %u: kernel refused request %u: %s",
	            dev->name, sock->num, seq, strerror(err));
}

static void
device_nfq_overrun_cb(void *arg)
{
	struct device_sock *sock = arg;

	log_limited(&sock->dev->lim_verdict, LOG_WARNING,
	            "%s: queue %u: netlink receive buffer overrun: the kernel decided some "
	            "packets itself",
	            sock->dev->name, sock->num);
}

static void
device_nfq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device_sock *sock = arg;
	struct device *dev = sock->dev;

	(void)fd;
	(void)what;
	/* A bounded number of batches: the other queues and devices get their turn. */
	int n = 0;
	for (int i = 0; i < DEVICE_RECV_PASSES; i++) {
		n = nfqueue_recv(sock->nfq);
		if (n < 0)
			log_limited(&dev->lim_read, LOG_ERR, "%s: receiving from nfqueue: %s",
			            dev->name, strerror(errno));
		if (n < DEVICE_BATCH)
			break;
	}
	if (n == DEVICE_BATCH) /* more waiting */
		device_flood_backlog(dev, sock);
}

void
device_flush(struct device *dev)
{
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_sock *sock = dev->queues[i].sock;
		if (sock != NULL && sock->dirty) {
			sock->dirty = false;
			nfqueue_flush(sock->nfq);
		}
	}
}

void
device_flush_all(struct device *dev)
{
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_sock *sock = dev->queues[i].sock;
		if (sock != NULL) {
			sock->dirty = false;
			nfqueue_flush_all(sock->nfq);
		}
	}
}

void
device_tun_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;

	(void)fd;
	(void)what;
	device_readback(dev, DEVICE_READ_MAX);
	device_flush(dev);
}

static void
device_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *dev = arg;
	uint64_t now = log_now_ns();

	(void)fd;
	(void)what;
	/*
	 * A copy the qdisc released decides its packet, never a timeout: read
	 * every copy waiting in the TUN ring before anything expires. After a
	 * stall (imqd stopped, a hook that ran long) the ring can hold far more
	 * than the wakeups that follow would read before this timer runs.
	 */
	if (dev->up && dev->tunfd >= 0 && pending_count(dev->held) > 0)
		device_readback(dev, (int)dev->conf->txqueuelen + DEVICE_READ_MAX);
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
	log_limit_flush(&dev->lim_mem);
	if (now >= dev->next_health_ns) {
		dev->next_health_ns = now + DEVICE_HEALTH_MS * DEVICE_MS;
		memset(dev->mtus, 0, sizeof(dev->mtus));
		/* Memory follows what is held: a table left large by a backlog shrinks. */
		if (pending_compact(dev->held) > 0) {
			log_debug("%s: held-packet table now has room for %zu", dev->name,
			          pending_capacity(dev->held));
			/* The freed arrays may sit inside the heap: hand their pages back too. */
			malloc_trim(0);
		}
		device_health(dev);
		device_count_quiet(dev);
	}
	if ((dev->timer_fast && dev->overtaken == 0) ||
	    dev->timer_beat != device_flood_beating(dev))
		device_timer_start(dev); /* to the tick it needs now */
	device_flood_tick(dev, now);
	/* Drops held back for a batch wait at most a tick. */
	device_flush_all(dev);
}

void
device_health_soon(struct device *dev)
{
	dev->next_health_ns = 0;
	if (dev->timer_ev != NULL)
		event_active(dev->timer_ev, EV_TIMEOUT, 0);
}

/*
 * How queue Q is bound under DEV's configuration. The kernel passes (or
 * drops) a packet by itself, counted nowhere, when its queue is full; so
 * imqd keeps queue-maxlen itself (device_stage) and gives the kernel room
 * for that many held packets (more, while a reload's shrink drains), the
 * drops held back for a batch verdict, and every message its receive
 * buffer can hold besides: the kernel's queue is
 * never full while imqd runs. What cannot reach imqd because the buffer is
 * full still takes a packet id, which imqd counts (device_count_in);
 * on-overflow decides it, as NFQA_CFG_F_FAIL_OPEN.
 */
struct nfqueue_params
device_params(const struct device *dev, const struct device_queue *q)
{
	const struct conf_device *cf = dev->conf;
	uint64_t held = q != NULL && q->c.held > cf->queue_maxlen ? q->c.held : cf->queue_maxlen;
	uint64_t maxlen = held + NFQUEUE_HOLD_DROPS + dev->nfq_slack;
	struct nfqueue_params p = {
	    .copy_range = cf->copy == CONF_COPY_HEADERS ? cf->copy_bytes
	                                                : (cf->gso ? DEVICE_GSO_MTU : cf->mtu),
	    .maxlen = maxlen > UINT32_MAX ? UINT32_MAX : (uint32_t)maxlen,
	    .fail_open = !device_kernel_drops(dev, q),
	    .gso = cf->gso,
	};
	return p;
}

static int device_sock_open(struct device *dev, struct device_queue *q);

int
device_bind(struct device *dev, struct device_queue *q)
{
	struct nfqueue_params params = device_params(dev, q);

	if (q->sock == NULL && device_sock_open(dev, q) < 0)
		return -1;
	if (nfqueue_bind(q->sock->nfq, q->num, &params) < 0) {
		if (errno == EPERM)
			log_err("%s: cannot bind NFQUEUE queue %u: another process has it",
			        dev->name, q->num);
		else
			log_warn("%s: cannot bind NFQUEUE queue %u", dev->name, q->num);
		return -1;
	}
	q->bound = true;
	device_drops_bound(dev, q);
	return 0;
}

int
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
		if (!kept) {
			device_sock_close(dev, &dev->queues[i]);
			stats_add(&dev->gone, &dev->queues[i].c);
		}
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

size_t
device_capacity(const struct conf_device *cf)
{
	return (size_t)cf->queue_maxlen * cf->nqueues;
}

/*
 * The longest message a queue can send up, and the receive buffer for its
 * full backlog: within the device's budget of 8 MB to 1 GB, shared by its
 * queues, and never below DEVICE_RCVBUF_MIN.
 */
int
device_nfq_sizes(struct device *dev, size_t *msgsize)
{
	size_t copy = dev->conf->copy == CONF_COPY_HEADERS ? dev->conf->copy_bytes : dev->maxlen;
	uint64_t n = dev->conf->nqueues > 0 ? dev->conf->nqueues : 1;
	uint64_t lo = (8u << 20) / n, hi = (1u << 30) / n;
	uint64_t rcvbuf = (uint64_t)dev->conf->queue_maxlen * (copy + 1024);

	if (lo < DEVICE_RCVBUF_MIN)
		lo = DEVICE_RCVBUF_MIN;
	if (hi < lo)
		hi = lo;
	if (rcvbuf < lo)
		rcvbuf = lo;
	if (rcvbuf > hi)
		rcvbuf = hi;
	*msgsize = copy + DEVICE_MSG_OVERHEAD;
	/* The kernel doubles the buffer asked for, and lets one message past it. */
	dev->nfq_slack = 2 * rcvbuf / DEVICE_MIN_TRUESIZE + 1;
	return (int)rcvbuf;
}

static void
device_nfq_verdict_cb(void *arg, uint16_t queue, uint32_t id, uint32_t verdict, bool set_mark,
                      uint32_t mark)
{
	struct device *dev = arg;
	struct device_queue *q = device_queue(dev, queue);

	/* Never: a queue's packets are all decided before its socket closes. */
	if (q == NULL || q->sock == NULL) {
		log_limited(&dev->lim_verdict, LOG_ERR,
		            "%s: a verdict for queue %u, which has no socket: its packet stays "
		            "queued until the queue is unbound",
		            dev->name, queue);
		return;
	}
	q->sock->dirty = true;
	nfqueue_verdict(q->sock->nfq, queue, id, verdict, set_mark, mark);
}

static int
device_sock_open(struct device *dev, struct device_queue *q)
{
	size_t msgsize;
	int rcvbuf = device_nfq_sizes(dev, &msgsize);
	struct device_sock *sock = calloc(1, sizeof(*sock));

	if (sock == NULL) {
		log_warn("%s: queue %u: no memory for its socket", dev->name, q->num);
		return -1;
	}
	sock->dev = dev;
	sock->num = q->num;
	struct nfqueue_ops ops = {
	    .packets = device_sock_packets_cb,
	    .error = device_nfq_error_cb,
	    .overrun = device_nfq_overrun_cb,
	    .arg = sock,
	};
	if ((sock->nfq = nfqueue_open(DEVICE_BATCH, msgsize, rcvbuf, &ops)) == NULL) {
		/* One line per 10 s: with no descriptors left, every queue after it fails too. */
		log_limited(&dev->lim_sock, LOG_WARNING,
		            "%s: cannot open an nfqueue socket for queue %u: %s", dev->name, q->num,
		            strerror(errno));
		free(sock);
		return -1;
	}
	q->sock = sock;
	sock->ev =
	    event_new(dev->base, nfqueue_fd(sock->nfq), EV_READ | EV_PERSIST, device_nfq_cb, sock);
	if (sock->ev == NULL || event_add(sock->ev, NULL) < 0) {
		log_warn("%s: cannot watch the nfqueue socket of queue %u", dev->name, q->num);
		device_sock_close(dev, q);
		return -1;
	}
	return 0;
}

void
device_sock_close(struct device *dev, struct device_queue *q)
{
	struct device_sock *sock = q->sock;

	if (sock == NULL)
		return;
	dev->batched_gone += nfqueue_batched(sock->nfq);
	device_flood_open(dev, q, true); /* and the watchdog lets go of its copy of the socket */
	q->c.flooded = 0; /* no buffer left to be cut: nothing for the totals to keep */
	if (sock->ev != NULL)
		event_free(sock->ev);
	nfqueue_close(sock->nfq);
	free(sock);
	q->sock = NULL;
}

/* CF is the device's section from now on: the parameters the datapath derives from it too. */
void
device_use_conf(struct device *dev, const struct conf_device *cf)
{
	dev->conf = cf;
	dev->maxlen = cf->gso ? DEVICE_GSO_MTU : cf->mtu;
	dev->plan.gso = cf->gso;
	dev->plan.overhead = cf->overhead;
	dev->plan.tunmtu = cf->gso ? DEVICE_GSO_MTU : cf->mtu + cf->overhead;
	if (dev->plan.tunmtu > DEVICE_GSO_MTU)
		dev->plan.tunmtu = DEVICE_GSO_MTU;
	memset(dev->mtus, 0, sizeof(dev->mtus));
}

/*
 * (Re)start the timer: every quarter of drop-timeout, between 10 and 250 ms;
 * every half reorder-window while packets are overtaken; every
 * WATCHDOG_BEAT_MS while a queue's fail-open is off.
 */
int
device_timer_start(struct device *dev)
{
	unsigned ms = dev->conf->drop_timeout_ms / 4;
	struct timeval tv;

	dev->timer_fast = dev->overtaken > 0 && dev->conf->reorder_window_ms > 0;
	if (dev->timer_fast && dev->conf->reorder_window_ms / 2 < ms)
		ms = dev->conf->reorder_window_ms / 2;
	dev->timer_beat = device_flood_beating(dev);
	if (dev->timer_beat && ms > WATCHDOG_BEAT_MS)
		ms = WATCHDOG_BEAT_MS;
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

struct device *
device_shard_open(struct event_base *base, const struct conf_device *cf)
{
	struct device *dev = calloc(1, sizeof(*dev));

	if (dev == NULL)
		return NULL;
	dev->base = base;
	dev->tunfd = -1;
	snprintf(dev->name, sizeof(dev->name), "%s", cf->name);
	device_use_conf(dev, cf);
	device_uring_open(dev);
	dev->held = pending_new(device_capacity(cf));
	if (dev->held == NULL)
		log_err("%s: no memory for the table of %zu packets it may hold (queue-maxlen %u x "
		        "%zu queues)",
		        dev->name, device_capacity(cf), cf->queue_maxlen, cf->nqueues);
	if (dev->held == NULL || device_set_queues(dev, cf) < 0 ||
	    device_late_size(dev, pending_capacity(dev->held)) < 0)
		goto fail;
	size_t msgsize;
	device_nfq_sizes(dev, &msgsize); /* nfq_slack, before any queue is bound */
	dev->sink = (struct verdict_sink){device_nfq_verdict_cb, dev};
	if (device_attach(dev) < 0 || device_timer_start(dev) < 0)
		goto fail;
	dev->up = true;
	return dev;
fail:
	device_shard_stop(dev, NULL, NULL);
	return NULL;
}

int
device_shard_bind(struct device *dev)
{
	const struct conf_device *cf = dev->conf;

	for (size_t i = 0; i < dev->nqueues; i++)
		if (device_bind(dev, &dev->queues[i]) < 0)
			return -1;
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
	device_hook(dev, cf->up, "up", -1);
	dev->hooked = true;
	return 0;
}

/* Let the kernel pass new packets itself, then answer everything it gave us. */
void
device_drain(struct device *dev, struct device_queue *q)
{
	struct nfqueue_params params = device_params(dev, q);

	params.maxlen = 0;
	params.fail_open = true;
	if (q->sock != NULL)
		nfqueue_set_params(q->sock->nfq, q->num, &params);
}

/*
 * Before a queue is drained (device_drain), pass what the kernel has
 * already queued to its socket: once drained, the kernel passes new packets
 * itself, and those would overtake the older ones still waiting there. After
 * the drain, read what the drained queue still has in the socket before it
 * is unbound (unbinding drops it). Q's socket, or with Q NULL every queue's.
 * Bounded: with traffic arriving as fast as it is passed a socket never
 * empties, but it never holds more messages than its buffer can
 * (nfq_slack), so that many are read.
 */
void
device_recv_queued(struct device *dev, struct device_queue *q)
{
	for (size_t i = 0; i < dev->nqueues; i++) {
		struct device_sock *sock = dev->queues[i].sock;
		size_t passes = dev->nfq_slack / DEVICE_BATCH + 2;
		if (q != NULL && q != &dev->queues[i])
			continue;
		while (sock != NULL && passes-- > 0 && nfqueue_recv(sock->nfq) > 0)
			;
	}
	device_flush(dev);
}

void
device_shard_stop(struct device *dev, int *keep_fd, struct stats_counters *last)
{
	if (last != NULL)
		memset(last, 0, sizeof(*last));
	if (dev == NULL)
		return;
	bool open = false;
	for (size_t i = 0; i < dev->nqueues; i++)
		open = open || dev->queues[i].sock != NULL;
	if (open) {
		/*
		 * Held packets first: they are older than any the kernel passes
		 * itself once drained, and would otherwise arrive behind them.
		 */
		device_release(dev, -1, STATS_FO_SHUTDOWN);
		device_flush(dev);
		dev->stopping = true;
		device_recv_queued(dev, NULL);
		for (size_t i = 0; i < dev->nqueues; i++)
			if (dev->queues[i].bound)
				device_drain(dev, &dev->queues[i]);
		for (size_t i = 0; i < dev->nqueues; i++)
			while (dev->queues[i].sock != NULL &&
			       nfqueue_recv(dev->queues[i].sock->nfq) > 0)
				;
		device_release(dev, -1, STATS_FO_SHUTDOWN);
		device_flush(dev);
		for (size_t i = 0; i < dev->nqueues; i++)
			if (dev->queues[i].bound) {
				device_count_trailing(dev, &dev->queues[i]);
				nfqueue_unbind(dev->queues[i].sock->nfq, dev->queues[i].num);
			}
	}
	for (size_t i = 0; i < dev->nqueues; i++)
		device_sock_close(dev, &dev->queues[i]);
	if (dev->timer_ev != NULL)
		event_free(dev->timer_ev);
	if (dev->tunfd >= 0 && !dev->conf->persist)
		tundev_persist(dev->tunfd, false);
	/*
	 * The down hook runs beside the loop, after the queues went: it keeps
	 * the TUN fd, so the device is there until it has ended.
	 */
	int keep = -1;
	if (dev->hooked && dev->conf != NULL && dev->conf->down != NULL) {
		keep = dev->tunfd;
		dev->tunfd = -1;
	} else if (keep_fd != NULL) {
		/* The caller runs the down hook, and keeps imqN until it has ended. */
		*keep_fd = dev->tunfd;
		dev->tunfd = -1;
	}
	device_detach(dev);
	if (dev->hooked && dev->conf != NULL)
		device_hook(dev, dev->conf->down, "down", keep);
	if (last != NULL)
		device_shard_totals(dev, last);
	inject_close(dev->inj);
	pending_free(dev->held);
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

bool
device_shard_complete(const struct device *dev)
{
	if (dev->incomplete)
		return false;
	for (size_t i = 0; i < dev->nqueues; i++)
		if (!dev->queues[i].bound)
			return false;
	return true;
}

void
device_shard_totals(const struct device *dev, struct stats_counters *out)
{
	*out = dev->gone;
	for (size_t i = 0; i < dev->nqueues; i++)
		stats_add(out, &dev->queues[i].c);
}

void
device_shard_view(struct device *dev, struct stats_device *out, uint32_t *hold_us, size_t *nhold)
{
	memset(out, 0, sizeof(*out));
	out->name = dev->name;
	/* partial: running short of its section (a queue not bound), until a retry or reload. */
	out->state = !dev->up                     ? (dev->tunfd < 0 ? "missing" : "down")
	             : device_shard_complete(dev) ? "up"
	                                          : "partial";
	out->total = dev->gone;
	for (size_t i = 0; i < dev->nqueues; i++) {
		dev->snap[i] = dev->queues[i].c;
		dev->snap_queues[i] = dev->queues[i].num;
		stats_add(&out->total, &dev->queues[i].c);
	}
	out->total.peak_held = dev->peak_held;
	out->queues = dev->snap_queues;
	out->nqueues = dev->nqueues;
	out->queue_counters = dev->snap;
	out->hold_hist = dev->hold_hist;
	out->stray = dev->stray;
	out->unmatched = dev->unmatched;
	out->verdicts_batched = dev->batched_gone;
	for (size_t i = 0; i < dev->nqueues; i++)
		if (dev->queues[i].sock != NULL)
			out->verdicts_batched += nfqueue_batched(dev->queues[i].sock->nfq);
	*nhold = dev->hold_n < DEVICE_HOLD_RING ? dev->hold_n : DEVICE_HOLD_RING;
	memcpy(hold_us, dev->hold_us, *nhold * sizeof(*hold_us));
}

/*
 * An imqN device as a set of shards (include/device.h's face). A shard
 * (struct device) runs some of the device's queues on one event loop: a
 * worker's, or the main loop's when there are no workers. A device without
 * multiqueue is one shard. A multiqueue device has one shard per worker
 * (device_split.c), each with a TX queue of imqN of its own: a BPF program
 * steers each copy to the TX queue of the shard that sent it (steer.c), and
 * shard k holds TX queue k, so the set attaches them in order, and takes
 * them away from the end. Such a set runs the device's hooks itself, once.
 *
 * Everything here runs on the main thread. A shard is only touched on its
 * worker's thread: through worker_call, which waits, so a shard's fields
 * are read here only between two calls, and its counters are summed here
 * from copies its worker made.
 */
#include "device_int.h"

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"
#include "steer.h"
#include "worker.h"

struct set_shard {
	struct device *dev;
	struct worker *w; /* NULL: the main loop */
	/*
	 * Its section (the device's, with its block of queues) and the one the
	 * reload under way gives it: the shard reads the first until it takes
	 * the second, so a reload allocates nothing for it.
	 */
	struct conf_device sec[2];
	int cur;
	uint64_t cookie; /* of its packet socket, in the steering map; 0: not there */
};

struct imqdev {
	char name[CONF_IFNAMSIZ];
	struct event_base *base;
	const struct conf_device *conf;
	bool mq;      /* multiqueue as it started: a reload does not change it */
	bool steered; /* several shards: copies steered to each one's TX queue, hooks run here */
	bool hooked;  /* steered: the up hook ran here */
	bool steer_failed;        /* the last start failed for want of steering */
	struct set_shard *shards; /* shard k holds TX queue k; room for one per worker */
	size_t nshards;
	size_t room;
	size_t nnext;               /* shards once the reload under way is done */
	struct stats_counters gone; /* counters of the shards reloads took away */
	/* device_snapshot's views */
	struct stats_counters *snap;
	uint16_t *snap_queues;
	size_t snap_room;
	uint32_t *hold;
	char qdisc[32];
	struct imqdev *next_live;
	/* The device's TX dropped: copies lost in its ring (device_check_ring). */
	uint64_t ring_dropped;
	uint64_t ring_total;    /* logged so far */
	uint64_t ring_check_ns; /* when it was last read */
	uint64_t ring_log_ns;   /* when the last line about it went out */
	uint64_t ring_unlogged; /* copies lost since */
};

static struct imqdev *set_live; /* every device that runs, for calls deferred by workers */
static size_t *set_load;        /* queues each worker has */

/* Queues each worker has, allocated on first use; NULL when there are no workers. */
static size_t *
set_loads(void)
{
	if (set_load == NULL && worker_count() > 0)
		set_load = calloc(worker_count(), sizeof(*set_load));
	return set_load;
}

static bool
set_is_live(const struct imqdev *set)
{
	for (const struct imqdev *s = set_live; s != NULL; s = s->next_live)
		if (s == set)
			return true;
	return false;
}

/* Shards the device has under CD: one, or one per worker with multiqueue (if steering works). */
static size_t
set_plan(struct imqdev *set, const struct conf_device *cd)
{
	size_t n = set->mq ? device_split_count(cd->nqueues, worker_count()) : 1;

	if (n > 1 && !steer_ready() && steer_init() < 0) {
		log_warn("%s: multiqueue: cannot load the program that steers copies to TX "
		         "queues (it needs CAP_BPF); its queues share one worker and one tree",
		         set->name);
		n = 1;
	} else if (set->mq && n == 1 && cd->nqueues > 1)
		log_notice("%s: multiqueue: one tree only, as the datapath runs on the main loop "
		           "(workers = 1 in [global], or one CPU); workers take effect at start",
		           set->name);
	return n;
}

/* Shard K's section, and the one the reload under way gives it. */
static struct conf_device *
set_cf(struct imqdev *set, size_t k)
{
	return &set->shards[k].sec[set->shards[k].cur];
}

static struct conf_device *
set_next(struct imqdev *set, size_t k)
{
	return &set->shards[k].sec[!set->shards[k].cur];
}

/*
 * Fill CF with shard K's section when CD's device has N shards: CD with its
 * block of queues (a run of CD's own sorted list), and no hooks when the
 * set runs them.
 */
static struct conf_device *
set_section(struct conf_device *cf, const struct imqdev *set, const struct conf_device *cd,
            size_t k, size_t n)
{
	size_t first, len;

	*cf = *cd;
	cf->next = NULL;
	cf->multiqueue = set->mq;
	device_split_block(cd->nqueues, n, k, &first, &len);
	cf->queues = cd->queues + first;
	cf->nqueues = len;
	if (n > 1)
		cf->up = cf->down = NULL;
	return cf;
}

/* Run the device's hook ARGV (steered sets: once for all shards), with every queue in it. */
static void
set_hook(struct imqdev *set, char **argv, const char *what, int keep_fd)
{
	const struct conf_device *cd = set->conf;

	hook_run(argv, what, set->name, cd->queues, cd->nqueues, cd->hook_timeout_ms, keep_fd);
}

/* What a call on a shard's worker works on. */
struct set_call {
	struct imqdev *set;
	size_t k;
	const struct conf_device *cf;
	int ret;
	bool attached; /* set_attach_cb: the shard attached imqN again */
	bool want_fd;  /* set_stop_cb: hand the TUN fd over in keep_fd */
	int keep_fd;
	struct stats_counters c;
	struct stats_device view;
	uint32_t *hold;
	size_t nhold;
};

static void
set_open_cb(void *arg)
{
	struct set_call *c = arg;
	struct set_shard *sh = &c->set->shards[c->k];
	struct device *dev = device_shard_open(worker_base(sh->w), c->cf);

	c->ret = -1;
	if (dev == NULL)
		return;
	sh->dev = dev;
	dev->set = c->set;
	dev->attach_by_set = c->set->steered;
	sh->cookie = inject_cookie(dev->inj);
	/* Before any other TX queue exists: no copy goes where no shard reads. */
	if (c->set->steered && c->k == 0 && steer_attach(dev->tunfd) < 0) {
		log_warn("%s: cannot attach the steering program to the device", dev->name);
		c->set->steer_failed = true;
		return;
	}
	c->ret = 0;
}

static void
set_bind_cb(void *arg)
{
	struct set_call *c = arg;

	c->ret = device_shard_bind(c->set->shards[c->k].dev);
}

static void
set_stop_cb(void *arg)
{
	struct set_call *c = arg;

	c->keep_fd = -1;
	device_shard_stop(c->set->shards[c->k].dev, c->want_fd ? &c->keep_fd : NULL, &c->c);
}

static bool
set_same_queues(const struct conf_device *a, const struct conf_device *b)
{
	return a->nqueues == b->nqueues &&
	       memcmp(a->queues, b->queues, a->nqueues * sizeof(*a->queues)) == 0;
}

/* Log where shard K runs, and for a steered set which tree it feeds. */
static void
set_placed(const struct imqdev *set, size_t k)
{
	const struct set_shard *sh = &set->shards[k];
	char qs[128] = "";
	FILE *f = fmemopen(qs, sizeof(qs) - 1, "w");

	if (f != NULL) {
		conf_print_queues(f, &sh->sec[sh->cur]);
		fclose(f);
	}
	const char *what = sh->sec[sh->cur].nqueues == 1 ? "queue" : "queues";
	if (set->steered)
		log_notice("%s: TX queue %zu takes %s %s on worker %zu (its tree: the qdisc "
		           "under class :%zx of an mq root qdisc)",
		           set->name, k, what, qs, worker_index(sh->w), k + 1);
	else if (sh->w != NULL)
		log_info("%s: %s %s on worker %zu", set->name, what, qs, worker_index(sh->w));
}

/* Open shard K of N under CD on the worker with the fewest queues; 0 or -1 (logged). */
static int
set_shard_open(struct imqdev *set, const struct conf_device *cd, size_t k, size_t n)
{
	struct set_shard *sh = &set->shards[k];
	size_t *load = set_loads(), nw = worker_count();
	struct set_call c = {.set = set, .k = k};

	const struct conf_device *cf = set_section(set_cf(set, k), set, cd, k, n);
	if (nw > 0 && load != NULL) {
		/* A device's shards on different workers. */
		bool taken[nw];
		memset(taken, 0, sizeof(taken));
		for (size_t i = 0; i < k; i++)
			taken[worker_index(set->shards[i].w)] = true;
		sh->w = worker_get(device_split_worker(load, taken, nw));
	}
	c.cf = cf;
	worker_call(sh->w, set_open_cb, &c);
	if (sh->dev == NULL)
		return -1;
	set->nshards = k + 1;
	if (load != NULL)
		load[worker_index(sh->w)] += cf->nqueues;
	if (c.ret < 0)
		return -1;
	if (set->steered && steer_set(sh->cookie, (uint32_t)k) < 0) {
		log_warn("%s: cannot steer the copies of TX queue %zu", set->name, k);
		set->steer_failed = true;
		return -1;
	}
	set_placed(set, k);
	return 0;
}

/* Stop the last shard; KEEP_FD (NULL: none) takes its TUN fd for the set's down hook. */
static void
set_shard_stop(struct imqdev *set, int *keep_fd)
{
	struct set_shard *sh = &set->shards[set->nshards - 1];
	struct set_call c = {.set = set, .k = set->nshards - 1, .want_fd = keep_fd != NULL};

	worker_call(sh->w, set_stop_cb, &c);
	/* A reload that takes a shard away keeps what its queues did in the device's totals. */
	stats_add(&set->gone, &c.c);
	if (keep_fd != NULL)
		*keep_fd = c.keep_fd;
	if (sh->cookie != 0)
		steer_clear(sh->cookie);
	if (set_load != NULL && sh->w != NULL)
		set_load[worker_index(sh->w)] -= sh->sec[sh->cur].nqueues;
	memset(sh, 0, sizeof(*sh));
	set->nshards--;
}

/* Open and bind N shards under CD; 0 or -1 (logged; what started is left for device_stop). */
static int
set_start_shards(struct imqdev *set, const struct conf_device *cd, size_t n)
{
	/* Room for the most shards a reload can give it, so that shards never move. */
	set->room = worker_count() > n ? worker_count() : n;
	set->shards = calloc(set->room, sizeof(*set->shards));
	if (set->shards == NULL)
		return -1;
	set->steered = n > 1;
	set->nnext = n;
	for (size_t k = 0; k < n; k++)
		if (set_shard_open(set, cd, k, n) < 0)
			return -1;
	for (size_t k = 0; k < n; k++) {
		struct set_call c = {.set = set, .k = k};
		worker_call(set->shards[k].w, set_bind_cb, &c);
		if (c.ret < 0)
			return -1;
	}
	if (set->steered) {
		set_hook(set, cd->up, "up", -1);
		set->hooked = true;
	}
	return 0;
}

/* Stop every shard, the last first, and run a steered set's down hook. */
static void
set_stop_shards(struct imqdev *set)
{
	int keep = -1;

	while (set->nshards > 0)
		set_shard_stop(set, set->nshards == 1 && set->steered ? &keep : NULL);
	if (set->steered && set->hooked)
		set_hook(set, set->conf->down, "down", keep);
	else if (keep >= 0)
		close(keep);
	set->hooked = false;
	free(set->shards);
	set->shards = NULL;
}

struct imqdev *
device_start(struct event_base *base, const struct conf_device *cd)
{
	struct imqdev *set = calloc(1, sizeof(*set));

	if (set == NULL)
		return NULL;
	snprintf(set->name, sizeof(set->name), "%s", cd->name);
	set->base = base;
	set->conf = cd;
	set->mq = cd->multiqueue;
	int ret = set_start_shards(set, cd, set_plan(set, cd));
	if (ret < 0 && set->steer_failed) {
		log_warnx("%s: multiqueue: copies cannot be steered to TX queues; its queues share "
		          "one worker and one tree",
		          set->name);
		set_stop_shards(set);
		set->steer_failed = false;
		ret = set_start_shards(set, cd, 1);
	}
	if (ret < 0) {
		set_stop_shards(set);
		free(set);
		return NULL;
	}
	/* Its ring's losses count from here on: a device reattached may have some from before. */
	if (tundev_tx_dropped(set->name, &set->ring_dropped) < 0)
		set->ring_dropped = 0;
	set->next_live = set_live;
	set_live = set;
	return set;
}

/*
 * Add the copies imqN dropped since the last reading to those not logged
 * yet. A device that went away and came back is a new one (imqd makes it):
 * its count starts at 0, and what the old one lost after the last reading
 * is not known.
 */
static void
set_ring_read(struct imqdev *set)
{
	uint64_t dropped;

	if (tundev_tx_dropped(set->name, &dropped) < 0) {
		/* Only a device that is gone starts over: a reading that failed otherwise (no
		 * descriptor, say) must not count the whole of it again next time. */
		if (errno == ENODEV)
			set->ring_dropped = 0;
		return;
	}
	set->ring_unlogged += dropped >= set->ring_dropped ? dropped - set->ring_dropped : dropped;
	set->ring_dropped = dropped;
}

/* Log the copies not logged yet: at once (NOW 0), or if the last line is DEVICE_LOG_NS old. */
static void
set_ring_log(struct imqdev *set, uint64_t now)
{
	if (set->ring_unlogged == 0 ||
	    (now != 0 && set->ring_log_ns != 0 && now - set->ring_log_ns < DEVICE_LOG_NS))
		return;
	set->ring_total += set->ring_unlogged;
	log_warnx("%s: %" PRIu64 " copies the qdisc released found no room in the device's ring "
	          "(txqueuelen %u) before imqd read them (%" PRIu64 " in all); their packets "
	          "count as dropped_order, or dropped_timeout for a flow's last (a larger "
	          "txqueuelen holds more)",
	          set->name, set->ring_unlogged, set->conf->txqueuelen, set->ring_total);
	set->ring_log_ns = now != 0 ? now : log_now_ns();
	set->ring_unlogged = 0;
}

void
device_check_ring(struct imqdev *set)
{
	uint64_t now = log_now_ns();

	if (set->ring_check_ns != 0 && now - set->ring_check_ns < DEVICE_HEALTH_MS * DEVICE_MS)
		return;
	set->ring_check_ns = now;
	set_ring_read(set);
	/* The first loss at once, then at most a line per DEVICE_LOG_NS with their sum. */
	set_ring_log(set, now);
}

void
device_stop(struct imqdev *set)
{
	if (set == NULL)
		return;
	for (struct imqdev **p = &set_live; *p != NULL; p = &(*p)->next_live)
		if (*p == set) {
			*p = set->next_live;
			break;
		}
	/* What its ring lost since the last line, while the device is still there to ask. */
	set_ring_read(set);
	set_ring_log(set, 0);
	set_stop_shards(set);
	free(set->snap);
	free(set->snap_queues);
	free(set->hold);
	free(set);
}

static void
set_release_cb(void *arg)
{
	struct set_call *c = arg;

	device_shard_release_queues(c->set->shards[c->k].dev, c->cf);
}

void
device_release_queues(struct imqdev *set, const struct conf_device *cd)
{
	size_t n = set_plan(set, cd);

	/* Shards the reload takes away go first, the last first: the TX queues of the others stay.
	 */
	while (set->nshards > n)
		set_shard_stop(set, NULL);
	set->nnext = n;
	for (size_t k = 0; k < set->nshards; k++) {
		struct set_call c = {.set = set, .k = k};
		c.cf = set_section(set_next(set, k), set, cd, k, n);
		worker_call(set->shards[k].w, set_release_cb, &c);
	}
}

static void
set_update_cb(void *arg)
{
	struct set_call *c = arg;
	struct device *dev = c->set->shards[c->k].dev;

	dev->attach_by_set = c->set->steered;
	/* A set steered from now on: copies are steered before a second TX queue appears. */
	if (c->set->steered && c->k == 0 && dev->tunfd >= 0 && steer_attach(dev->tunfd) < 0)
		log_warn("%s: cannot attach the steering program to the device", dev->name);
	c->ret = device_shard_update(dev, c->cf);
}

static void
set_conf_cb(void *arg)
{
	struct set_call *c = arg;

	device_shard_set_conf(c->set->shards[c->k].dev, c->cf);
}

/* Shard K took its next section: its worker's count of queues follows. */
static void
set_took_next(struct imqdev *set, size_t k)
{
	struct set_shard *sh = &set->shards[k];

	if (set_load != NULL && sh->w != NULL)
		set_load[worker_index(sh->w)] +=
		    set_next(set, k)->nqueues - set_cf(set, k)->nqueues;
	sh->cur = !sh->cur;
}

int
device_update(struct imqdev *set, const struct conf_device *cd)
{
	int ret = 0;

	if (cd->multiqueue != set->mq)
		log_warnx("%s: multiqueue = %s takes effect when imqd restarts, or when the device "
		          "leaves the configuration and comes back; until then it stays %s",
		          set->name, cd->multiqueue ? "yes" : "no", set->mq ? "yes" : "no");
	set->conf = cd;
	if (set->nnext == 0)
		set->nnext = set_plan(set, cd);
	bool was = set->steered;
	set->steered = set->nnext > 1;
	for (size_t k = 0; k < set->nshards; k++) {
		struct set_call c = {.set = set, .k = k};
		c.cf = set_section(set_next(set, k), set, cd, k, set->nnext);
		worker_call(set->shards[k].w, set_update_cb, &c);
		set_took_next(set, k);
		if (c.ret < 0)
			ret = -1;
		/* Its block of queues changed: say which it takes now, as at start. */
		if (!set_same_queues(set_cf(set, k), set_next(set, k)))
			set_placed(set, k);
	}
	/* Hooks change hands: a steered set runs them, a single shard itself. */
	if (set->steered && !was) {
		set->hooked = true;
		for (size_t k = 0; k < set->nshards; k++)
			if (steer_set(set->shards[k].cookie, (uint32_t)k) < 0)
				log_warn("%s: cannot steer the copies of TX queue %zu", set->name,
				         k);
	}
	for (size_t k = set->nshards; k < set->nnext; k++) {
		struct set_call c = {.set = set, .k = k};
		if (set_shard_open(set, cd, k, set->nnext) < 0) {
			ret = -1;
			break;
		}
		worker_call(set->shards[k].w, set_bind_cb, &c);
		if (c.ret < 0)
			ret = -1;
	}
	return ret;
}

void
device_set_conf(struct imqdev *set, const struct conf_device *cd)
{
	set->conf = cd;
	for (size_t k = 0; k < set->nshards; k++) {
		struct set_call c = {.set = set, .k = k};
		c.cf = set_section(set_next(set, k), set, cd, k, set->nshards);
		worker_call(set->shards[k].w, set_conf_cb, &c);
		set_took_next(set, k);
	}
}

const char *
device_name(const struct imqdev *set)
{
	return set->name;
}

static void
set_complete_cb(void *arg)
{
	struct set_call *c = arg;

	c->ret = device_shard_complete(c->set->shards[c->k].dev);
}

bool
device_complete(struct imqdev *set)
{
	/* A shard a reload could not start is missing: the next reload starts it. */
	if (set->nshards < set->nnext)
		return false;
	for (size_t k = 0; k < set->nshards; k++) {
		struct set_call c = {.set = set, .k = k};
		worker_call(set->shards[k].w, set_complete_cb, &c);
		if (!c.ret)
			return false;
	}
	return true;
}

static void
set_totals_cb(void *arg)
{
	struct set_call *c = arg;

	device_shard_totals(c->set->shards[c->k].dev, &c->c);
}

void
device_totals(struct imqdev *set, struct stats_counters *out)
{
	*out = set->gone;
	for (size_t k = 0; k < set->nshards; k++) {
		struct set_call c = {.set = set, .k = k};
		worker_call(set->shards[k].w, set_totals_cb, &c);
		stats_add(out, &c.c);
	}
}

static void
set_view_cb(void *arg)
{
	struct set_call *c = arg;

	device_shard_view(c->set->shards[c->k].dev, &c->view, c->hold, &c->nhold);
}

static int
set_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentiles of the N hold times at V (sorted here). */
static void
set_hold_stats(uint32_t *v, size_t n, struct stats_hold *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), set_cmp_u32);
	out->p50_us = v[(n - 1) / 2];
	out->p99_us = v[(n - 1) * 99 / 100];
	out->max_us = v[n - 1];
}

/* Room in the views for N queues; 0 or -1. */
static int
set_view_room(struct imqdev *set, size_t n)
{
	if (n > set->snap_room) {
		struct stats_counters *c = realloc(set->snap, n * sizeof(*c));
		if (c != NULL)
			set->snap = c;
		uint16_t *q = realloc(set->snap_queues, n * sizeof(*q));
		if (q != NULL)
			set->snap_queues = q;
		if (c == NULL || q == NULL)
			return -1;
		set->snap_room = n;
	}
	return 0;
}

/* Add shard view V to the device's OUT, its queues from index AT on. */
static void
set_view_add(struct imqdev *set, const struct stats_device *v, size_t at, struct stats_device *out)
{
	memcpy(set->snap + at, v->queue_counters, v->nqueues * sizeof(*set->snap));
	memcpy(set->snap_queues + at, v->queues, v->nqueues * sizeof(*set->snap_queues));
	/* peak_held too: the sum of the shards' peaks, at least the device's (they need not
	 * coincide). */
	stats_add(&out->total, &v->total);
	for (size_t b = 0; b <= STATS_HOLD_BOUNDS; b++)
		out->hold_hist.bucket[b] += v->hold_hist.bucket[b];
	out->hold_hist.sum_us += v->hold_hist.sum_us;
	out->stray += v->stray;
	out->unmatched += v->unmatched;
	out->verdicts_batched += v->verdicts_batched;
	/* A shard down or missing says more than one short of a queue. */
	if (strcmp(v->state, "up") != 0 && strcmp(out->state, "down") != 0 &&
	    strcmp(out->state, "missing") != 0)
		out->state = v->state;
}

void
device_snapshot(struct imqdev *set, struct stats_device *out)
{
	struct set_call c[set->nshards > 0 ? set->nshards : 1];
	size_t nq = 0, nhold = 0;

	memset(out, 0, sizeof(*out));
	out->name = set->name;
	out->state = "up";
	out->qdisc = "";
	if (set->hold == NULL)
		set->hold = calloc(set->room * DEVICE_HOLD_RING, sizeof(*set->hold));
	if (set->hold == NULL) {
		log_err("%s: out of memory for its counters", set->name);
		out->state = "unknown";
		return;
	}
	/* The views point into each shard's copies, which only a view or a reload rewrites. */
	for (size_t k = 0; k < set->nshards; k++) {
		c[k] = (struct set_call){.set = set, .k = k, .hold = set->hold + nhold};
		worker_call(set->shards[k].w, set_view_cb, &c[k]);
		nq += c[k].view.nqueues;
		nhold += c[k].nhold;
	}
	if (set_view_room(set, nq) < 0) {
		log_err("%s: out of memory for its counters", set->name);
		out->state = "unknown";
		return;
	}
	nq = 0;
	out->total = set->gone;
	/* A shard a reload could not start leaves the device short of its section. */
	if (set->nshards < set->nnext)
		out->state = "partial";
	for (size_t k = 0; k < set->nshards; k++) {
		set_view_add(set, &c[k].view, nq, out);
		nq += c[k].view.nqueues;
	}
	out->queues = set->snap_queues;
	out->queue_counters = set->snap;
	out->nqueues = nq;
	set_hold_stats(set->hold, nhold, &out->hold);
	tundev_qdisc((int)if_nametoindex(set->name), set->qdisc, sizeof(set->qdisc));
	out->qdisc = set->qdisc;
}

static void
set_attach_cb(void *arg)
{
	struct set_call *c = arg;
	struct device *dev = c->set->shards[c->k].dev;
	int ifindex;
	enum tundev_state state = tundev_state(dev->name, &ifindex);

	c->ret = 0;
	if (state == TUNDEV_UNKNOWN) {
		c->ret = -1; /* the next health check asks again */
		return;
	}
	if (dev->tunfd >= 0 && state != TUNDEV_MISSING && ifindex == dev->ifindex)
		return;
	/* Gone with the device it was attached to: nothing it holds comes back. */
	if (dev->up)
		log_info("%s: TX queue %zu: device is gone", dev->name, c->k);
	dev->up = false;
	device_release(dev, -1, STATS_FO_DEVICE_DOWN);
	device_flush(dev);
	device_detach(dev);
	if (device_attach(dev) < 0) {
		c->ret = -1;
		return;
	}
	if (c->k == 0 && steer_attach(dev->tunfd) < 0)
		log_warn("%s: cannot attach the steering program to the device", dev->name);
	dev->up = true;
	c->attached = true;
	log_notice("%s: TX queue %zu attached again, shaping resumed", dev->name, c->k);
}

/*
 * Attach every shard of a steered set that is not attached to imqN, in
 * order: a shard that opens imqN gets the next TX queue, so shard k gets
 * TX queue k only when shards 0 to k-1 have theirs. What cannot be attached
 * now, and the shards after it, wait for the next health check.
 */
static void
set_reattach_cb(void *arg)
{
	struct imqdev *set = arg;
	bool created = false;

	if (!set_is_live(set) || !set->steered)
		return;
	for (size_t k = 0; k < set->nshards; k++) {
		struct set_call c = {.set = set, .k = k};
		worker_call(set->shards[k].w, set_attach_cb, &c);
		if (c.ret < 0)
			break;
		created = created || (k == 0 && c.attached);
	}
	if (created)
		set_hook(set, set->conf->up, "up", -1);
}

void
device_set_lost(struct device *dev)
{
	if (worker_defer(set_reattach_cb, dev->set) < 0)
		log_warn("%s: cannot ask for the device to be attached again", dev->name);
}

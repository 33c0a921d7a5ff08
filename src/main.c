/* imqd: options, start-up order, event loop, signals, reload. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "ctl.h"
#include "device.h"
#include "hook.h"
#include "log.h"
#include "memlimit.h"
#include "notify.h"
#include "pending.h"
#include "privs.h"
#include "rules.h"
#include "stats.h"
#include "steer.h"
#include "tcview.h"
#include "watchdog.h"
#include "worker.h"

#define MAIN_MAX_DEVICES CTL_MAX_DEVICES
#define MAIN_MEM_RESERVE (16u << 20) /* memory for all but the held-packet tables */
#define MAIN_MEM_MIN (1u << 20)      /* the tables' budget, at least */
#define MAIN_RETRY_FIRST_S 1         /* what a reload could not apply: tried again after */
#define MAIN_RETRY_MAX_S 60          /* doubling up to this */

struct imqd {
	struct event_base *base;
	const char *path;
	struct conf *conf;
	struct conf *started; /* the one imqd started with: socket, group and user stay its */
	struct imqdev *devs[MAIN_MAX_DEVICES];
	size_t ndevs;
	struct ctl *ctl;
	struct event *metrics_ev;
	bool metrics_failing; /* the last write failed: said once, until one succeeds */
	struct event *status_ev;
	struct event *retry_ev;
	unsigned retry_s; /* the wait before the next retry */
	int verbose;
};

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: imqd [-htTvV] [-c file]\n"
	        "  -c, --config FILE     configuration file (default %s)\n"
	        "  -t, --check           check the configuration and exit\n"
	        "  -T, --print-config    print the effective configuration and exit\n"
	        "  -v, --verbose         log more (repeat for debug)\n"
	        "  -V, --version         print the version and exit\n"
	        "  -h, --help            this help\n",
	        IMQD_CONF_PATH);
}

static int
main_level(const struct imqd *imqd, const struct conf *conf)
{
	int level = conf->log_level + imqd->verbose;

	return level > LOG_DEBUG ? LOG_DEBUG : level;
}

static struct imqdev *
main_find(struct imqd *imqd, const char *name, size_t *idx)
{
	for (size_t i = 0; i < imqd->ndevs; i++) {
		if (strcmp(device_name(imqd->devs[i]), name) == 0) {
			if (idx != NULL)
				*idx = i;
			return imqd->devs[i];
		}
	}
	return NULL;
}

/* Each line of TEXT to the log at PRI, and to ERROUT (the imqctl client) if not NULL. */
static void
main_log_lines(char *text, int pri, FILE *errout)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		log_msg(pri, "%s", line);
		if (errout != NULL)
			fprintf(errout, "%s\n", line);
	}
}

/*
 * Load and verify the file, logging every error; NULL if it is not valid
 * (errno EINVAL) or could not be read or checked (errno says why).
 * STARTED: the configuration imqd started with, for a reload.
 */
static struct conf *
main_load(const char *path, const struct conf *started, FILE *errout)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct conf *conf;
	int why = 0;

	if (mem == NULL)
		return NULL;
	if ((conf = conf_load(path, mem)) == NULL)
		why = errno;
	if (conf != NULL && conf_verify(conf, started, mem) < 0) {
		why = errno;
		conf_free(conf);
		conf = NULL;
	}
	fclose(mem);
	if (text != NULL)
		main_log_lines(text, LOG_ERR, errout);
	free(text);
	errno = why;
	return conf;
}

/* Why main_load returned NULL, for the log: errno EINVAL is a file with errors. */
static const char *
main_load_failure(int err)
{
	return err == EINVAL ? "configuration not valid" : strerror(err);
}

/* For -t: what imqd works around at run time (conf_verify_warn), through the log. */
static void
main_warn(const struct conf *conf)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (mem == NULL)
		return;
	conf_verify_warn(conf, mem);
	fclose(mem);
	if (text != NULL)
		main_log_lines(text, LOG_WARNING, NULL);
	free(text);
}

/*
 * The held-packet tables may take half of the memory the process may use
 * beyond MAIN_MEM_RESERVE: a backlog that would take more fails open (or is
 * dropped, with on-error = drop) rather than get imqd killed by its memory
 * limit. Read again at each reload: a limit set since then counts.
 */
static void
main_budget(const struct conf *conf)
{
	uint64_t limit = memlimit_bytes();
	uint64_t bytes = limit > MAIN_MEM_RESERVE ? (limit - MAIN_MEM_RESERVE) / 2 : 0;
	size_t want = 0;

	if (bytes < MAIN_MEM_MIN)
		bytes = MAIN_MEM_MIN;
	pending_set_budget(bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes);
	for (const struct conf_device *cd = conf->devices; cd != NULL; cd = cd->next)
		want += (size_t)cd->queue_maxlen * cd->nqueues;
	if (want > pending_budget_slots())
		log_notice(
		    "memory limit %llu MB: imqd holds at most %zu packets in all (queue-maxlen "
		    "allows %zu); more are passed unshaped (no_buffer), or dropped with "
		    "on-error = drop",
		    (unsigned long long)(limit >> 20), pending_budget_slots(), want);
}

/*
 * A socket per queue: many queues take more descriptors than the usual soft
 * limit of 1024. Take what the hard limit allows (the loop uses epoll, not
 * select); hooks get back the limit imqd started with (hook_init keeps it).
 */
static void
main_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_debug("open files: limit raised from %llu to %llu", (unsigned long long)was,
		          (unsigned long long)rl.rlim_max);
}

/*
 * At exit: stop every device, then the workers (what they left for the main
 * loop runs), then run the down hooks that queued, and wait for them.
 */
static void
main_stop_devices(struct imqd *imqd)
{
	while (imqd->ndevs > 0) {
		device_stop(imqd->devs[--imqd->ndevs]);
	}
	worker_stop();
	hook_finish();
}

/*
 * Worker threads for CONF: workers, or one per CPU imqd may run on but no
 * more than there are shards to run: a device without multiqueue is one
 * shard, a multiqueue device at most one per queue. One runs the datapath
 * on the main loop, as imqd always did.
 */
static size_t
main_workers(const struct conf *conf)
{
	size_t n = conf->workers, shards = 0;

	if (n == 0) {
		cpu_set_t set;
		long cpus = sched_getaffinity(0, sizeof(set), &set) == 0
		                ? CPU_COUNT(&set)
		                : sysconf(_SC_NPROCESSORS_ONLN);
		for (const struct conf_device *cd = conf->devices; cd != NULL; cd = cd->next)
			shards += cd->multiqueue ? cd->nqueues : 1;
		n = cpus > 0 ? (size_t)cpus : 1;
		if (n > shards)
			n = shards;
	}
	return n > 1 ? n : 0;
}

static void
main_privs_prepare_cb(void *arg)
{
	if (privs_thread_prepare() < 0)
		*(int *)arg = errno;
}

static void
main_privs_finish_cb(void *arg)
{
	if (privs_thread_finish() < 0)
		*(int *)arg = errno;
}

/*
 * Switch to USER on every thread. The user's ids change on all threads at
 * once, but each thread keeps capabilities of its own: a worker left out
 * would lose them all, and the kernel would refuse its verdicts, its queue
 * bindings and its packet sockets. Returns what privs_drop returns.
 */
static int
main_privs_drop(const char *user)
{
	int err = 0;
	bool switching = privs_will_switch(user);

	for (size_t i = 0; switching && i < worker_count(); i++)
		worker_call(worker_get(i), main_privs_prepare_cb, &err);
	if (err != 0) {
		log_err("cannot limit the capabilities of the worker threads: %s", strerror(err));
		return -1;
	}
	int rc = privs_drop(user);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < worker_count(); i++)
		worker_call(worker_get(i), main_privs_finish_cb, &err);
	if (err != 0) {
		log_err("worker threads cannot keep CAP_NET_ADMIN and CAP_NET_RAW: %s",
		        strerror(err));
		return -1;
	}
	return 0;
}

static int
main_start_device(struct imqd *imqd, const struct conf_device *cd)
{
	struct imqdev *dev;

	if (imqd->ndevs == MAIN_MAX_DEVICES) {
		log_err("%s: too many devices", cd->name);
		return -1;
	}
	dev = device_start(imqd->base, cd);
	if (dev == NULL)
		return -1;
	imqd->devs[imqd->ndevs++] = dev;
	return 0;
}

/* A reload to CD changes the running device DEV. */
static bool
main_changes(const struct imqd *imqd, struct imqdev *dev, const struct conf_device *cd)
{
	return conf_device_changed(conf_device_find(imqd->conf, cd->name), cd) ||
	       !device_complete(dev);
}

/*
 * Apply NEXT in place. A device that cannot be started or changed in full
 * is named on ERROUT (the imqctl client, if any) and the rest still applies.
 * A queue that moves from one device to another passes unshaped between its
 * release and its bind, so little may happen in between: removed devices
 * stop (hooks, TUN devices) before any queue is released, and new devices
 * start last.
 */
static int
main_apply(struct imqd *imqd, struct conf *next, FILE *errout)
{
	int ret = 0;

	for (size_t i = imqd->ndevs; i-- > 0;) {
		const char *name = device_name(imqd->devs[i]);
		if (conf_device_find(next, name) != NULL)
			continue;
		log_notice("%s: removed from the configuration", name);
		device_stop(imqd->devs[i]);
		imqd->devs[i] = imqd->devs[--imqd->ndevs];
	}
	for (size_t i = 0; i < imqd->ndevs; i++)
		device_release_queues(imqd->devs[i],
		                      conf_device_find(next, device_name(imqd->devs[i])));
	for (const struct conf_device *cd = next->devices; cd != NULL; cd = cd->next) {
		struct imqdev *dev = main_find(imqd, cd->name, NULL);
		if (dev == NULL)
			continue;
		if (!main_changes(imqd, dev, cd)) {
			device_set_conf(dev, cd);
		} else if (device_update(dev, cd) != 0) {
			if (errout != NULL)
				fprintf(errout, "%s: could not be changed in full (running)\n",
				        cd->name);
			ret = -1;
		}
	}
	for (const struct conf_device *cd = next->devices; cd != NULL; cd = cd->next) {
		if (main_find(imqd, cd->name, NULL) != NULL || main_start_device(imqd, cd) == 0)
			continue;
		log_err("%s: not started; its queues stay unbound until it starts (imqd tries "
		        "again)",
		        cd->name);
		if (errout != NULL)
			fprintf(errout, "%s: could not be started (not running)\n", cd->name);
		ret = -1;
	}
	return ret;
}

static void main_metrics_start(struct imqd *imqd);

/*
 * Try again what the running configuration could not do in full: start the
 * devices that did not start, bind the queues a running device could not.
 * Returns how many devices still fall short; *DONE, how many it completed.
 */
static size_t
main_retry_apply(struct imqd *imqd, size_t *done)
{
	size_t short_of = 0;

	*done = 0;
	for (const struct conf_device *cd = imqd->conf->devices; cd != NULL; cd = cd->next) {
		struct imqdev *dev = main_find(imqd, cd->name, NULL);
		if (dev == NULL) {
			if (main_start_device(imqd, cd) < 0) {
				short_of++;
			} else {
				log_notice("%s: started on a retry", cd->name);
				(*done)++;
			}
		} else if (!device_complete(dev)) {
			device_release_queues(dev, cd);
			if (device_update(dev, cd) < 0) {
				short_of++;
			} else {
				log_notice("%s: configuration applied in full on a retry",
				           cd->name);
				(*done)++;
			}
		}
	}
	return short_of;
}

/*
 * What stood in a reload's way is often gone soon: a device removed and
 * added back is held by its down hook for as long as that runs, another
 * program lets go of a queue. So what failed is tried again on its own,
 * after a second, then twice as long each time up to a minute, until a
 * retry or a reload applies it all.
 */
static void
main_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imqd *imqd = arg;

	(void)fd;
	(void)what;
	size_t ndevs = imqd->ndevs, done;
	size_t short_of = main_retry_apply(imqd, &done);
	if (imqd->ndevs != ndevs)
		notify_ready(imqd->ndevs); /* the STATUS line's count of devices */
	/* The metrics file says so now, not at its next interval. */
	if (done > 0)
		main_metrics_start(imqd);
	if (short_of == 0) {
		log_notice("configuration applied in full: %zu device%s", imqd->ndevs,
		           imqd->ndevs == 1 ? "" : "s");
		return;
	}
	imqd->retry_s = imqd->retry_s * 2 > MAIN_RETRY_MAX_S ? MAIN_RETRY_MAX_S : imqd->retry_s * 2;
	struct timeval tv = {(time_t)imqd->retry_s, 0};
	log_warnx("%zu device%s not applied in full yet; next try in %u s", short_of,
	          short_of == 1 ? "" : "s", imqd->retry_s);
	event_add(imqd->retry_ev, &tv);
}

/* After a reload: retries from the first wait on if it fell short (SHORT), else none. */
static void
main_retry_arm(struct imqd *imqd, bool short_of)
{
	if (imqd->retry_ev == NULL) {
		imqd->retry_ev = evtimer_new(imqd->base, main_retry_cb, imqd);
		if (imqd->retry_ev == NULL) {
			log_warnx("no retries of what a reload could not apply: out of memory");
			return;
		}
	}
	event_del(imqd->retry_ev);
	if (!short_of)
		return;
	imqd->retry_s = MAIN_RETRY_FIRST_S;
	struct timeval tv = {MAIN_RETRY_FIRST_S, 0};
	event_add(imqd->retry_ev, &tv);
}

static bool
main_same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* A metrics file no longer written: its counters would stand still there. */
static void
main_metrics_remove(const char *path)
{
	if (path != NULL && unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s", path);
}

/* A key a reload cannot apply: NEXT's value against the one in effect since the start. */
static void
main_restart_key(const char *key, const char *started, const char *next)
{
	if (!main_same(started, next))
		log_warnx("%s = %s takes effect when imqd restarts; until then it stays %s", key,
		          next != NULL ? next : "unset", started != NULL ? started : "unset");
}

/* What a reload to NEXT cannot apply, and a metrics file no longer written. */
static void
main_reload_globals(const struct imqd *imqd, const struct conf *next)
{
	main_restart_key("control-socket", imqd->started->control_socket, next->control_socket);
	main_restart_key("control-group", imqd->started->control_group, next->control_group);
	main_restart_key("user", imqd->started->user, next->user);
	if (next->workers != imqd->started->workers)
		log_warnx("workers = %u takes effect when imqd restarts; until then it has %zu "
		          "worker threads",
		          next->workers, worker_count());
	if (!main_same(imqd->conf->metrics_file, next->metrics_file))
		main_metrics_remove(imqd->conf->metrics_file);
}

/* 0, -1 if the file is not valid (nothing changed), -2 if it applied in part. */
static int
main_reload(struct imqd *imqd, FILE *errout)
{
	struct conf *next;

	log_notice("reloading %s", imqd->path);
	notify_reloading();
	next = main_load(imqd->path, imqd->started, errout);
	if (next == NULL) {
		log_err("%s: %s, keeping the running one", imqd->path, main_load_failure(errno));
		notify_ready(imqd->ndevs);
		return -1;
	}
	log_setup(main_level(imqd, next), next->log_target == CONF_LOG_SYSLOG);
	main_budget(next);
	int ret = main_apply(imqd, next, errout);
	main_reload_globals(imqd, next);
	if (imqd->conf != imqd->started)
		conf_free(imqd->conf);
	imqd->conf = next;
	main_metrics_start(imqd);
	notify_ready(imqd->ndevs);
	main_retry_arm(imqd, ret != 0);
	if (ret != 0) {
		log_warnx(
		    "configuration reloaded in part: %zu device%s running; see the errors above",
		    imqd->ndevs, imqd->ndevs == 1 ? "" : "s");
		if (errout != NULL)
			fprintf(errout,
			        "the rest of the file is in effect, and imqd tries again what "
			        "failed; see its log\n");
		return -2;
	}
	log_notice("configuration reloaded: %zu device%s", imqd->ndevs,
	           imqd->ndevs == 1 ? "" : "s");
	return 0;
}

/*
 * Views of every device, or of DEV alone, for imqctl and the metrics file:
 * the running ones, then those the configuration names that a reload could
 * not start, as "failed" with their queues, zero totals and no per-queue counters.
 */
static size_t
main_snapshot(void *arg, const char *dev, struct stats_device *out, size_t max)
{
	struct imqd *imqd = arg;
	size_t n = 0;

	for (size_t i = 0; i < imqd->ndevs && n < max; i++) {
		if (dev != NULL && strcmp(dev, device_name(imqd->devs[i])) != 0)
			continue;
		device_snapshot(imqd->devs[i], &out[n++]);
	}
	for (const struct conf_device *cd = imqd->conf->devices; cd != NULL && n < max;
	     cd = cd->next) {
		if ((dev != NULL && strcmp(dev, cd->name) != 0) ||
		    main_find(imqd, cd->name, NULL) != NULL)
			continue;
		out[n++] = (struct stats_device){.name = cd->name,
		                                 .state = "failed",
		                                 .qdisc = "-",
		                                 .queues = cd->queues,
		                                 .nqueues = cd->nqueues};
	}
	return n;
}

static int
main_ctl_reload(void *arg, FILE *err)
{
	return main_reload(arg, err);
}

static int
main_rules(void *arg, const char *dev, enum rules_format format, FILE *out)
{
	struct imqd *imqd = arg;

	return rules_print(imqd->conf, dev, format, out);
}

static void
main_metrics_cb(evutil_socket_t fd, short what, void *arg)
{
	static struct stats_device views[MAIN_MAX_DEVICES];
	struct imqd *imqd = arg;
	size_t n = main_snapshot(imqd, NULL, views, MAIN_MAX_DEVICES);

	(void)fd;
	(void)what;
	if (imqd->conf->metrics_file == NULL)
		return;
	if (stats_write_metrics_file(views, n, imqd->conf->metrics_file) < 0) {
		/* Once, not every interval: the next writes try again quietly. */
		if (!imqd->metrics_failing)
			log_err("cannot write %s: %s; trying again every %u ms, quietly",
			        imqd->conf->metrics_file, strerror(errno),
			        imqd->conf->metrics_interval_ms);
		imqd->metrics_failing = true;
	} else if (imqd->metrics_failing) {
		log_notice("writing %s again", imqd->conf->metrics_file);
		imqd->metrics_failing = false;
	}
}

static void
main_metrics_start(struct imqd *imqd)
{
	struct timeval tv;

	/* Also what imqctl stats -o prometheus shows. */
	tcview_set_metrics_nodes(imqd->conf->metrics_classes);
	if (imqd->metrics_ev != NULL)
		event_free(imqd->metrics_ev);
	imqd->metrics_ev = NULL;
	imqd->metrics_failing = false;
	if (imqd->conf->metrics_file == NULL)
		return;
	tv.tv_sec = imqd->conf->metrics_interval_ms / 1000;
	tv.tv_usec = (imqd->conf->metrics_interval_ms % 1000) * 1000;
	imqd->metrics_ev = event_new(imqd->base, -1, EV_PERSIST, main_metrics_cb, imqd);
	if (imqd->metrics_ev != NULL)
		event_add(imqd->metrics_ev, &tv);
	main_metrics_cb(-1, 0, imqd);
}

static void
main_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct imqd *imqd = arg;
	uint64_t held = 0, drops = 0, failopen = 0;
	struct stats_counters c;

	(void)fd;
	(void)what;
	/* Counters, and a reading of each device's TX dropped once a second: no qdisc query or
	 * hold-time sort on this frequent timer. */
	for (size_t i = 0; i < imqd->ndevs; i++) {
		device_check_ring(imqd->devs[i]);
		device_totals(imqd->devs[i], &c);
		held += c.held;
		/* What the kernel decided without imqd counts too: nothing passes unsaid. */
		drops += stats_dropped_total(&c) + c.kernel_dropped;
		failopen += stats_failopen_total(&c) + c.kernel_passed;
	}
	notify_status(imqd->ndevs, held, drops, failopen);
	notify_watchdog();
	watchdog_reap();
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct imqd *imqd = arg;

	(void)what;
	if (sig == SIGHUP) {
		main_reload(imqd, NULL);
		return;
	}
	log_notice("signal %d: stopping", (int)sig);
	notify_stopping();
	event_base_loopbreak(imqd->base);
}

static int
main_parse_args(int argc, char **argv, struct imqd *imqd, int *mode)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 't'},
	    {"print-config", no_argument, NULL, 'T'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:tTvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			imqd->path = optarg;
			break;
		case 't':
		case 'T':
			*mode = ch;
			break;
		case 'v':
			imqd->verbose++;
			break;
		case 'V':
			printf("imqd %s\n", IMQD_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "imqd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/*
 * Taken from before the first device starts: a SIGTERM or SIGHUP that comes
 * while the devices and their up hooks start waits for the loop, which then
 * stops cleanly or reloads, instead of killing imqd half started.
 */
static void
main_signals(struct imqd *imqd, struct event **sigs)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP};

	for (size_t i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(imqd->base, signals[i], main_signal_cb, imqd);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) < 0)
			fatal("cannot handle signal %d", signals[i]);
	}
}

static void
main_events(struct imqd *imqd)
{
	struct timeval tv = {1, 0};
	uint64_t wd = notify_watchdog_usec();

	/* Pings at half the watchdog interval come from the loop itself, so a stuck loop is caught.
	 */
	if (wd > 0 && wd / 2 < 1000000) {
		tv.tv_sec = 0;
		tv.tv_usec = (suseconds_t)(wd / 2);
	} else if (wd > 0) {
		tv.tv_sec = (time_t)(wd / 2000000);
		tv.tv_usec = (suseconds_t)(wd / 2 % 1000000);
	}
	imqd->status_ev = event_new(imqd->base, -1, EV_PERSIST, main_status_cb, imqd);
	if (imqd->status_ev == NULL || event_add(imqd->status_ev, &tv) < 0)
		fatal("cannot start the status timer");
}

/* For -t: what a device without ecn-mark does with a CE mark from its qdisc. */
static void
main_check_ecn(const struct conf *conf)
{
	for (const struct conf_device *cd = conf->devices; cd != NULL; cd = cd->next)
		if (cd->ecn_mask == 0)
			fprintf(
			    stderr,
			    "imqd: note: %s has no ecn-mark: a packet whose copy its qdisc marks "
			    "Congestion Experienced (fq_codel, cake, red ecn) is dropped; set "
			    "ecn-mark to pass the mark on (imqd.conf(5))\n",
			    cd->name);
}

static int
main_check(struct imqd *imqd, int mode)
{
	struct conf *conf;

	/* Through the log, so that under systemd (ExecStartPre) errors reach the journal as such.
	 */
	log_init("imqd", LOG_NOTICE, false);
	if ((conf = main_load(imqd->path, NULL, NULL)) == NULL)
		return 1;
	if (mode == 'T')
		conf_print(conf, stdout);
	else {
		main_warn(conf);
		main_check_ecn(conf);
		printf("configuration OK\n");
	}
	conf_free(conf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct imqd imqd = {.path = IMQD_CONF_PATH};
	struct event *sigs[3];
	int mode = 0;

	if (main_parse_args(argc, argv, &imqd, &mode) < 0)
		return 2;
	if (mode != 0)
		return main_check(&imqd, mode);
	signal(SIGPIPE, SIG_IGN);
	log_init("imqd", LOG_NOTICE + imqd.verbose, false);
	imqd.conf = imqd.started = main_load(imqd.path, NULL, NULL);
	if (imqd.conf == NULL)
		fatal("%s: %s", imqd.path, main_load_failure(errno));
	log_setup(main_level(&imqd, imqd.conf), imqd.conf->log_target == CONF_LOG_SYSLOG);
	main_budget(imqd.conf);
	imqd.base = event_base_new();
	if (imqd.base == NULL)
		fatal("cannot create the event loop");
	main_signals(&imqd, sigs);
	hook_init(imqd.base);
	main_nofile();
	/* Before any thread, with the open-files limit raised (it holds a socket per flooded
	 * queue): a queue's fail-open goes off only with it running. */
	watchdog_start(imqd.conf->user);
	if (worker_start(imqd.base, main_workers(imqd.conf)) < 0)
		fatal("cannot start the worker threads");
	if (worker_count() > 0)
		log_info("%zu workers", worker_count());
	/* Hooks run as the user from the first one on, before imqd itself switches. */
	hook_set_user(imqd.conf->user);
	for (const struct conf_device *cd = imqd.conf->devices; cd != NULL; cd = cd->next)
		if (main_start_device(&imqd, cd) < 0) {
			main_stop_devices(&imqd);
			fatal("%s: cannot start; exiting", cd->name);
		}
	struct ctl_ops ops = {main_snapshot, main_ctl_reload, main_rules, &imqd};
	imqd.ctl = ctl_open(imqd.base, imqd.conf->control_socket, imqd.conf->control_group, &ops);
	if (imqd.ctl == NULL)
		log_warnx("%s: control socket not available; imqctl will not work",
		          imqd.conf->control_socket);
	if (imqd.conf->user != NULL) {
		/*
		 * A reload may give a multiqueue device shards on several workers:
		 * their steering program needs CAP_BPF to load, so load it now.
		 */
		if (worker_count() > 1 && !steer_ready() && steer_init() < 0)
			log_info("cannot load the steering program of multiqueue devices (%s): a "
			         "reload that adds shards to one gives it a single worker",
			         strerror(errno));
		int rc = main_privs_drop(imqd.conf->user);
		if (rc < 0) {
			main_stop_devices(&imqd);
			ctl_close(imqd.ctl);
			fatal("not running as %s: exiting", imqd.conf->user);
		}
		if (rc == 0)
			log_info("running as %s with CAP_NET_ADMIN and CAP_NET_RAW only",
			         imqd.conf->user);
	}
	main_events(&imqd);
	main_metrics_start(&imqd);
	log_notice("imqd %s started: %zu device%s", IMQD_VERSION, imqd.ndevs,
	           imqd.ndevs == 1 ? "" : "s");
	notify_ready(imqd.ndevs);
	event_base_dispatch(imqd.base);

	main_stop_devices(&imqd);
	watchdog_stop();
	ctl_close(imqd.ctl);
	if (imqd.metrics_ev != NULL)
		event_free(imqd.metrics_ev);
	main_metrics_remove(imqd.conf->metrics_file);
	event_free(imqd.status_ev);
	if (imqd.retry_ev != NULL)
		event_free(imqd.retry_ev);
	for (size_t i = 0; i < 3; i++)
		event_free(sigs[i]);
	steer_close();
	event_base_free(imqd.base);
	if (imqd.conf != imqd.started)
		conf_free(imqd.conf);
	conf_free(imqd.started);
	log_notice("stopped");
	return 0;
}

/* Counters of a device's datapath, and their rendering as text, JSON and Prometheus. */
#include "stats.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tcview.h"

static const char *const stats_failopen_names[STATS_FO_MAX] = {
    [STATS_FO_DEVICE_DOWN] = "device_down", [STATS_FO_TOO_BIG] = "too_big",
    [STATS_FO_NO_BUFFER] = "no_buffer",     [STATS_FO_INJECT_ERROR] = "inject_error",
    [STATS_FO_SHUTDOWN] = "shutdown",       [STATS_FO_OVERFLOW] = "overflow",
};

/* For STATS_COUNTERS: skip the counters of the other kind. */
#define STATS_NO_FIELD(field, metric, type, help)
#define STATS_NO_DROP(reason, help)

/* The drop counters by the reason used in every output. */
static const struct stats_drop {
	const char *name;
	size_t offset;
} stats_drops[] = {
#define STATS_DROP(reason, help) {#reason, offsetof(struct stats_counters, dropped_##reason)},
    STATS_COUNTERS(STATS_NO_FIELD, STATS_DROP)
#undef STATS_DROP
};
#define STATS_NDROPS (sizeof(stats_drops) / sizeof(stats_drops[0]))

#ifndef IMQD_VERSION
#define IMQD_VERSION "unknown"
#endif

/*
 * Upper bounds of the hold-time buckets, from an idle pass through imqd
 * (tens of microseconds) to drop-timeout's default (5 s) and beyond.
 */
static const struct {
	uint64_t us;
	const char *le; /* the bound in seconds, as the le label shows it */
} stats_hold_bounds[STATS_HOLD_BOUNDS] = {
    {100, "0.0001"},  {250, "0.00025"}, {500, "0.0005"},  {1000, "0.001"},
    {2500, "0.0025"}, {5000, "0.005"},  {10000, "0.01"},  {25000, "0.025"},
    {50000, "0.05"},  {100000, "0.1"},  {250000, "0.25"}, {500000, "0.5"},
    {1000000, "1"},   {2500000, "2.5"}, {5000000, "5"},   {10000000, "10"},
};

static uint64_t
stats_field(const struct stats_counters *c, size_t offset)
{
	uint64_t v;

	memcpy(&v, (const char *)c + offset, sizeof(v));
	return v;
}

static const char *
stats_str(const char *s, const char *unknown)
{
	return s == NULL || *s == '\0' ? unknown : s;
}

/* Per-queue counters of DEV, or NULL when the daemon gave none. */
static const struct stats_counters *
stats_queue(const struct stats_device *dev, size_t i)
{
	if (dev->queue_counters == NULL || i >= dev->nqueues)
		return NULL;
	return &dev->queue_counters[i];
}

void
stats_hold_observe(struct stats_hold_hist *h, uint64_t us)
{
	size_t i = 0;

	/* Most holds are short: a scan from the bottom ends in the first few buckets. */
	while (i < STATS_HOLD_BOUNDS && us > stats_hold_bounds[i].us)
		i++;
	h->bucket[i]++;
	h->sum_us += us;
}

void
stats_add(struct stats_counters *t, const struct stats_counters *c)
{
#define STATS_ADD(field, metric, type, help) t->field += c->field;
#define STATS_ADD_DROP(reason, help) t->dropped_##reason += c->dropped_##reason;
	STATS_COUNTERS(STATS_ADD, STATS_ADD_DROP)
#undef STATS_ADD
#undef STATS_ADD_DROP
	for (int i = 0; i < STATS_FO_MAX; i++)
		t->failopen[i] += c->failopen[i];
}

uint64_t
stats_failopen_total(const struct stats_counters *c)
{
	uint64_t sum = 0;

	for (int i = 0; i < STATS_FO_MAX; i++)
		sum += c->failopen[i];
	return sum;
}

const char *
stats_failopen_name(enum stats_failopen reason)
{
	if ((unsigned)reason >= STATS_FO_MAX)
		return "unknown";
	return stats_failopen_names[reason];
}

uint64_t
stats_dropped_total(const struct stats_counters *c)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < STATS_NDROPS; i++)
		sum += stats_field(c, stats_drops[i].offset);
	return sum;
}

/* Queue numbers as ranges, "0-3,7" ("none" when empty). */
static void
stats_print_queue_list(const uint16_t *queues, size_t n, FILE *out)
{
	if (n == 0 || queues == NULL) {
		fputs("none", out);
		return;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && queues[j + 1] == queues[j] + 1)
			j++;
		fprintf(out, "%s%u", i > 0 ? "," : "", queues[i]);
		if (j > i)
			fprintf(out, "-%u", queues[j]);
		i = j + 1;
	}
}

void
stats_print_summary(const struct stats_device *devs, size_t ndevs, FILE *out)
{
	for (size_t i = 0; i < ndevs; i++) {
		fprintf(out, "%s %s %s queues ", stats_str(devs[i].name, "?"),
		        stats_str(devs[i].state, "unknown"), stats_str(devs[i].qdisc, "unknown"));
		stats_print_queue_list(devs[i].queues, devs[i].nqueues, out);
		fputc('\n', out);
	}
}

/* A duration in microseconds the way tc shows one: 950us, 12.5ms, 3.20s. */
static void
stats_print_duration(uint64_t us, FILE *out)
{
	if (us < 1000)
		fprintf(out, "%" PRIu64 "us", us);
	else if (us < 1000000)
		fprintf(out, "%.1fms", (double)us / 1e3);
	else
		fprintf(out, "%.2fs", (double)us / 1e6);
}

/* The counters of C, one line each; the caller ends the last line (anomalies). */
static void
stats_text_counters(const struct stats_counters *c, const char *ind, FILE *out)
{
	fprintf(out, "%s%-10s %12" PRIu64 " pkts %15" PRIu64 " bytes\n", ind, "received",
	        c->received, c->received_bytes);
	fprintf(out, "%s%-10s %12" PRIu64 " pkts %15" PRIu64 " bytes\n", ind, "accepted",
	        c->accepted, c->accepted_bytes);
	fprintf(out, "%s%-10s %12" PRIu64 " pkts  (", ind, "dropped", stats_dropped_total(c));
	for (size_t i = 0; i < STATS_NDROPS; i++)
		fprintf(out, "%s%s %" PRIu64, i > 0 ? ", " : "", stats_drops[i].name,
		        stats_field(c, stats_drops[i].offset));
	fprintf(out, ")\n%s%-10s %12" PRIu64 " pkts  (", ind, "failopen", stats_failopen_total(c));
	for (int i = 0; i < STATS_FO_MAX; i++)
		fprintf(out, "%s%s %" PRIu64, i > 0 ? ", " : "", stats_failopen_names[i],
		        c->failopen[i]);
	fprintf(out, ")\n%s%-10s %12" PRIu64 " pkts  (peak %" PRIu64 ")\n", ind, "held", c->held,
	        c->peak_held);
	fprintf(out,
	        "%s%-10s %12" PRIu64 " pkts  (passed %" PRIu64 ", dropped %" PRIu64
	        ": the kernel decided them, imqd's receive buffer full; flooded %" PRIu64
	        ", flood_dropping %" PRIu64 ", watchdog %" PRIu64 ")\n",
	        ind, "bypassed", c->kernel_passed + c->kernel_dropped, c->kernel_passed,
	        c->kernel_dropped, c->flooded, c->flood_dropping, c->watchdog);
	fprintf(out, "%s%-10s %12" PRIu64 " pkts  (accepted marked Congestion Experienced)\n", ind,
	        "marked_ecn", c->marked_ecn);
	fprintf(out, "%s%-10s %12" PRIu64 " pkts\n", ind, "partial", c->partial);
	fprintf(out, "%s%-10s id_gaps %" PRIu64 ", malformed %" PRIu64 ", verdict_errors %" PRIu64,
	        ind, "anomalies", c->id_gaps, c->malformed, c->verdict_errors);
}

static void
stats_text_device(const struct stats_device *dev, FILE *out)
{
	fprintf(out, "%s: state %s, qdisc %s, queues ", stats_str(dev->name, "?"),
	        stats_str(dev->state, "unknown"), stats_str(dev->qdisc, "unknown"));
	stats_print_queue_list(dev->queues, dev->nqueues, out);
	fputc('\n', out);
	stats_text_counters(&dev->total, "  ", out);
	fprintf(out, ", stray %" PRIu64 ", unmatched %" PRIu64 "\n", dev->stray, dev->unmatched);
	fprintf(out, "  %-10s %12" PRIu64 " pkts  (accepted in batch verdict messages)\n",
	        "batched", dev->verdicts_batched);
	fprintf(out, "  %-10s p50 ", "hold time");
	stats_print_duration(dev->hold.p50_us, out);
	fputs(", p99 ", out);
	stats_print_duration(dev->hold.p99_us, out);
	fputs(", max ", out);
	stats_print_duration(dev->hold.max_us, out);
	fputc('\n', out);
	for (size_t q = 0; q < dev->nqueues; q++) {
		const struct stats_counters *c = stats_queue(dev, q);

		if (c == NULL)
			break;
		fprintf(out, "  queue %u:\n", dev->queues[q]);
		stats_text_counters(c, "    ", out);
		fputc('\n', out);
	}
}

void
stats_print_text(const struct stats_device *devs, size_t ndevs, FILE *out)
{
	for (size_t i = 0; i < ndevs; i++) {
		if (i > 0)
			fputc('\n', out);
		stats_text_device(&devs[i], out);
	}
}

static void
json_counters(struct json *j, const struct stats_counters *c)
{
#define JSON_FIELD(field, metric, type, help) json_u64(j, #field, c->field);
#define JSON_DROP(reason, help) json_u64(j, "dropped_" #reason, c->dropped_##reason);
	STATS_COUNTERS(JSON_FIELD, JSON_DROP)
#undef JSON_FIELD
#undef JSON_DROP
	json_u64(j, "dropped", stats_dropped_total(c));
	json_u64(j, "failopen", stats_failopen_total(c));
	json_open(j, "failopen_reasons", '{');
	for (int i = 0; i < STATS_FO_MAX; i++)
		json_u64(j, stats_failopen_names[i], c->failopen[i]);
	json_close(j, '}');
}

/* The members that say what a device is: name, state, qdisc, queues. */
static void
json_device_head(struct json *j, const struct stats_device *dev)
{
	json_str(j, "name", dev->name);
	json_str(j, "state", dev->state);
	json_str(j, "qdisc", dev->qdisc);
	/* Queue numbers stay on one line even when pretty. */
	json_item(j, "queues");
	fputc('[', j->out);
	for (size_t q = 0; q < dev->nqueues && dev->queues != NULL; q++)
		fprintf(j->out, "%s%u", q == 0 ? "" : j->pretty ? ", " : ",", dev->queues[q]);
	fputc(']', j->out);
}

static void
json_device(struct json *j, const struct stats_device *dev)
{
	json_open(j, NULL, '{');
	json_device_head(j, dev);
	json_counters(j, &dev->total);
	json_u64(j, "stray", dev->stray);
	json_u64(j, "unmatched", dev->unmatched);
	json_u64(j, "verdicts_batched", dev->verdicts_batched);
	json_open(j, "hold_us", '{');
	json_u64(j, "p50", dev->hold.p50_us);
	json_u64(j, "p99", dev->hold.p99_us);
	json_u64(j, "max", dev->hold.max_us);
	json_close(j, '}');
	json_open(j, "per_queue", '[');
	for (size_t q = 0; q < dev->nqueues; q++) {
		const struct stats_counters *c = stats_queue(dev, q);

		if (c == NULL)
			break;
		json_open(j, NULL, '{');
		json_u64(j, "queue", dev->queues[q]);
		json_counters(j, c);
		json_close(j, '}');
	}
	json_close(j, ']');
	json_close(j, '}');
}

void
stats_print_json(const struct stats_device *devs, size_t ndevs, int pretty, FILE *out)
{
	struct json j;

	json_init(&j, out, pretty);
	json_open(&j, NULL, '{');
	json_open(&j, "devices", '[');
	for (size_t i = 0; i < ndevs; i++)
		json_device(&j, &devs[i]);
	json_close(&j, ']');
	json_close(&j, '}');
	fputc('\n', out);
}

void
stats_print_summary_json(const struct stats_device *devs, size_t ndevs, int pretty, FILE *out)
{
	struct json j;

	json_init(&j, out, pretty);
	json_open(&j, NULL, '{');
	json_open(&j, "devices", '[');
	for (size_t i = 0; i < ndevs; i++) {
		json_open(&j, NULL, '{');
		json_device_head(&j, &devs[i]);
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_close(&j, '}');
	fputc('\n', out);
}

/* How a Prometheus family takes its samples from struct stats_counters. */
enum prom_kind {
	PROM_FIELD,    /* one uint64_t at offset */
	PROM_DROPPED,  /* one sample per drop reason */
	PROM_FAILOPEN, /* one sample per failopen reason */
};

/* A family present once for devices (imqd_NAME) and once for queues (imqd_queue_NAME). */
static const struct prom_family {
	const char *name;
	const char *type;
	const char *help;
	enum prom_kind kind;
	size_t offset;
} prom_families[] = {
#define PROM_FAMILY(field, metric, type, help)                                                     \
	{metric, type, help, PROM_FIELD, offsetof(struct stats_counters, field)},
#define PROM_DROP_HELP(reason, help) " " #reason ": " help "."
    STATS_COUNTERS(PROM_FAMILY, STATS_NO_DROP){
        "dropped_packets_total", "counter",
        "Packets dropped, by reason." STATS_COUNTERS(STATS_NO_FIELD, PROM_DROP_HELP), PROM_DROPPED,
        0},
    {"failopen_packets_total", "counter",
     "Packets accepted without passing through imqN, by reason.", PROM_FAILOPEN, 0},
#undef PROM_FAMILY
#undef PROM_DROP_HELP
};
#define PROM_NFAMILIES (sizeof(prom_families) / sizeof(prom_families[0]))

/* V as a label value: backslash, double quote and newline escaped. */
static void
prom_label_value(FILE *out, const char *v)
{
	for (const char *p = v != NULL ? v : ""; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", out);
		else if (*p == '"')
			fputs("\\\"", out);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
}

static void
prom_header(FILE *out, const char *prefix, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s%s %s\n# TYPE %s%s %s\n", prefix, name, help, prefix, name, type);
}

/* The start of a sample up to its labels: NAME{device="DEV"[,queue="Q"]. */
static void
prom_sample_start(FILE *out, const char *prefix, const char *name, const struct stats_device *dev,
                  long queue)
{
	fprintf(out, "%s%s{device=\"", prefix, name);
	prom_label_value(out, dev->name);
	fputc('"', out);
	if (queue >= 0)
		fprintf(out, ",queue=\"%ld\"", queue);
}

static void
prom_samples(FILE *out, const char *prefix, const struct prom_family *f,
             const struct stats_device *dev, long queue, const struct stats_counters *c)
{
	switch (f->kind) {
	case PROM_FIELD:
		prom_sample_start(out, prefix, f->name, dev, queue);
		fprintf(out, "} %" PRIu64 "\n", stats_field(c, f->offset));
		break;
	case PROM_DROPPED:
		for (size_t i = 0; i < STATS_NDROPS; i++) {
			prom_sample_start(out, prefix, f->name, dev, queue);
			fprintf(out, ",reason=\"%s\"} %" PRIu64 "\n", stats_drops[i].name,
			        stats_field(c, stats_drops[i].offset));
		}
		break;
	case PROM_FAILOPEN:
		for (int i = 0; i < STATS_FO_MAX; i++) {
			prom_sample_start(out, prefix, f->name, dev, queue);
			fprintf(out, ",reason=\"%s\"} %" PRIu64 "\n", stats_failopen_names[i],
			        c->failopen[i]);
		}
		break;
	}
}

static void
prom_family_print(const struct prom_family *f, const struct stats_device *devs, size_t ndevs,
                  int per_queue, FILE *out)
{
	const char *prefix = per_queue ? "imqd_queue_" : "imqd_";

	prom_header(out, prefix, f->name, f->type, f->help);
	for (size_t i = 0; i < ndevs; i++) {
		if (!per_queue) {
			prom_samples(out, prefix, f, &devs[i], -1, &devs[i].total);
			continue;
		}
		for (size_t q = 0; q < devs[i].nqueues; q++) {
			const struct stats_counters *c = stats_queue(&devs[i], q);

			if (c == NULL)
				break;
			prom_samples(out, prefix, f, &devs[i], devs[i].queues[q], c);
		}
	}
}

/* Microseconds as exact decimal seconds; a double would print 1e-06 style noise. */
static void
prom_seconds(FILE *out, uint64_t us)
{
	fprintf(out, "%" PRIu64 ".%06" PRIu64 "\n", us / 1000000, us % 1000000);
}

/* The hold times as a histogram: cumulative buckets, their sum and count. */
static void
prom_hold_histogram(const struct stats_device *devs, size_t ndevs, FILE *out)
{
	prom_header(out, "imqd_", "hold_seconds", "histogram",
	            "Time from queueing to verdict of the packets accepted after their copy came "
	            "back from the qdisc.");
	for (size_t i = 0; i < ndevs; i++) {
		const struct stats_hold_hist *h = &devs[i].hold_hist;
		uint64_t n = 0;

		for (size_t b = 0; b <= STATS_HOLD_BOUNDS; b++) {
			n += h->bucket[b];
			prom_sample_start(out, "imqd_", "hold_seconds_bucket", &devs[i], -1);
			fprintf(out, ",le=\"%s\"} %" PRIu64 "\n",
			        b < STATS_HOLD_BOUNDS ? stats_hold_bounds[b].le : "+Inf", n);
		}
		prom_sample_start(out, "imqd_", "hold_seconds_sum", &devs[i], -1);
		fputs("} ", out);
		prom_seconds(out, h->sum_us);
		prom_sample_start(out, "imqd_", "hold_seconds_count", &devs[i], -1);
		fprintf(out, "} %" PRIu64 "\n", n);
	}
}

/* One device-only counter family: VALUE of each device. */
static void
prom_device_counter(const struct stats_device *devs, size_t ndevs, const char *name,
                    const char *help, size_t offset, FILE *out)
{
	prom_header(out, "imqd_", name, "counter", help);
	for (size_t i = 0; i < ndevs; i++) {
		uint64_t v;

		memcpy(&v, (const char *)&devs[i] + offset, sizeof(v));
		prom_sample_start(out, "imqd_", name, &devs[i], -1);
		fprintf(out, "} %" PRIu64 "\n", v);
	}
}

/* Families that exist for whole devices only. */
static void
prom_device_families(const struct stats_device *devs, size_t ndevs, FILE *out)
{
	prom_header(out, "imqd_", "device_info", "gauge",
	            "Always 1; the labels give the device's state and root qdisc.");
	for (size_t i = 0; i < ndevs; i++) {
		prom_sample_start(out, "imqd_", "device_info", &devs[i], -1);
		fputs(",state=\"", out);
		prom_label_value(out, devs[i].state);
		fputs("\",qdisc=\"", out);
		prom_label_value(out, devs[i].qdisc);
		fputs("\"} 1\n", out);
	}
	prom_device_counter(devs, ndevs, "stray_packets_total",
	                    "Packets read from imqN that imqd never sent.",
	                    offsetof(struct stats_device, stray), out);
	prom_device_counter(devs, ndevs, "unmatched_copies_total",
	                    "Copies whose held packet was already decided.",
	                    offsetof(struct stats_device, unmatched), out);
	prom_device_counter(
	    devs, ndevs, "verdicts_batched_total",
	    "Packets accepted by one NFQUEUE batch verdict message for all of a pass.",
	    offsetof(struct stats_device, verdicts_batched), out);
	prom_hold_histogram(devs, ndevs, out);
}

void
stats_print_prometheus(const struct stats_device *devs, size_t ndevs, FILE *out)
{
	prom_header(out, "imqd_", "build_info", "gauge", "Always 1; the version label is imqd's.");
	fputs("imqd_build_info{version=\"", out);
	prom_label_value(out, IMQD_VERSION);
	fputs("\"} 1\n", out);
	prom_device_families(devs, ndevs, out);
	for (size_t i = 0; i < PROM_NFAMILIES; i++)
		prom_family_print(&prom_families[i], devs, ndevs, 0, out);
	for (size_t i = 0; i < PROM_NFAMILIES; i++)
		prom_family_print(&prom_families[i], devs, ndevs, 1, out);
	tcview_prometheus(devs, ndevs, out);
}

int
stats_write_metrics_file(const struct stats_device *devs, size_t ndevs, const char *path)
{
	size_t len = strlen(path) + sizeof(".tmp.XXXXXX");
	char *tmp = malloc(len);
	FILE *f;
	int fd, saved;

	if (tmp == NULL)
		return -1;
	snprintf(tmp, len, "%s.tmp.XXXXXX", path);
	/* Same directory as PATH, so that rename replaces it atomically. */
	if ((fd = mkstemp(tmp)) == -1)
		goto free_tmp;
	if (fchmod(fd, 0644) == -1 || (f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto remove_tmp;
	}
	errno = 0;
	stats_print_prometheus(devs, ndevs, f);
	if (fflush(f) == EOF || ferror(f) || fsync(fileno(f)) == -1) {
		saved = errno != 0 ? errno : EIO;
		fclose(f);
		errno = saved;
		goto remove_tmp;
	}
	if (fclose(f) == EOF)
		goto remove_tmp;
	if (rename(tmp, path) == -1)
		goto remove_tmp;
	free(tmp);
	return 0;

remove_tmp:
	saved = errno;
	unlink(tmp);
	errno = saved;
free_tmp:
	saved = errno;
	free(tmp);
	errno = saved;
	return -1;
}

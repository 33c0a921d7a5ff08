/* Counters of a device's datapath, and their rendering as text, JSON and Prometheus. */
#ifndef IMQD_STATS_H
#define IMQD_STATS_H

#include <stdint.h>
#include <stdio.h>

/* Why a packet was accepted without passing through imqN. */
enum stats_failopen {
	STATS_FO_DEVICE_DOWN,  /* imqN missing or down (ENETDOWN, ENXIO, ENODEV) */
	STATS_FO_TOO_BIG,      /* larger than imqN's mtu, or truncated by the copy range */
	STATS_FO_NO_BUFFER,    /* send buffer full (EAGAIN) or no room in the held table */
	STATS_FO_INJECT_ERROR, /* any other error from the packet socket */
	STATS_FO_SHUTDOWN,     /* still held when imqd stopped or the device was removed */
	STATS_FO_OVERFLOW,     /* its queue held queue-maxlen packets (on-overflow = accept) */
	STATS_FO_MAX,
};

/* Counters of one NFQUEUE queue or of a whole device (the sum of its queues). */
struct stats_counters {
	uint64_t received; /* packets the kernel queued to us */
	uint64_t received_bytes;
	uint64_t accepted; /* NF_ACCEPT after the copy came back from the qdisc */
	uint64_t accepted_bytes;
	uint64_t dropped_enqueue; /* qdisc refused the copy (ENOBUFS) */
	uint64_t dropped_order; /* a later copy of its flow came back first, its own not in time */
	uint64_t dropped_timeout;  /* copy did not come back within drop-timeout */
	uint64_t dropped_error;    /* injection failed and on-error = drop */
	uint64_t dropped_ecn;      /* the qdisc marked the copy CE: cannot mark the packet */
	uint64_t dropped_overflow; /* its queue held queue-maxlen packets (on-overflow = drop) */
	uint64_t failopen[STATS_FO_MAX]; /* accepted unshaped, by reason */
	uint64_t held;                   /* waiting for their copy now */
	uint64_t peak_held;
	uint64_t marked_ecn; /* of the accepted, those that left marked CE (ecn-mark) */
	uint64_t partial;    /* GSO copies the qdisc cut up and sent only in part */
	uint64_t id_gaps;    /* packet ids the kernel skipped (it decided those itself) */
	/* Of those, the kernel passed (on-overflow = accept) or dropped them: imqd's receive
	 * buffer was full. Not in received: imqd never saw them. */
	uint64_t kernel_passed;
	uint64_t kernel_dropped;
	uint64_t malformed;      /* not a parsable IPv4/IPv6 packet; still shaped */
	uint64_t verdict_errors; /* verdicts the kernel refused */
};

/* Hold-time summary of packets released recently, in microseconds. */
struct stats_hold {
	uint64_t p50_us;
	uint64_t p99_us;
	uint64_t max_us;
};

/* Buckets of the hold-time histogram with an upper bound; one more counts the rest (+Inf). */
#define STATS_HOLD_BOUNDS 16

/* Hold times of every packet accepted after shaping, since the device started. */
struct stats_hold_hist {
	uint64_t bucket[STATS_HOLD_BOUNDS + 1]; /* per bucket, not cumulative; the last is +Inf */
	uint64_t sum_us;
};

/* A read-only view of one device for the control socket and metrics. */
struct stats_device {
	const char *name;
	const char *state; /* "up", "down", "missing", ... */
	const char *qdisc; /* root qdisc kind, "" if unknown */
	const uint16_t *queues;
	size_t nqueues;
	const struct stats_counters *queue_counters; /* nqueues entries */
	struct stats_counters total;
	struct stats_hold hold;
	struct stats_hold_hist hold_hist;
	uint64_t stray;            /* packets read from imqN that imqd never sent */
	uint64_t unmatched;        /* copies whose held packet was already decided */
	uint64_t verdicts_batched; /* accepts sent inside one batch verdict message each pass */
};

/* Count a hold time of US microseconds in H. */
void stats_hold_observe(struct stats_hold_hist *h, uint64_t us);

/* Sum of C over every failopen reason. */
uint64_t stats_failopen_total(const struct stats_counters *c);

/* Sum of C over every drop counter. */
uint64_t stats_dropped_total(const struct stats_counters *c);

/* Name of a failopen reason as used in all outputs ("device_down", ...). */
const char *stats_failopen_name(enum stats_failopen reason);

/* One line per device, "imq0 up tbf queues 0-3", to OUT (imqctl show). */
void stats_print_summary(const struct stats_device *devs, size_t ndevs, FILE *out);

/* The same as JSON, {"devices":[{"name":...,"state":...,"qdisc":...,"queues":[...]}]}. */
void stats_print_summary_json(const struct stats_device *devs, size_t ndevs, int pretty, FILE *out);

/* Human-readable table of DEVS (like tc -s) to OUT. */
void stats_print_text(const struct stats_device *devs, size_t ndevs, FILE *out);

/* JSON object {"devices":[...]} to OUT; PRETTY indents it. */
void stats_print_json(const struct stats_device *devs, size_t ndevs, int pretty, FILE *out);

/* Prometheus text exposition format to OUT. */
void stats_print_prometheus(const struct stats_device *devs, size_t ndevs, FILE *out);

/* Write the Prometheus text to PATH atomically (temporary file, rename); 0 or -1. */
int stats_write_metrics_file(const struct stats_device *devs, size_t ndevs, const char *path);

#endif

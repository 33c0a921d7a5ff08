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

/*
 * The counters of one NFQUEUE queue, in the order every output lists them;
 * the one list the struct, the sums, JSON and Prometheus are made from.
 * C(field, metric, type, help): a number of its own, imqd_[queue_]METRIC
 * in Prometheus. D(reason, help): the drop counter dropped_REASON, one
 * reason of imqd_[queue_]dropped_packets_total and of the "dropped" total.
 */
#define STATS_COUNTERS(C, D)                                                                       \
	C(received, "received_packets_total", "counter", "Packets the kernel queued to imqd.")     \
	C(received_bytes, "received_bytes_total", "counter",                                       \
	  "Bytes of the packets the kernel queued to imqd.")                                       \
	C(accepted, "accepted_packets_total", "counter",                                           \
	  "Packets accepted after their copy came back from the qdisc.")                           \
	C(accepted_bytes, "accepted_bytes_total", "counter",                                       \
	  "Bytes of the packets accepted after their copy came back from the qdisc.")              \
	D(enqueue, "the qdisc refused the copy")                                                   \
	D(order, "a later copy of the flow came back first, and its own not within "               \
	         "reorder-window")                                                                 \
	D(timeout, "the copy did not come back within drop-timeout")                               \
	D(error, "injection failed and on-error = drop")                                           \
	D(ecn, "the qdisc marked the copy Congestion Experienced and ecn-mark is not set")         \
	D(overflow, "its queue held queue-maxlen packets and on-overflow = drop")                  \
	C(marked_ecn, "marked_ecn_packets_total", "counter",                                       \
	  "Packets accepted marked Congestion Experienced, as the qdisc marked their copy "        \
	  "(ecn-mark).")                                                                           \
	C(held, "held_packets", "gauge", "Packets waiting for their copy now.")                    \
	C(peak_held, "peak_held_packets", "gauge", "Most packets waiting for their copy at once.") \
	C(partial, "partial_packets_total", "counter",                                             \
	  "GSO copies the qdisc cut into segments and sent only in part (each then accepted or "   \
	  "dropped whole).")                                                                       \
	C(id_gaps, "id_gaps_total", "counter",                                                     \
	  "Packet ids the kernel skipped (it decided those itself).")                              \
	C(kernel_passed, "kernel_passed_packets_total", "counter",                                 \
	  "Packets the kernel passed unshaped without imqd: its receive buffer was full "          \
	  "(on-overflow = accept, and on-flood = accept or the queue not flooded).")               \
	C(kernel_dropped, "kernel_dropped_packets_total", "counter",                               \
	  "Packets the kernel dropped without imqd: its receive buffer was full "                  \
	  "(on-overflow = drop, or on-flood = drop while the queue was flooded).")                 \
	C(flooded, "flooded_queues", "gauge",                                                      \
	  "Queues flooded now: the kernel has been deciding their packets for 100 ms (a flood "    \
	  "beyond imqd's intake); their receive buffer is cut while it lasts.")                    \
	C(flood_dropping, "flood_dropping_queues", "gauge",                                        \
	  "Flooded queues whose kernel fail-open imqd has switched off (on-flood = drop): the "    \
	  "kernel drops what imqd cannot take.")                                                   \
	C(watchdog, "watchdog_failopen_total", "counter",                                          \
	  "Times the watchdog switched a flooded queue's kernel fail-open back on because imqd "   \
	  "had not run for 500 ms.")                                                               \
	C(malformed, "malformed_packets_total", "counter",                                         \
	  "Packets that were not parsable IPv4/IPv6 (still shaped).")                              \
	C(verdict_errors, "verdict_errors_total", "counter", "Verdicts the kernel refused.")

/* Counters of one NFQUEUE queue or of a whole device (the sum of its queues). */
struct stats_counters {
#define STATS_FIELD(field, metric, type, help) uint64_t field;
#define STATS_DROP_FIELD(reason, help) uint64_t dropped_##reason;
	STATS_COUNTERS(STATS_FIELD, STATS_DROP_FIELD)
#undef STATS_FIELD
#undef STATS_DROP_FIELD
	uint64_t failopen[STATS_FO_MAX]; /* accepted unshaped, by reason */
};

/* Add every counter of C to T (a device's total is the sum of its queues; peak_held too,
 * which the caller replaces with the device's own peak where it matters). */
void stats_add(struct stats_counters *t, const struct stats_counters *c);

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

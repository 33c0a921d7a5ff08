/* A device's qdiscs and classes with their counters, as rtnetlink reports them. */
#ifndef IMQD_TCVIEW_H
#define IMQD_TCVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct nlmsghdr;
struct stats_device;

/* Most nodes (qdiscs and classes) read from one device; a larger tree is cut. */
#define TCVIEW_MAX_NODES 65536
/* Default of metrics-classes: nodes per device in the Prometheus output. */
#define TCVIEW_DEF_METRICS_NODES 1000

enum tcview_type {
	TCVIEW_QDISC,
	TCVIEW_CLASS,
};

/* One qdisc or class and its counters (struct gnet_stats_basic and _queue). */
struct tcview_node {
	enum tcview_type type;
	char kind[16];   /* TCA_KIND: "htb", "pfifo", ... */
	uint32_t handle; /* a qdisc's handle (major:0) or a class's classid */
	uint32_t parent; /* TC_H_ROOT, TC_H_INGRESS, a qdisc handle or a classid */
	uint64_t bytes;
	uint64_t packets;
	uint32_t drops;
	uint32_t overlimits;
	uint32_t requeues;
	uint32_t backlog; /* bytes */
	uint32_t qlen;    /* packets */
};

/* The nodes of one device at one moment. */
struct tcview {
	char dev[16];
	uint64_t time_ns; /* CLOCK_MONOTONIC when the reading began */
	int error;        /* errno of a reading that failed (no nodes), else 0 */
	size_t total;     /* nodes the device has; more than n when the reading was cut */
	size_t n;
	size_t size;
	struct tcview_node *nodes;
};

/* Fill NODE from one RTM_NEWQDISC or RTM_NEWTCLASS message; -1 if NLH is neither. */
int tcview_parse_msg(const struct nlmsghdr *nlh, struct tcview_node *node, int *ifindex);

/* Add NODE to TV, keeping at most MAX; counts it in TV->total either way; 0 or -1 (ENOMEM). */
int tcview_add(struct tcview *tv, const struct tcview_node *node, size_t max);

/* Read DEV's qdiscs and classes over rtnetlink, at most MAX; TV->error says if it failed. */
void tcview_read(struct tcview *tv, const char *dev, size_t max);

/* Free the nodes of TV (not TV itself). */
void tcview_clear(struct tcview *tv);

/* A handle as tc writes it: "1:", "1:10", "root", "ingress". */
void tcview_handle_str(uint32_t handle, char *buf, size_t size);

/*
 * The answer to imqctl's "classes" request: per device a line
 * "device NAME TIME_NS TOTAL ERRNO", then per node a line
 * "node q|c KIND HANDLE PARENT BYTES PACKETS DROPS OVERLIMITS REQUEUES BACKLOG QLEN"
 * (handles in hex). Reads each device in DEVS now.
 */
void tcview_print_lines(const struct stats_device *devs, size_t ndevs, FILE *out);

/* The lines of that answer for one device already read. */
void tcview_print_view(const struct tcview *tv, FILE *out);

/*
 * Parse one line of that answer into *TVS (a growing array of *NTVS devices;
 * a "node" line adds to the last). 0, or -1 if the line is malformed (EINVAL)
 * or memory ran out (ENOMEM).
 */
int tcview_parse_line(const char *line, struct tcview **tvs, size_t *ntvs);

/* Nodes per device that tcview_prometheus exports (metrics-classes); 0: none. */
void tcview_set_metrics_nodes(size_t max);

/* Per-qdisc and per-class Prometheus series of the devices TVS, MAX nodes per device at most. */
void tcview_print_prometheus(const struct tcview *tvs, size_t ntvs, size_t max, FILE *out);

/* Read each device in DEVS now and print its series (tcview_set_metrics_nodes), to OUT. */
void tcview_prometheus(const struct stats_device *devs, size_t ndevs, FILE *out);

#endif

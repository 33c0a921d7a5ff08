/* imqctl classes: imqN's qdiscs and classes as a tree, with rates between two readings. */
#ifndef IMQD_CLASSES_H
#define IMQD_CLASSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct tcview;

struct classes_opts {
	unsigned interval_ms; /* between the two readings; 0: one reading, no rates */
	bool watch;           /* read again every interval until interrupted */
	bool json;
	bool pretty;
};

/* Fetch imqd's answer to "classes [DEV]": its body in *BODY (to free); 0, or -1 having said why. */
typedef int (*classes_fetch_fn)(void *arg, char **body);

/* Parse the answer BODY into *TVS (*NTVS devices, to free with classes_free); 0 or -1. */
int classes_parse(const char *body, struct tcview **tvs, size_t *ntvs);

/* Free what classes_parse made. */
void classes_free(struct tcview *tvs, size_t ntvs);

/*
 * The nodes of TV in tree order: ORDER[k] is the index of the k-th node and
 * DEPTH[k] its depth (both TV->n long). Siblings go qdiscs first, by handle.
 * 0, or -1 with errno ENOMEM.
 */
int classes_tree(const struct tcview *tv, size_t *order, unsigned *depth);

/* Sort TV's nodes for classes_rate to find them. */
void classes_sort(struct tcview *tv);

/*
 * Rates of CUR's node I since PREV (the same device read earlier, sorted with
 * classes_sort), in bit/s and packets/s; false when unknown (no earlier
 * reading of that node, or its counters went back: the qdisc was replaced).
 */
bool classes_rate(const struct tcview *prev, const struct tcview *cur, size_t i, double *bps,
                  double *pps);

/* Print the NCUR devices CUR as trees, rates since the NPREV devices PREV (sorted), to OUT. */
void classes_print(const struct tcview *cur, size_t ncur, const struct tcview *prev, size_t nprev,
                   const struct classes_opts *o, FILE *out);

/* imqctl classes: read through FETCH once or twice (or on and on with watch), print to OUT. */
int classes_run(const struct classes_opts *o, classes_fetch_fn fetch, void *arg, FILE *out);

#endif

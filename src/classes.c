/* imqctl classes: imqN's qdiscs and classes as a tree, with rates between two readings. */
#include "classes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/pkt_sched.h>

#include "json.h"
#include "tcview.h"

/* Where a node is found by its identity: type, handle, parent, kind. */
static int
classes_cmp(const struct tcview_node *a, const struct tcview_node *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->handle != b->handle)
		return a->handle < b->handle ? -1 : 1;
	if (a->parent != b->parent)
		return a->parent < b->parent ? -1 : 1;
	return strcmp(a->kind, b->kind);
}

static int
classes_cmp_cb(const void *a, const void *b)
{
	return classes_cmp(a, b);
}

/* One line of BODY, LEN bytes, into *TVS; 0 or -1. */
static int
classes_parse_one(const char *body, size_t len, struct tcview **tvs, size_t *ntvs)
{
	char line[256];

	if (len == 0)
		return 0;
	if (len >= sizeof(line)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(line, body, len);
	line[len] = '\0';
	return tcview_parse_line(line, tvs, ntvs);
}

int
classes_parse(const char *body, struct tcview **tvs, size_t *ntvs)
{
	*tvs = NULL;
	*ntvs = 0;
	while (*body != '\0') {
		const char *nl = strchr(body, '\n');
		size_t len = nl != NULL ? (size_t)(nl - body) : strlen(body);

		if (classes_parse_one(body, len, tvs, ntvs) == -1) {
			int saved = errno;

			classes_free(*tvs, *ntvs);
			*tvs = NULL;
			*ntvs = 0;
			errno = saved;
			return -1;
		}
		body += len + (nl != NULL);
	}
	return 0;
}

void
classes_free(struct tcview *tvs, size_t ntvs)
{
	for (size_t i = 0; i < ntvs; i++)
		tcview_clear(&tvs[i]);
	free(tvs);
}

/* Lookup of nodes by type and handle, for finding parents. */
struct classes_index {
	const struct tcview *tv;
	size_t *by_handle; /* node indices sorted by type, handle */
};

static int
classes_ix_cb(const void *a, const void *b, void *arg)
{
	const struct tcview *tv = arg;
	const struct tcview_node *x = &tv->nodes[*(const size_t *)a];
	const struct tcview_node *y = &tv->nodes[*(const size_t *)b];

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Index of a node of TYPE with HANDLE, or -1. */
static long
classes_find(const struct classes_index *ix, enum tcview_type type, uint32_t handle)
{
	size_t lo = 0, hi = ix->tv->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tcview_node *x = &ix->tv->nodes[ix->by_handle[mid]];

		if (x->type < type || (x->type == type && x->handle < handle))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->tv->n) {
		const struct tcview_node *x = &ix->tv->nodes[ix->by_handle[lo]];
		if (x->type == type && x->handle == handle)
			return (long)ix->by_handle[lo];
	}
	return -1;
}

/*
 * The node that node I hangs under, or -1 for a root. A class's parent is
 * another class, or TC_H_ROOT for the top classes of its qdisc (the qdisc
 * whose major it shares); a qdisc's parent is the class it is the leaf of.
 */
static long
classes_parent(const struct classes_index *ix, size_t i)
{
	const struct tcview_node *x = &ix->tv->nodes[i];
	long p = -1;

	if (x->type == TCVIEW_CLASS) {
		if (x->parent != TC_H_ROOT && TC_H_MIN(x->parent) != 0)
			p = classes_find(ix, TCVIEW_CLASS, x->parent);
		if (p < 0 || (size_t)p == i)
			p = classes_find(ix, TCVIEW_QDISC, TC_H_MAJ(x->handle));
	} else if (x->parent != TC_H_ROOT && x->parent != TC_H_INGRESS &&
	           x->parent != TC_H_UNSPEC) {
		p = classes_find(ix, TCVIEW_CLASS, x->parent);
	}
	return p == (long)i ? -1 : p;
}

/* Children of one parent in output order: qdiscs first, by handle, dump order last. */
struct classes_child {
	long parent;
	size_t idx;
	const struct tcview_node *x;
};

static int
classes_child_cb(const void *a, const void *b)
{
	const struct classes_child *c = a, *d = b;

	if (c->parent != d->parent)
		return c->parent < d->parent ? -1 : 1;
	if (c->x->type != d->x->type)
		return c->x->type < d->x->type ? -1 : 1;
	if (c->x->handle != d->x->handle)
		return c->x->handle < d->x->handle ? -1 : 1;
	return c->idx < d->idx ? -1 : 1;
}

/* Depth-first from V: its subtree into ORDER and DEPTH from *OUT on. */
static void
classes_walk(const struct classes_child *ch, const size_t *first, size_t v0, size_t *stack,
             char *seen, unsigned *d, size_t *order, unsigned *depth, size_t *out)
{
	size_t top = 0;

	stack[top++] = v0;
	d[v0] = 0;
	while (top > 0) {
		size_t v = stack[--top];

		if (seen[v])
			continue;
		seen[v] = 1;
		order[*out] = v;
		depth[(*out)++] = d[v];
		/* Children of V are ch[first[v + 1] .. first[v + 2]), reversed onto the stack. */
		for (size_t k = first[v + 2]; k-- > first[v + 1];) {
			if (!seen[ch[k].idx]) {
				d[ch[k].idx] = d[v] + 1;
				stack[top++] = ch[k].idx;
			}
		}
	}
}

/* CH sorted by parent; FIRST[p + 1] is where parent P's children start (roots: P = -1). */
static void
classes_walk_all(const struct tcview *tv, const struct classes_child *ch, const size_t *first,
                 size_t *order, unsigned *depth, size_t *stack, char *seen, unsigned *d)
{
	size_t out = 0;

	for (size_t r = first[0]; r < first[1]; r++)
		classes_walk(ch, first, ch[r].idx, stack, seen, d, order, depth, &out);
	/* Parents that lead in a circle reach no root: each such node starts a tree of its own. */
	for (size_t v = 0; v < tv->n; v++)
		if (!seen[v])
			classes_walk(ch, first, v, stack, seen, d, order, depth, &out);
}

int
classes_tree(const struct tcview *tv, size_t *order, unsigned *depth)
{
	size_t n = tv->n;
	struct classes_index ix = {tv, calloc(n + 1, sizeof(size_t))};
	struct classes_child *ch = calloc(n + 1, sizeof(*ch));
	size_t *first = calloc(n + 2, sizeof(*first)), *stack = calloc(n + 1, sizeof(*stack));
	unsigned *d = calloc(n + 1, sizeof(*d));
	char *seen = calloc(n + 1, 1);
	int ret = -1;

	if (ix.by_handle == NULL || ch == NULL || first == NULL || stack == NULL || d == NULL ||
	    seen == NULL)
		goto free_all;
	for (size_t i = 0; i < n; i++)
		ix.by_handle[i] = i;
	qsort_r(ix.by_handle, n, sizeof(size_t), classes_ix_cb, (void *)tv);
	for (size_t i = 0; i < n; i++)
		ch[i] = (struct classes_child){classes_parent(&ix, i), i, &tv->nodes[i]};
	qsort(ch, n, sizeof(*ch), classes_child_cb);
	/* first[b]: the first child whose parent is b - 1, for b in 0 .. n + 1. */
	for (size_t b = 0, k = 0; b <= n + 1; b++) {
		while (k < n && ch[k].parent + 1 < (long)b)
			k++;
		first[b] = k;
	}
	classes_walk_all(tv, ch, first, order, depth, stack, seen, d);
	ret = 0;
free_all:
	free(ix.by_handle);
	free(ch);
	free(first);
	free(stack);
	free(d);
	free(seen);
	if (ret == -1)
		errno = ENOMEM;
	return ret;
}

void
classes_sort(struct tcview *tv)
{
	qsort(tv->nodes, tv->n, sizeof(*tv->nodes), classes_cmp_cb);
}

bool
classes_rate(const struct tcview *prev, const struct tcview *cur, size_t i, double *bps,
             double *pps)
{
	const struct tcview_node *x = &cur->nodes[i], *p;
	double dt;

	if (prev == NULL || cur->time_ns <= prev->time_ns)
		return false;
	p = bsearch(x, prev->nodes, prev->n, sizeof(*x), classes_cmp_cb);
	if (p == NULL || x->bytes < p->bytes || x->packets < p->packets)
		return false;
	dt = (double)(cur->time_ns - prev->time_ns) / 1e9;
	*bps = (double)(x->bytes - p->bytes) * 8 / dt;
	*pps = (double)(x->packets - p->packets) / dt;
	return true;
}

/* BPS as tc writes a rate: 9.60Mbit. */
static void
classes_rate_str(double bps, char *buf, size_t size)
{
	static const char *const units[] = {"bit", "Kbit", "Mbit", "Gbit", "Tbit"};
	size_t u = 0;

	while (bps >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bps /= 1000;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f%s" : "%.2f%s", bps, units[u]);
}

/* "qdisc htb 1:" or "class htb 1:10", indented by DEPTH. */
static int
classes_label(const struct tcview_node *x, unsigned depth, char *buf, size_t size)
{
	char h[24];

	tcview_handle_str(x->handle, h, sizeof(h));
	return snprintf(buf, size, "%*s%s %s %s", (int)(depth * 2), "",
	                x->type == TCVIEW_QDISC ? "qdisc" : "class", x->kind[0] ? x->kind : "-", h);
}

/* The previous reading of device CUR, or NULL. */
static const struct tcview *
classes_prev(const struct tcview *cur, const struct tcview *prev, size_t nprev)
{
	for (size_t i = 0; i < nprev; i++)
		if (strcmp(prev[i].dev, cur->dev) == 0 && prev[i].error == 0)
			return &prev[i];
	return NULL;
}

static void
classes_text_head(const struct tcview *tv, const struct tcview *prev, FILE *out)
{
	fprintf(out, "%s: %zu qdiscs and classes", tv->dev, tv->total);
	if (tv->n < tv->total)
		fprintf(out, ", the first %zu shown", tv->n);
	if (prev != NULL && tv->time_ns > prev->time_ns)
		fprintf(out, ", rates over %.2f s", (double)(tv->time_ns - prev->time_ns) / 1e9);
	fputc('\n', out);
}

static void
classes_text_node(const struct tcview *tv, const struct tcview *prev, size_t i, unsigned depth,
                  int width, FILE *out)
{
	const struct tcview_node *x = &tv->nodes[i];
	char label[96], rate[24] = "-", pps[24] = "-", backlog[40];
	double bps, p;

	classes_label(x, depth, label, sizeof(label));
	if (classes_rate(prev, tv, i, &bps, &p)) {
		classes_rate_str(bps, rate, sizeof(rate));
		snprintf(pps, sizeof(pps), "%.0f", p);
	}
	snprintf(backlog, sizeof(backlog), "%ub %up", x->backlog, x->qlen);
	fprintf(out, "%-*s %11s %8s %14" PRIu64 " %11" PRIu64 " %9u %10u %8u %12s\n", width, label,
	        rate, pps, x->bytes, x->packets, x->drops, x->overlimits, x->requeues, backlog);
}

static void
classes_text(const struct tcview *tv, const struct tcview *prev, FILE *out)
{
	size_t *order = calloc(tv->n + 1, sizeof(*order));
	unsigned *depth = calloc(tv->n + 1, sizeof(*depth));
	int width = 4;
	char label[96];

	if (tv->error != 0 || order == NULL || depth == NULL ||
	    classes_tree(tv, order, depth) != 0) {
		fprintf(out, "%s: cannot read its qdiscs: %s\n", tv->dev,
		        strerror(tv->error != 0 ? tv->error : ENOMEM));
		goto free_all;
	}
	classes_text_head(tv, prev, out);
	for (size_t k = 0; k < tv->n; k++) {
		int w = classes_label(&tv->nodes[order[k]], depth[k], label, sizeof(label));
		if (w > width)
			width = w < (int)sizeof(label) ? w : (int)sizeof(label) - 1;
	}
	fprintf(out, "%-*s %11s %8s %14s %11s %9s %10s %8s %12s\n", width, "NODE", "RATE", "PPS",
	        "BYTES", "PACKETS", "DROPS", "OVERLIMITS", "REQUEUES", "BACKLOG");
	for (size_t k = 0; k < tv->n; k++)
		classes_text_node(tv, prev, order[k], depth[k], width, out);
free_all:
	free(order);
	free(depth);
}

/* A number, or null when unknown; FMT prints it. */
static void
classes_jnum(struct json *j, const char *key, bool known, const char *fmt, double v)
{
	json_item(j, key);
	if (known)
		fprintf(j->out, fmt, v);
	else
		fputs("null", j->out);
}

static void
classes_json_node(struct json *j, const struct tcview *tv, const struct tcview *prev, size_t i,
                  unsigned depth)
{
	const struct tcview_node *x = &tv->nodes[i];
	char handle[24], parent[24];
	double bps = 0, pps = 0;
	bool known = classes_rate(prev, tv, i, &bps, &pps);

	tcview_handle_str(x->handle, handle, sizeof(handle));
	tcview_handle_str(x->parent, parent, sizeof(parent));
	json_open(j, NULL, '{');
	json_str(j, "type", x->type == TCVIEW_QDISC ? "qdisc" : "class");
	json_str(j, "kind", x->kind);
	json_str(j, "handle", handle);
	json_str(j, "parent", parent);
	json_u64(j, "depth", depth);
	classes_jnum(j, "rate_bps", known, "%.0f", bps);
	classes_jnum(j, "rate_pps", known, "%.1f", pps);
	json_u64(j, "bytes", x->bytes);
	json_u64(j, "packets", x->packets);
	json_u64(j, "drops", x->drops);
	json_u64(j, "overlimits", x->overlimits);
	json_u64(j, "requeues", x->requeues);
	json_u64(j, "backlog_bytes", x->backlog);
	json_u64(j, "backlog_packets", x->qlen);
	json_close(j, '}');
}

static void
classes_json_device(struct json *j, const struct tcview *tv, const struct tcview *prev)
{
	size_t *order = calloc(tv->n + 1, sizeof(*order));
	unsigned *depth = calloc(tv->n + 1, sizeof(*depth));
	bool rates = prev != NULL && tv->time_ns > prev->time_ns;

	json_open(j, NULL, '{');
	json_str(j, "name", tv->dev);
	if (tv->error != 0 || order == NULL || depth == NULL ||
	    classes_tree(tv, order, depth) != 0) {
		json_str(j, "error", strerror(tv->error != 0 ? tv->error : ENOMEM));
		json_close(j, '}');
		goto free_all;
	}
	classes_jnum(j, "interval_s", rates, "%.3f",
	             rates ? (double)(tv->time_ns - prev->time_ns) / 1e9 : 0);
	json_u64(j, "nodes", tv->total);
	json_u64(j, "shown", tv->n);
	json_open(j, "tree", '[');
	for (size_t k = 0; k < tv->n; k++)
		classes_json_node(j, tv, prev, order[k], depth[k]);
	json_close(j, ']');
	json_close(j, '}');
free_all:
	free(order);
	free(depth);
}

void
classes_print(const struct tcview *cur, size_t ncur, const struct tcview *prev, size_t nprev,
              const struct classes_opts *o, FILE *out)
{
	struct json j;

	json_init(&j, out, o->pretty);
	if (o->json) {
		json_open(&j, NULL, '{');
		json_open(&j, "devices", '[');
	}
	for (size_t i = 0; i < ncur; i++) {
		const struct tcview *p = classes_prev(&cur[i], prev, nprev);

		if (o->json) {
			classes_json_device(&j, &cur[i], p);
			continue;
		}
		if (i > 0)
			fputc('\n', out);
		classes_text(&cur[i], p, out);
	}
	if (o->json) {
		json_close(&j, ']');
		json_close(&j, '}');
		fputc('\n', out);
	}
}

/* One reading through FETCH into *TVS; 0, or -1 having said why. */
static int
classes_fetch(classes_fetch_fn fetch, void *arg, struct tcview **tvs, size_t *ntvs)
{
	char *body;

	if (fetch(arg, &body) == -1)
		return -1;
	if (classes_parse(body, tvs, ntvs) == -1) {
		fprintf(stderr, "imqctl: malformed classes answer from imqd\n");
		free(body);
		return -1;
	}
	free(body);
	return 0;
}

static void
classes_sleep(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
classes_run(const struct classes_opts *o, classes_fetch_fn fetch, void *arg, FILE *out)
{
	struct tcview *prev = NULL, *cur = NULL;
	size_t nprev = 0, ncur = 0;
	bool tty = !o->json && isatty(fileno(out)), first = true;
	int rc = 1;

	if (o->interval_ms > 0 && classes_fetch(fetch, arg, &prev, &nprev) == -1)
		return 1;
	for (;;) {
		classes_sleep(o->interval_ms);
		if (classes_fetch(fetch, arg, &cur, &ncur) == -1)
			goto free_all;
		for (size_t i = 0; i < nprev; i++)
			classes_sort(&prev[i]);
		if (o->watch && tty)
			fputs("\033[H\033[J", out); /* the screen redrawn, as top does */
		else if (!first && !o->json)
			fputc('\n', out);
		first = false;
		classes_print(cur, ncur, prev, nprev, o, out);
		if (fflush(out) == EOF || ferror(out)) {
			fprintf(stderr, "imqctl: stdout: %s\n", strerror(errno));
			goto free_all;
		}
		classes_free(prev, nprev);
		prev = cur, nprev = ncur;
		cur = NULL, ncur = 0;
		if (!o->watch)
			break;
	}
	rc = 0;
free_all:
	classes_free(prev, nprev);
	classes_free(cur, ncur);
	return rc;
}

/* imqd.conf: parsing, validation and printing of the configuration. */
#include "conf.h"
#include "conf_msgs.h"
#include "tcview.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#define CONF_MAX_NAME (NAME_MAX - 11) /* a path's last component, for NAME.tmp.XXXXXX */
#define CONF_MAX_LINE 4096            /* bytes in a line, without its line end */
#define CONF_MAX_SIZE (1024 * 1024)   /* bounds memory for a file or a fuzzer input */
#define CONF_MSG_MAX 512
#define CONF_NQUEUES 65536
#define CONF_MAXKEYS 24
#define CONF_SUN_PATH_MAX 108 /* sizeof(sun_path), including the NUL */

/* Defaults, as documented in conf/imqd.conf and imqd.conf(5). */
#define CONF_DEF_MTU 1500
#define CONF_DEF_OVERHEAD 14 /* an Ethernet header, as IFB would count it */
#define CONF_DEF_TXQUEUELEN 1000
#define CONF_DEF_QUEUE_MAXLEN 8192
#define CONF_DEF_ON_OVERFLOW CONF_ACCEPT
#define CONF_DEF_ON_ERROR CONF_ACCEPT
#define CONF_DEF_ON_FLOOD CONF_DROP
#define CONF_DEF_DROP_TIMEOUT_MS 5000
#define CONF_DEF_REORDER_WINDOW_MS 50
#define CONF_DEF_GSO true
#define CONF_DEF_COPY CONF_COPY_HEADERS
#define CONF_DEF_COPY_BYTES 128
#define CONF_DEF_PERSIST false
#define CONF_DEF_HOOK_TIMEOUT_MS 10000
#define CONF_DEF_LOG_LEVEL LOG_NOTICE
#define CONF_DEF_LOG_TARGET CONF_LOG_STDERR
#define CONF_DEF_CONTROL_SOCKET "/run/imqd/imqd.sock"
#define CONF_DEF_METRICS_INTERVAL_MS 10000
#define CONF_DEF_METRICS_CLASSES TCVIEW_DEF_METRICS_NODES
#define CONF_DEF_BRIDGE false

enum conf_type {
	CONF_T_QUEUES,
	CONF_T_COUNT,
	CONF_T_DURATION,
	CONF_T_BOOL,
	CONF_T_VERDICT,
	CONF_T_COPY,
	CONF_T_MARK,
	CONF_T_HOOK,
	CONF_T_LEVEL,
	CONF_T_TARGET,
	CONF_T_PATH,
	CONF_T_GROUP,
	CONF_T_USER,
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off;        /* of the field in struct conf_device or struct conf */
	unsigned min, max; /* counts; durations in ms; path length */
	size_t line_off;   /* of the int that keeps the key's line for conf_verify; 0: none */
};

#define DEV(f) offsetof(struct conf_device, f)
#define GLB(f) offsetof(struct conf, f)

/* In the order conf_print writes them; queues first, as CONF_KEY_QUEUES. */
#define CONF_KEY_QUEUES 0
static const struct conf_key conf_device_keys[] = {
    {"queues", CONF_T_QUEUES, DEV(queues), 0, CONF_NQUEUES - 1, 0},
    {"multiqueue", CONF_T_BOOL, DEV(multiqueue), 0, 0, 0},
    {"mtu", CONF_T_COUNT, DEV(mtu), 68, 65535, 0},
    {"overhead", CONF_T_COUNT, DEV(overhead), 0, 256, 0},
    {"txqueuelen", CONF_T_COUNT, DEV(txqueuelen), 1, 1000000, 0},
    {"queue-maxlen", CONF_T_COUNT, DEV(queue_maxlen), 1, 1048576, 0},
    {"on-overflow", CONF_T_VERDICT, DEV(on_overflow), 0, 0, 0},
    {"on-error", CONF_T_VERDICT, DEV(on_error), 0, 0, 0},
    {"on-flood", CONF_T_VERDICT, DEV(on_flood), 0, 0, 0},
    {"drop-timeout", CONF_T_DURATION, DEV(drop_timeout_ms), 10, 600000, 0},
    {"reorder-window", CONF_T_DURATION, DEV(reorder_window_ms), 0, 600000, 0},
    {"gso", CONF_T_BOOL, DEV(gso), 0, 0, 0},
    {"copy", CONF_T_COPY, DEV(copy), 0, 0, 0},
    {"copy-bytes", CONF_T_COUNT, DEV(copy_bytes), 40, 65535, 0},
    {"continue-mark", CONF_T_MARK, DEV(continue_mark), 0, 0, 0},
    {"ecn-mark", CONF_T_MARK, DEV(ecn_mark), 0, 0, 0},
    {"bridge", CONF_T_BOOL, DEV(bridge), 0, 0, 0},
    {"persist", CONF_T_BOOL, DEV(persist), 0, 0, 0},
    {"up", CONF_T_HOOK, DEV(up), 0, 0, DEV(up_line)},
    {"down", CONF_T_HOOK, DEV(down), 0, 0, DEV(down_line)},
    {"hook-timeout", CONF_T_DURATION, DEV(hook_timeout_ms), 100, 600000, 0},
};

static const struct conf_key conf_global_keys[] = {
    {"log-level", CONF_T_LEVEL, GLB(log_level), 0, 0, 0},
    {"log-target", CONF_T_TARGET, GLB(log_target), 0, 0, 0},
    {"control-socket", CONF_T_PATH, GLB(control_socket), 0, CONF_SUN_PATH_MAX - 1,
     GLB(control_socket_line)},
    {"control-group", CONF_T_GROUP, GLB(control_group), 0, 0, GLB(control_group_line)},
    {"metrics-file", CONF_T_PATH, GLB(metrics_file), 0, CONF_MAX_LINE, GLB(metrics_file_line)},
    {"metrics-interval", CONF_T_DURATION, GLB(metrics_interval_ms), 1000, 3600000, 0},
    {"metrics-classes", CONF_T_COUNT, GLB(metrics_classes), 0, TCVIEW_MAX_NODES, 0},
    {"user", CONF_T_USER, GLB(user), 0, 0, GLB(user_line)},
    {"workers", CONF_T_COUNT, GLB(workers), 1, CONF_MAX_WORKERS, 0},
};

/* A mark key's field is its mark, and the field after it its mask. */
_Static_assert(DEV(continue_mask) == DEV(continue_mark) + sizeof(uint32_t), "mark pair");
_Static_assert(DEV(ecn_mask) == DEV(ecn_mark) + sizeof(uint32_t), "mark pair");

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(NKEYS(conf_device_keys) <= CONF_MAXKEYS, "CONF_MAXKEYS too small");
_Static_assert(NKEYS(conf_global_keys) <= CONF_MAXKEYS, "CONF_MAXKEYS too small");

struct conf_word {
	const char *name;
	int value;
};

static const struct conf_word conf_verdicts[] = {
    {"accept", CONF_ACCEPT}, {"drop", CONF_DROP}, {NULL, 0}};
static const struct conf_word conf_copies[] = {
    {"full", CONF_COPY_FULL}, {"headers", CONF_COPY_HEADERS}, {NULL, 0}};
static const struct conf_word conf_levels[] = {{"error", LOG_ERR},     {"warning", LOG_WARNING},
                                               {"notice", LOG_NOTICE}, {"info", LOG_INFO},
                                               {"debug", LOG_DEBUG},   {NULL, 0}};
static const struct conf_word conf_targets[] = {
    {"stderr", CONF_LOG_STDERR}, {"syslog", CONF_LOG_SYSLOG}, {NULL, 0}};

/* Which device section first claimed a queue, for "already used by" errors. */
struct conf_claim {
	const struct conf_device *dev;
	int line;        /* of its queues key */
	size_t reported; /* claim number + 1 of the section last told about it */
};

enum conf_section {
	CONF_SEC_NONE,
	CONF_SEC_GLOBAL,
	CONF_SEC_DEVICE,
	CONF_SEC_BAD, /* after a broken header: its keys would only add noise */
};

struct conf_parser {
	const char *path;
	struct conf *conf;
	int lineno;
	enum conf_section sec;
	char secname[CONF_ESC_SIZE]; /* escaped, for messages */
	int secline;
	int keyline[CONF_MAXKEYS]; /* where each key of this section was set */
	bool discard;              /* a duplicate or misnamed section: check, then drop */
	struct conf_device *dev;   /* the device section being read */
	struct conf_device **tail;
	struct conf *scratch; /* a second [global], checked and dropped */
	int global_line;
	bool seen_device;
	uint32_t *owner; /* queue -> claim number + 1; 0: free */
	struct conf_claim *claims;
	size_t nclaims;
	struct conf_msgs msgs;
	bool oom;
	uint8_t qset[CONF_NQUEUES / 8];
	char buf[CONF_MAX_LINE + 1];
};

static bool
conf_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool
conf_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

const char *
conf_esc(char *buf, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (o + 8 > size || o >= CONF_ESC_MAX) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

static void
conf_msgs_vadd(struct conf_msgs *l, int line, const char *fmt, va_list ap)
{
	char text[CONF_MSG_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (l->n == l->size) {
		size_t n = l->size ? l->size * 2 : 16;
		struct conf_msg *v = realloc(l->v, n * sizeof(*v));
		if (v == NULL) {
			l->oom = true;
			return;
		}
		l->v = v;
		l->size = n;
	}
	struct conf_msg *m = &l->v[l->n];
	if ((m->text = strdup(text)) == NULL) {
		l->oom = true;
		return;
	}
	m->line = line;
	m->seq = l->n++;
}

void
conf_msgs_add(struct conf_msgs *l, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_msgs_vadd(l, line, fmt, ap);
	va_end(ap);
}

static void conf_err(struct conf_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Errors are kept and printed sorted by line: some are found only at a section's end. */
static void
conf_err(struct conf_parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_msgs_vadd(&p->msgs, line, fmt, ap);
	va_end(ap);
}

static void
conf_bad(struct conf_parser *p, const struct conf_key *k, const char *v, const char *why)
{
	char e[CONF_ESC_SIZE];

	conf_err(p, p->lineno, "bad value \"%s\" for %s: %s", conf_esc(e, sizeof(e), v), k->name,
	         why);
}

/* By line; messages about the whole file (line 0, "no device sections") last. */
static int
conf_msg_cmp(const void *a, const void *b)
{
	const struct conf_msg *x = a, *y = b;
	int xl = x->line > 0 ? x->line : INT_MAX, yl = y->line > 0 ? y->line : INT_MAX;

	if (xl != yl)
		return xl < yl ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
conf_msgs_flush(struct conf_msgs *l, const char *path, FILE *err)
{
	if (l->n > 0)
		qsort(l->v, l->n, sizeof(*l->v), conf_msg_cmp);
	for (size_t i = 0; i < l->n; i++) {
		const struct conf_msg *m = &l->v[i];
		if (err != NULL && m->line > 0)
			fprintf(err, "%s:%d: %s\n", path, m->line, m->text);
		else if (err != NULL)
			fprintf(err, "%s: %s\n", path, m->text);
		free(m->text);
	}
	if (l->oom && err != NULL)
		fprintf(err, "%s: out of memory\n", path);
	free(l->v);
	*l = (struct conf_msgs){0};
}

/* Decimal digits at *S, at most LIMIT; *S is left after them. */
static int
conf_digits(const char **s, uint64_t limit, uint64_t *n)
{
	const char *c = *s;
	uint64_t v = 0;

	if (!conf_isdigit(*c))
		return -1;
	for (; conf_isdigit(*c); c++) {
		v = v * 10 + (uint64_t)(*c - '0');
		if (v > limit)
			return -1;
	}
	*s = c;
	*n = v;
	return 0;
}

static int
conf_parse_count(struct conf_parser *p, const struct conf_key *k, const char *v, unsigned *out)
{
	const char *s = v;
	uint64_t n;
	char why[80];

	if (conf_digits(&s, UINT32_MAX, &n) == 0) {
		unsigned scale = 1;
		if (strcmp(s, "k") == 0)
			scale = 1024;
		else if (strcmp(s, "m") == 0)
			scale = 1048576;
		else if (*s != '\0')
			scale = 0;
		n *= scale;
		if (scale != 0 && n >= k->min && n <= k->max) {
			*out = (unsigned)n;
			return 0;
		}
	}
	snprintf(why, sizeof(why), "expected a number from %u to %u", k->min, k->max);
	conf_bad(p, k, v, why);
	return -1;
}

static const char *
conf_fmt_duration(char *buf, size_t size, unsigned ms)
{
	if (ms % 3600000 == 0 && ms > 0)
		snprintf(buf, size, "%uh", ms / 3600000);
	else if (ms % 60000 == 0 && ms > 0)
		snprintf(buf, size, "%um", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%us", ms / 1000);
	else
		snprintf(buf, size, "%ums", ms);
	return buf;
}

/* Milliseconds in the unit UNIT; a bare number is in seconds. 0: no such unit. */
static unsigned
conf_duration_unit(const char *unit)
{
	static const struct conf_word units[] = {{"", 1000},   {"ms", 1},      {"s", 1000},
	                                         {"m", 60000}, {"h", 3600000}, {NULL, 0}};

	for (const struct conf_word *u = units; u->name != NULL; u++)
		if (strcmp(unit, u->name) == 0)
			return (unsigned)u->value;
	return 0;
}

static int
conf_parse_duration(struct conf_parser *p, const struct conf_key *k, const char *v, unsigned *out)
{
	const char *s = v;
	uint64_t n;
	char why[80], lo[16], hi[16];

	if (conf_digits(&s, UINT32_MAX, &n) == 0) {
		unsigned scale = conf_duration_unit(s);
		n *= scale;
		if (scale != 0 && n >= k->min && n <= k->max) {
			*out = (unsigned)n;
			return 0;
		}
	}
	snprintf(why, sizeof(why), "expected a duration from %s to %s",
	         conf_fmt_duration(lo, sizeof(lo), k->min),
	         conf_fmt_duration(hi, sizeof(hi), k->max));
	conf_bad(p, k, v, why);
	return -1;
}

static int
conf_parse_bool(struct conf_parser *p, const struct conf_key *k, const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < NKEYS(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*out = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	conf_bad(p, k, v, "expected yes or no");
	return -1;
}

static const struct conf_word *
conf_words(enum conf_type type)
{
	switch (type) {
	case CONF_T_VERDICT:
		return conf_verdicts;
	case CONF_T_COPY:
		return conf_copies;
	case CONF_T_LEVEL:
		return conf_levels;
	default:
		return conf_targets;
	}
}

static int
conf_parse_word(struct conf_parser *p, const struct conf_key *k, const char *v, int *out)
{
	const struct conf_word *w = conf_words(k->type);
	char why[80] = "expected ";

	for (size_t i = 0; w[i].name != NULL; i++) {
		if (strcmp(v, w[i].name) == 0) {
			*out = w[i].value;
			return 0;
		}
	}
	for (size_t i = 0; w[i].name != NULL; i++) {
		const char *sep = w[i + 1].name == NULL   ? ""
		                  : w[i + 2].name == NULL ? " or "
		                                          : ", ";
		strncat(why, w[i].name, sizeof(why) - strlen(why) - 1);
		strncat(why, sep, sizeof(why) - strlen(why) - 1);
	}
	conf_bad(p, k, v, why);
	return -1;
}

/* Enum fields are written through their own type: their size is the compiler's choice. */
static void
conf_word_store(const struct conf_key *k, void *f, int w)
{
	switch (k->type) {
	case CONF_T_VERDICT:
		*(enum conf_verdict *)f = (enum conf_verdict)w;
		break;
	case CONF_T_COPY:
		*(enum conf_copy *)f = (enum conf_copy)w;
		break;
	case CONF_T_TARGET:
		*(enum conf_log_target *)f = (enum conf_log_target)w;
		break;
	default:
		*(int *)f = w;
		break;
	}
}

static int
conf_word_load(const struct conf_key *k, const void *f)
{
	switch (k->type) {
	case CONF_T_VERDICT:
		return (int)*(const enum conf_verdict *)f;
	case CONF_T_COPY:
		return (int)*(const enum conf_copy *)f;
	case CONF_T_TARGET:
		return (int)*(const enum conf_log_target *)f;
	default:
		return *(const int *)f;
	}
}

/* Hex (0x...) or decimal, at most 0xffffffff; *S is left after it. */
static int
conf_u32(const char **s, uint32_t *out)
{
	const char *c = *s;
	uint64_t v = 0;

	if (c[0] != '0' || (c[1] != 'x' && c[1] != 'X')) {
		if (conf_digits(s, UINT32_MAX, &v) == -1)
			return -1;
		*out = (uint32_t)v;
		return 0;
	}
	c += 2;
	if (strchr("0123456789abcdefABCDEF", *c) == NULL || *c == '\0')
		return -1;
	for (; *c != '\0' && strchr("0123456789abcdefABCDEF", *c) != NULL; c++) {
		int d = conf_isdigit(*c) ? *c - '0' : (*c | 0x20) - 'a' + 10;
		v = v * 16 + (uint64_t)d;
		if (v > UINT32_MAX)
			return -1;
	}
	*s = c;
	*out = (uint32_t)v;
	return 0;
}

static int
conf_parse_mark(struct conf_parser *p, const struct conf_key *k, const char *v,
                struct conf_device *d)
{
	const char *s = v;
	uint32_t mark, mask = UINT32_MAX;
	int bad = conf_u32(&s, &mark);

	if (bad == 0 && *s == '/') {
		s++;
		bad = conf_u32(&s, &mask);
	}
	if (bad == -1 || *s != '\0') {
		conf_bad(p, k, v, "expected MARK or MARK/MASK, numbers up to 0xffffffff");
		return -1;
	}
	if (mask == 0) {
		conf_bad(p, k, v, "the mask is zero");
		return -1;
	}
	if ((mark & ~mask) != 0) {
		conf_bad(p, k, v, "the mark has bits outside the mask");
		return -1;
	}
	/* The guard rule skips packets carrying MARK: a zero mark would queue them forever. */
	if (mark == 0) {
		conf_bad(p, k, v, "the mark is zero: the queue rule would match the packet again");
		return -1;
	}
	/* The mask is the field after the mark (conf_mark_pair). */
	uint32_t *pair = (uint32_t *)((char *)d + k->off);
	pair[0] = mark;
	pair[1] = mask;
	return 0;
}

/* One item of a queue list, "N" or "N-M", into the parser's queue set. */
static int
conf_queue_item(struct conf_parser *p, const char **s, char *why, size_t size)
{
	uint64_t lo, hi;

	while (conf_isspace(**s))
		(*s)++;
	if (conf_digits(s, CONF_NQUEUES - 1, &lo) == -1)
		return -1;
	hi = lo;
	if (**s == '-') {
		(*s)++;
		if (conf_digits(s, CONF_NQUEUES - 1, &hi) == -1)
			return -1;
		if (hi < lo) {
			snprintf(why, size, "the range %u-%u is reversed", (unsigned)lo,
			         (unsigned)hi);
			return -1;
		}
	}
	while (conf_isspace(**s))
		(*s)++;
	for (uint64_t q = lo; q <= hi; q++)
		p->qset[q / 8] |= (uint8_t)(1u << (q % 8));
	return 0;
}

static int
conf_queue_list(struct conf_parser *p, const struct conf_key *k, const char *v)
{
	const char *s = v;
	char why[80] = "expected queue numbers from 0 to 65535, as in 0-3,7";

	memset(p->qset, 0, sizeof(p->qset));
	for (;;) {
		if (conf_queue_item(p, &s, why, sizeof(why)) == -1)
			break;
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			break;
	}
	conf_bad(p, k, v, why);
	return -1;
}

/* Report queues of D that an earlier section has, once per earlier section. */
static void
conf_queue_claim(struct conf_parser *p, struct conf_device *d)
{
	if (p->owner == NULL && (p->owner = calloc(CONF_NQUEUES, sizeof(*p->owner))) == NULL) {
		p->oom = true;
		return;
	}
	struct conf_claim *c = realloc(p->claims, (p->nclaims + 1) * sizeof(*c));
	if (c == NULL) {
		p->oom = true;
		return;
	}
	p->claims = c;
	size_t me = ++p->nclaims;
	p->claims[me - 1] = (struct conf_claim){d, p->lineno, 0};
	for (size_t i = 0; i < d->nqueues; i++) {
		uint16_t q = d->queues[i];
		if (p->owner[q] == 0) {
			p->owner[q] = (uint32_t)me;
			continue;
		}
		struct conf_claim *o = &p->claims[p->owner[q] - 1];
		if (o->reported == me)
			continue;
		o->reported = me;
		conf_err(p, p->lineno, "queue %u is already used by %s (line %d)", q, o->dev->name,
		         o->line);
	}
}

static int
conf_parse_queues(struct conf_parser *p, const struct conf_key *k, const char *v,
                  struct conf_device *d)
{
	size_t n = 0;

	if (conf_queue_list(p, k, v) == -1)
		return -1;
	for (size_t q = 0; q < CONF_NQUEUES; q++)
		n += (p->qset[q / 8] >> (q % 8)) & 1;
	free(d->queues);
	if ((d->queues = malloc(n * sizeof(*d->queues))) == NULL) {
		d->nqueues = 0;
		p->oom = true;
		return -1;
	}
	d->nqueues = 0;
	for (size_t q = 0; q < CONF_NQUEUES; q++)
		if ((p->qset[q / 8] >> (q % 8)) & 1)
			d->queues[d->nqueues++] = (uint16_t)q;
	if (!p->discard)
		conf_queue_claim(p, d);
	return 0;
}

/* Split V into NUL-ended words at OUT: whitespace separates, "..." groups, \ escapes in "". */
static int
conf_hook_words(const char *v, char *out, size_t *outlen)
{
	char *o = out;
	int n = 0;

	for (;;) {
		while (conf_isspace(*v))
			v++;
		if (*v == '\0')
			break;
		bool quoted = false;
		for (; *v != '\0' && (quoted || !conf_isspace(*v)); v++) {
			if (*v == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && *v == '\\' && *++v == '\0')
				return -1;
			*o++ = *v;
		}
		if (quoted)
			return -1;
		*o++ = '\0';
		n++;
	}
	*outlen = (size_t)(o - out);
	return n;
}

/* The argv and its strings in one allocation, so one free() releases it. */
static char **
conf_hook_argv(const char *words, size_t len, int n)
{
	size_t head = ((size_t)n + 1) * sizeof(char *);
	char **argv = malloc(head + len);

	if (argv == NULL)
		return NULL;
	char *s = (char *)argv + head;
	memcpy(s, words, len);
	for (int i = 0; i < n; i++) {
		argv[i] = s;
		s += strlen(s) + 1;
	}
	argv[n] = NULL;
	return argv;
}

/* Only what the text shows: whether the program exists and may run is conf_verify's. */
static int
conf_hook_check(struct conf_parser *p, const char *prog)
{
	char e[CONF_ESC_SIZE];

	if (prog[0] == '\0')
		conf_err(p, p->lineno, "hook program is empty");
	else if (prog[0] != '/')
		conf_err(p, p->lineno, "hook program %s must be an absolute path",
		         conf_esc(e, sizeof(e), prog));
	else
		return 0;
	return -1;
}

static int
conf_parse_hook(struct conf_parser *p, const struct conf_key *k, const char *v, char ***out)
{
	size_t len;
	char *words = malloc(strlen(v) + 1);

	if (words == NULL) {
		p->oom = true;
		return -1;
	}
	int n = conf_hook_words(v, words, &len);
	if (n <= 0) {
		conf_bad(p, k, v,
		         n == 0 ? "expected a program and its arguments" : "a quote is not closed");
	} else if (conf_hook_check(p, words) == 0) {
		free(*out);
		if ((*out = conf_hook_argv(words, len, n)) == NULL)
			p->oom = true;
		free(words);
		return *out == NULL ? -1 : 0;
	}
	free(words);
	return -1;
}

static int
conf_set_string(struct conf_parser *p, char **out, const char *v)
{
	char *s = strdup(v);

	if (s == NULL) {
		p->oom = true;
		return -1;
	}
	free(*out);
	*out = s;
	return 0;
}

static int
conf_parse_path(struct conf_parser *p, const struct conf_key *k, const char *v, char **out)
{
	char why[80];

	if (v[0] != '/') {
		conf_bad(p, k, v, "expected an absolute path");
		return -1;
	}
	if (strlen(v) > k->max) {
		snprintf(why, sizeof(why), "longer than %u bytes", k->max);
		conf_bad(p, k, v, why);
		return -1;
	}
	const char *name = strrchr(v, '/') + 1;
	if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		conf_bad(p, k, v, "expected a file name after the last '/'");
		return -1;
	}
	/* Room for the ".tmp.XXXXXX" of the metrics file's temporary twin. */
	if (strlen(name) > CONF_MAX_NAME) {
		snprintf(why, sizeof(why), "its file name is longer than %d bytes", CONF_MAX_NAME);
		conf_bad(p, k, v, why);
		return -1;
	}
	return conf_set_string(p, out, v);
}

/* Whether the user or group exists is conf_verify's. */
static int
conf_parse_name(struct conf_parser *p, const struct conf_key *k, const char *v, char **out)
{
	if (*v == '\0') {
		conf_bad(p, k, v,
		         k->type == CONF_T_USER ? "expected a user name" : "expected a group name");
		return -1;
	}
	return conf_set_string(p, out, v);
}

/* Parse V for key K into OBJ, a struct conf_device or a struct conf. */
static void
conf_key_set(struct conf_parser *p, const struct conf_key *k, void *obj, const char *v)
{
	void *f = (char *)obj + k->off;
	int w;

	switch (k->type) {
	case CONF_T_QUEUES:
		conf_parse_queues(p, k, v, obj);
		break;
	case CONF_T_COUNT:
		conf_parse_count(p, k, v, f);
		break;
	case CONF_T_DURATION:
		conf_parse_duration(p, k, v, f);
		break;
	case CONF_T_BOOL:
		conf_parse_bool(p, k, v, f);
		break;
	case CONF_T_MARK:
		conf_parse_mark(p, k, v, obj);
		break;
	case CONF_T_HOOK:
		conf_parse_hook(p, k, v, f);
		break;
	case CONF_T_PATH:
		conf_parse_path(p, k, v, f);
		break;
	case CONF_T_GROUP:
	case CONF_T_USER:
		conf_parse_name(p, k, v, f);
		break;
	default:
		if (conf_parse_word(p, k, v, &w) == 0)
			conf_word_store(k, f, w);
		break;
	}
	if (k->line_off != 0)
		*(int *)((char *)obj + k->line_off) = p->lineno;
}

static void
conf_device_free(struct conf_device *d)
{
	if (d == NULL)
		return;
	free(d->queues);
	free(d->up);
	free(d->down);
	free(d);
}

static struct conf_device *
conf_device_new(const char *name)
{
	struct conf_device *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->mtu = CONF_DEF_MTU;
	d->overhead = CONF_DEF_OVERHEAD;
	d->txqueuelen = CONF_DEF_TXQUEUELEN;
	d->queue_maxlen = CONF_DEF_QUEUE_MAXLEN;
	d->on_overflow = CONF_DEF_ON_OVERFLOW;
	d->on_error = CONF_DEF_ON_ERROR;
	d->on_flood = CONF_DEF_ON_FLOOD;
	d->drop_timeout_ms = CONF_DEF_DROP_TIMEOUT_MS;
	d->reorder_window_ms = CONF_DEF_REORDER_WINDOW_MS;
	d->gso = CONF_DEF_GSO;
	d->copy = CONF_DEF_COPY;
	d->copy_bytes = CONF_DEF_COPY_BYTES;
	d->persist = CONF_DEF_PERSIST;
	d->bridge = CONF_DEF_BRIDGE;
	d->hook_timeout_ms = CONF_DEF_HOOK_TIMEOUT_MS;
	return d;
}

static struct conf *
conf_new(const char *path)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->log_level = CONF_DEF_LOG_LEVEL;
	c->log_target = CONF_DEF_LOG_TARGET;
	c->metrics_interval_ms = CONF_DEF_METRICS_INTERVAL_MS;
	c->metrics_classes = CONF_DEF_METRICS_CLASSES;
	c->path = strdup(path);
	c->control_socket = strdup(CONF_DEF_CONTROL_SOCKET);
	if (c->path == NULL || c->control_socket == NULL) {
		conf_free(c);
		return NULL;
	}
	return c;
}

/*
 * All devices together may hold CONF_MAX_HELD_ALL packets: named at the
 * section of the first device that passes it.
 */
static void
conf_held_all(struct conf_parser *p)
{
	uint64_t all = 0;

	for (const struct conf_device *d = p->conf->devices; d != NULL; d = d->next) {
		all += (uint64_t)d->queue_maxlen * d->nqueues;
		if (all > CONF_MAX_HELD_ALL) {
			conf_err(p, d->line,
			         "[%s]: the devices up to this one would hold up to %" PRIu64
			         " packets (queue-maxlen x queues, summed), more than %d in all: "
			         "lower queue-maxlen",
			         d->name, all, CONF_MAX_HELD_ALL);
			return;
		}
	}
}

/* The index of device key NAME in conf_device_keys (keyline's index). */
static size_t
conf_device_key(const char *name)
{
	size_t i = 0;

	while (i < NKEYS(conf_device_keys) - 1 && strcmp(conf_device_keys[i].name, name) != 0)
		i++;
	return i;
}

/* Checks done when a section ends: only then is a missing key known. */
static void
conf_section_end(struct conf_parser *p)
{
	if (p->sec == CONF_SEC_DEVICE && p->keyline[CONF_KEY_QUEUES] == 0)
		conf_err(p, p->secline, "[%s] has no queues", p->secname);
	/* Both marks are set by verdicts on the same packets: their bits must not mix. */
	if (p->sec == CONF_SEC_DEVICE && p->dev != NULL &&
	    (p->dev->ecn_mask & p->dev->continue_mask) != 0)
		conf_err(p, p->keyline[conf_device_key("ecn-mark")],
		         "ecn-mark 0x%" PRIx32 "/0x%" PRIx32
		         " shares bits with continue-mark 0x%" PRIx32 "/0x%" PRIx32
		         ": give them masks of their own",
		         p->dev->ecn_mark, p->dev->ecn_mask, p->dev->continue_mark,
		         p->dev->continue_mask);
	/* A bound on what the device's table may grow to (it grows as packets are held). */
	if (p->sec == CONF_SEC_DEVICE && p->dev != NULL &&
	    (uint64_t)p->dev->queue_maxlen * p->dev->nqueues > CONF_MAX_HELD)
		conf_err(p, p->keyline[CONF_KEY_QUEUES],
		         "[%s] would hold up to %" PRIu64
		         " packets (queue-maxlen %u x %zu queues), "
		         "more than %d: lower queue-maxlen",
		         p->secname, (uint64_t)p->dev->queue_maxlen * p->dev->nqueues,
		         (unsigned)p->dev->queue_maxlen, p->dev->nqueues, CONF_MAX_HELD);
	if (p->discard)
		conf_device_free(p->dev);
	conf_free(p->scratch);
	p->scratch = NULL;
	p->dev = NULL;
	p->discard = false;
	p->sec = CONF_SEC_NONE;
}

/* Why NAME cannot be a Linux interface name, or NULL if it can. */
static const char *
conf_ifname_invalid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "it is empty";
	if (len >= CONF_IFNAMSIZ)
		return "longer than 15 bytes";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "not usable as an interface name";
	if (strpbrk(name, "/:%") != NULL)
		return "'/', ':' and '%' are not allowed";
	for (const char *s = name; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return "only printable ASCII without spaces is allowed";
	return NULL;
}

static void
conf_device_begin(struct conf_parser *p, const char *name)
{
	const char *why = conf_ifname_invalid(name);
	const struct conf_device *old = NULL;

	p->seen_device = true;
	if (why != NULL) {
		conf_err(p, p->lineno, "invalid device name \"%s\": %s", p->secname, why);
		p->discard = true;
	} else if ((old = conf_device_find(p->conf, name)) != NULL) {
		conf_err(p, p->lineno, "duplicate section [%s] (first at line %d)", p->secname,
		         old->line);
		p->discard = true;
	} else if (p->conf->ndevices == CONF_MAX_DEVICES) {
		conf_err(p, p->lineno, "too many devices: at most %d", CONF_MAX_DEVICES);
		p->discard = true;
	}
	if ((p->dev = conf_device_new(name)) == NULL) {
		p->oom = true;
		p->discard = false;
		return;
	}
	p->dev->line = p->lineno;
	p->sec = CONF_SEC_DEVICE;
	if (!p->discard) {
		*p->tail = p->dev;
		p->tail = &p->dev->next;
		p->conf->ndevices++;
	}
}

static void
conf_section(struct conf_parser *p, char *s)
{
	size_t len = strlen(s);
	char e[CONF_ESC_SIZE];

	conf_section_end(p);
	if (len < 2 || s[len - 1] != ']') {
		conf_err(p, p->lineno, "bad section header \"%s\": expected [name]",
		         conf_esc(e, sizeof(e), s));
		p->sec = CONF_SEC_BAD;
		return;
	}
	s[len - 1] = '\0';
	s++;
	conf_esc(p->secname, sizeof(p->secname), s);
	p->secline = p->lineno;
	memset(p->keyline, 0, sizeof(p->keyline));
	if (strcmp(s, "global") != 0) {
		conf_device_begin(p, s);
		return;
	}
	p->sec = CONF_SEC_GLOBAL;
	if (p->global_line == 0) {
		p->global_line = p->lineno;
		return;
	}
	conf_err(p, p->lineno, "duplicate section [global] (first at line %d)", p->global_line);
	if ((p->scratch = conf_new(p->path)) == NULL) {
		p->oom = true;
		p->sec = CONF_SEC_NONE;
	}
}

static void
conf_keyval(struct conf_parser *p, const char *key, const char *value)
{
	const struct conf_key *keys = conf_device_keys;
	size_t nkeys = NKEYS(conf_device_keys), i;
	void *obj = p->dev;
	char e[CONF_ESC_SIZE];

	if (p->sec == CONF_SEC_BAD)
		return;
	if (p->sec == CONF_SEC_NONE) {
		conf_err(p, p->lineno, "key \"%s\" is outside any section",
		         conf_esc(e, sizeof(e), key));
		return;
	}
	if (p->sec == CONF_SEC_GLOBAL) {
		keys = conf_global_keys;
		nkeys = NKEYS(conf_global_keys);
		obj = p->scratch != NULL ? p->scratch : p->conf;
	}
	for (i = 0; i < nkeys && strcmp(keys[i].name, key) != 0; i++)
		;
	if (i == nkeys) {
		/* A key of the other kind of section: a misspelt [global], or a misplaced key. */
		bool global = p->sec == CONF_SEC_GLOBAL;
		const struct conf_key *other = global ? conf_device_keys : conf_global_keys;
		size_t nother = global ? NKEYS(conf_device_keys) : NKEYS(conf_global_keys);
		const char *hint = "";
		for (size_t j = 0; j < nother; j++)
			if (strcmp(other[j].name, key) == 0)
				hint =
				    global ? " (a key of device sections)" : " (a key of [global])";
		conf_err(p, p->lineno, "unknown key \"%s\" in [%s]%s", conf_esc(e, sizeof(e), key),
		         p->secname, hint);
	} else if (p->keyline[i] != 0) {
		conf_err(p, p->lineno, "duplicate key \"%s\" (first at line %d)", key,
		         p->keyline[i]);
	} else {
		p->keyline[i] = p->lineno;
		conf_key_set(p, &keys[i], obj, value);
	}
}

static char *
conf_trim(char *s)
{
	while (conf_isspace(*s))
		s++;
	size_t len = strlen(s);
	while (len > 0 && conf_isspace(s[len - 1]))
		s[--len] = '\0';
	return s;
}

static void
conf_line(struct conf_parser *p, char *line)
{
	char *s = conf_trim(line), *eq;

	if (*s == '\0' || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		conf_section(p, s);
		return;
	}
	if ((eq = strchr(s, '=')) == NULL) {
		conf_err(p, p->lineno, "expected \"key = value\", [section] or a comment");
		return;
	}
	*eq = '\0';
	char *key = conf_trim(s);
	if (*key == '\0') {
		conf_err(p, p->lineno, "no key before \"=\"");
		return;
	}
	conf_keyval(p, key, conf_trim(eq + 1));
}

static void
conf_lines(struct conf_parser *p, const char *text, size_t len)
{
	const char *s = text, *end = text + len;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
		const char *next = nl != NULL ? nl + 1 : end;

		p->lineno++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > CONF_MAX_LINE) {
			conf_err(p, p->lineno, "line is longer than %d bytes", CONF_MAX_LINE);
		} else if (memchr(s, '\0', n) != NULL) {
			conf_err(p, p->lineno, "line contains a NUL byte");
		} else {
			memcpy(p->buf, s, n);
			p->buf[n] = '\0';
			conf_line(p, p->buf);
		}
		s = next;
	}
	conf_section_end(p);
}

struct conf *
conf_parse(const char *name, const char *text, size_t len, FILE *err)
{
	struct conf_parser *p = calloc(1, sizeof(*p));
	struct conf *conf = NULL;

	if (p == NULL) {
		if (err != NULL)
			fprintf(err, "%s: out of memory\n", name);
		errno = ENOMEM;
		return NULL;
	}
	p->path = name;
	if ((p->conf = conf_new(name)) == NULL) {
		p->oom = true;
	} else if (len > CONF_MAX_SIZE) {
		conf_err(p, 0, "larger than %d bytes", CONF_MAX_SIZE);
	} else {
		p->tail = &p->conf->devices;
		/* A UTF-8 byte order mark, as some editors write one, is not part of line 1. */
		if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
			text += 3;
			len -= 3;
		}
		conf_lines(p, text, len);
		if (!p->seen_device)
			conf_err(p, 0, "no device sections");
		if (p->msgs.n == 0)
			conf_held_all(p); /* a sum of devices that are each valid */
	}
	if (p->msgs.n == 0 && !p->oom)
		conf = p->conf;
	else
		conf_free(p->conf);
	int why = p->oom ? ENOMEM : EINVAL;
	p->msgs.oom |= p->oom;
	conf_msgs_flush(&p->msgs, p->path, err);
	free(p->owner);
	free(p->claims);
	free(p);
	if (conf == NULL)
		errno = why;
	return conf;
}

/* Why a file with status ST may not configure imqd, said on ERR; 0 if it may. */
static int
conf_refuse(const char *path, const struct stat *st, FILE *err)
{
	if (!S_ISREG(st->st_mode))
		/* A FIFO or a device (/dev/kmsg) could be read from forever. */
		fprintf(err, "%s: not a regular file\n", path);
	else if (st->st_mode & S_IWOTH)
		fprintf(err, "%s: is writable by other users; refusing it\n", path);
	else if (st->st_uid != 0 && st->st_uid != geteuid())
		/* Its owner could make it writable: it names programs imqd runs. */
		fprintf(err, "%s: is owned by uid %u, not root; refusing it\n", path,
		        (unsigned)st->st_uid);
	else if ((st->st_mode & S_IWGRP) && st->st_gid != 0 && st->st_gid != getegid())
		fprintf(err, "%s: is writable by group %u, not root's; refusing it\n", path,
		        (unsigned)st->st_gid);
	else
		return 0;
	return -1;
}

/* FD's bytes, one more than the limit at most (so conf_parse sees an oversized file); NULL with
 * errno. */
static char *
conf_read_fd(int fd, size_t *lenp)
{
	char *text = malloc(CONF_MAX_SIZE + 1);
	size_t len = 0;
	ssize_t n;

	if (text == NULL)
		return NULL;
	while (len <= CONF_MAX_SIZE && (n = read(fd, text + len, CONF_MAX_SIZE + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			int saved = errno;
			free(text);
			errno = saved;
			return NULL;
		}
		len += (size_t)n;
	}
	*lenp = len;
	return text;
}

/* PATH's text; NULL with errno: why it could not be read, or EINVAL for a file refused. */
static char *
conf_read(const char *path, size_t *lenp, FILE *err)
{
	struct stat st;
	char *text = NULL;
	/* Not blocking: opening a FIFO would wait for a writer, and hold imqd's event loop. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), saved = 0;

	if (fd == -1) {
		saved = errno;
		fprintf(err, "%s: cannot open: %s\n", path, strerror(saved));
		errno = saved;
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		fprintf(err, "%s: cannot stat: %s\n", path, strerror(saved));
	} else if (conf_refuse(path, &st, err) == -1) {
		saved = EINVAL;
	} else if ((text = conf_read_fd(fd, lenp)) == NULL) {
		saved = errno;
		fprintf(err, "%s: cannot read: %s\n", path, strerror(saved));
	}
	close(fd);
	errno = saved;
	return text;
}

struct conf *
conf_load(const char *path, FILE *err)
{
	size_t len = 0;
	char *text = conf_read(path, &len, err);

	if (text == NULL)
		return NULL;
	struct conf *conf = conf_parse(path, text, len, err);
	int saved = errno;
	free(text);
	errno = saved;
	return conf;
}

void
conf_free(struct conf *conf)
{
	if (conf == NULL)
		return;
	while (conf->devices != NULL) {
		struct conf_device *d = conf->devices;
		conf->devices = d->next;
		conf_device_free(d);
	}
	free(conf->path);
	free(conf->control_socket);
	free(conf->control_group);
	free(conf->metrics_file);
	free(conf->user);
	free(conf);
}

void
conf_print_queues(FILE *out, const struct conf_device *d)
{
	for (size_t i = 0; i < d->nqueues;) {
		size_t j = i;
		while (j + 1 < d->nqueues && d->queues[j + 1] == d->queues[j] + 1)
			j++;
		fprintf(out, "%s%u", i > 0 ? "," : "", d->queues[i]);
		if (j > i)
			fprintf(out, "-%u", d->queues[j]);
		i = j + 1;
	}
}

/* Quote an argument only when it would not read back as one word. */
static void
conf_print_arg(FILE *out, const char *arg)
{
	bool quote = *arg == '\0';

	for (const char *s = arg; *s != '\0'; s++)
		if (conf_isspace(*s) || *s == '"')
			quote = true;
	if (!quote) {
		fputs(arg, out);
		return;
	}
	fputc('"', out);
	for (const char *s = arg; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void
conf_print_hook(FILE *out, char *const *argv)
{
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (i > 0)
			fputc(' ', out);
		conf_print_arg(out, argv[i]);
	}
}

/* Whether the key in OBJ has no value, printed as a comment. */
static bool
conf_key_unset(const struct conf_key *k, const void *obj)
{
	const void *f = (const char *)obj + k->off;

	switch (k->type) {
	case CONF_T_MARK:
		return ((const uint32_t *)f)[1] == 0;
	case CONF_T_HOOK:
		return *(char **const *)f == NULL;
	case CONF_T_PATH:
	case CONF_T_GROUP:
	case CONF_T_USER:
		return *(const char *const *)f == NULL;
	case CONF_T_COUNT:
		/* Only a count left to imqd to choose (workers) can be 0. */
		return k->min > 0 && *(const unsigned *)f == 0;
	default:
		return false;
	}
}

static void
conf_print_key(FILE *out, const struct conf_key *k, const void *obj)
{
	const void *f = (const char *)obj + k->off;
	const struct conf_device *d = obj;
	char buf[16];

	if (conf_key_unset(k, obj)) {
		fprintf(out, "# %s =\n", k->name);
		return;
	}
	fprintf(out, "%s = ", k->name);
	switch (k->type) {
	case CONF_T_QUEUES:
		conf_print_queues(out, d);
		break;
	case CONF_T_COUNT:
		fprintf(out, "%u", *(const unsigned *)f);
		break;
	case CONF_T_DURATION:
		fputs(conf_fmt_duration(buf, sizeof(buf), *(const unsigned *)f), out);
		break;
	case CONF_T_BOOL:
		fputs(*(const bool *)f ? "yes" : "no", out);
		break;
	case CONF_T_MARK:
		fprintf(out, "0x%" PRIx32 "/0x%" PRIx32, ((const uint32_t *)f)[0],
		        ((const uint32_t *)f)[1]);
		break;
	case CONF_T_HOOK:
		conf_print_hook(out, *(char **const *)f);
		break;
	case CONF_T_PATH:
	case CONF_T_GROUP:
	case CONF_T_USER:
		fputs(*(const char *const *)f, out);
		break;
	default:
		for (const struct conf_word *w = conf_words(k->type); w->name != NULL; w++)
			if (w->value == conf_word_load(k, f))
				fputs(w->name, out);
		break;
	}
	fputc('\n', out);
}

void
conf_print(const struct conf *conf, FILE *out)
{
	fputs("[global]\n", out);
	for (size_t i = 0; i < NKEYS(conf_global_keys); i++)
		conf_print_key(out, &conf_global_keys[i], conf);
	for (const struct conf_device *d = conf->devices; d != NULL; d = d->next) {
		fprintf(out, "\n[%s]\n", d->name);
		for (size_t i = 0; i < NKEYS(conf_device_keys); i++) {
			if (conf_device_keys[i].off == DEV(mtu) && d->gso)
				fputs(
				    "# mtu: not in effect with gso = yes (the limit and imqN's MTU "
				    "are 65535)\n",
				    out);
			conf_print_key(out, &conf_device_keys[i], d);
		}
	}
}

const struct conf_device *
conf_device_find(const struct conf *conf, const char *name)
{
	for (const struct conf_device *d = conf->devices; d != NULL; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static bool
conf_argv_differ(char *const *a, char *const *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	for (; *a != NULL && *b != NULL; a++, b++)
		if (strcmp(*a, *b) != 0)
			return true;
	return *a != *b;
}

bool
conf_device_changed(const struct conf_device *a, const struct conf_device *b)
{
	return strcmp(a->name, b->name) != 0 || a->nqueues != b->nqueues ||
	       (a->nqueues > 0 &&
	        memcmp(a->queues, b->queues, a->nqueues * sizeof(*a->queues)) != 0) ||
	       a->mtu != b->mtu || a->overhead != b->overhead || a->txqueuelen != b->txqueuelen ||
	       a->queue_maxlen != b->queue_maxlen || a->on_overflow != b->on_overflow ||
	       a->on_error != b->on_error || a->on_flood != b->on_flood ||
	       a->drop_timeout_ms != b->drop_timeout_ms ||
	       a->reorder_window_ms != b->reorder_window_ms || a->gso != b->gso ||
	       a->copy != b->copy || a->copy_bytes != b->copy_bytes ||
	       a->continue_mark != b->continue_mark || a->continue_mask != b->continue_mask ||
	       a->ecn_mark != b->ecn_mark || a->ecn_mask != b->ecn_mask ||
	       a->persist != b->persist || a->multiqueue != b->multiqueue ||
	       conf_argv_differ(a->up, b->up) || conf_argv_differ(a->down, b->down) ||
	       a->hook_timeout_ms != b->hook_timeout_ms;
}

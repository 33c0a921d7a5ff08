/* Unit tests of stats.c: failopen names, text, JSON, Prometheus and the metrics file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

static const uint16_t imq0_queues[] = {0, 1};
static struct stats_counters imq0_qc[2];
static const uint16_t imq1_queues[] = {4};
static struct stats_counters imq1_qc[1];
static struct stats_device devs[2];

static void
fill(struct stats_counters *c, uint64_t base)
{
	c->received = base + 1;
	c->received_bytes = base + 2;
	c->accepted = base + 3;
	c->accepted_bytes = base + 4;
	c->dropped_enqueue = base + 5;
	c->dropped_order = base + 6;
	c->dropped_timeout = base + 7;
	c->dropped_error = base + 8;
	c->dropped_ecn = base + 9;
	for (int i = 0; i < STATS_FO_MAX; i++)
		c->failopen[i] = base + 10 + (uint64_t)i;
	c->held = base + 20;
	c->peak_held = base + 21;
	c->id_gaps = base + 22;
	c->malformed = base + 23;
	c->verdict_errors = base + 24;
	c->partial = base + 25;
	c->dropped_overflow = base + 26;
	c->kernel_passed = base + 27;
	c->kernel_dropped = base + 28;
	c->marked_ecn = base + 29;
	c->flooded = base + 30;
	c->flood_dropping = base + 31;
	c->watchdog = base + 32;
}

static void
add(struct stats_counters *sum, const struct stats_counters *c)
{
	const uint64_t *src = (const uint64_t *)c;
	uint64_t *dst = (uint64_t *)sum;

	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

static int
setup(void **state)
{
	(void)state;
	memset(devs, 0, sizeof(devs));
	fill(&imq0_qc[0], 100);
	fill(&imq0_qc[1], 200);
	fill(&imq1_qc[0], 1000);
	devs[0] = (struct stats_device){
	    .name = "imq0",
	    .state = "up",
	    .qdisc = "tbf",
	    .queues = imq0_queues,
	    .nqueues = 2,
	    .queue_counters = imq0_qc,
	    .hold = {.p50_us = 120, .p99_us = 900, .max_us = 2500000},
	    .stray = 2,
	    .unmatched = 3,
	    .verdicts_batched = 4,
	};
	add(&devs[0].total, &imq0_qc[0]);
	add(&devs[0].total, &imq0_qc[1]);
	/* On a bound (inclusive), just above one, in the middle, and above the last. */
	stats_hold_observe(&devs[0].hold_hist, 50);
	stats_hold_observe(&devs[0].hold_hist, 100);
	stats_hold_observe(&devs[0].hold_hist, 101);
	stats_hold_observe(&devs[0].hold_hist, 3000000);
	stats_hold_observe(&devs[0].hold_hist, 20000000);
	devs[1] = (struct stats_device){
	    .name = "imq1",
	    .state = "down",
	    .qdisc = "",
	    .queues = imq1_queues,
	    .nqueues = 1,
	    .queue_counters = imq1_qc,
	};
	devs[1].total = imq1_qc[0];
	return 0;
}

enum render_kind { R_TEXT, R_JSON, R_PRETTY, R_PROM, R_SUMMARY };

/*
 * Not inlined: GCC 12 at -O2 then takes the buffer open_memstream(3)
 * returns through BUF for a pointer to BUF itself (-Wdangling-pointer).
 */
__attribute__((noinline)) static char *
render(const struct stats_device *d, size_t n, enum render_kind kind)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	switch (kind) {
	case R_TEXT:
		stats_print_text(d, n, f);
		break;
	case R_JSON:
		stats_print_json(d, n, 0, f);
		break;
	case R_PRETTY:
		stats_print_json(d, n, 1, f);
		break;
	case R_PROM:
		stats_print_prometheus(d, n, f);
		break;
	case R_SUMMARY:
		stats_print_summary(d, n, f);
		break;
	}
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* A tiny JSON checker: returns the end of the value at P, or NULL if it is not valid JSON. */
static const char *json_value(const char *p);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *
json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 4;
			} else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0') {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *
json_number(const char *p)
{
	const char *s = p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (isdigit((unsigned char)*p))
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p > s ? p : NULL;
}

static const char *
json_container(const char *p, char close, bool object)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if ((p = json_string(json_ws(p))) == NULL)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if ((p = json_value(p)) == NULL)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *
json_value(const char *p)
{
	p = json_ws(p);
	switch (*p) {
	case '{':
		return json_container(p, '}', true);
	case '[':
		return json_container(p, ']', false);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return json_number(p);
	}
}

/* TEXT is one JSON document followed by exactly one newline. */
static void
assert_json_document(const char *text)
{
	const char *end = json_value(text);

	assert_non_null(end);
	assert_string_equal(end, "\n");
}

/* TEXT without the whitespace outside strings. */
static char *
json_squeeze(const char *text)
{
	char *out = malloc(strlen(text) + 1), *q = out;
	bool in_string = false;

	assert_non_null(out);
	for (const char *p = text; *p != '\0'; p++) {
		if (in_string && *p == '\\') {
			*q++ = *p++;
			*q++ = *p;
			continue;
		}
		if (*p == '"')
			in_string = !in_string;
		if (!in_string && isspace((unsigned char)*p))
			continue;
		*q++ = *p;
	}
	*q = '\0';
	return out;
}

static void
test_failopen(void **state)
{
	struct stats_counters c = {.failopen = {1, 2, 3, 4, 5}};

	(void)state;
	assert_string_equal(stats_failopen_name(STATS_FO_DEVICE_DOWN), "device_down");
	assert_string_equal(stats_failopen_name(STATS_FO_TOO_BIG), "too_big");
	assert_string_equal(stats_failopen_name(STATS_FO_NO_BUFFER), "no_buffer");
	assert_string_equal(stats_failopen_name(STATS_FO_INJECT_ERROR), "inject_error");
	assert_string_equal(stats_failopen_name(STATS_FO_SHUTDOWN), "shutdown");
	assert_string_equal(stats_failopen_name(STATS_FO_OVERFLOW), "overflow");
	assert_int_equal(stats_failopen_total(&c), 15);
}

static void
test_text(void **state)
{
	char *text;

	(void)state;
	text = render(devs, 2, R_TEXT);
	assert_non_null(strstr(text, "imq0: state up, qdisc tbf, queues 0-1\n"));
	assert_non_null(strstr(text, "\nimq1: state down, qdisc unknown, queues 4\n"));
	assert_non_null(strstr(text, "\n  received            302 pkts             304 bytes\n"));
	assert_non_null(strstr(text, "\n  queue 1:\n    received            201 pkts"));
	assert_non_null(strstr(text, "held                340 pkts  (peak 342)\n"));
	assert_non_null(strstr(text, "stray 2, unmatched 3\n"));
	assert_non_null(strstr(
	    text, "\n  batched               4 pkts  (accepted in batch verdict messages)\n"));
	assert_non_null(strstr(text, "hold time  p50 120us, p99 900us, max 2.50s\n"));
	assert_non_null(strstr(text, "(device_down 320, too_big 322, no_buffer 324, inject_error "
	                             "326, shutdown 328, overflow 330)\n"));
	assert_non_null(strstr(text, "ecn 318, overflow 352)\n"));
	assert_non_null(strstr(
	    text, "\n  marked_ecn          358 pkts  (accepted marked Congestion Experienced)\n"));
	assert_non_null(strstr(text,
	                       "\n  bypassed            710 pkts  (passed 354, dropped 356: the "
	                       "kernel decided them, imqd's receive buffer full; flooded 360, "
	                       "flood_dropping 362, watchdog 364)\n"));
	free(text);
}

static void
test_summary(void **state)
{
	static const uint16_t q[] = {0, 1, 2, 3, 7, 9, 10};
	struct stats_device d = {
	    .name = "imq5", .state = "up", .qdisc = "htb", .queues = q, .nqueues = 7};
	char *text;

	(void)state;
	text = render(devs, 2, R_SUMMARY);
	assert_string_equal(text, "imq0 up tbf queues 0-1\nimq1 down unknown queues 4\n");
	free(text);
	text = render(&d, 1, R_SUMMARY);
	assert_string_equal(text, "imq5 up htb queues 0-3,7,9-10\n");
	free(text);
}

static void
test_json_exact(void **state)
{
	static const uint16_t q[] = {7};
	struct stats_counters qc = {
	    .received = 1, .received_bytes = 60, .failopen = {[STATS_FO_TOO_BIG] = 2}};
	struct stats_device d = {.name = "imq9",
	                         .state = "up",
	                         .qdisc = "fq_codel",
	                         .queues = q,
	                         .nqueues = 1,
	                         .queue_counters = &qc,
	                         .total = qc,
	                         .hold = {.p50_us = 5, .p99_us = 6, .max_us = 7},
	                         .stray = 8,
	                         .unmatched = 9,
	                         .verdicts_batched = 10};
	static const char *counters =
	    "\"received\":1,\"received_bytes\":60,\"accepted\":0,\"accepted_bytes\":0,"
	    "\"dropped_enqueue\":0,\"dropped_order\":0,\"dropped_timeout\":0,"
	    "\"dropped_error\":0,\"dropped_ecn\":0,\"dropped_overflow\":0,\"marked_ecn\":0,"
	    "\"held\":0,\"peak_held\":0,"
	    "\"partial\":0,\"id_gaps\":0,\"kernel_passed\":0,\"kernel_dropped\":0,\"flooded\":0,"
	    "\"flood_dropping\":0,\"watchdog\":0,\"malformed\":0,\"verdict_errors\":0,\"dropped\":"
	    "0,\"failopen\":2,"
	    "\"failopen_reasons\":{\"device_down\":0,\"too_big\":2,\"no_buffer\":0,"
	    "\"inject_error\":0,\"shutdown\":0,\"overflow\":0}";
	char expect[2048];
	char *text;

	(void)state;
	snprintf(expect, sizeof(expect),
	         "{\"devices\":[{\"name\":\"imq9\",\"state\":\"up\",\"qdisc\":\"fq_codel\","
	         "\"queues\":[7],%s,\"stray\":8,\"unmatched\":9,\"verdicts_batched\":10,"
	         "\"hold_us\":{\"p50\":5,\"p99\":6,\"max\":7},"
	         "\"per_queue\":[{\"queue\":7,%s}]}]}\n",
	         counters, counters);
	text = render(&d, 1, R_JSON);
	assert_string_equal(text, expect);
	free(text);
	text = render(NULL, 0, R_JSON);
	assert_string_equal(text, "{\"devices\":[]}\n");
	free(text);
	text = render(NULL, 0, R_PRETTY);
	assert_string_equal(text, "{\n  \"devices\": []\n}\n");
	free(text);
}

static void
test_json_valid(void **state)
{
	char *compact, *pretty, *squeezed;

	(void)state;
	compact = render(devs, 2, R_JSON);
	pretty = render(devs, 2, R_PRETTY);
	assert_json_document(compact);
	assert_json_document(pretty);
	assert_null(strchr(compact, ' '));
	assert_int_equal(strchr(compact, '\n') - compact, (long)strlen(compact) - 1);
	/* Pretty is compact with whitespace added, indented by two spaces a level. */
	squeezed = json_squeeze(pretty);
	compact[strlen(compact) - 1] = '\0';
	assert_string_equal(squeezed, compact);
	assert_non_null(strstr(pretty, "\n  \"devices\": [\n    {\n      \"name\": \"imq0\",\n"));
	assert_non_null(strstr(pretty, "\n      \"queues\": [0, 1],\n"));
	assert_non_null(strstr(compact, "\"failopen\":1950,"));
	free(squeezed);
	free(compact);
	free(pretty);
}

static void
test_json_escape(void **state)
{
	struct stats_device d = {
	    .name = "a\"b\\c", .state = "x\ny\t\x01", .qdisc = "caf\xc3\xa9\xff"};
	char *text;

	(void)state;
	text = render(&d, 1, R_JSON);
	assert_json_document(text);
	assert_non_null(strstr(text, "\"name\":\"a\\\"b\\\\c\""));
	assert_non_null(strstr(text, "\"state\":\"x\\ny\\t\\u0001\""));
	/* Valid UTF-8 passes; a stray byte becomes U+FFFD so the document stays valid. */
	assert_non_null(strstr(text, "\"qdisc\":\"caf\xc3\xa9\\ufffd\""));
	assert_non_null(strstr(text, "\"queues\":[]"));
	assert_non_null(strstr(text, "\"per_queue\":[]"));
	free(text);
}

/* Length of a metric or label name at P matching FIRST then [a-zA-Z0-9_...]*; 0 if none. */
static size_t
prom_name(const char *p, bool colon)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)p[0]) || p[0] == '_' || (colon && p[0] == ':')))
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || (colon && p[n] == ':'))
		n++;
	return n;
}

struct prom_family {
	char name[128];
	char type[16];
};

/* True when the sample name N bytes at P belongs to family F (histograms: _bucket, _sum, _count).
 */
static bool
prom_of_family(const struct prom_family *f, const char *p, size_t n)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	size_t len = strlen(f->name);

	if (n == len)
		return strncmp(f->name, p, n) == 0 && strcmp(f->type, "histogram") != 0;
	if (n < len || strncmp(f->name, p, len) != 0 || strcmp(f->type, "histogram") != 0)
		return false;
	for (size_t i = 0; i < 3; i++)
		if (n - len == strlen(suffixes[i]) && strncmp(p + len, suffixes[i], n - len) == 0)
			return true;
	return false;
}

/* Check the exposition format: families once, HELP then TYPE then their samples, together. */
static void
assert_prometheus(const char *text)
{
	static struct prom_family fams[256];
	static char seen[4096][256];
	size_t nfams = 0, nseen = 0;
	struct prom_family *cur = NULL;
	const char *line = text;

	assert_true(*text != '\0' && text[strlen(text) - 1] == '\n');
	while (*line != '\0') {
		const char *eol = strchr(line, '\n');
		size_t len = (size_t)(eol - line), n;
		char buf[512], *p;

		assert_true(len > 0 && len < sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = eol + 1;
		if (strncmp(buf, "# HELP ", 7) == 0) {
			n = prom_name(buf + 7, true);
			assert_true(n > 0 && buf[7 + n] == ' ' && buf[8 + n] != '\0');
			for (size_t i = 0; i < nfams; i++)
				assert_false(strncmp(fams[i].name, buf + 7, n) == 0 &&
				             fams[i].name[n] == '\0');
			assert_true(nfams < 256);
			cur = &fams[nfams++];
			memset(cur, 0, sizeof(*cur));
			memcpy(cur->name, buf + 7, n);
			continue;
		}
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			n = prom_name(buf + 7, true);
			assert_non_null(cur);
			assert_true(strlen(cur->name) == n && strncmp(cur->name, buf + 7, n) == 0);
			assert_string_equal(cur->type, "");
			p = buf + 8 + n;
			assert_true(strcmp(p, "counter") == 0 || strcmp(p, "gauge") == 0 ||
			            strcmp(p, "histogram") == 0);
			strcpy(cur->type, p);
			if (strcmp(p, "counter") == 0)
				assert_string_equal(cur->name + strlen(cur->name) - 6, "_total");
			continue;
		}
		assert_true(buf[0] != '#');
		/* A sample of the family just introduced: name{label="value",...} value */
		n = prom_name(buf, true);
		assert_non_null(cur);
		assert_string_not_equal(cur->type, "");
		assert_true(prom_of_family(cur, buf, n));
		p = buf + n;
		if (*p == '{') {
			do {
				p++;
				n = prom_name(p, false);
				assert_true(n > 0 && p[n] == '=' && p[n + 1] == '"');
				for (p += n + 2; *p != '"'; p++) {
					assert_true(*p != '\0' && *p != '\n');
					if (*p == '\\') {
						p++;
						assert_non_null(strchr("\\\"n", *p));
					}
				}
				p++;
			} while (*p == ',');
			assert_int_equal(*p++, '}');
		}
		assert_int_equal(*p++, ' ');
		{
			char *end;

			strtod(p, &end);
			assert_true(end != p && *end == '\0');
		}
		/* No series twice. */
		*(p - 1) = '\0';
		for (size_t i = 0; i < nseen; i++)
			assert_string_not_equal(seen[i], buf);
		assert_true(nseen < 4096 && strlen(buf) < 256);
		strcpy(seen[nseen++], buf);
	}
}

static void
test_prometheus(void **state)
{
	char *text;

	(void)state;
	text = render(devs, 2, R_PROM);
	assert_prometheus(text);
	assert_non_null(strstr(text, "\nimqd_received_packets_total{device=\"imq0\"} 302\n"));
	assert_non_null(strstr(text, "\nimqd_received_bytes_total{device=\"imq1\"} 1002\n"));
	assert_non_null(strstr(
	    text, "\nimqd_failopen_packets_total{device=\"imq0\",reason=\"too_big\"} 322\n"));
	assert_non_null(
	    strstr(text, "\nimqd_dropped_packets_total{device=\"imq0\",reason=\"order\"} 312\n"));
	assert_non_null(
	    strstr(text, "\nimqd_dropped_packets_total{device=\"imq0\",reason=\"ecn\"} 318\n"));
	assert_non_null(strstr(text,
	                       "\nimqd_queue_accepted_packets_total{device=\"imq0\",queue=\"1\"} "
	                       "203\n"));
	assert_non_null(strstr(text,
	                       "\nimqd_queue_failopen_packets_total{device=\"imq1\",queue=\"4\","
	                       "reason=\"shutdown\"} 1014\n"));
	assert_non_null(strstr(text, "\n# TYPE imqd_held_packets gauge\n"));
	assert_non_null(strstr(text, "\n# TYPE imqd_hold_seconds histogram\n"));
	assert_non_null(strstr(text,
	                       "\nimqd_hold_seconds_bucket{device=\"imq0\",le=\"0.0001\"} 2\n"
	                       "imqd_hold_seconds_bucket{device=\"imq0\",le=\"0.00025\"} 3\n"));
	assert_non_null(strstr(text, "\nimqd_hold_seconds_bucket{device=\"imq0\",le=\"2.5\"} 3\n"
	                             "imqd_hold_seconds_bucket{device=\"imq0\",le=\"5\"} 4\n"
	                             "imqd_hold_seconds_bucket{device=\"imq0\",le=\"10\"} 4\n"
	                             "imqd_hold_seconds_bucket{device=\"imq0\",le=\"+Inf\"} 5\n"
	                             "imqd_hold_seconds_sum{device=\"imq0\"} 23.000251\n"
	                             "imqd_hold_seconds_count{device=\"imq0\"} 5\n"));
	assert_non_null(strstr(text, "\nimqd_hold_seconds_count{device=\"imq1\"} 0\n"));
	assert_null(strstr(text, "quantile"));
	assert_non_null(
	    strstr(text, "# TYPE imqd_build_info gauge\nimqd_build_info{version=\"" IMQD_VERSION
	                 "\"} 1\n"));
	assert_non_null(strstr(text, "\nimqd_stray_packets_total{device=\"imq0\"} 2\n"));
	assert_non_null(strstr(text, "\nimqd_verdicts_batched_total{device=\"imq0\"} 4\n"));
	assert_non_null(
	    strstr(text, "\nimqd_device_info{device=\"imq1\",state=\"down\",qdisc=\"\"} 1\n"));
	free(text);
	/* With no devices every family is still announced, and the text stays valid. */
	text = render(NULL, 0, R_PROM);
	assert_non_null(strstr(text, "# TYPE imqd_received_packets_total counter\n"));
	free(text);
}

static void
test_prometheus_escape(void **state)
{
	struct stats_device d = {.name = "a\"b\\c\nd", .state = "up", .qdisc = "tbf"};
	char *text;

	(void)state;
	text = render(&d, 1, R_PROM);
	assert_prometheus(text);
	assert_non_null(strstr(text, "\nimqd_stray_packets_total{device=\"a\\\"b\\\\c\\nd\"} 0\n"));
	free(text);
}

/* Names of the entries of DIR other than . and .., joined by spaces. */
static void
list_dir(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	out[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		strncat(out, e->d_name, size - strlen(out) - 2);
		strcat(out, " ");
	}
	closedir(d);
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
test_metrics_file(void **state)
{
	char dir[] = "/tmp/imqd-stats.XXXXXX", path[256], bad[300], names[512];
	char *want, *got;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/imqd.prom", dir);
	/* Twice: the second time replaces the first file. */
	assert_int_equal(stats_write_metrics_file(devs, 1, path), 0);
	assert_int_equal(stats_write_metrics_file(devs, 2, path), 0);
	want = render(devs, 2, R_PROM);
	got = read_file(path);
	assert_string_equal(got, want);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	list_dir(dir, names, sizeof(names));
	assert_string_equal(names, "imqd.prom ");

	/* The target is a directory: rename fails, no temporary file is left behind. */
	snprintf(bad, sizeof(bad), "%s/sub", dir);
	assert_int_equal(mkdir(bad, 0755), 0);
	errno = 0;
	assert_int_equal(stats_write_metrics_file(devs, 2, bad), -1);
	assert_int_equal(errno, EISDIR);
	list_dir(dir, names, sizeof(names));
	assert_true(strcmp(names, "imqd.prom sub ") == 0 || strcmp(names, "sub imqd.prom ") == 0);

	/* A missing directory. */
	snprintf(bad, sizeof(bad), "%s/missing/imqd.prom", dir);
	errno = 0;
	assert_int_equal(stats_write_metrics_file(devs, 2, bad), -1);
	assert_int_equal(errno, ENOENT);

	snprintf(bad, sizeof(bad), "%s/sub", dir);
	rmdir(bad);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	free(want);
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failopen),
	    cmocka_unit_test_setup(test_text, setup),
	    cmocka_unit_test_setup(test_summary, setup),
	    cmocka_unit_test(test_json_exact),
	    cmocka_unit_test_setup(test_json_valid, setup),
	    cmocka_unit_test(test_json_escape),
	    cmocka_unit_test_setup(test_prometheus, setup),
	    cmocka_unit_test(test_prometheus_escape),
	    cmocka_unit_test_setup(test_metrics_file, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

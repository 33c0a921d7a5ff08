/* Unit tests of imqd.conf parsing, validation and printing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"

/* Errors of the last parse, one "name:line: message\n" per error. */
static char *errors;

static struct conf *
parse_len(const char *text, size_t len)
{
	size_t size;
	FILE *err;

	free(errors);
	errors = NULL;
	err = open_memstream(&errors, &size);
	assert_non_null(err);
	struct conf *conf = conf_parse("t.conf", text, len, err);
	fclose(err);
	return conf;
}

static struct conf *
parse(const char *text)
{
	return parse_len(text, strlen(text));
}

/* TEXT must fail with exactly the error lines EXPECT. */
static void
parse_bad(const char *text, const char *expect)
{
	struct conf *conf = parse(text);

	assert_null(conf);
	assert_string_equal(errors, expect);
}

/* Verify CONF (as for imqd -t) into the errors; conf_verify's result. */
static int
verify(const struct conf *conf)
{
	size_t size;
	FILE *err;

	free(errors);
	errors = NULL;
	err = open_memstream(&errors, &size);
	assert_non_null(err);
	int rc = conf_verify(conf, NULL, err);
	fclose(err);
	return rc;
}

/* TEXT parses, whatever the system holds, and conf_verify fails with exactly EXPECT. */
static void
verify_bad(const char *text, const char *expect)
{
	struct conf *conf = parse(text);

	if (conf == NULL)
		fail_msg("does not parse: %s", errors);
	assert_int_equal(verify(conf), -1);
	assert_string_equal(errors, expect);
	conf_free(conf);
}

/* TEXT parses and passes conf_verify. */
static void
verify_good(const char *text)
{
	struct conf *conf = parse(text);

	if (conf == NULL)
		fail_msg("does not parse: %s", errors);
	if (verify(conf) != 0)
		fail_msg("conf_verify: %s", errors);
	conf_free(conf);
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* One key in a device section after "queues = 0", on line 3. */
static struct conf *
parse_dev_key(const char *key, const char *value)
{
	char text[8192];

	snprintf(text, sizeof(text), "[imq0]\nqueues = 0\n%s = %s\n", key, value);
	return parse(text);
}

static struct conf *
parse_global_key(const char *key, const char *value)
{
	char text[8192];

	snprintf(text, sizeof(text), "[imq0]\nqueues = 0\n[global]\n%s = %s\n", key, value);
	return parse(text);
}

static void
test_minimal_defaults(void **state)
{
	(void)state;
	struct conf *conf = parse("[imq0]\nqueues = 0\n");

	assert_non_null(conf);
	assert_string_equal(errors, "");
	assert_string_equal(conf->path, "t.conf");
	assert_int_equal(conf->log_level, LOG_NOTICE);
	assert_int_equal(conf->log_target, CONF_LOG_STDERR);
	assert_string_equal(conf->control_socket, "/run/imqd/imqd.sock");
	assert_null(conf->control_group);
	assert_null(conf->metrics_file);
	assert_int_equal(conf->metrics_interval_ms, 10000);
	assert_null(conf->user);
	assert_int_equal(conf->workers, 0);
	assert_int_equal(conf->ndevices, 1);
	const struct conf_device *d = conf->devices;
	assert_string_equal(d->name, "imq0");
	assert_int_equal(d->line, 1);
	assert_int_equal(d->nqueues, 1);
	assert_int_equal(d->queues[0], 0);
	assert_int_equal(d->mtu, 1500);
	assert_int_equal(d->overhead, 14);
	assert_int_equal(d->txqueuelen, 1000);
	assert_int_equal(d->queue_maxlen, 8192);
	assert_int_equal(d->on_overflow, CONF_ACCEPT);
	assert_int_equal(d->on_error, CONF_ACCEPT);
	assert_int_equal(d->on_flood, CONF_DROP);
	assert_int_equal(d->drop_timeout_ms, 5000);
	assert_int_equal(d->reorder_window_ms, 50);
	assert_true(d->gso);
	assert_int_equal(d->copy, CONF_COPY_HEADERS);
	assert_int_equal(d->copy_bytes, 128);
	assert_int_equal(d->continue_mark, 0);
	assert_int_equal(d->continue_mask, 0);
	assert_false(d->persist);
	assert_false(d->multiqueue);
	assert_null(d->up);
	assert_null(d->down);
	assert_int_equal(d->hook_timeout_ms, 10000);
	assert_null(d->next);
	conf_free(conf);
}

static const char all_keys[] = "# every key\n"
                               "[global]\n"
                               "log-level = debug\n"
                               "log-target = syslog\n"
                               "control-socket = /tmp/imqd test.sock\n"
                               "control-group = root\n"
                               "metrics-file = /var/lib/imqd/metrics\n"
                               "metrics-interval = 1m\n"
                               "user = root\n"
                               "workers = 3\n"
                               "[wan-in]\n"
                               "queues = 7, 0-3\n"
                               "multiqueue = yes\n"
                               "mtu = 9000\n"
                               "overhead = 0\n"
                               "txqueuelen = 2k\n"
                               "queue-maxlen = 512k\n"
                               "on-overflow = drop\n"
                               "on-error = drop\n"
                               "drop-timeout = 250ms\n"
                               "reorder-window = 0\n"
                               "gso = on\n"
                               "copy = headers\n"
                               "copy-bytes = 96\n"
                               "continue-mark = 0x10/0xff\n"
                               "persist = TRUE\n"
                               "up = /bin/true \"a b\" c\n"
                               "down = /bin/true\n"
                               "hook-timeout = 90s\n";

static void
test_all_keys(void **state)
{
	(void)state;
	struct conf *conf = parse(all_keys);

	assert_non_null(conf);
	assert_int_equal(conf->log_level, LOG_DEBUG);
	assert_int_equal(conf->log_target, CONF_LOG_SYSLOG);
	assert_string_equal(conf->control_socket, "/tmp/imqd test.sock");
	assert_string_equal(conf->control_group, "root");
	assert_string_equal(conf->metrics_file, "/var/lib/imqd/metrics");
	assert_int_equal(conf->metrics_interval_ms, 60000);
	assert_string_equal(conf->user, "root");
	assert_int_equal(conf->workers, 3);
	const struct conf_device *d = conf->devices;
	assert_string_equal(d->name, "wan-in");
	assert_int_equal(d->line, 11);
	assert_true(d->multiqueue);
	assert_int_equal(d->nqueues, 5);
	assert_int_equal(d->queues[0], 0);
	assert_int_equal(d->queues[3], 3);
	assert_int_equal(d->queues[4], 7);
	assert_int_equal(d->mtu, 9000);
	assert_int_equal(d->overhead, 0);
	assert_int_equal(d->txqueuelen, 2048);
	assert_int_equal(d->queue_maxlen, 524288);
	assert_int_equal(d->on_overflow, CONF_DROP);
	assert_int_equal(d->on_error, CONF_DROP);
	assert_int_equal(d->drop_timeout_ms, 250);
	assert_int_equal(d->reorder_window_ms, 0);
	assert_true(d->gso);
	assert_int_equal(d->copy, CONF_COPY_HEADERS);
	assert_int_equal(d->copy_bytes, 96);
	assert_int_equal(d->continue_mark, 0x10);
	assert_int_equal(d->continue_mask, 0xff);
	assert_true(d->persist);
	assert_string_equal(d->up[0], "/bin/true");
	assert_string_equal(d->up[1], "a b");
	assert_string_equal(d->up[2], "c");
	assert_null(d->up[3]);
	assert_string_equal(d->down[0], "/bin/true");
	assert_null(d->down[1]);
	assert_int_equal(d->hook_timeout_ms, 90000);
	conf_free(conf);
}

struct count_case {
	const char *key;
	const char *value;
	long expect; /* -1: refused */
};

static unsigned
dev_count(const struct conf_device *d, const char *key)
{
	if (strcmp(key, "mtu") == 0)
		return d->mtu;
	if (strcmp(key, "overhead") == 0)
		return d->overhead;
	if (strcmp(key, "txqueuelen") == 0)
		return d->txqueuelen;
	if (strcmp(key, "queue-maxlen") == 0)
		return d->queue_maxlen;
	return d->copy_bytes;
}

static void
test_counts(void **state)
{
	(void)state;
	static const struct count_case cases[] = {
	    {"mtu", "68", 68},
	    {"mtu", "67", -1},
	    {"mtu", "65535", 65535},
	    {"mtu", "65536", -1},
	    {"mtu", "1k", 1024},
	    {"mtu", "64k", -1},
	    {"mtu", "01500", 1500},
	    {"mtu", "abc", -1},
	    {"mtu", "-1500", -1},
	    {"mtu", "+1500", -1},
	    {"mtu", "1500x", -1},
	    {"mtu", "1.5k", -1},
	    {"mtu", "1 k", -1},
	    {"mtu", "1K", -1},
	    {"mtu", "0x600", -1},
	    {"mtu", "", -1},
	    {"mtu", "99999999999999999999999", -1},
	    {"mtu", "4294967297", -1},
	    {"overhead", "0", 0},
	    {"overhead", "256", 256},
	    {"overhead", "257", -1},
	    {"txqueuelen", "1", 1},
	    {"txqueuelen", "0", -1},
	    {"txqueuelen", "1000000", 1000000},
	    {"txqueuelen", "1000001", -1},
	    {"txqueuelen", "1m", -1},
	    {"queue-maxlen", "1", 1},
	    {"queue-maxlen", "0", -1},
	    {"queue-maxlen", "1m", 1048576},
	    {"queue-maxlen", "1048577", -1},
	    {"queue-maxlen", "4096m", -1},
	    {"copy-bytes", "40", 40},
	    {"copy-bytes", "39", -1},
	    {"copy-bytes", "65535", 65535},
	    {"copy-bytes", "65536", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct count_case *c = &cases[i];
		struct conf *conf = parse_dev_key(c->key, c->value);
		if (c->expect < 0) {
			assert_null(conf);
			assert_int_equal(count_lines(errors), 1);
			assert_non_null(strstr(errors, "t.conf:3: bad value \""));
			assert_non_null(strstr(errors, "expected a number from"));
			continue;
		}
		assert_non_null(conf);
		assert_int_equal(dev_count(conf->devices, c->key), c->expect);
		conf_free(conf);
	}
	parse_bad("[imq0]\nqueues = 0\nmtu = abc\n",
	          "t.conf:3: bad value \"abc\" for mtu: expected a number from 68 to 65535\n");
}

static void
test_durations(void **state)
{
	(void)state;
	static const struct count_case cases[] = {
	    {"drop-timeout", "5", 5000},     {"drop-timeout", "10ms", 10},
	    {"drop-timeout", "9ms", -1},     {"drop-timeout", "600s", 600000},
	    {"drop-timeout", "10m", 600000}, {"drop-timeout", "601s", -1},
	    {"drop-timeout", "1h", -1},      {"drop-timeout", "2m", 120000},
	    {"drop-timeout", "5 s", -1},     {"drop-timeout", "5sec", -1},
	    {"drop-timeout", "1.5s", -1},    {"drop-timeout", "-1s", -1},
	    {"drop-timeout", "5S", -1},      {"drop-timeout", "s", -1},
	    {"drop-timeout", "", -1},        {"drop-timeout", "99999999999h", -1},
	    {"hook-timeout", "100ms", 100},  {"hook-timeout", "99ms", -1},
	    {"hook-timeout", "600", 600000}, {"hook-timeout", "0", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct count_case *c = &cases[i];
		struct conf *conf = parse_dev_key(c->key, c->value);
		if (c->expect < 0) {
			assert_null(conf);
			assert_int_equal(count_lines(errors), 1);
			continue;
		}
		assert_non_null(conf);
		unsigned got = strcmp(c->key, "drop-timeout") == 0 ? conf->devices->drop_timeout_ms
		                                                   : conf->devices->hook_timeout_ms;
		assert_int_equal(got, c->expect);
		conf_free(conf);
	}
	parse_bad("[imq0]\nqueues = 0\ndrop-timeout = 1h\n",
	          "t.conf:3: bad value \"1h\" for drop-timeout: "
	          "expected a duration from 10ms to 10m\n");

	struct conf *conf = parse_global_key("metrics-interval", "1h");
	assert_non_null(conf);
	assert_int_equal(conf->metrics_interval_ms, 3600000);
	conf_free(conf);
	assert_null(parse_global_key("metrics-interval", "999ms"));
	assert_null(parse_global_key("metrics-interval", "61m"));
}

static void
test_booleans(void **state)
{
	(void)state;
	static const char *const yes[] = {"yes", "YES", "true", "True", "on", "ON", "1"};
	static const char *const no[] = {"no", "No", "false", "FALSE", "off", "Off", "0"};
	static const char *const bad[] = {"maybe", "2", "", "y", "yes please", "01"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct conf *conf = parse_dev_key("gso", yes[i]);
		assert_non_null(conf);
		assert_true(conf->devices->gso);
		conf_free(conf);
		conf = parse_dev_key("persist", no[i]);
		assert_non_null(conf);
		assert_false(conf->devices->persist);
		conf_free(conf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(parse_dev_key("persist", bad[i]));
	parse_bad("[imq0]\nqueues = 0\ngso = maybe\n",
	          "t.conf:3: bad value \"maybe\" for gso: expected yes or no\n");
}

static void
test_keywords(void **state)
{
	(void)state;
	struct conf *conf;
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"error", LOG_ERR},
	              {"warning", LOG_WARNING},
	              {"notice", LOG_NOTICE},
	              {"info", LOG_INFO},
	              {"debug", LOG_DEBUG}};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		conf = parse_global_key("log-level", levels[i].name);
		assert_non_null(conf);
		assert_int_equal(conf->log_level, levels[i].level);
		conf_free(conf);
	}
	conf = parse_dev_key("on-error", "drop");
	assert_non_null(conf);
	assert_int_equal(conf->devices->on_error, CONF_DROP);
	conf_free(conf);
	assert_null(parse_dev_key("on-error", "Drop"));
	conf = parse_dev_key("on-flood", "accept");
	assert_non_null(conf);
	assert_int_equal(conf->devices->on_flood, CONF_ACCEPT);
	conf_free(conf);
	assert_null(parse_dev_key("on-flood", "pass"));
	assert_null(parse_dev_key("copy", "header"));
	assert_null(parse_global_key("log-target", "file"));
	assert_null(parse_global_key("log-level", "warn"));
	parse_bad("[imq0]\nqueues = 0\non-overflow = ACCEPT\n",
	          "t.conf:3: bad value \"ACCEPT\" for on-overflow: expected accept or drop\n");
	parse_bad("[imq0]\nqueues = 0\ncopy = all\n",
	          "t.conf:3: bad value \"all\" for copy: expected full or headers\n");
	parse_bad("[global]\nlog-level = crit\n[imq0]\nqueues = 0\n",
	          "t.conf:2: bad value \"crit\" for log-level: "
	          "expected error, warning, notice, info or debug\n");
	parse_bad("[global]\nlog-target = file\n[imq0]\nqueues = 0\n",
	          "t.conf:2: bad value \"file\" for log-target: expected stderr or syslog\n");
}

static void
test_marks(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		uint32_t mark, mask;
	} good[] = {{"0x10/0xff", 0x10, 0xff},
	            {"16/255", 16, 255},
	            {"0X10/0XFF", 0x10, 0xff},
	            {"1", 1, 0xffffffff},
	            {"0xffffffff", 0xffffffff, 0xffffffff},
	            {"0x80000000/0x80000000", 0x80000000, 0x80000000}};
	static const char *const bad[] = {
	    "0x100/0xff", "1/0", "0x",    "0x1g",     "0x100000000", "4294967296", "1/",  "/1",
	    "-1",         "",    "1/2/3", "0x1 /0x1", "abc",         "0/0",        "0/1", "0"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct conf *conf = parse_dev_key("continue-mark", good[i].value);
		assert_non_null(conf);
		assert_int_equal(conf->devices->continue_mark, good[i].mark);
		assert_int_equal(conf->devices->continue_mask, good[i].mask);
		conf_free(conf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(parse_dev_key("continue-mark", bad[i]));
	parse_bad("[imq0]\nqueues = 0\ncontinue-mark = 0x100/0xff\n",
	          "t.conf:3: bad value \"0x100/0xff\" for continue-mark: "
	          "the mark has bits outside the mask\n");
	parse_bad("[imq0]\nqueues = 0\ncontinue-mark = 1/0\n",
	          "t.conf:3: bad value \"1/0\" for continue-mark: the mask is zero\n");
	/* ecn-mark takes the same values, and its own bits. */
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct conf *conf = parse_dev_key("ecn-mark", good[i].value);
		assert_non_null(conf);
		assert_int_equal(conf->devices->ecn_mark, good[i].mark);
		assert_int_equal(conf->devices->ecn_mask, good[i].mask);
		assert_int_equal(conf->devices->continue_mask, 0);
		conf_free(conf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(parse_dev_key("ecn-mark", bad[i]));
	struct conf *both =
	    parse("[imq0]\nqueues = 0\ncontinue-mark = 0x1/0x1\necn-mark = 0x2/0x2\n");
	assert_non_null(both);
	conf_free(both);
	parse_bad(
	    "[imq0]\nqueues = 0\nup = /bin/true\necn-mark = 0x2/0x6\ncontinue-mark = 0x4/0x4\n",
	    "t.conf:4: ecn-mark 0x2/0x6 shares bits with continue-mark 0x4/0x4: give them "
	    "masks of their own\n");
}

static void
test_queue_lists(void **state)
{
	(void)state;
	struct conf *conf = parse("[imq0]\nqueues = 9 , 0-3,2, 7,8,65535\n");

	assert_non_null(conf);
	static const uint16_t want[] = {0, 1, 2, 3, 7, 8, 9, 65535};
	assert_int_equal(conf->devices->nqueues, 8);
	assert_memory_equal(conf->devices->queues, want, sizeof(want));
	conf_free(conf);

	/* Every queue there is, at the most slots a device may have: 65536 x 64. */
	conf = parse("[imq0]\nqueues = 0-65535\nqueue-maxlen = 64\n");
	assert_non_null(conf);
	assert_int_equal(conf->devices->nqueues, 65536);
	assert_int_equal(conf->devices->queues[65535], 65535);
	conf_free(conf);

	static const char *const bad[] = {"",   "65536", "1,",  ",1",    "1,,2", "3-1",   "1-",
	                                  "-1", "a",     "1 2", "1-2-3", "0x1",  "1 - 3", "1k"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "[imq0]\nqueues = %s\n", bad[i]);
		assert_null(parse(text));
		assert_int_equal(count_lines(errors), 1);
	}
	parse_bad("[imq0]\nqueues = 0,3-1\n",
	          "t.conf:2: bad value \"0,3-1\" for queues: the range 3-1 is reversed\n");
	parse_bad("[imq0]\nqueues = x\n", "t.conf:2: bad value \"x\" for queues: expected queue "
	                                  "numbers from 0 to 65535, as in 0-3,7\n");
	parse_bad("[imq0]\nmtu = 1500\n\n", "t.conf:1: [imq0] has no queues\n");
}

static void
test_queues_across_devices(void **state)
{
	(void)state;
	parse_bad("[imq0]\nqueues = 0-3\n[imq1]\nqueues = 4,5\n[imq2]\nqueues = 3-4, 9\n",
	          "t.conf:6: queue 3 is already used by imq0 (line 2)\n"
	          "t.conf:6: queue 4 is already used by imq1 (line 4)\n");
	/* One line per earlier section, however many queues overlap. */
	parse_bad("[imq0]\nqueues = 0-100\n[imq1]\nqueues = 0-200\n",
	          "t.conf:4: queue 0 is already used by imq0 (line 2)\n");

	struct conf *conf = parse("[imq0]\nqueues = 0-3\n[imq1]\nqueues = 4\n");
	assert_non_null(conf);
	assert_int_equal(conf->ndevices, 2);
	assert_ptr_equal(conf_device_find(conf, "imq1"), conf->devices->next);
	assert_ptr_equal(conf_device_find(conf, "imq0"), conf->devices);
	assert_null(conf_device_find(conf, "imq2"));
	conf_free(conf);
}

static void
test_sections_and_keys(void **state)
{
	(void)state;
	parse_bad("mtu = 1500\n[imq0]\nqueues = 0\n",
	          "t.conf:1: key \"mtu\" is outside any section\n");
	parse_bad("[imq0]\nqueues = 0\nfoo = 1\n", "t.conf:3: unknown key \"foo\" in [imq0]\n");
	parse_bad("[global]\nqueues = 0\n[imq0]\nqueues = 0\n",
	          "t.conf:2: unknown key \"queues\" in [global] (a key of device sections)\n");
	/* A misspelt [global] is a device section: its keys say so. */
	parse_bad("[globl]\nlog-level = info\n[imq0]\nqueues = 0\n",
	          "t.conf:1: [globl] has no queues\n"
	          "t.conf:2: unknown key \"log-level\" in [globl] (a key of [global])\n");
	/* Whole-file messages come after the line errors that caused them. */
	parse_bad("[imq0\nqueues = 0\n", "t.conf:1: bad section header \"[imq0\": expected [name]\n"
	                                 "t.conf: no device sections\n");
	parse_bad("[imq0]\nqueues = 0\n[imq0]\nqueues = 1\n",
	          "t.conf:3: duplicate section [imq0] (first at line 1)\n");
	parse_bad("[imq0]\nqueues = 0\nmtu = 1500\nmtu = 1400\n",
	          "t.conf:4: duplicate key \"mtu\" (first at line 3)\n");
	parse_bad("[global]\n[imq0]\nqueues = 0\n[global]\nuser = root\n",
	          "t.conf:4: duplicate section [global] (first at line 1)\n");
	parse_bad("[imq0]\nqueues = 0\nmtu\n",
	          "t.conf:3: expected \"key = value\", [section] or a comment\n");
	parse_bad("[imq0]\nqueues = 0\n = 1\n", "t.conf:3: no key before \"=\"\n");
	parse_bad("[imq0\nqueues = 0\n[imq1]\nqueues = 1\n",
	          "t.conf:1: bad section header \"[imq0\": expected [name]\n");
	parse_bad("[imq0] x\nqueues = 0\n[imq1]\nqueues = 1\n",
	          "t.conf:1: bad section header \"[imq0] x\": expected [name]\n");
	parse_bad("", "t.conf: no device sections\n");
	parse_bad("# nothing\n[global]\nuser = root\n", "t.conf: no device sections\n");

	/* [global] may come anywhere; "global" is never a device. */
	struct conf *conf = parse("[imq0]\nqueues = 0\n[global]\nlog-level = info\n");
	assert_non_null(conf);
	assert_int_equal(conf->log_level, LOG_INFO);
	assert_int_equal(conf->ndevices, 1);
	conf_free(conf);
}

static void
test_device_names(void **state)
{
	(void)state;
	static const char *const good[] = {"imq0", "wan-in", "a",  "abcdefghijklmno",
	                                   "a]b",  "x.y",    "..."};
	static const char *const bad[] = {"",      ".",    "..",         "abcdefghijklmnop",
	                                  "a/b",   "a:b",  "a b",        "a\tb",
	                                  "a\x01", "\x7f", "caf\xc3\xa9"};
	char text[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[%s]\nqueues = 0\n", good[i]);
		struct conf *conf = parse(text);
		assert_non_null(conf);
		assert_string_equal(conf->devices->name, good[i]);
		conf_free(conf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[%s]\nqueues = 0\n", bad[i]);
		assert_null(parse(text));
		assert_int_equal(count_lines(errors), 1);
		assert_non_null(strstr(errors, "t.conf:1: invalid device name \""));
	}
	parse_bad("[a/b]\nqueues = 0\n",
	          "t.conf:1: invalid device name \"a/b\": '/', ':' and '%' are not allowed\n");
	parse_bad("[abcdefghijklmnop]\nqueues = 0\n",
	          "t.conf:1: invalid device name \"abcdefghijklmnop\": longer than 15 bytes\n");
	parse_bad("[a\x01]\nqueues = 0\n", "t.conf:1: invalid device name \"a\\x01\": only "
	                                   "printable ASCII without spaces is allowed\n");
	/* Keys of a misnamed section are still checked. */
	parse_bad("[a/b]\nqueues = 0\nmtu = 1\n",
	          "t.conf:1: invalid device name \"a/b\": '/', ':' and '%' are not allowed\n"
	          "t.conf:3: bad value \"1\" for mtu: expected a number from 68 to 65535\n");
}

static void
test_all_errors_reported(void **state)
{
	(void)state;
	assert_null(parse("[imq0]\nqueues = 0\nmtu = 1\n\nfoo = 2\n[imq1]\nqueues = 0\n"));
	assert_string_equal(
	    errors, "t.conf:3: bad value \"1\" for mtu: expected a number from 68 to 65535\n"
	            "t.conf:5: unknown key \"foo\" in [imq0]\n"
	            "t.conf:7: queue 0 is already used by imq0 (line 2)\n");
	assert_int_equal(count_lines(errors), 3);
	/* Sorted by line, although "has no queues" is known only at the section's end. */
	parse_bad("[imq0]\nmtu = 1\n[imq1]\nqueues = 0\ngso = 2\n",
	          "t.conf:1: [imq0] has no queues\n"
	          "t.conf:2: bad value \"1\" for mtu: expected a number from 68 to 65535\n"
	          "t.conf:5: bad value \"2\" for gso: expected yes or no\n");
}

static void
test_line_ends(void **state)
{
	(void)state;
	struct conf *conf = parse("; comment\r\n  # another\r\n[imq0]\r\nqueues = 1\r\n"
	                          "up = /bin/true x\r\n\r\n");
	assert_non_null(conf);
	assert_int_equal(conf->devices->queues[0], 1);
	assert_string_equal(conf->devices->up[1], "x");
	assert_null(conf->devices->up[2]);
	conf_free(conf);

	conf = parse("[imq0]\nqueues = 4");
	assert_non_null(conf);
	assert_int_equal(conf->devices->queues[0], 4);
	conf_free(conf);

	conf = parse("\t[imq0]   \n\t queues\t=\t4 \t\n");
	assert_non_null(conf);
	conf_free(conf);

	/* A UTF-8 byte order mark before line 1 is skipped; anywhere else it is text. */
	conf = parse("\xef\xbb\xbf[imq0]\r\nqueues = 5\r\n");
	assert_non_null(conf);
	assert_int_equal(conf->devices->queues[0], 5);
	conf_free(conf);
	parse_bad("[imq0]\n\xef\xbb\xbfqueues = 5\n",
	          "t.conf:1: [imq0] has no queues\n"
	          "t.conf:2: unknown key \"\\xef\\xbb\\xbfqueues\" in [imq0]\n");

	static const char nul[] = "[imq0]\nqueues = 0\nmtu = 15\0"
	                          "00\n[imq1]\nqueues = 1\n";
	assert_null(parse_len(nul, sizeof(nul) - 1));
	assert_string_equal(errors, "t.conf:3: line contains a NUL byte\n");
}

static void
test_long_lines(void **state)
{
	(void)state;
	size_t size = 3 * 4096;
	char *text = malloc(size);
	assert_non_null(text);

	/* A comment of exactly 4096 bytes, then one of 4097. */
	int n = snprintf(text, size, "[imq0]\nqueues = 0\n#");
	memset(text + n, 'x', 4095);
	n += 4095;
	n += snprintf(text + n, size - (size_t)n, "\r\n");
	struct conf *conf = parse(text);
	assert_non_null(conf);
	conf_free(conf);
	text[n - 2] = 'x';
	assert_null(parse(text));
	assert_string_equal(errors, "t.conf:3: line is longer than 4096 bytes\n");
	free(text);
}

static void
test_hooks(void **state)
{
	(void)state;
	struct conf *conf = parse_dev_key(
	    "up", "/bin/true  \"a b\"  'c' \"q\\\"x\" \"s\\\\t\" d\\e \"\" x\"y z\"w");

	assert_non_null(conf);
	char **up = conf->devices->up;
	static const char *const want[] = {"/bin/true", "a b",  "'c'", "q\"x",
	                                   "s\\t",      "d\\e", "",    "xy zw"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(up[i], want[i]);
	assert_null(up[sizeof(want) / sizeof(want[0])]);
	conf_free(conf);

	conf = parse_dev_key("down", "\"/bin/true\"");
	assert_non_null(conf);
	assert_string_equal(conf->devices->down[0], "/bin/true");
	conf_free(conf);

	parse_bad("[imq0]\nqueues = 0\nup = true x\n",
	          "t.conf:3: hook program true must be an absolute path\n");
	verify_bad("[imq0]\nqueues = 0\nup = /nonexistent\n",
	           "t.conf:3: hook program /nonexistent does not exist\n");
	verify_bad("[imq0]\nqueues = 0\ndown = /etc/passwd/x\n",
	           "t.conf:3: hook program /etc/passwd/x does not exist\n");
	verify_bad("[imq0]\nqueues = 0\nup = /etc\n",
	           "t.conf:3: hook program /etc is not a regular file\n");
	verify_bad("[imq0]\nqueues = 0\nup = /bin/true\n\n[imq1]\nqueues = 1\ndown = /etc\n"
	           "up = /nonexistent\n",
	           "t.conf:7: hook program /etc is not a regular file\n"
	           "t.conf:8: hook program /nonexistent does not exist\n");
	parse_bad("[imq0]\nqueues = 0\nup = /bin/true \"a\n",
	          "t.conf:3: bad value \"/bin/true \"a\" for up: a quote is not closed\n");
	parse_bad("[imq0]\nqueues = 0\nup = /bin/true \"a\\\"\n",
	          "t.conf:3: bad value \"/bin/true \"a\\\"\" for up: a quote is not closed\n");
	parse_bad("[imq0]\nqueues = 0\nup =\n",
	          "t.conf:3: bad value \"\" for up: expected a program and its arguments\n");
}

static void
test_hook_not_executable(void **state)
{
	(void)state;
	char path[] = "/tmp/test_conf_hookXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);

	char text[128], expect[128];
	snprintf(text, sizeof(text), "[imq0]\nqueues = 0\nup = %s\n", path);
	snprintf(expect, sizeof(expect), "t.conf:3: hook program %s is not executable\n", path);
	verify_bad(text, expect);
	assert_int_equal(chmod(path, 0755), 0);
	verify_good(text);
	unlink(path);
}

/* TEXT fails only for hook PROG at LINE, which user nobody may not run. */
static void
parse_not_runnable(const char *text, int line, const char *prog)
{
	char expect[192];

	snprintf(expect, sizeof(expect),
	         "t.conf:%d: hook program %s is not executable by user nobody, who runs the hooks: "
	         "Permission denied\n",
	         line, prog);
	verify_bad(text, expect);
}

/* Hooks run as user: one only root may run is refused, wherever [global] is. */
static void
test_hook_as_user(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* the check is made when root reads the file */
	/* The checks run as the user in a child: imqd's own identity never changes. */
	gid_t groups[256], after[256];
	int ngroups = getgroups(256, groups);
	assert_true(ngroups >= 0);
	char path[] = "/tmp/test_conf_hookXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(chmod(path, 0700), 0);

	char text[160];
	snprintf(text, sizeof(text), "[imq0]\nqueues = 0\nup = %s\n\n[global]\nuser = nobody\n",
	         path);
	parse_not_runnable(text, 3, path);
	/* Root alone may run it, and imqd stays root: fine. */
	snprintf(text, sizeof(text), "[imq0]\nqueues = 0\nup = %s\n", path);
	verify_good(text);
	assert_int_equal(chmod(path, 0701), 0);
	snprintf(text, sizeof(text), "[global]\nuser = nobody\n\n[imq0]\nqueues = 0\nup = %s\n",
	         path);
	verify_good(text);
	unlink(path);

	/* Executable by all, in a directory only root may enter: refused too. */
	char dir[] = "/tmp/test_conf_hookdirXXXXXX", prog[64];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0700), 0);
	snprintf(prog, sizeof(prog), "%s/up", dir);
	fd = open(prog, O_WRONLY | O_CREAT | O_EXCL, 0755);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(prog, 0755), 0);
	snprintf(text, sizeof(text), "[global]\nuser = nobody\n[imq0]\nqueues = 0\nup = %s\n",
	         prog);
	parse_not_runnable(text, 5, prog);
	/* A running imqd checks the hooks as the user it started with: here root. */
	struct conf *conf = parse(text);
	struct conf *started = parse("[imq0]\nqueues = 0\n");
	assert_non_null(conf);
	assert_non_null(started);
	assert_int_equal(conf_verify(conf, started, NULL), 0);
	conf_free(started);
	conf_free(conf);
	assert_int_equal(chmod(dir, 0711), 0);
	verify_good(text);
	assert_int_equal(geteuid(), 0);
	assert_int_equal(getegid(), 0);
	assert_int_equal(getgroups(256, after), ngroups);
	assert_memory_equal(after, groups, (size_t)ngroups * sizeof(gid_t));
	unlink(prog);
	rmdir(dir);
}

static void
test_global_values(void **state)
{
	(void)state;
	char sock[200] = "/";
	memset(sock + 1, 's', 106);
	struct conf *conf = parse_global_key("control-socket", sock);
	assert_non_null(conf);
	assert_string_equal(conf->control_socket, sock);
	conf_free(conf);
	strcat(sock, "s");
	assert_null(parse_global_key("control-socket", sock));
	assert_non_null(strstr(errors, "for control-socket: longer than 107 bytes\n"));

	parse_bad("[global]\ncontrol-socket = run/imqd.sock\n[imq0]\nqueues = 0\n",
	          "t.conf:2: bad value \"run/imqd.sock\" for control-socket: "
	          "expected an absolute path\n");
	parse_bad("[global]\nmetrics-file = metrics\n[imq0]\nqueues = 0\n",
	          "t.conf:2: bad value \"metrics\" for metrics-file: expected an absolute path\n");
	verify_bad("[global]\ncontrol-group = no-such-group-xyz\n[imq0]\nqueues = 0\n",
	           "t.conf:2: unknown group \"no-such-group-xyz\"\n");
	verify_bad("[global]\nuser = no-such-user-xyz\n[imq0]\nqueues = 0\n",
	           "t.conf:2: unknown user \"no-such-user-xyz\"\n");
	verify_good("[global]\ncontrol-group = root\nuser = root\n[imq0]\nqueues = 0\n");
	assert_null(parse_global_key("user", ""));
	assert_string_equal(errors, "t.conf:4: bad value \"\" for user: expected a user name\n");
	assert_null(parse_global_key("control-group", ""));
	assert_string_equal(errors,
	                    "t.conf:4: bad value \"\" for control-group: expected a group name\n");

	conf = parse_global_key("workers", "1");
	assert_non_null(conf);
	assert_int_equal(conf->workers, 1);
	conf_free(conf);
	conf = parse_global_key("workers", "1024");
	assert_non_null(conf);
	assert_int_equal(conf->workers, 1024);
	conf_free(conf);
	assert_null(parse_global_key("workers", "0"));
	assert_non_null(strstr(errors, "for workers: expected a number from 1 to 1024\n"));
	assert_null(parse_global_key("workers", "1025"));
	assert_null(parse_global_key("workers", "auto"));
}

/*
 * Parsing reads the text alone: users, groups and programs that do not exist
 * here parse (imqd -T of a file meant for another machine works), and
 * conf_verify names each one, at its line, in line order.
 */
static void
test_parse_pure(void **state)
{
	(void)state;
	const char *text = "[imq0]\nqueues = 0\nup = /nonexistent/up\ndown = /nonexistent/down\n"
	                   "[global]\nuser = no-such-user-xyz\ncontrol-group = no-such-group-xyz\n";
	struct conf *conf = parse(text);

	assert_non_null(conf);
	assert_string_equal(errors, "");
	assert_string_equal(conf->user, "no-such-user-xyz");
	assert_int_equal(conf->devices->up_line, 3);
	assert_int_equal(conf->devices->down_line, 4);
	assert_int_equal(conf->user_line, 6);
	assert_int_equal(conf->control_group_line, 7);
	assert_int_equal(verify(conf), -1);
	assert_string_equal(errors, "t.conf:3: hook program /nonexistent/up does not exist\n"
	                            "t.conf:4: hook program /nonexistent/down does not exist\n"
	                            "t.conf:6: unknown user \"no-such-user-xyz\"\n"
	                            "t.conf:7: unknown group \"no-such-group-xyz\"\n");
	conf_free(conf);
}

static char *
print_text(const struct conf *conf)
{
	char *text = NULL;
	size_t size;
	FILE *out = open_memstream(&text, &size);

	assert_non_null(out);
	conf_print(conf, out);
	fclose(out);
	return text;
}

static void
assert_same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* Print CONF, parse it again and check that nothing changed, not even the printout. */
static void
round_trip(const struct conf *conf)
{
	char *text = print_text(conf);
	struct conf *again = parse(text);

	if (again == NULL)
		fail_msg("%s\n---\n%s", text, errors);
	assert_int_equal(again->log_level, conf->log_level);
	assert_int_equal(again->log_target, conf->log_target);
	assert_string_equal(again->control_socket, conf->control_socket);
	assert_same_string(again->control_group, conf->control_group);
	assert_same_string(again->metrics_file, conf->metrics_file);
	assert_same_string(again->user, conf->user);
	assert_int_equal(again->metrics_interval_ms, conf->metrics_interval_ms);
	assert_int_equal(again->workers, conf->workers);
	assert_int_equal(again->ndevices, conf->ndevices);
	const struct conf_device *a = conf->devices, *b = again->devices;
	for (; a != NULL && b != NULL; a = a->next, b = b->next)
		assert_false(conf_device_changed(a, b));
	assert_true(a == NULL && b == NULL);
	char *text2 = print_text(again);
	assert_string_equal(text, text2);
	free(text2);
	conf_free(again);
	free(text);
}

static void
test_print_round_trip(void **state)
{
	(void)state;
	static const char *const texts[] = {
	    all_keys,
	    "[imq0]\nqueues = 0\n",
	    "[b]\nqueues = 5,1-3,9-10,65535\ndrop-timeout = 1500ms\nhook-timeout = 300s\n"
	    "continue-mark = 0x80000000\n[a]\nqueues = 0\ncontinue-mark = 1/1\n"
	    "up = /bin/true \"\" \"a\\\\b\" \"c\\\"d\" e\\f \"#x\" \"tab\there\"\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct conf *conf = parse(texts[i]);
		assert_non_null(conf);
		round_trip(conf);
		conf_free(conf);
	}
}

static void
test_print_format(void **state)
{
	(void)state;
	struct conf *conf = parse("[imq0]\nqueues = 7,0-3,5-6\ndrop-timeout = 120s\n"
	                          "continue-mark = 16/255\nup = /bin/true \"a b\"\n");
	assert_non_null(conf);
	char *text = print_text(conf);
	assert_string_equal(text, "[global]\n"
	                          "log-level = notice\n"
	                          "log-target = stderr\n"
	                          "control-socket = /run/imqd/imqd.sock\n"
	                          "# control-group =\n"
	                          "# metrics-file =\n"
	                          "metrics-interval = 10s\n"
	                          "metrics-classes = 1000\n"
	                          "# user =\n"
	                          "# workers =\n"
	                          "\n"
	                          "[imq0]\n"
	                          "queues = 0-3,5-7\n"
	                          "multiqueue = no\n"
	                          "# mtu: not in effect with gso = yes (the limit and imqN's "
	                          "MTU are 65535)\n"
	                          "mtu = 1500\n"
	                          "overhead = 14\n"
	                          "txqueuelen = 1000\n"
	                          "queue-maxlen = 8192\n"
	                          "on-overflow = accept\n"
	                          "on-error = accept\n"
	                          "on-flood = drop\n"
	                          "drop-timeout = 2m\n"
	                          "reorder-window = 50ms\n"
	                          "gso = yes\n"
	                          "copy = headers\n"
	                          "copy-bytes = 128\n"
	                          "continue-mark = 0x10/0xff\n"
	                          "# ecn-mark =\n"
	                          "bridge = no\n"
	                          "persist = no\n"
	                          "up = /bin/true \"a b\"\n"
	                          "# down =\n"
	                          "hook-timeout = 10s\n");
	free(text);
	conf_free(conf);
}

#define BASE "queues = 0\nup = /bin/true a\n"

static void
test_device_changed(void **state)
{
	(void)state;
	static const char *const changes[] = {
	    "queues = 0,1\nup = /bin/true a",
	    "queues = 0\nup = /bin/true b",
	    "queues = 0\nup = /bin/true a b",
	    "queues = 0\nup = /bin/true",
	    "queues = 0",
	    BASE "mtu = 1400",
	    BASE "overhead = 0",
	    BASE "txqueuelen = 10",
	    BASE "queue-maxlen = 1",
	    BASE "on-overflow = drop",
	    BASE "on-error = drop",
	    BASE "on-flood = accept",
	    BASE "drop-timeout = 1s",
	    BASE "reorder-window = 1s",
	    BASE "gso = no",
	    BASE "copy = full",
	    BASE "copy-bytes = 40",
	    BASE "continue-mark = 1",
	    BASE "continue-mark = 2/2",
	    BASE "ecn-mark = 4/4",
	    BASE "persist = yes",
	    BASE "multiqueue = yes",
	    BASE "down = /bin/true",
	    BASE "hook-timeout = 1s",
	};
	char text[128];
	struct conf *base = parse("[imq0]\n" BASE "[imq1]\n" BASE);

	/* imq1 would reuse queue 0: only the name differs. */
	assert_null(base);
	base = parse("\n[imq0]\n" BASE "mtu = 1500\n");
	assert_non_null(base);
	assert_false(conf_device_changed(base->devices, base->devices));
	struct conf *same = parse("[imq0]\n" BASE);
	assert_non_null(same);
	assert_false(conf_device_changed(base->devices, same->devices));
	conf_free(same);
	/* bridge changes only what imqctl rules prints: the device stays as it is. */
	struct conf *bridged = parse("[imq0]\n" BASE "bridge = yes\n");
	assert_non_null(bridged);
	assert_true(bridged->devices->bridge);
	assert_false(conf_device_changed(base->devices, bridged->devices));
	conf_free(bridged);
	struct conf *renamed = parse("[imq1]\n" BASE);
	assert_non_null(renamed);
	assert_true(conf_device_changed(base->devices, renamed->devices));
	conf_free(renamed);
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		snprintf(text, sizeof(text), "[imq0]\n%s\n", changes[i]);
		struct conf *conf = parse(text);
		if (conf == NULL)
			fail_msg("%s: %s", text, errors);
		assert_true(conf_device_changed(base->devices, conf->devices));
		assert_true(conf_device_changed(conf->devices, base->devices));
		conf_free(conf);
	}
	conf_free(base);
}

static void
test_load(void **state)
{
	(void)state;
	char path[] = "/tmp/test_conf_loadXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[imq0]\nqueues = 3\n", 18), 18);
	close(fd);

	char *out = NULL;
	size_t size;
	FILE *err = open_memstream(&out, &size);
	assert_non_null(err);
	assert_int_equal(chmod(path, 0644), 0);
	struct conf *conf = conf_load(path, err);
	assert_non_null(conf);
	assert_string_equal(conf->path, path);
	assert_int_equal(conf->devices->queues[0], 3);
	conf_free(conf);

	assert_int_equal(chmod(path, 0666), 0);
	assert_null(conf_load(path, err));
	assert_null(conf_load("/nonexistent/imqd.conf", err));
	/* As root: a file another user owns, or a group other than root's may write. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(chown(path, 65534, 0), 0);
	assert_null(conf_load(path, err));
	assert_int_equal(chown(path, 0, 100), 0);
	assert_int_equal(chmod(path, 0664), 0);
	assert_null(conf_load(path, err));
	assert_int_equal(chown(path, 0, 0), 0);
	conf = conf_load(path, err); /* root's group may write it */
	assert_non_null(conf);
	conf_free(conf);
	fclose(err);
	char expect[512];
	snprintf(expect, sizeof(expect),
	         "%s: is writable by other users; refusing it\n"
	         "/nonexistent/imqd.conf: cannot open: No such file or directory\n"
	         "%s: is owned by uid 65534, not root; refusing it\n"
	         "%s: is writable by group 100, not root's; refusing it\n",
	         path, path, path);
	assert_string_equal(out, expect);
	free(out);
	unlink(path);
	conf_free(NULL);
}

/*
 * Out of descriptors: the file cannot be read, or a user not looked up (daemon:
 * systemd's NSS module makes up root and nobody without a file).
 * That is said as such (errno EMFILE, "Too many open files"), not as a file
 * with errors (EINVAL) or an unknown user.
 */
static void
test_load_no_descriptors(void **state)
{
	(void)state;
	char path[] = "/tmp/test_conf_emfileXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[imq0]\nqueues = 0\n", 18), 18);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	struct conf *conf = parse("[global]\nuser = daemon\n[imq0]\nqueues = 0\n");
	assert_non_null(conf);
	char *out = NULL;
	size_t size;
	FILE *err = open_memstream(&out, &size);
	assert_non_null(err);

	struct rlimit old, low = {64, 64};
	int fds[64], n = 0;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	assert_int_equal(errno, EMFILE);
	errno = 0;
	assert_null(conf_load(path, err));
	int load_errno = errno;
	int verify_rc = conf_verify(conf, NULL, err);
	int verify_errno = errno;
	while (n > 0)
		close(fds[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	fclose(err);

	assert_int_equal(load_errno, EMFILE);
	assert_int_equal(verify_rc, -1);
	if (verify_errno != EMFILE)
		fail_msg("errno %d: %s", verify_errno, out);
	char expect[256];
	snprintf(expect, sizeof(expect),
	         "%s: cannot open: Too many open files\n"
	         "t.conf:2: cannot look up user \"daemon\": Too many open files\n",
	         path);
	assert_string_equal(out, expect);
	/* With descriptors again, the same file loads, and a bad one is EINVAL. */
	errno = 0;
	assert_int_equal(verify(conf), 0);
	conf_free(conf);
	assert_null(parse("[imq0]\n"));
	assert_int_equal(errno, EINVAL);
	free(out);
	unlink(path);
}

/* A FIFO with no writer, or a device, is refused at once: reading it would never end. */
static void
test_load_not_regular(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_conf_fifoXXXXXX", fifo[64];
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/imqd.conf", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);

	char *out = NULL;
	size_t size;
	FILE *err = open_memstream(&out, &size);
	assert_non_null(err);
	alarm(10); /* a load that blocks fails the test instead of hanging it */
	assert_null(conf_load(fifo, err));
	assert_null(conf_load("/dev/null", err));
	alarm(0);
	fclose(err);
	char expect[256];
	snprintf(expect, sizeof(expect), "%s: not a regular file\n/dev/null: not a regular file\n",
	         fifo);
	assert_string_equal(out, expect);
	free(out);
	unlink(fifo);
	rmdir(dir);
}

static void
test_oversized(void **state)
{
	(void)state;
	size_t len = 1024 * 1024 + 1;
	char *text = malloc(len);

	assert_non_null(text);
	memset(text, '\n', len);
	assert_null(parse_len(text, len));
	assert_string_equal(errors, "t.conf: larger than 1048576 bytes\n");
	free(text);
}

static int
teardown(void **state)
{
	(void)state;
	free(errors);
	errors = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_minimal_defaults, teardown),
	    cmocka_unit_test_teardown(test_all_keys, teardown),
	    cmocka_unit_test_teardown(test_counts, teardown),
	    cmocka_unit_test_teardown(test_durations, teardown),
	    cmocka_unit_test_teardown(test_booleans, teardown),
	    cmocka_unit_test_teardown(test_keywords, teardown),
	    cmocka_unit_test_teardown(test_marks, teardown),
	    cmocka_unit_test_teardown(test_queue_lists, teardown),
	    cmocka_unit_test_teardown(test_queues_across_devices, teardown),
	    cmocka_unit_test_teardown(test_sections_and_keys, teardown),
	    cmocka_unit_test_teardown(test_device_names, teardown),
	    cmocka_unit_test_teardown(test_all_errors_reported, teardown),
	    cmocka_unit_test_teardown(test_line_ends, teardown),
	    cmocka_unit_test_teardown(test_long_lines, teardown),
	    cmocka_unit_test_teardown(test_hooks, teardown),
	    cmocka_unit_test_teardown(test_hook_not_executable, teardown),
	    cmocka_unit_test_teardown(test_hook_as_user, teardown),
	    cmocka_unit_test_teardown(test_global_values, teardown),
	    cmocka_unit_test_teardown(test_parse_pure, teardown),
	    cmocka_unit_test_teardown(test_print_round_trip, teardown),
	    cmocka_unit_test_teardown(test_print_format, teardown),
	    cmocka_unit_test_teardown(test_device_changed, teardown),
	    cmocka_unit_test_teardown(test_load, teardown),
	    cmocka_unit_test_teardown(test_load_not_regular, teardown),
	    cmocka_unit_test_teardown(test_load_no_descriptors, teardown),
	    cmocka_unit_test_teardown(test_oversized, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of log.c: lines on stderr, with sd-daemon(3) priority prefixes for the journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char log_path[] = "/tmp/imqd-test-log.XXXXXX";
static int saved_stderr = -1;

/* stderr goes to a fresh temporary file; JOURNAL names it (1), another file (0) or is VALUE. */
static void
capture(int journal, const char *value)
{
	char env[64];
	struct stat st;
	int fd;

	strcpy(log_path, "/tmp/imqd-test-log.XXXXXX");
	assert_true((fd = mkstemp(log_path)) >= 0);
	fflush(stderr);
	assert_true((saved_stderr = dup(STDERR_FILENO)) >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	if (value != NULL) {
		setenv("JOURNAL_STREAM", value, 1);
	} else if (journal >= 0) {
		snprintf(env, sizeof(env), "%ju:%ju", (uintmax_t)st.st_dev,
		         (uintmax_t)st.st_ino + (journal ? 0 : 1));
		setenv("JOURNAL_STREAM", env, 1);
	} else {
		unsetenv("JOURNAL_STREAM");
	}
}

/* Restore stderr; what was logged, NUL-terminated (free it). */
static char *
captured(void)
{
	char *buf = calloc(1, 8192);
	FILE *f;
	size_t n;

	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	assert_non_null(buf);
	assert_non_null(f = fopen(log_path, "r"));
	n = fread(buf, 1, 8191, f);
	buf[n] = '\0';
	fclose(f);
	unlink(log_path);
	unsetenv("JOURNAL_STREAM");
	return buf;
}

static void
log_each_level(void)
{
	log_init("test", LOG_INFO, false);
	log_err("an error %d", 1);
	log_warnx("a warning");
	log_notice("a notice");
	log_info("info");
	log_debug("not shown at LOG_INFO");
}

static void
test_journal_prefix(void **state)
{
	char *out;

	(void)state;
	capture(1, NULL);
	log_each_level();
	out = captured();
	assert_string_equal(out, "<3>an error 1\n<4>a warning\n<5>a notice\n<6>info\n");
	free(out);
}

static void
test_other_stream(void **state)
{
	char *out;

	(void)state;
	/* The variable names another file: stderr was redirected away from the journal. */
	capture(0, NULL);
	log_each_level();
	out = captured();
	assert_string_equal(out, "an error 1\na warning\na notice\ninfo\n");
	free(out);
}

static void
test_no_journal(void **state)
{
	static const char *const bad[] = {"", "12", "1:2x", "x:y", "1:2:3"};
	char *out;

	(void)state;
	capture(-1, NULL);
	log_each_level();
	out = captured();
	assert_string_equal(out, "an error 1\na warning\na notice\ninfo\n");
	free(out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		capture(-1, bad[i]);
		log_init("test", LOG_ERR, false);
		log_err("e");
		out = captured();
		assert_string_equal(out, "e\n");
		free(out);
	}
}

static void
test_journal_long_line(void **state)
{
	char big[2000], *out;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture(1, NULL);
	log_init("test", LOG_ERR, false);
	log_err("%s", big);
	log_msg(LOG_CRIT, "critical");
	out = captured();
	/* Cut short, but still one line with its prefix, and the next line intact. */
	assert_true(strncmp(out, "<3>xxx", 6) == 0);
	assert_non_null(strstr(out, "x\n<2>critical\n"));
	assert_int_equal(strchr(out, '\n') - out, 1022);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_prefix),
	    cmocka_unit_test(test_other_stream),
	    cmocka_unit_test(test_no_journal),
	    cmocka_unit_test(test_journal_long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

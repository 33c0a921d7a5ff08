/* Logging to stderr (the journal, with priorities) or syslog, with levels and rate limits. */
#include "log.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LIMIT_NS (10ULL * 1000000000ULL)

/* Set by the main thread (a reload), read by every worker's. */
static _Atomic int log_level = LOG_NOTICE;
static _Atomic bool log_syslog;
static bool log_journal; /* stderr is a journal stream: lines start with <priority> */
static const char *log_ident = "imqd";

/* True when stderr is the stream systemd named in JOURNAL_STREAM ("device:inode"). */
static bool
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	int end = 0;

	/* Children inherit the variable: only a stderr that still is that stream is the journal. */
	if (env == NULL || sscanf(env, "%ju:%ju%n", &dev, &ino, &end) != 2 || env[end] != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void
log_init(const char *ident, int level, bool use_syslog)
{
	log_ident = ident;
	log_level = -1;
	log_syslog = false;
	log_journal = log_stderr_is_journal();
	log_setup(level, use_syslog);
}

void
log_setup(int level, bool use_syslog)
{
	if (use_syslog && !log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
	log_level = level;
}

bool
log_enabled(int pri)
{
	return pri <= log_level;
}

static void
log_vmsg(int pri, const char *fmt, va_list ap)
{
	if (!log_enabled(pri))
		return;
	if (log_syslog) {
		vsyslog(pri, fmt, ap);
		return;
	}
	/*
	 * One write(2) per line: lines of threads that log at once do not
	 * interleave, and no stdio lock is taken (a hook's child, forked while
	 * a worker held one, could otherwise never log).
	 */
	char line[1024];
	int pre = log_journal ? snprintf(line, sizeof(line), "<%d>", LOG_PRI(pri)) : 0;
	int n = vsnprintf(line + pre, sizeof(line) - (size_t)pre - 1, fmt, ap);
	if (n < 0)
		return;
	n += pre;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, (size_t)n) < 0 && errno == EINTR)
		;
}

void
log_msg(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	char buf[768];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

uint64_t
log_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void
log_limited(struct log_limit *limit, int pri, const char *fmt, ...)
{
	uint64_t now = log_now_ns();
	va_list ap;

	if (limit->last_ns != 0 && now - limit->last_ns < LOG_LIMIT_NS) {
		limit->suppressed++;
		return;
	}
	char buf[768];
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (limit->suppressed > 0)
		log_msg(pri, "%s (and %llu more like it in the last %llus)", buf,
		        (unsigned long long)limit->suppressed,
		        (unsigned long long)((now - limit->last_ns) / 1000000000ULL));
	else
		log_msg(pri, "%s", buf);
	limit->last_ns = now;
	limit->suppressed = 0;
	limit->pri = pri;
	size_t n = strnlen(buf, sizeof(limit->last) - 1); /* a long line is cut short */
	memcpy(limit->last, buf, n);
	limit->last[n] = '\0';
}

void
log_limit_flush(struct log_limit *limit)
{
	uint64_t now;

	if (limit->suppressed == 0)
		return;
	now = log_now_ns();
	if (now - limit->last_ns < LOG_LIMIT_NS)
		return;
	log_msg(limit->pri, "%s (and %llu more like it in the last %llus)", limit->last,
	        (unsigned long long)limit->suppressed,
	        (unsigned long long)((now - limit->last_ns) / 1000000000ULL));
	limit->last_ns = now;
	limit->suppressed = 0;
}

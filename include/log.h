/* Logging to stderr (the journal, with priorities) or syslog, with levels and rate limits. */
#ifndef IMQD_LOG_H
#define IMQD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* Log as IDENT to syslog or stderr (lines "<N>"-prefixed if the journal), priorities <= LEVEL. */
void log_init(const char *ident, int level, bool use_syslog);

/* Change the level and target of an initialised log. */
void log_setup(int level, bool use_syslog);

/* True when messages of priority PRI would be shown. */
bool log_enabled(int pri);

void log_msg(int pri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Log at LOG_ERR with strerror(errno) appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at LOG_CRIT and exit(1): start-up failures and impossible states only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Now on the monotonic clock, in nanoseconds. */
uint64_t log_now_ns(void);

/* Rate limit for one kind of per-packet event: at most one line per interval. */
struct log_limit {
	uint64_t last_ns;    /* when the last line went out */
	uint64_t suppressed; /* events since then that were not logged */
	int pri;             /* of the last line */
	char last[256];      /* the last line, for log_limit_flush */
};

/* Log the event unless LIMIT logged one in the last 10 s; then summarize what was held back. */
void log_limited(struct log_limit *limit, int pri, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Once the interval is over, log what LIMIT held back even if no new event comes. */
void log_limit_flush(struct log_limit *limit);

#endif

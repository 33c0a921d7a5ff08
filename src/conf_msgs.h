/* Messages about lines of imqd.conf: shared by conf.c and conf_verify.c only. */
#ifndef IMQD_CONF_MSGS_H
#define IMQD_CONF_MSGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONF_ESC_MAX 64                  /* values quoted in messages are cut here */
#define CONF_ESC_SIZE (CONF_ESC_MAX + 8) /* a buffer for conf_esc */

struct conf_msg {
	int line; /* 0: about the whole file */
	size_t seq;
	char *text;
};

/* A growing list of messages, printed sorted by line: some are found late. */
struct conf_msgs {
	struct conf_msg *v;
	size_t n, size;
	bool oom; /* a message was lost: "out of memory" is printed instead */
};

/* Add a message about LINE to L. */
void conf_msgs_add(struct conf_msgs *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print L's messages sorted by line as "PATH:LINE: text" to ERR (may be NULL), then free them. */
void conf_msgs_flush(struct conf_msgs *l, const char *path, FILE *err);

/* S for a message into BUF (CONF_ESC_SIZE): non-printable bytes as \xNN, cut at CONF_ESC_MAX. */
const char *conf_esc(char *buf, size_t size, const char *s);

#endif

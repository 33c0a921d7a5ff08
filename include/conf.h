/* imqd.conf: parsing, validation and printing of the configuration. */
#ifndef IMQD_CONF_H
#define IMQD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_DEFAULT_PATH "/etc/imqd.conf"
#define CONF_IFNAMSIZ 16           /* IFNAMSIZ, including the NUL */
#define CONF_MAX_DEVICES 256       /* device sections in one file */
#define CONF_MAX_HELD 4194304      /* packets one device may hold: queue-maxlen x its queues */
#define CONF_MAX_HELD_ALL 16777216 /* packets all devices together may hold */
#define CONF_MAX_WORKERS 1024      /* worker threads, at most */
/* The user imqd.service runs imqd as (systemd/imqd.sysusers): trusted like root. */
#define CONF_SERVICE_USER "_imqd"

enum conf_verdict {
	CONF_ACCEPT,
	CONF_DROP,
};

enum conf_log_target {
	CONF_LOG_STDERR,
	CONF_LOG_SYSLOG,
};

/* What of each packet the kernel copies up: all of it, or headers only. */
enum conf_copy {
	CONF_COPY_FULL,
	CONF_COPY_HEADERS,
};

/* One [imqN] section. */
struct conf_device {
	char name[CONF_IFNAMSIZ];
	int line;         /* line of the section header */
	uint16_t *queues; /* sorted, unique NFQUEUE numbers */
	size_t nqueues;
	bool multiqueue;       /* imqN has a TX queue, and a root qdisc tree, per worker */
	unsigned mtu;          /* imqN MTU: largest packet that can be shaped */
	unsigned overhead;     /* bytes added to each copy: link-layer framing, as on Ethernet */
	unsigned txqueuelen;   /* imqN txqueuelen: TUN read-back ring */
	unsigned queue_maxlen; /* kernel NFQUEUE backlog, per queue */
	enum conf_verdict on_overflow; /* kernel queue full */
	enum conf_verdict on_error;    /* copy cannot be injected */
	enum conf_verdict on_flood;    /* while a queue is flooded and on_overflow accepts */
	unsigned drop_timeout_ms;      /* held longer than this: dropped */
	unsigned reorder_window_ms;    /* overtaken in its flow longer than this: dropped */
	bool gso;                      /* NFQA_CFG_F_GSO: queue GSO packets whole */
	enum conf_copy copy;
	unsigned copy_bytes;    /* bytes copied when copy = headers */
	uint32_t continue_mark; /* 0/0: plain NF_ACCEPT verdicts */
	uint32_t continue_mask;
	uint32_t ecn_mark; /* 0/0: a packet whose copy came back CE is dropped */
	uint32_t ecn_mask;
	bool bridge;  /* fed from bridge ports: imqctl rules prints physdev matches */
	bool persist; /* keep imqN across restarts */
	char **up;    /* NULL or argv, NULL-terminated */
	char **down;
	int up_line, down_line; /* where they are set, for conf_verify's messages */
	unsigned hook_timeout_ms;
	struct conf_device *next;
};

struct conf {
	char *path;
	int log_level; /* syslog LOG_* priority: messages <= it are shown */
	enum conf_log_target log_target;
	char *control_socket; /* path of the control socket */
	char *control_group;  /* NULL: root's group */
	char *metrics_file;   /* NULL: none */
	unsigned metrics_interval_ms;
	unsigned metrics_classes;    /* qdiscs and classes per device in the metrics; 0: none */
	char *user;                  /* NULL: stay root */
	unsigned workers;            /* datapath threads; 0: one per CPU, at most one per queue */
	struct conf_device *devices; /* in file order */
	size_t ndevices;
	/* Where the keys checked by conf_verify are set; 0: not in the file. */
	int control_socket_line, control_group_line, metrics_file_line, user_line;
};

/*
 * Parse PATH; on any error print every one as "PATH:LINE: message" to ERR and
 * return NULL with errno EINVAL, or, when the file could not be read, with
 * why (EMFILE, EACCES...). Parsing reads the file and nothing else of the
 * system: see conf_verify.
 */
struct conf *conf_load(const char *path, FILE *err);

/* Parse TEXT as if it were the file NAME (for tests and fuzzing); errors as conf_load. */
struct conf *conf_parse(const char *name, const char *text, size_t len, FILE *err);

/*
 * Check CONF against the system imqd runs on: users and groups, hook
 * programs (as the user who runs them), whether imqd can switch to user,
 * whether only trusted users (conf_trusted) can write the control socket's
 * directory and those above it.
 * STARTED is the configuration a running imqd started with, whose user stays
 * in effect until a restart (NULL for a check or a start). Errors as conf_load's
 * to ERR; 0, or -1 with errno EINVAL, or why a check could not be made (EMFILE...).
 */
int conf_verify(const struct conf *conf, const struct conf *started, FILE *err);

/*
 * Whether UID is trusted with imqd's control socket (to own it, or the
 * directories on its way): root, the caller's own user, CONF's user (CONF
 * may be NULL) or CONF_SERVICE_USER.
 */
bool conf_trusted(const struct conf *conf, unsigned uid);

/*
 * Warn on OUT of what imqd works around at run time: a metrics-file it
 * cannot write yet, multiqueue devices that will have one tree only.
 */
void conf_verify_warn(const struct conf *conf, FILE *out);

/* Free a configuration from conf_load (NULL is fine). */
void conf_free(struct conf *conf);

/* Print the effective configuration, every default filled in, in imqd.conf syntax. */
void conf_print(const struct conf *conf, FILE *out);

/* D's queues as the file would list them: "0-3,7". */
void conf_print_queues(FILE *out, const struct conf_device *d);

/* Device section named NAME, or NULL. */
const struct conf_device *conf_device_find(const struct conf *conf, const char *name);

/* True when A and B differ in anything that needs imqN rebuilt or queues rebound. */
bool conf_device_changed(const struct conf_device *a, const struct conf_device *b);

#endif

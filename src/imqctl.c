/* imqctl: ask a running imqd for its devices, counters and rules, or to reload. */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classes.h"
#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "rules.h"

#ifndef IMQD_VERSION
#define IMQD_VERSION "unknown"
#endif

#define IMQCTL_TIMEOUT_S 5

enum imqctl_format {
	IMQCTL_UNSET,
	IMQCTL_TEXT,
	IMQCTL_JSON,
	IMQCTL_PROMETHEUS,
};

static const struct imqctl_command {
	const char *name;
	bool takes_dev;
	bool json;       /* -j and -p apply */
	bool prometheus; /* -o prometheus applies */
} imqctl_commands[] = {
    {"show", true, true, false},  {"stats", true, true, true},    {"reload", false, false, false},
    {"rules", true, true, false}, {"classes", true, true, false},
};

/* What the command line asks for. */
struct imqctl_args {
	const struct imqctl_command *cmd;
	const char *path;   /* control socket */
	const char *config; /* rules -c: read this file instead of asking imqd */
	const char *dev;
	enum imqctl_format format;
	bool pretty;
	bool nft; /* rules --nft */
	struct classes_opts classes;
	bool classes_opt; /* -i or -w given */
};

static void
imqctl_usage(FILE *out, bool full)
{
	fputs("usage: imqctl [-jpV] [-o text|json|prometheus] [-s socket] command [device]\n"
	      "       imqctl [-jp] [--nft] -c file rules [device]\n"
	      "       imqctl [-jpw] [-i seconds] [-s socket] classes [device]\n",
	      out);
	if (!full)
		return;
	fprintf(out, "commands:\n"
	             "  show [device]     devices, their state, root qdisc and queues\n"
	             "  stats [device]    counters (-o prometheus: Prometheus text format)\n"
	             "  reload            reload imqd.conf\n"
	             "  rules [device]    the iptables rules that send traffic to imqd\n"
	             "                    (--nft: as an nftables table; -c file: for that\n"
	             "                    configuration, without asking imqd)\n"
	             "  classes [device]  qdisc and class tree, rates over -i s (-w: refresh)\n"
	             "-j: JSON, -p: indented JSON, for show, stats, rules and classes\n");
}

static void __attribute__((noreturn, format(printf, 1, 2))) imqctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("imqctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	imqctl_usage(stderr, false);
	exit(2);
}

/* True when DEV can travel as one word of a request line. */
static bool
imqctl_valid_dev(const char *dev)
{
	if (*dev == '\0' || strlen(dev) > CTL_MAX_REQUEST / 2)
		return false;
	for (const char *p = dev; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

/* The request line for A's command, device and format, newline included, into LINE. */
static void
imqctl_request(char *line, size_t size, const struct imqctl_args *a)
{
	const char *suffix = "";

	if (a->nft)
		suffix = "-nft";
	else if (a->format == IMQCTL_JSON)
		suffix = a->pretty ? "-json-pretty" : "-json";
	else if (a->format == IMQCTL_PROMETHEUS)
		suffix = "-prometheus";
	snprintf(line, size, "%s%s%s%s\n", a->cmd->name, suffix, a->dev != NULL ? " " : "",
	         a->dev != NULL ? a->dev : "");
}

/* Whether UID is imqd's user in imqd.conf ($IMQD_CONFIG); else why not into NOTE. */
static bool
imqctl_conf_user(unsigned uid, char *note, size_t size)
{
	const char *path = getenv("IMQD_CONFIG");
	char *errors = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&errors, &len);
	struct conf *conf = NULL;

	if (path == NULL || *path == '\0')
		path = IMQD_CONF_PATH;
	if (err != NULL) {
		conf = conf_load(path, err);
		fclose(err);
	}
	bool trusted = conf != NULL && conf_trusted(conf, uid);
	if (conf == NULL)
		snprintf(note, size, "imqd's user unknown: %s",
		         errors != NULL && *errors != '\0' ? strtok(errors, "\n") : path);
	else if (conf->user == NULL)
		snprintf(note, size, "%s sets no user", path);
	else
		snprintf(note, size, "%s names user %s", path, conf->user);
	conf_free(conf);
	free(errors);
	return trusted;
}

/*
 * Exit 1, saying so, unless the listener on FD (at PATH) runs as root, as
 * imqctl's own user, as CONF_SERVICE_USER or as imqd.conf's user: anyone
 * else who could write the socket's directory could have put a listener of
 * their own there, and would answer "ok" to a reload.
 */
static void
imqctl_check_peer(int fd, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char note[256];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		fprintf(stderr, "imqctl: %s: cannot tell who listens: %s\n", path, strerror(errno));
		exit(1);
	}
	if (conf_trusted(NULL, cred.uid) || imqctl_conf_user(cred.uid, note, sizeof(note)))
		return;
	struct passwd *pw = getpwuid(cred.uid);
	fprintf(stderr,
	        "imqctl: %s: the process listening there runs as %s (uid %u), not as root or "
	        "imqd's user (%s): it may not be imqd; refusing to talk to it\n",
	        path, pw != NULL ? pw->pw_name : "no user", (unsigned)cred.uid, note);
	exit(1);
}

/* A connection to imqd at PATH, or -1 with errno; a listener not imqd's ends imqctl. */
static int
imqctl_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = IMQCTL_TIMEOUT_S};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	imqctl_check_peer(fd, path);
	return fd;
}

static int
imqctl_send(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until imqd closes the connection; the answer in *BUF (NUL-terminated), or -1. */
static int
imqctl_receive(int fd, char **buf, size_t *len)
{
	size_t size = 0;
	char *p;

	*buf = NULL;
	*len = 0;
	for (;;) {
		ssize_t n;

		if (size - *len < 4096) {
			size = size == 0 ? 65536 : size * 2;
			if ((p = realloc(*buf, size)) == NULL)
				goto fail;
			*buf = p;
		}
		n = recv(fd, *buf + *len, size - *len - 1, 0);
		if (n == -1 && errno == EINTR)
			continue;
		/* imqd resets the connection when it cut a request short; the answer is in. */
		if (n == 0 || (n == -1 && errno == ECONNRESET && *len > 0))
			break;
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;
			goto fail;
		}
		*len += (size_t)n;
	}
	(*buf)[*len] = '\0';
	return 0;

fail:
	free(*buf);
	*buf = NULL;
	return -1;
}

/* Show the answer ANS: the body on stdout after "ok", on stderr after "error"; the exit code. */
static int
imqctl_answer(const char *ans, size_t len)
{
	const char *nl = memchr(ans, '\n', len);
	const char *body;
	size_t status_len;

	if (nl == NULL) {
		fprintf(stderr, "imqctl: %s from imqd\n",
		        len == 0 ? "no answer" : "malformed answer");
		return 1;
	}
	status_len = (size_t)(nl - ans);
	body = nl + 1;
	len -= status_len + 1;
	if (status_len == 2 && memcmp(ans, "ok", 2) == 0) {
		if (fwrite(body, 1, len, stdout) != len || fflush(stdout) == EOF) {
			fprintf(stderr, "imqctl: stdout: %s\n", strerror(errno));
			return 1;
		}
		return 0;
	}
	if (status_len >= 5 && memcmp(ans, "error", 5) == 0 && (status_len == 5 || ans[5] == ' ')) {
		if (status_len > 6)
			fprintf(stderr, "imqctl: %.*s\n", (int)(status_len - 6), ans + 6);
		else
			fputs("imqctl: request failed\n", stderr);
		fwrite(body, 1, len, stderr);
		return 1;
	}
	fprintf(stderr, "imqctl: malformed answer from imqd\n");
	return 1;
}

static const struct imqctl_command *
imqctl_command(const char *name)
{
	for (size_t i = 0; i < sizeof(imqctl_commands) / sizeof(imqctl_commands[0]); i++)
		if (strcmp(name, imqctl_commands[i].name) == 0)
			return &imqctl_commands[i];
	return NULL;
}

static enum imqctl_format
imqctl_parse_format(const char *s)
{
	if (strcmp(s, "text") == 0)
		return IMQCTL_TEXT;
	if (strcmp(s, "json") == 0)
		return IMQCTL_JSON;
	if (strcmp(s, "prometheus") == 0)
		return IMQCTL_PROMETHEUS;
	imqctl_usage_error("unknown output format %s", s);
}

/* The output format that -j, -p and -o ask for together. */
static enum imqctl_format
imqctl_format(bool json, bool pretty, enum imqctl_format output)
{
	if (json && output != IMQCTL_UNSET && output != IMQCTL_JSON)
		imqctl_usage_error("-j conflicts with -o");
	if (json || (pretty && output == IMQCTL_UNSET))
		output = IMQCTL_JSON;
	if (pretty && output != IMQCTL_JSON)
		imqctl_usage_error("-p applies to JSON output only");
	return output;
}

/* Refuse the options that A's command does not take. */
static void
imqctl_check_options(const struct imqctl_args *a)
{
	const struct imqctl_command *cmd = a->cmd;

	if (a->format == IMQCTL_JSON && !cmd->json)
		imqctl_usage_error("-j and -p do not apply to %s", cmd->name);
	if (a->format == IMQCTL_PROMETHEUS && !cmd->prometheus)
		imqctl_usage_error("-o prometheus applies to stats only");
	if (a->format == IMQCTL_TEXT && !cmd->json)
		imqctl_usage_error("-o does not apply to %s", cmd->name);
	if (a->nft && strcmp(cmd->name, "rules") != 0)
		imqctl_usage_error("--nft applies to rules only");
	if (a->nft && a->format != IMQCTL_UNSET && a->format != IMQCTL_TEXT)
		imqctl_usage_error("--nft conflicts with -j, -p and -o");
	if (a->config != NULL && strcmp(cmd->name, "rules") != 0)
		imqctl_usage_error("-c applies to rules only");
	if (a->classes_opt && strcmp(cmd->name, "classes") != 0)
		imqctl_usage_error("-i and -w apply to classes only");
	if (a->classes.watch && a->classes.interval_ms == 0)
		imqctl_usage_error("-w needs an interval above 0");
}

/* -i SECONDS as milliseconds: 0 (one reading) or 0.1 to 3600. */
static unsigned
imqctl_interval(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v == 0 || (v >= 0.1 && v <= 3600)))
		imqctl_usage_error("invalid interval %s (seconds: 0, or 0.1 to 3600)", s);
	return (unsigned)(v * 1000 + 0.5);
}

/* rules -c FILE: the rules for the configuration in FILE, from imqctl itself; the exit code. */
static int
imqctl_rules_local(const struct imqctl_args *a)
{
	enum rules_format format = RULES_IPTABLES;
	struct conf *conf;
	int rc = 0;

	log_init("imqctl", LOG_WARNING, false);
	if ((conf = conf_load(a->config, stderr)) == NULL)
		return 1;
	if (a->nft)
		format = RULES_NFT;
	else if (a->format == IMQCTL_JSON)
		format = a->pretty ? RULES_JSON_PRETTY : RULES_JSON;
	if (rules_print(conf, a->dev, format, stdout) == -1) {
		fprintf(stderr, "imqctl: %s: unknown device %s\n", a->config, a->dev);
		rc = 1;
	} else if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "imqctl: stdout: %s\n", strerror(errno));
		rc = 1;
	}
	conf_free(conf);
	return rc;
}

/* The command and device after the options into A. */
static void
imqctl_parse_command(int argc, char **argv, struct imqctl_args *a)
{
	if (argc < 1)
		imqctl_usage_error("no command");
	if ((a->cmd = imqctl_command(argv[0])) == NULL)
		imqctl_usage_error("unknown command %s", argv[0]);
	if (argc > 2 || (argc == 2 && !a->cmd->takes_dev))
		imqctl_usage_error("too many arguments for %s", a->cmd->name);
	if (argc == 2 && !imqctl_valid_dev(argv[1]))
		imqctl_usage_error("invalid device name %s", argv[1]);
	a->dev = argc == 2 ? argv[1] : NULL;
}

/* The command line into A; usage errors exit 2, -h and -V exit 0. */
static void
imqctl_parse_args(int argc, char **argv, struct imqctl_args *a)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"pretty", no_argument, NULL, 'p'},
	    {"output", required_argument, NULL, 'o'},
	    {"nft", no_argument, NULL, 'N'},
	    {"interval", required_argument, NULL, 'i'},
	    {"watch", no_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	enum imqctl_format output = IMQCTL_UNSET;
	bool json = false;
	int ch;

	if ((a->path = getenv("IMQD_SOCKET")) == NULL || *a->path == '\0')
		a->path = CTL_DEFAULT_PATH;
	a->classes.interval_ms = 1000;
	while ((ch = getopt_long(argc, argv, "s:c:jpo:i:whV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			a->path = optarg;
			break;
		case 'c':
			a->config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			a->pretty = true;
			break;
		case 'o':
			output = imqctl_parse_format(optarg);
			break;
		case 'N':
			a->nft = true;
			break;
		case 'i':
			a->classes.interval_ms = imqctl_interval(optarg);
			a->classes_opt = true;
			break;
		case 'w':
			a->classes.watch = a->classes_opt = true;
			break;
		case 'h':
			imqctl_usage(stdout, true);
			exit(0);
		case 'V':
			puts("imqctl " IMQD_VERSION);
			exit(0);
		default:
			imqctl_usage(stderr, false);
			exit(2);
		}
	}
	imqctl_parse_command(argc - optind, argv + optind, a);
	a->format = imqctl_format(json, a->pretty, output);
	imqctl_check_options(a);
}

/* Send LINE to imqd at PATH and read the whole answer into *ANS; -1 having said why. */
static int
imqctl_exchange(const char *path, const char *line, char **ans, size_t *len)
{
	int fd;

	if ((fd = imqctl_connect(path)) == -1) {
		const char *hint = errno == EACCES || errno == EPERM
		                       ? "only root and members of imqd's control-group may use it"
		                       : "is imqd running?";
		fprintf(stderr, "imqctl: %s: %s (%s)\n", path, strerror(errno), hint);
		return -1;
	}
	if (imqctl_send(fd, line, strlen(line)) == -1 || imqctl_receive(fd, ans, len) == -1) {
		if (errno == ETIMEDOUT)
			/* It may be stopped or busy: what it was asked, it may still do. */
			fprintf(stderr,
			        "imqctl: %s: imqd did not answer within %d s (stopped or busy?); "
			        "it may still carry the request out: see its log\n",
			        path, IMQCTL_TIMEOUT_S);
		else
			fprintf(stderr, "imqctl: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

struct imqctl_fetch {
	const char *path;
	char line[CTL_MAX_REQUEST];
};

/* One answer to the classes request, its body after "ok" in *BODY; errors as imqctl_answer. */
static int
imqctl_fetch_cb(void *arg, char **body)
{
	const struct imqctl_fetch *f = arg;
	char *ans;
	size_t len;

	if (imqctl_exchange(f->path, f->line, &ans, &len) == -1)
		return -1;
	if (strncmp(ans, "ok\n", 3) != 0) {
		if (imqctl_answer(ans, len) == 0)
			fputs("imqctl: malformed answer from imqd\n", stderr);
		free(ans);
		return -1;
	}
	memmove(ans, ans + 3, len - 2);
	*body = ans;
	return 0;
}

/* classes: imqd answers with counters; the tree, rates and format are imqctl's. */
static int
imqctl_classes(struct imqctl_args *a)
{
	struct imqctl_fetch f = {.path = a->path};

	snprintf(f.line, sizeof(f.line), "classes%s%s\n", a->dev != NULL ? " " : "",
	         a->dev != NULL ? a->dev : "");
	a->classes.json = a->format == IMQCTL_JSON;
	a->classes.pretty = a->pretty;
	return classes_run(&a->classes, imqctl_fetch_cb, &f, stdout);
}

int
main(int argc, char **argv)
{
	struct imqctl_args args = {0};
	char line[CTL_MAX_REQUEST], *ans;
	size_t len;
	int rc;

	imqctl_parse_args(argc, argv, &args);
	if (args.config != NULL)
		return imqctl_rules_local(&args);
	if (strcmp(args.cmd->name, "classes") == 0)
		return imqctl_classes(&args);
	imqctl_request(line, sizeof(line), &args);
	if (imqctl_exchange(args.path, line, &ans, &len) == -1)
		return 1;
	rc = imqctl_answer(ans, len);
	free(ans);
	return rc;
}

/* Control socket: a UNIX stream socket answering imqctl's requests from the event loop. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "ctl.h"

#include <sys/fsuid.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "stats.h"
#include "tcview.h"

#define CTL_MAX_CLIENTS 32
/* Of CTL_MAX_CLIENTS, kept for root and imqd's own user: others cannot lock them out. */
#define CTL_RESERVED 8
#define CTL_BACKLOG 32
#define CTL_ACCEPT_PAUSE_MS 1000

struct ctl_client {
	struct ctl *ctl;
	int fd;
	bool privileged; /* root or imqd's own user: may take a reserved slot */
	struct event *ev_read;
	struct event *ev_write;
	struct event *ev_timeout;
	char req[CTL_MAX_REQUEST];
	size_t reqlen;
	char *answer;
	size_t answer_len;
	size_t answer_off;
	TAILQ_ENTRY(ctl_client) entry;
};

struct ctl {
	struct event_base *base;
	struct ctl_ops ops;
	char *path;
	dev_t dev; /* of the socket file, to remove only our own */
	ino_t ino;
	int fd;
	struct event *ev_accept;
	struct event *ev_pause; /* accept resumes after running out of descriptors */
	TAILQ_HEAD(, ctl_client) clients;
	size_t nclients;
	size_t nothers;            /* clients neither root nor imqd's user */
	struct stats_device *snap; /* CTL_MAX_DEVICES views, refilled per request */
	struct log_limit refused;
	struct log_limit accept_err;
};

/* Format of an answer built from a snapshot. */
enum ctl_format {
	CTL_SHOW,
	CTL_SHOW_JSON,
	CTL_SHOW_JSON_PRETTY,
	CTL_TEXT,
	CTL_JSON,
	CTL_JSON_PRETTY,
	CTL_PROMETHEUS,
	CTL_CLASSES,
};

struct ctl_request;
typedef int (*ctl_handler)(struct ctl *ctl, const struct ctl_request *req, const char *dev,
                           FILE *out, char **cause);

struct ctl_request {
	const char *name;
	ctl_handler handler;
	bool takes_dev;
	enum ctl_format format;
	enum rules_format rules_format;
};

static int ctl_req_snapshot(struct ctl *, const struct ctl_request *, const char *, FILE *,
                            char **);
static int ctl_req_reload(struct ctl *, const struct ctl_request *, const char *, FILE *, char **);
static int ctl_req_rules(struct ctl *, const struct ctl_request *, const char *, FILE *, char **);

static const struct ctl_request ctl_requests[] = {
    {"show", ctl_req_snapshot, true, CTL_SHOW, 0},
    {"show-json", ctl_req_snapshot, true, CTL_SHOW_JSON, 0},
    {"show-json-pretty", ctl_req_snapshot, true, CTL_SHOW_JSON_PRETTY, 0},
    {"stats", ctl_req_snapshot, true, CTL_TEXT, 0},
    {"stats-json", ctl_req_snapshot, true, CTL_JSON, 0},
    {"stats-json-pretty", ctl_req_snapshot, true, CTL_JSON_PRETTY, 0},
    {"stats-prometheus", ctl_req_snapshot, true, CTL_PROMETHEUS, 0},
    {"reload", ctl_req_reload, false, 0, 0},
    {"rules", ctl_req_rules, true, 0, RULES_IPTABLES},
    {"rules-json", ctl_req_rules, true, 0, RULES_JSON},
    {"rules-json-pretty", ctl_req_rules, true, 0, RULES_JSON_PRETTY},
    {"rules-nft", ctl_req_rules, true, 0, RULES_NFT},
    {"classes", ctl_req_snapshot, true, CTL_CLASSES, 0},
};

static void ctl_accept_cb(evutil_socket_t, short, void *);
static void ctl_pause_cb(evutil_socket_t, short, void *);
static void ctl_client_read_cb(evutil_socket_t, short, void *);
static void ctl_client_write_cb(evutil_socket_t, short, void *);
static void ctl_client_timeout_cb(evutil_socket_t, short, void *);

static const struct timeval ctl_client_timeout = {
    .tv_sec = CTL_CLIENT_TIMEOUT_MS / 1000,
    .tv_usec = (CTL_CLIENT_TIMEOUT_MS % 1000) * 1000,
};

static int
ctl_req_snapshot(struct ctl *ctl, const struct ctl_request *req, const char *dev, FILE *out,
                 char **cause)
{
	size_t n;

	if (ctl->ops.snapshot == NULL) {
		*cause = strdup("not supported");
		return -1;
	}
	n = ctl->ops.snapshot(ctl->ops.arg, dev, ctl->snap, CTL_MAX_DEVICES);
	if (n > CTL_MAX_DEVICES)
		n = CTL_MAX_DEVICES;
	if (n == 0 && dev != NULL) {
		if (asprintf(cause, "unknown device %s", dev) == -1)
			*cause = NULL;
		return -1;
	}
	switch (req->format) {
	case CTL_SHOW:
		stats_print_summary(ctl->snap, n, out);
		break;
	case CTL_SHOW_JSON:
	case CTL_SHOW_JSON_PRETTY:
		stats_print_summary_json(ctl->snap, n, req->format == CTL_SHOW_JSON_PRETTY, out);
		break;
	case CTL_TEXT:
		stats_print_text(ctl->snap, n, out);
		break;
	case CTL_JSON:
	case CTL_JSON_PRETTY:
		stats_print_json(ctl->snap, n, req->format == CTL_JSON_PRETTY, out);
		break;
	case CTL_PROMETHEUS:
		stats_print_prometheus(ctl->snap, n, out);
		break;
	case CTL_CLASSES:
		tcview_print_lines(ctl->snap, n, out);
		break;
	}
	return 0;
}

static int
ctl_req_reload(struct ctl *ctl, const struct ctl_request *req, const char *dev, FILE *out,
               char **cause)
{
	(void)req;
	(void)dev;
	if (ctl->ops.reload == NULL) {
		*cause = strdup("not supported");
		return -1;
	}
	log_info("reload requested on the control socket");
	int r = ctl->ops.reload(ctl->ops.arg, out);
	if (r < 0) {
		*cause = strdup(r == -2 ? "reload applied in part" : "reload failed");
		return -1;
	}
	return 0;
}

static int
ctl_req_rules(struct ctl *ctl, const struct ctl_request *req, const char *dev, FILE *out,
              char **cause)
{
	if (ctl->ops.rules == NULL) {
		*cause = strdup("not supported");
		return -1;
	}
	if (ctl->ops.rules(ctl->ops.arg, dev, req->rules_format, out) == -1) {
		if (dev == NULL || asprintf(cause, "unknown device %s", dev) == -1)
			*cause = strdup("rules failed");
		return -1;
	}
	return 0;
}

/* Run the request LINE: the body goes to OUT; on error *CAUSE is the status message. */
static int
ctl_dispatch(struct ctl *ctl, char *line, FILE *out, char **cause)
{
	char *dev = strchr(line, ' ');

	if (dev != NULL) {
		*dev++ = '\0';
		if (*dev == '\0' || strchr(dev, ' ') != NULL) {
			*cause = strdup("malformed request");
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(ctl_requests) / sizeof(ctl_requests[0]); i++) {
		const struct ctl_request *req = &ctl_requests[i];

		if (strcmp(line, req->name) != 0)
			continue;
		if (dev != NULL && !req->takes_dev) {
			if (asprintf(cause, "%s takes no argument", req->name) == -1)
				*cause = NULL;
			return -1;
		}
		return req->handler(ctl, req, dev, out, cause);
	}
	*cause = strdup("unknown request");
	return -1;
}

static void
ctl_client_free(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;

	TAILQ_REMOVE(&ctl->clients, c, entry);
	ctl->nclients--;
	if (!c->privileged)
		ctl->nothers--;
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->ev_timeout != NULL)
		event_free(c->ev_timeout);
	close(c->fd);
	free(c->answer);
	free(c);
}

/* Send what the socket takes now; true when the client is done with (and freed). */
static bool
ctl_client_flush(struct ctl_client *c)
{
	while (c->answer_off < c->answer_len) {
		ssize_t n = send(c->fd, c->answer + c->answer_off, c->answer_len - c->answer_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n == -1) {
			log_debug("control client: send: %s", strerror(errno));
			break;
		}
		c->answer_off += (size_t)n;
	}
	ctl_client_free(c);
	return true;
}

/* Answer with STATUS ("ok" or "error MESSAGE") and BODY, then close. */
static void
ctl_client_answer(struct ctl_client *c, const char *status, const char *body, size_t body_len)
{
	FILE *f;

	event_del(c->ev_read);
	free(c->answer);
	c->answer = NULL;
	if ((f = open_memstream(&c->answer, &c->answer_len)) == NULL) {
		log_warn("control client: open_memstream");
		ctl_client_free(c);
		return;
	}
	fprintf(f, "%s\n", status);
	if (body_len > 0)
		fwrite(body, 1, body_len, f);
	/* Error lines from a reload may lack the final newline. */
	if (body_len > 0 && body[body_len - 1] != '\n')
		fputc('\n', f);
	if (fclose(f) == EOF) {
		log_warn("control client: answer");
		ctl_client_free(c);
		return;
	}
	c->answer_off = 0;
	/*
	 * The whole answer within the timeout from now, not from the last
	 * progress: a client reading a byte at a time would otherwise hold its
	 * slot for as long as it likes.
	 */
	evtimer_add(c->ev_timeout, &ctl_client_timeout);
	if (!ctl_client_flush(c))
		event_add(c->ev_write, NULL);
}

static void
ctl_client_error(struct ctl_client *c, const char *message)
{
	char status[128];

	snprintf(status, sizeof(status), "error %s", message);
	ctl_client_answer(c, status, NULL, 0);
}

/* Handle the complete request line in c->req (its newline already replaced by NUL). */
static void
ctl_client_request(struct ctl_client *c)
{
	char *body = NULL, *cause = NULL, *status = NULL;
	size_t body_len = 0;
	FILE *out;
	int rc;

	if ((out = open_memstream(&body, &body_len)) == NULL) {
		log_warn("control client: open_memstream");
		ctl_client_free(c);
		return;
	}
	log_debug("control request \"%s\"", c->req);
	rc = ctl_dispatch(c->ctl, c->req, out, &cause);
	if (fclose(out) == EOF) {
		log_warn("control client: answer");
		free(body);
		free(cause);
		ctl_client_free(c);
		return;
	}
	if (rc == 0)
		ctl_client_answer(c, "ok", body, body_len);
	else if (asprintf(&status, "error %s", cause != NULL ? cause : "out of memory") == -1)
		ctl_client_free(c);
	else
		ctl_client_answer(c, status, body, body_len);
	free(status);
	free(cause);
	free(body);
}

static void
ctl_client_read_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ctl_client *c = arg;
	ssize_t n;

	(void)events;
	n = recv(fd, c->req + c->reqlen, sizeof(c->req) - c->reqlen, MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == -1) {
		log_debug("control client: recv: %s", strerror(errno));
		ctl_client_free(c);
		return;
	}
	if (n == 0) {
		/* The client gave up (or shut down writing) before ending its line. */
		if (c->reqlen == 0)
			ctl_client_free(c);
		else
			ctl_client_error(c, "request not terminated by a newline");
		return;
	}
	for (size_t end = c->reqlen + (size_t)n; c->reqlen < end; c->reqlen++) {
		unsigned char ch = (unsigned char)c->req[c->reqlen];

		if (ch == '\n') {
			c->req[c->reqlen] = '\0';
			ctl_client_request(c);
			return;
		}
		if (ch < 0x20 || ch > 0x7e) {
			ctl_client_error(c, "invalid character in request");
			return;
		}
	}
	if (c->reqlen == sizeof(c->req))
		ctl_client_error(c, "request too long");
}

static void
ctl_client_write_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ctl_client *c = arg;

	(void)fd;
	(void)events;
	if (!ctl_client_flush(c))
		event_add(c->ev_write, NULL);
}

static void
ctl_client_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ctl_client *c = arg;

	(void)fd;
	(void)events;
	log_debug("control client timed out %s",
	          c->answer != NULL ? "reading the answer" : "sending its request");
	ctl_client_free(c);
}

/* Whether the client on FD is root or imqd's own user (who runs imqctl from the service). */
static bool
ctl_client_privileged(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

/* Tell the client on FD that there is no room for it, and close it. */
static void
ctl_client_refuse(struct ctl *ctl, int fd, bool privileged)
{
	static const char busy[] = "error too many clients\n";

	log_limited(&ctl->refused, LOG_WARNING, "control socket %s: more than %d clients%s",
	            ctl->path, privileged ? CTL_MAX_CLIENTS : CTL_MAX_CLIENTS - CTL_RESERVED,
	            privileged ? "" : " of users other than root and imqd's");
	/* A fresh socket has room for one line; if not, the client just sees EOF. */
	(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/*
 * Clients that connect and stay silent until cut off could hold every slot;
 * CTL_RESERVED of them are kept for root and imqd's user, so that imqctl
 * reload (systemctl reload) always gets through, with no client evicted.
 */
static void
ctl_client_new(struct ctl *ctl, int fd)
{
	struct ctl_client *c;
	bool privileged = ctl_client_privileged(fd);

	if (ctl->nclients >= CTL_MAX_CLIENTS ||
	    (!privileged && ctl->nothers >= CTL_MAX_CLIENTS - CTL_RESERVED)) {
		ctl_client_refuse(ctl, fd, privileged);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control socket %s: client", ctl->path);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->privileged = privileged;
	TAILQ_INSERT_TAIL(&ctl->clients, c, entry);
	ctl->nclients++;
	if (!privileged)
		ctl->nothers++;
	c->ev_read = event_new(ctl->base, fd, EV_READ | EV_PERSIST, ctl_client_read_cb, c);
	c->ev_write = event_new(ctl->base, fd, EV_WRITE, ctl_client_write_cb, c);
	c->ev_timeout = evtimer_new(ctl->base, ctl_client_timeout_cb, c);
	if (c->ev_read == NULL || c->ev_write == NULL || c->ev_timeout == NULL ||
	    event_add(c->ev_read, NULL) == -1 ||
	    evtimer_add(c->ev_timeout, &ctl_client_timeout) == -1) {
		log_warnx("control socket %s: cannot watch a client", ctl->path);
		ctl_client_free(c);
	}
}

static void
ctl_accept_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ctl *ctl = arg;
	static const struct timeval pause = {
	    .tv_sec = CTL_ACCEPT_PAUSE_MS / 1000,
	    .tv_usec = (CTL_ACCEPT_PAUSE_MS % 1000) * 1000,
	};
	int cfd;

	(void)events;
	/* A bounded number per wakeup: a flood of connections must not hold the loop. */
	for (int n = 0; n < CTL_MAX_CLIENTS; n++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd != -1) {
			ctl_client_new(ctl, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_limited(&ctl->accept_err, LOG_WARNING, "control socket %s: accept: %s",
		            ctl->path, strerror(errno));
		/* Out of descriptors or memory: the socket stays readable, so wait, not spin. */
		event_del(ctl->ev_accept);
		evtimer_add(ctl->ev_pause, &pause);
		return;
	}
}

static void
ctl_pause_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ctl *ctl = arg;

	(void)fd;
	(void)events;
	event_add(ctl->ev_accept, NULL);
}

/* Create the directory of PATH if it does not exist. */
static int
ctl_make_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (dir == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0) {
			/* Whatever the umask: control-group members must reach the socket. */
			if (chmod(dir, 0755) == -1)
				log_warn("control socket: chmod %s", dir);
		} else if (errno != EEXIST) {
			log_warn("control socket: mkdir %s", dir);
			rc = -1;
		}
	}
	free(dir);
	return rc;
}

/* Remove a socket left at PATH by a dead imqd; refuse to touch anything else. */
static int
ctl_remove_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("control socket %s: stat", path);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("control socket %s: exists and is not a socket", path);
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	if (rc == 0 || errno == EAGAIN) {
		close(fd);
		log_warnx("control socket %s: another imqd is listening on it", path);
		errno = EADDRINUSE;
		return -1;
	}
	close(fd);
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("control socket %s: unlink", path);
		return -1;
	}
	return 0;
}

/*
 * Bind to PATH with mode 0660 and group GID (-1: imqd's own) from the
 * start: the umask and the file system gid are set around bind, so nobody
 * may connect before the socket has them, and nothing is changed by path
 * afterwards, when the file at PATH might no longer be ours.
 */
static int
ctl_bind(int fd, const struct sockaddr_un *sun, gid_t gid)
{
	mode_t mask = umask(0117);
	gid_t fsgid = (gid_t)-1;
	int rc, saved;

	if (gid != (gid_t)-1)
		fsgid = (gid_t)setfsgid(gid);
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	saved = errno;
	if (fsgid != (gid_t)-1)
		setfsgid(fsgid);
	umask(mask);
	errno = saved;
	return rc;
}

/* Bind and listen on PATH, mode 0660 and group GID (-1: unchanged); the descriptor or -1. */
static int
ctl_listen(struct ctl *ctl, const struct sockaddr_un *sun, gid_t gid)
{
	struct stat st;
	int fd, saved;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("control socket %s: socket", ctl->path);
		return -1;
	}
	if (ctl_bind(fd, sun, gid) == -1) {
		log_warn("control socket %s: bind", ctl->path);
		goto close_fd;
	}
	if (lstat(ctl->path, &st) == -1) {
		log_warn("control socket %s: stat", ctl->path);
		goto unlink_path;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	/*
	 * A daemon not root may set its file system gid to its own groups only,
	 * and a set-group-ID directory gives its own group: then the group is
	 * changed by path. conf_verify made sure that only root and imqd's user
	 * may write the directory, so the file there is still the one bound.
	 */
	if (gid != (gid_t)-1 && st.st_gid != gid &&
	    fchownat(AT_FDCWD, ctl->path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warn("control socket %s: chown", ctl->path);
		goto unlink_path;
	}
	if (listen(fd, CTL_BACKLOG) == -1) {
		log_warn("control socket %s: listen", ctl->path);
		goto unlink_path;
	}
	return fd;

unlink_path:
	saved = errno;
	unlink(ctl->path);
	errno = saved;
close_fd:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* The group named NAME as a gid, (gid_t)-1 for NULL; -1 with errno on failure. */
static int
ctl_group(const char *name, gid_t *gid)
{
	struct group *gr;

	*gid = (gid_t)-1;
	if (name == NULL)
		return 0;
	errno = 0;
	if ((gr = getgrnam(name)) == NULL) {
		if (errno != 0) {
			log_warn("control socket: group %s", name);
			return -1;
		}
		log_warnx("control socket: unknown group %s", name);
		errno = ENOENT;
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

struct ctl *
ctl_open(struct event_base *base, const char *path, const char *group, const struct ctl_ops *ops)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ctl *ctl;
	gid_t gid;
	int saved;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		log_warn("control socket %s", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (ctl_group(group, &gid) == -1)
		return NULL;
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->snap = calloc(CTL_MAX_DEVICES, sizeof(*ctl->snap))) == NULL ||
	    (ctl->path = strdup(path)) == NULL) {
		log_warn("control socket %s", path);
		goto free_ctl;
	}
	ctl->base = base;
	ctl->ops = *ops;
	ctl->fd = -1;
	TAILQ_INIT(&ctl->clients);
	if (ctl_make_dir(path) == -1 || ctl_remove_stale(path, &sun) == -1)
		goto free_ctl;
	if ((ctl->fd = ctl_listen(ctl, &sun, gid)) == -1)
		goto free_ctl;
	ctl->ev_accept = event_new(base, ctl->fd, EV_READ | EV_PERSIST, ctl_accept_cb, ctl);
	ctl->ev_pause = evtimer_new(base, ctl_pause_cb, ctl);
	if (ctl->ev_accept == NULL || ctl->ev_pause == NULL ||
	    event_add(ctl->ev_accept, NULL) == -1) {
		errno = ENOMEM;
		log_warn("control socket %s: event", path);
		goto free_ctl;
	}
	log_debug("control socket %s listening", path);
	return ctl;

free_ctl:
	saved = errno;
	if (ctl != NULL)
		ctl_close(ctl);
	errno = saved;
	return NULL;
}

void
ctl_close(struct ctl *ctl)
{
	struct ctl_client *c;
	struct stat st;

	if (ctl == NULL)
		return;
	while ((c = TAILQ_FIRST(&ctl->clients)) != NULL)
		ctl_client_free(c);
	if (ctl->ev_accept != NULL)
		event_free(ctl->ev_accept);
	if (ctl->ev_pause != NULL)
		event_free(ctl->ev_pause);
	if (ctl->fd != -1) {
		close(ctl->fd);
		/* Another imqd may have replaced the file since; leave its socket alone. */
		if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
			unlink(ctl->path);
	}
	free(ctl->path);
	free(ctl->snap);
	free(ctl);
}

/* Unit tests of ctl.c: the control socket driven by an event loop in the test itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ctl.h"
#include "log.h"
#include "stats.h"

#define BIG_QUEUES 16

/* The daemon side: two devices, or CTL_MAX_DEVICES big ones to make a huge answer. */
struct fake {
	bool big;
	bool reload_fails;
	int reloads;
	uint16_t queues[BIG_QUEUES];
	struct stats_counters qc[BIG_QUEUES];
	char names[CTL_MAX_DEVICES][24];
};

struct fixture {
	struct event_base *base;
	struct ctl *ctl;
	struct fake fake;
	char dir[64];
	char rundir[96];
	char path[128];
};

static size_t
fake_snapshot(void *arg, const char *dev, struct stats_device *out, size_t max)
{
	struct fake *f = arg;
	static const char *names[] = {"imq0", "imq1"};
	size_t n = 0;

	if (f->big) {
		for (n = 0; n < max; n++) {
			snprintf(f->names[n], sizeof(f->names[n]), "imq%u", (unsigned)n);
			out[n] = (struct stats_device){.name = f->names[n],
			                               .state = "up",
			                               .qdisc = "htb",
			                               .queues = f->queues,
			                               .nqueues = BIG_QUEUES,
			                               .queue_counters = f->qc};
		}
		return n;
	}
	for (size_t i = 0; i < 2 && n < max; i++) {
		if (dev != NULL && strcmp(dev, names[i]) != 0)
			continue;
		out[n] = (struct stats_device){
		    .name = names[i],
		    .state = i == 0 ? "up" : "down",
		    .qdisc = i == 0 ? "tbf" : "",
		    .queues = &f->queues[i == 0 ? 0 : 4],
		    .nqueues = i == 0 ? 2 : 1,
		    .queue_counters = f->qc,
		};
		out[n].total.received = 10 + i;
		n++;
	}
	return n;
}

static int
fake_reload(void *arg, FILE *err)
{
	struct fake *f = arg;

	f->reloads++;
	if (!f->reload_fails)
		return 0;
	fputs("/etc/imqd.conf:3: unknown keyword \"rate\"", err);
	return -1;
}

static int
fake_rules(void *arg, const char *dev, enum rules_format format, FILE *out)
{
	(void)arg;
	if (dev != NULL && strcmp(dev, "imq0") != 0 && strcmp(dev, "imq1") != 0)
		return -1;
	if (format != RULES_IPTABLES) {
		fprintf(out, "format %d\n", (int)format);
		return 0;
	}
	fprintf(out, "-A POSTROUTING -o eth0 -j NFQUEUE --queue-balance 0:1 # %s\n",
	        dev != NULL ? dev : "all");
	return 0;
}

static struct ctl *
fixture_open(struct fixture *fx, const char *group)
{
	struct ctl_ops ops = {
	    .snapshot = fake_snapshot,
	    .reload = fake_reload,
	    .rules = fake_rules,
	    .arg = &fx->fake,
	};

	return ctl_open(fx->base, fx->path, group, &ops);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	for (int i = 0; i < BIG_QUEUES; i++)
		fx->fake.queues[i] = (uint16_t)i;
	strcpy(fx->dir, "/tmp/imqd-ctl.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	/* The socket's directory does not exist yet: ctl_open makes it. */
	snprintf(fx->rundir, sizeof(fx->rundir), "%s/run", fx->dir);
	snprintf(fx->path, sizeof(fx->path), "%s/imqd.sock", fx->rundir);
	assert_non_null(fx->base = event_base_new());
	fx->ctl = fixture_open(fx, NULL);
	assert_non_null(fx->ctl);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	ctl_close(fx->ctl);
	event_base_free(fx->base);
	unlink(fx->path);
	rmdir(fx->rundir);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connected, non-blocking client. */
static int
client_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void
client_send(int fd, const void *data, size_t len)
{
	assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Run the loop once and read what is there: 1 when the server closed, 0 when open. */
static int
client_poll(struct event_base *base, int fd, char *buf, size_t size, size_t *len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	event_base_loop(base, EVLOOP_NONBLOCK);
	poll(&pfd, 1, 2);
	for (;;) {
		char discard[65536];
		char *dst = *len + 1 < size ? buf + *len : discard;
		size_t room = *len + 1 < size ? size - *len - 1 : sizeof(discard);

		n = recv(fd, dst, room, 0);
		if (n > 0) {
			if (dst != discard) {
				*len += (size_t)n;
				buf[*len] = '\0';
			}
			continue;
		}
		/* The server closing with part of a request unread resets the connection. */
		if (n == 0 || errno == ECONNRESET)
			return 1;
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		return 0;
	}
}

/* Drive the loop until the server closes FD (within TIMEOUT_MS); the answer, NUL-terminated. */
static char *
client_finish(struct event_base *base, int fd, int timeout_ms)
{
	size_t size = 1 << 20, len = 0;
	char *buf = calloc(1, size);
	int64_t end = now_ms() + timeout_ms;

	assert_non_null(buf);
	while (client_poll(base, fd, buf, size, &len) == 0)
		assert_true(now_ms() < end);
	close(fd);
	return buf;
}

/* Send REQ (LEN bytes) on a new connection and return the whole answer. */
static char *
request(struct fixture *fx, const char *req, size_t len)
{
	int fd = client_connect(fx->path);

	client_send(fd, req, len);
	return client_finish(fx->base, fd, 1000);
}

static void
assert_answer(struct fixture *fx, const char *req, const char *want)
{
	char *got = request(fx, req, strlen(req));

	assert_string_equal(got, want);
	free(got);
}

static void
test_socket_file(void **state)
{
	struct fixture *fx = *state;
	struct group *gr = getgrgid(getegid());
	struct stat st;

	assert_int_equal(lstat(fx->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(lstat(fx->rundir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	/* Reopen with a group by name; closing removes the socket. */
	ctl_close(fx->ctl);
	fx->ctl = NULL;
	assert_int_equal(lstat(fx->path, &st), -1);
	assert_non_null(gr);
	fx->ctl = fixture_open(fx, gr->gr_name);
	assert_non_null(fx->ctl);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_int_equal(st.st_gid, gr->gr_gid);
	assert_int_equal(st.st_mode & 07777, 0660);

	ctl_close(fx->ctl);
	fx->ctl = fixture_open(fx, "no-such-group-imqd");
	assert_null(fx->ctl);
	assert_int_equal(errno, ENOENT);
	fx->ctl = fixture_open(fx, NULL);
	assert_non_null(fx->ctl);
}

/*
 * The socket has its group and mode from bind on, whatever the umask, also
 * in a set-group-ID directory of another group (root: nogroup, users).
 */
static void
test_socket_group(void **state)
{
	struct fixture *fx = *state;
	struct group *nogroup = getgrnam("nogroup"), *users = getgrnam("users");
	struct stat st;

	if (geteuid() != 0 || nogroup == NULL || users == NULL)
		skip();
	ctl_close(fx->ctl);
	mode_t mask = umask(0);
	fx->ctl = fixture_open(fx, "nogroup");
	umask(mask);
	assert_non_null(fx->ctl);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_int_equal(st.st_gid, nogroup->gr_gid);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(getegid(), 0); /* the file system gid only, and only around bind */

	ctl_close(fx->ctl);
	assert_int_equal(chown(fx->rundir, 0, users->gr_gid), 0);
	assert_int_equal(chmod(fx->rundir, 02755), 0);
	fx->ctl = fixture_open(fx, "nogroup");
	assert_non_null(fx->ctl);
	assert_int_equal(lstat(fx->path, &st), 0);
	assert_int_equal(st.st_gid, nogroup->gr_gid);
	assert_int_equal(st.st_mode & 07777, 0660);
}

static void
test_stale_socket(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct ctl *other;
	int fd;
	char *ans;

	/* A live imqd on the path is left alone. */
	other = fixture_open(fx, NULL);
	assert_null(other);
	assert_int_equal(errno, EADDRINUSE);
	assert_answer(fx, "show imq1\n", "ok\nimq1 down unknown queues 4\n");

	/* A socket nobody listens on is replaced. */
	ctl_close(fx->ctl);
	fx->ctl = NULL;
	strcpy(sun.sun_path, fx->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	fx->ctl = fixture_open(fx, NULL);
	assert_non_null(fx->ctl);
	ans = request(fx, "show\n", 5);
	assert_string_equal(ans, "ok\nimq0 up tbf queues 0-1\nimq1 down unknown queues 4\n");
	free(ans);

	/* Anything else is not touched. */
	ctl_close(fx->ctl);
	fx->ctl = NULL;
	fd = open(fx->path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	fx->ctl = fixture_open(fx, NULL);
	assert_null(fx->ctl);
	assert_int_equal(errno, EEXIST);
	unlink(fx->path);
	fx->ctl = fixture_open(fx, NULL);
	assert_non_null(fx->ctl);
}

static void
test_stats_json(void **state)
{
	struct fixture *fx = *state;
	char *ans = request(fx, "stats-json\n", 11);
	size_t len = strlen(ans);

	assert_true(strncmp(ans, "ok\n{\"devices\":[{\"name\":\"imq0\",", 30) == 0);
	assert_non_null(strstr(ans, "{\"name\":\"imq1\",\"state\":\"down\""));
	assert_true(len > 5 && strcmp(ans + len - 3, "]}\n") == 0);
	assert_ptr_equal(strchr(ans + 3, '\n'), ans + len - 1);
	free(ans);

	ans = request(fx, "stats-json-pretty imq1\n", 23);
	assert_true(strncmp(ans, "ok\n{\n  \"devices\": [\n", 20) == 0);
	assert_null(strstr(ans, "imq0"));
	free(ans);

	ans = request(fx, "stats-prometheus imq0\n", 22);
	assert_true(strncmp(ans, "ok\n# HELP imqd_", 15) == 0);
	assert_non_null(strstr(ans, "\nimqd_received_packets_total{device=\"imq0\"} 10\n"));
	free(ans);

	ans = request(fx, "stats\n", 6);
	assert_true(strncmp(ans, "ok\nimq0: state up, qdisc tbf, queues 0-1\n", 41) == 0);
	free(ans);
}

static void
test_requests(void **state)
{
	struct fixture *fx = *state;

	assert_answer(fx, "show\n", "ok\nimq0 up tbf queues 0-1\nimq1 down unknown queues 4\n");
	assert_answer(fx, "show imq0\n", "ok\nimq0 up tbf queues 0-1\n");
	assert_answer(fx, "stats imq9\n", "error unknown device imq9\n");
	assert_answer(fx, "stats-json imq9\n", "error unknown device imq9\n");
	assert_answer(fx, "frobnicate\n", "error unknown request\n");
	assert_answer(fx, "\n", "error unknown request\n");
	assert_answer(fx, "show  imq0\n", "error malformed request\n");
	assert_answer(fx, "show imq0 imq1\n", "error malformed request\n");
	assert_answer(fx, "show \n", "error malformed request\n");
	assert_answer(fx, "reload now\n", "error reload takes no argument\n");
	assert_answer(fx, "rules imq0\n",
	              "ok\n-A POSTROUTING -o eth0 -j NFQUEUE --queue-balance 0:1 # imq0\n");
	assert_answer(fx, "rules\n",
	              "ok\n-A POSTROUTING -o eth0 -j NFQUEUE --queue-balance 0:1 # all\n");
	assert_answer(fx, "rules imq9\n", "error unknown device imq9\n");
	assert_answer(fx, "rules-nft imq0\n", "ok\nformat 3\n");
	assert_answer(fx, "rules-json\n", "ok\nformat 1\n");
	assert_answer(fx, "rules-json-pretty imq9\n", "error unknown device imq9\n");
	assert_answer(fx, "show-json imq0\n",
	              "ok\n{\"devices\":[{\"name\":\"imq0\",\"state\":\"up\",\"qdisc\":\"tbf\","
	              "\"queues\":[0,1]}]}\n");
	assert_answer(fx, "show-json-pretty imq9\n", "error unknown device imq9\n");
	/* Anything after the newline is ignored. */
	assert_answer(fx, "show imq0\nshow imq1\n", "ok\nimq0 up tbf queues 0-1\n");
}

static void
test_reload(void **state)
{
	struct fixture *fx = *state;

	assert_answer(fx, "reload\n", "ok\n");
	assert_int_equal(fx->fake.reloads, 1);
	fx->fake.reload_fails = true;
	assert_answer(fx, "reload\n",
	              "error reload failed\n/etc/imqd.conf:3: unknown keyword \"rate\"\n");
	assert_int_equal(fx->fake.reloads, 2);
}

static void
test_bad_requests(void **state)
{
	struct fixture *fx = *state;
	char big[2000];
	char *ans;

	/* 2000 bytes and no newline: refused after CTL_MAX_REQUEST, connection closed. */
	memset(big, 'a', sizeof(big));
	ans = request(fx, big, sizeof(big));
	assert_string_equal(ans, "error request too long\n");
	free(ans);
	/* Exactly CTL_MAX_REQUEST bytes with the newline is still a request. */
	memset(big, 'a', CTL_MAX_REQUEST - 1);
	big[CTL_MAX_REQUEST - 1] = '\n';
	ans = request(fx, big, CTL_MAX_REQUEST);
	assert_string_equal(ans, "error unknown request\n");
	free(ans);
	big[CTL_MAX_REQUEST - 1] = 'a';
	big[CTL_MAX_REQUEST] = '\n';
	ans = request(fx, big, CTL_MAX_REQUEST + 1);
	assert_string_equal(ans, "error request too long\n");
	free(ans);

	ans = request(fx, "sh\0ow\n", 6);
	assert_string_equal(ans, "error invalid character in request\n");
	free(ans);
	ans = request(fx, "show\r\n", 6);
	assert_string_equal(ans, "error invalid character in request\n");
	free(ans);
	ans = request(fx, "show \xc3\xa9\n", 8);
	assert_string_equal(ans, "error invalid character in request\n");
	free(ans);
}

static void
test_half_close(void **state)
{
	struct fixture *fx = *state;
	int fd = client_connect(fx->path);
	char *ans;

	client_send(fd, "show", 4);
	shutdown(fd, SHUT_WR);
	ans = client_finish(fx->base, fd, 1000);
	assert_string_equal(ans, "error request not terminated by a newline\n");
	free(ans);
	/* Connecting and leaving at once costs nothing. */
	close(client_connect(fx->path));
	assert_answer(fx, "show imq0\n", "ok\nimq0 up tbf queues 0-1\n");
}

static void
test_timeout(void **state)
{
	struct fixture *fx = *state;
	int idle = client_connect(fx->path);
	int partial = client_connect(fx->path);
	int deaf = client_connect(fx->path);
	size_t len[2] = {0, 0};
	char buf[2][256];
	bool closed[2] = {false, false};
	int64_t start = now_ms(), elapsed;
	char *ans;

	/* DEAF asks for megabytes and reads none of them. */
	fx->fake.big = true;
	client_send(deaf, "stats-json-pretty\n", 18);
	for (int i = 0; i < 20; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
	fx->fake.big = false;
	client_send(partial, "sta", 3);

	/* Meanwhile other clients are served at once. */
	ans = request(fx, "show imq1\n", 10);
	assert_string_equal(ans, "ok\nimq1 down unknown queues 4\n");
	free(ans);
	assert_true(now_ms() - start < CTL_CLIENT_TIMEOUT_MS / 2);

	while (!closed[0] || !closed[1]) {
		assert_true(now_ms() - start < CTL_CLIENT_TIMEOUT_MS + 2000);
		if (!closed[0])
			closed[0] = client_poll(fx->base, idle, buf[0], sizeof(buf[0]), &len[0]);
		if (!closed[1])
			closed[1] = client_poll(fx->base, partial, buf[1], sizeof(buf[1]), &len[1]);
	}
	elapsed = now_ms() - start;
	assert_true(elapsed >= CTL_CLIENT_TIMEOUT_MS - 50);
	assert_int_equal(len[0], 0);
	assert_int_equal(len[1], 0);

	/* DEAF's time ran from its answer on; once it ran out, it was cut off too. */
	while (now_ms() - start < CTL_CLIENT_TIMEOUT_MS + 300)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
	{
		size_t got = 0;
		char chunk[65536];
		ssize_t n;

		/* What it can still read ends in EOF, far short of the answer. */
		while ((n = recv(deaf, chunk, sizeof(chunk), 0)) > 0)
			got += (size_t)n;
		assert_int_equal(n, 0);
		assert_true(got > 0 && got < 1000000);
	}
	close(idle);
	close(partial);
	close(deaf);
	assert_answer(fx, "show imq0\n", "ok\nimq0 up tbf queues 0-1\n");
}

static void
test_too_many_clients(void **state)
{
	struct fixture *fx = *state;
	int fds[32], extra;
	char buf[64];
	size_t len = 0;
	char *ans;

	for (int i = 0; i < 32; i++)
		fds[i] = client_connect(fx->path);
	for (int i = 0; i < 5; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
	extra = client_connect(fx->path);
	ans = client_finish(fx->base, extra, 1000);
	assert_string_equal(ans, "error too many clients\n");
	free(ans);
	/* The 32 are still connected. */
	for (int i = 0; i < 32; i++)
		assert_int_equal(client_poll(fx->base, fds[i], buf, sizeof(buf), &len), 0);
	close(fds[0]);
	for (int i = 0; i < 5; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_answer(fx, "show imq0\n", "ok\nimq0 up tbf queues 0-1\n");
	for (int i = 1; i < 32; i++)
		close(fds[i]);
}

/*
 * A client reading its answer slowly, 16 KB every 100 ms, is cut off when
 * CTL_CLIENT_TIMEOUT_MS has passed since its answer was ready, not that long
 * after its last read: each partial send used to start the time again.
 */
static void
test_slow_reader(void **state)
{
	struct fixture *fx = *state;
	int fd = client_connect(fx->path);
	int64_t start = now_ms();
	size_t got = 0;
	char chunk[16384];

	fx->fake.big = true;
	client_send(fd, "stats-json-pretty\n", 18);
	for (;;) {
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
		ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			break;
		if (n > 0)
			got += (size_t)n;
		else
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		/* Never cut off: the bug. Its answer takes a while to make on a busy machine. */
		assert_true(now_ms() - start < 3 * CTL_CLIENT_TIMEOUT_MS);
		poll(NULL, 0, 100);
	}
	int64_t elapsed = now_ms() - start;
	print_message("slow reader: cut off after %lld ms, %zu bytes read\n", (long long)elapsed,
	              got);
	assert_true(elapsed >= CTL_CLIENT_TIMEOUT_MS - 50);
	assert_true(got > 0 && got < 1000000);
	close(fd);
	fx->fake.big = false;
	assert_answer(fx, "show imq0\n", "ok\nimq0 up tbf queues 0-1\n");
}

/* In a child switched to nobody: connect N clients, then report how many were refused. */
static void
nobody_clients(const char *path, int n, int sync[2], int back[2])
{
	struct group *gr = getgrnam("nogroup");
	int fds[64], refused = 0;
	char c;

	if (gr == NULL || setgroups(0, NULL) < 0 ||
	    setresgid(gr->gr_gid, gr->gr_gid, gr->gr_gid) < 0 || setresuid(65534, 65534, 65534) < 0)
		_exit(2);
	for (int i = 0; i < n; i++) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		strcpy(sun.sun_path, path);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)) < 0)
			_exit(3);
	}
	if (write(sync[1], "c", 1) != 1 || read(back[0], &c, 1) != 1)
		_exit(4);
	/* Refused clients have their line and EOF by now; the others have nothing. */
	for (int i = 0; i < n; i++) {
		char buf[64];
		refused += recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT) > 0;
	}
	if (write(sync[1], &refused, sizeof(refused)) != sizeof(refused) ||
	    read(back[0], &c, 1) != 1)
		_exit(5);
	_exit(0);
}

/*
 * Users other than root and imqd's own take at most CTL_MAX_CLIENTS -
 * CTL_RESERVED slots: nobody's 32 silent clients get 24, and root still has
 * 8 (its 9th is refused, the table being full).
 */
static void
test_reserved_slots(void **state)
{
	struct fixture *fx = *state;
	int sync[2], back[2], refused = -1, fds[8], status;
	char c;

	if (geteuid() != 0 || getgrnam("nogroup") == NULL)
		skip();
	ctl_close(fx->ctl);
	fx->ctl = fixture_open(fx, "nogroup");
	assert_non_null(fx->ctl);
	assert_int_equal(chmod(fx->dir, 0711), 0);
	assert_int_equal(pipe(sync), 0);
	assert_int_equal(pipe(back), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		nobody_clients(fx->path, 32, sync, back);
	assert_int_equal(read(sync[0], &c, 1), 1);
	for (int i = 0; i < 10; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_int_equal(write(back[1], "g", 1), 1);
	assert_int_equal(read(sync[0], &refused, sizeof(refused)), sizeof(refused));
	assert_int_equal(refused, 8);

	char buf[64];
	size_t len = 0;
	for (int i = 0; i < 8; i++)
		fds[i] = client_connect(fx->path);
	for (int i = 0; i < 5; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
	for (int i = 0; i < 8; i++)
		assert_int_equal(client_poll(fx->base, fds[i], buf, sizeof(buf), &len), 0);
	char *ans = client_finish(fx->base, client_connect(fx->path), 1000);
	assert_string_equal(ans, "error too many clients\n");
	free(ans);
	/* One of root's done: the slot is root's again, and answers at once. */
	client_send(fds[0], "show imq0\n", 10);
	ans = client_finish(fx->base, fds[0], 1000);
	assert_string_equal(ans, "ok\nimq0 up tbf queues 0-1\n");
	free(ans);

	assert_int_equal(write(back[1], "q", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 1; i < 8; i++)
		close(fds[i]);
	close(sync[0]);
	close(sync[1]);
	close(back[0]);
	close(back[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_clients, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reserved_slots, setup, teardown),
	};

	log_init("test_ctl", getenv("TEST_VERBOSE") != NULL ? LOG_DEBUG : LOG_CRIT, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* imqd.conf against the system: users, groups, hooks, socket and metrics directories. */
#include "conf.h"
#include "conf_msgs.h"
#include "privs.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A hook program that imqd itself may run, to check again as the user who runs the hooks. */
struct conf_hook {
	const char *prog;
	int line;
};

/* One verification: its messages, and why a check could not be made (0: each was). */
struct conf_check {
	struct conf_msgs m;
	int syserr;
};

/*
 * ERR of a lookup that found nothing, or why it could not look: NSS says "not
 * found" (NULL with errno 0 or one of those of getpwnam(3)) also when a module
 * could not open its file and the next one knew nothing, so a lookup made
 * without a free descriptor is a failed one.
 */
static int
conf_verify_lookup_errno(int err)
{
	if (err != 0 && err != ENOENT && err != ESRCH && err != EBADF && err != EPERM)
		return err;
	int fd = open("/", O_PATH | O_CLOEXEC);
	if (fd == -1 && (errno == EMFILE || errno == ENFILE))
		return errno;
	if (fd != -1)
		close(fd);
	return 0;
}

/* NAME, a WHAT ("user", "group") set at LINE, was not found; ERR is the lookup's errno. */
static void
conf_verify_missing(struct conf_check *c, int line, const char *what, const char *name, int err)
{
	char e[CONF_ESC_SIZE];

	conf_esc(e, sizeof(e), name);
	if ((err = conf_verify_lookup_errno(err)) == 0) {
		conf_msgs_add(&c->m, line, "unknown %s \"%s\"", what, e);
		return;
	}
	conf_msgs_add(&c->m, line, "cannot look up %s \"%s\": %s", what, e, strerror(err));
	c->syserr = err;
}

static void
conf_verify_names(const struct conf *conf, struct conf_check *c)
{
	errno = 0;
	if (conf->control_group != NULL && getgrnam(conf->control_group) == NULL)
		conf_verify_missing(c, conf->control_group_line, "group", conf->control_group,
		                    errno);
	errno = 0;
	if (conf->user != NULL && getpwnam(conf->user) == NULL)
		conf_verify_missing(c, conf->user_line, "user", conf->user, errno);
}

/* PROG, set at LINE, as imqd itself sees it: 0, or -1 with the reason added to M. */
static int
conf_verify_hook(const char *prog, int line, struct conf_msgs *m)
{
	char e[CONF_ESC_SIZE];
	struct stat st;

	conf_esc(e, sizeof(e), prog);
	int r = stat(prog, &st);
	if (r == -1 && (errno == ENOENT || errno == ENOTDIR))
		conf_msgs_add(m, line, "hook program %s does not exist", e);
	else if (r == -1)
		conf_msgs_add(m, line, "hook program %s: %s", e, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		conf_msgs_add(m, line, "hook program %s is not a regular file", e);
	else if (access(prog, X_OK) == -1)
		conf_msgs_add(m, line, "hook program %s is not executable", e);
	else
		return 0;
	return -1;
}

/*
 * Hooks run as user, when one is set: checked as root, a program only root
 * may run would pass and then fail at every start (and a reload, checked as
 * the user, would refuse the same file). So root checks as the user, in a
 * child switched to it: directories on the way, ACLs and noexec mounts count.
 */
static void
conf_verify_hooks_as(const char *user, const struct conf_hook *hooks, size_t n,
                     struct conf_check *c)
{
	const char **paths = calloc(n, sizeof(*paths));
	int *errs = calloc(n, sizeof(*errs));
	char e[CONF_ESC_SIZE];

	if (paths == NULL || errs == NULL) {
		c->m.oom = true;
		goto free_lists;
	}
	for (size_t i = 0; i < n; i++)
		paths[i] = hooks[i].prog;
	int failed = privs_access_as(user, paths, n, X_OK, errs) == 0 ? 0 : errno;
	if (failed != 0)
		c->syserr = failed;
	for (size_t i = 0; i < n; i++) {
		conf_esc(e, sizeof(e), hooks[i].prog);
		if (failed != 0)
			conf_msgs_add(&c->m, hooks[i].line,
			              "cannot check whether user %s, who runs the hooks, may run "
			              "hook program %s: %s",
			              user, e, strerror(failed));
		else if (errs[i] != 0)
			conf_msgs_add(&c->m, hooks[i].line,
			              "hook program %s is not executable by user %s, who runs the "
			              "hooks: %s",
			              e, user, strerror(errs[i]));
	}
free_lists:
	free(paths);
	free(errs);
}

/* Every up and down program of CONF, for imqd and then for USER (NULL: imqd's own). */
static void
conf_verify_hooks(const struct conf *conf, const char *user, struct conf_check *c)
{
	struct conf_hook *ok = calloc(2 * conf->ndevices + 1, sizeof(*ok));
	size_t n = 0;

	if (ok == NULL) {
		c->m.oom = true;
		return;
	}
	for (const struct conf_device *d = conf->devices; d != NULL; d = d->next) {
		if (d->up != NULL && conf_verify_hook(d->up[0], d->up_line, &c->m) == 0)
			ok[n++] = (struct conf_hook){d->up[0], d->up_line};
		if (d->down != NULL && conf_verify_hook(d->down[0], d->down_line, &c->m) == 0)
			ok[n++] = (struct conf_hook){d->down[0], d->down_line};
	}
	struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	if (n > 0 && pw != NULL && pw->pw_uid != 0 && geteuid() == 0)
		conf_verify_hooks_as(user, ok, n, c);
	free(ok);
}

bool
conf_trusted(const struct conf *conf, unsigned uid)
{
	const char *const users[] = {conf != NULL ? conf->user : NULL, CONF_SERVICE_USER};

	if (uid == 0 || uid == geteuid())
		return true;
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		struct passwd *pw = users[i] != NULL ? getpwnam(users[i]) : NULL;
		if (pw != NULL && pw->pw_uid == uid)
			return true;
	}
	return false;
}

/* Cut PATH, absolute, to its directory: "/" at the top. */
static void
conf_verify_parent(char *path)
{
	char *slash = strrchr(path, '/');

	slash[slash == path ? 1 : 0] = '\0';
}

/* A user for messages: "nobody (uid 65534)". */
static const char *
conf_verify_uid(char *buf, size_t size, unsigned uid)
{
	struct passwd *pw = getpwuid(uid);

	snprintf(buf, size, "%s (uid %u)", pw != NULL ? pw->pw_name : "no user", uid);
	return buf;
}

/*
 * Who else than a trusted user could change directory DIR (status ST): its
 * owner, a group or anyone, written into BUF; NULL when no one. An entry of a
 * sticky directory can be renamed only by its owner or the directory's, so
 * one above the socket's (ENTRY_SAFE) may be writable by all if sticky.
 */
static const char *
conf_verify_dir_writer(const struct conf *conf, const struct stat *st, bool entry_safe, char *buf,
                       size_t size)
{
	char who[64];
	bool shared = !(entry_safe && (st->st_mode & S_ISVTX));

	if (!conf_trusted(conf, st->st_uid)) {
		snprintf(buf, size, "is owned by %s",
		         conf_verify_uid(who, sizeof(who), st->st_uid));
	} else if (shared && (st->st_mode & S_IWGRP) && st->st_gid != 0) {
		struct group *gr = getgrgid(st->st_gid);
		snprintf(buf, size, "is writable by group %s (gid %u)",
		         gr != NULL ? gr->gr_name : "no group", (unsigned)st->st_gid);
	} else if (shared && (st->st_mode & S_IWOTH)) {
		snprintf(buf, size, "is writable by anyone");
	} else {
		return NULL;
	}
	return buf;
}

/*
 * DIR and every directory above it, as the path names them: the first whose
 * owner or writers are not trusted is added to C as an error. lstat too, for
 * a symbolic link on the way: whoever owns one in a sticky directory can
 * point it elsewhere.
 */
static bool
conf_verify_walk(const struct conf *conf, char *dir, struct conf_check *c)
{
	char why[160], who[64];
	bool entry_safe = false;
	struct stat st;

	for (;;) {
		const char *writer = NULL;
		if (lstat(dir, &st) == 0 && !conf_trusted(conf, st.st_uid)) {
			snprintf(why, sizeof(why), "is owned by %s",
			         conf_verify_uid(who, sizeof(who), st.st_uid));
			writer = why;
		} else if (stat(dir, &st) == 0) {
			writer = conf_verify_dir_writer(conf, &st, entry_safe, why, sizeof(why));
		}
		if (writer != NULL) {
			conf_msgs_add(&c->m, conf->control_socket_line,
			              "control-socket %s: %s %s, who could replace the socket: its "
			              "directory and those above must belong to root or imqd's "
			              "user and be writable by no one else",
			              conf->control_socket, dir, writer);
			return false;
		}
		if (strcmp(dir, "/") == 0)
			return true;
		conf_verify_parent(dir);
		entry_safe = true;
	}
}

/*
 * Whether only trusted users can replace the control socket: whoever may
 * write its directory, or rename one above it, could put a listener of
 * their own there, which imqctl would take for imqd (as sshd's StrictModes,
 * for the directories on the way). A directory imqd creates at start-up
 * is its own: then the nearest existing one is checked as the socket's.
 * Both the path as written and as resolved (symbolic links followed) count.
 */
static void
conf_verify_socket_dir(const struct conf *conf, struct conf_check *c)
{
	char *dir = strdup(conf->control_socket), real[PATH_MAX];

	if (dir == NULL) {
		c->m.oom = true;
		return;
	}
	conf_verify_parent(dir);
	while (realpath(dir, real) == NULL) {
		/* Not reachable: the start runs without a socket, or fails, and says why. */
		if (errno != ENOENT || strcmp(dir, "/") == 0) {
			free(dir);
			return;
		}
		conf_verify_parent(dir);
	}
	if (conf_verify_walk(conf, dir, c))
		conf_verify_walk(conf, real, c);
	free(dir);
}

/* Descriptors imqd keeps besides its devices': control clients, workers, hooks, logs. */
#define CONF_NOFILE_BASE 128
/* And per TX queue of a device: imqN, its packet socket, io_uring, timer. */
#define CONF_NOFILE_DEVICE 8

/*
 * Each queue has a socket of its own: a file with more queues than the
 * open-files limit allows would leave imqd short of descriptors for the
 * queues past it, for its control clients and for the file of the next
 * reload. imqd raises its soft limit to the hard one at start (main), so
 * the hard limit is the budget; LimitNOFILE= sets it under systemd.
 */
static void
conf_verify_nofile(const struct conf *conf, struct conf_check *c)
{
	struct rlimit rl;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t shards = conf->workers > 0 ? conf->workers : ncpu > 0 ? (uint64_t)ncpu : 1;
	uint64_t need = CONF_NOFILE_BASE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		return;
	for (const struct conf_device *d = conf->devices; d != NULL; d = d->next) {
		need += d->nqueues + CONF_NOFILE_DEVICE * (d->multiqueue ? shards : 1);
		if (need > rl.rlim_max) {
			conf_msgs_add(
			    &c->m, d->line,
			    "%s: the queues up to here need about %llu open files, more than "
			    "the limit of %llu (RLIMIT_NOFILE; LimitNOFILE= under systemd): "
			    "give the devices fewer queues or raise the limit",
			    d->name, (unsigned long long)need, (unsigned long long)rl.rlim_max);
			return;
		}
	}
}

int
conf_verify(const struct conf *conf, const struct conf *started, FILE *err)
{
	struct conf_check c = {{0}, 0};

	conf_verify_names(conf, &c);
	conf_verify_nofile(conf, &c);
	conf_verify_hooks(conf, started != NULL ? started->user : conf->user, &c);
	/* A running imqd switched (or not) when it started; the file's user waits for a restart. */
	if (started == NULL && conf->user != NULL && getpwnam(conf->user) != NULL) {
		const char *why = privs_cannot(conf->user);
		if (why != NULL)
			conf_msgs_add(&c.m, conf->user_line, "%s", why);
	}
	/* A running imqd keeps the socket it started with; a new one waits for a restart. */
	if (started == NULL)
		conf_verify_socket_dir(conf, &c);
	int rc = c.m.n == 0 && !c.m.oom ? 0 : -1;
	int why = c.syserr != 0 ? c.syserr : c.m.oom ? ENOMEM : EINVAL;
	conf_msgs_flush(&c.m, conf->path, err);
	if (rc < 0)
		errno = why;
	return rc;
}

/* 0 if DIR is writable for the user imqd runs as (CONF's user, when root checks), or the errno. */
static int
conf_verify_writable(const struct conf *conf, const char *dir)
{
	int err = 0;

	if (conf->user != NULL && geteuid() == 0 &&
	    privs_access_as(conf->user, &dir, 1, W_OK | X_OK, &err) == 0)
		return err;
	return access(dir, W_OK | X_OK) == 0 ? 0 : errno;
}

/* Multiqueue devices that get one tree only, as configured: a note each, they still shape. */
static void
conf_verify_trees(const struct conf *conf, FILE *out)
{
	for (const struct conf_device *cd = conf->devices; cd != NULL; cd = cd->next) {
		if (!cd->multiqueue)
			continue;
		if (cd->nqueues < 2)
			fprintf(out,
			        "imqd: warning: %s:%d: %s: multiqueue with one queue is one tree "
			        "on one worker; give it a queue per worker\n",
			        conf->path, cd->line, cd->name);
		else if (conf->workers == 1)
			fprintf(out,
			        "imqd: warning: %s:%d: %s: multiqueue with workers = 1 is one tree "
			        "on the main loop\n",
			        conf->path, cd->line, cd->name);
	}
}

/*
 * A user imqd switches to that cannot open /dev/net/tun (distributions make
 * it 0666; some hosts 0600): imqd opens its devices before it switches, but
 * one deleted later cannot be made again until imqd restarts.
 */
static void
conf_verify_tun(const struct conf *conf, FILE *out)
{
	const char *tun = "/dev/net/tun";
	int err = 0;

	if (conf->user == NULL || geteuid() != 0 || conf->devices == NULL)
		return;
	if (privs_access_as(conf->user, &tun, 1, R_OK | W_OK, &err) == 0 && err != 0)
		fprintf(out,
		        "imqd: warning: %s:%d: user %s cannot open %s (%s): a device deleted "
		        "while imqd runs cannot be made again until imqd restarts\n",
		        conf->path, conf->user_line, conf->user, tun, strerror(err));
}

/*
 * Not an error: imqd keeps trying and writes the file once its directory
 * appears or becomes writable; but the administrator checking the file, or
 * the journal of a service that checks it first, should hear of it.
 * Writability is checked for the user imqd will run as: user, when root
 * checks a file that sets it, else whoever runs the check (under
 * imqd.service, the service's user in its sandbox).
 */
void
conf_verify_warn(const struct conf *conf, FILE *out)
{
	const char *path = conf->metrics_file;
	const char *slash, *what, *why = NULL;
	char *dir;
	struct stat st;
	int err;

	conf_verify_trees(conf, out);
	conf_verify_tun(conf, out);
	if (path == NULL || (slash = strrchr(path, '/')) == NULL)
		return;
	if ((dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL)
		return;
	what = dir;
	if (stat(dir, &st) < 0)
		why = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		why = strerror(ENOTDIR);
	else if ((err = conf_verify_writable(conf, dir)) != 0)
		why = strerror(err);
	else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		what = path;
		why = strerror(EISDIR);
	}
	if (why != NULL)
		fprintf(out,
		        "imqd: warning: metrics-file %s cannot be written: %s: %s; imqd logs "
		        "this once and writes the file once it can\n",
		        path, what, why);
	free(dir);
}

/* Device hooks: programs run when imqN comes up or goes away, beside the event loop. */
#include "hook.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "privs.h"
#include "worker.h"

extern char **environ;

static char *hook_user;
static struct rlimit hook_nofile; /* the limit imqd started with, before main raised it */
static bool hook_nofile_set;

void
hook_set_user(const char *user)
{
	free(hook_user);
	hook_user = user != NULL ? strdup(user) : NULL;
}

/* The queue list for IMQ_QUEUES ("0,1,7"); NULL when out of memory. */
static char *
hook_queues(const uint16_t *queues, size_t n)
{
	size_t size = n * sizeof("65535,") + 1, off = 0;
	char *buf = malloc(size);

	if (buf == NULL)
		return NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%u", i ? "," : "", queues[i]);
	return buf;
}

static void
hook_child(char *const argv[], const char *dev, const char *queues)
{
	int null = open("/dev/null", O_RDONLY);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	/* A process group of its own, so that a timeout kills what it started too. */
	setpgid(0, 0);
	setenv("IMQ_DEV", dev, 1);
	setenv("IMQ_QUEUES", queues, 1);
	/* A hook is a child of its own: default signal dispositions and mask. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	/* Programs that use select(2) expect at most 1024 descriptors: the limit imqd got. */
	if (hook_nofile_set)
		setrlimit(RLIMIT_NOFILE, &hook_nofile);
	/* Once imqd has switched itself, its children are the user already. */
	if (hook_user != NULL && geteuid() == 0 && privs_drop(hook_user) < 0)
		_exit(126);
	execve(argv[0], argv, environ);
	/* The daemon sees only exit status 127: the reason is said here. */
	log_err("cannot run hook program %s: %s", argv[0], strerror(errno));
	_exit(127);
}

/* The queue of hooks, each started as a child and watched from the event loop. */
struct hook_job {
	char **argv; /* a copy: the configuration it came from may be gone before it runs */
	char *what;
	char *dev;
	char *queues; /* IMQ_QUEUES */
	unsigned timeout_ms;
	pid_t pid;               /* 0 until started */
	int keep_fd;             /* closed once it ended, -1 if none */
	struct event *expire_ev; /* hook-timeout */
	struct hook_job *next;
};

static struct event_base *hook_base;
static struct event *hook_chld_ev; /* SIGCHLD: a hook may have ended */
static struct hook_job *hook_jobs; /* in the order they were queued */

static void hook_chld_cb(evutil_socket_t sig, short what, void *arg);

void
hook_init(struct event_base *base)
{
	hook_base = base;
	hook_nofile_set = getrlimit(RLIMIT_NOFILE, &hook_nofile) == 0;
	/* The loop hears of each child that ends; without it, hooks are waited for. */
	hook_chld_ev = evsignal_new(base, SIGCHLD, hook_chld_cb, NULL);
	if (hook_chld_ev == NULL || event_add(hook_chld_ev, NULL) < 0) {
		log_warnx("hooks: cannot watch them from the event loop; waiting for each");
		if (hook_chld_ev != NULL)
			event_free(hook_chld_ev);
		hook_chld_ev = NULL;
		hook_base = NULL;
	}
}

static void
hook_job_free(struct hook_job *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; j->argv != NULL && j->argv[i] != NULL; i++)
		free(j->argv[i]);
	free(j->argv);
	free(j->what);
	free(j->dev);
	free(j->queues);
	if (j->expire_ev != NULL)
		event_free(j->expire_ev);
	if (j->keep_fd >= 0)
		close(j->keep_fd);
	free(j);
}

static struct hook_job *
hook_job_new(char *const argv[], const char *what, const char *dev, const uint16_t *queues,
             size_t nqueues, unsigned timeout_ms, int keep_fd)
{
	struct hook_job *j = calloc(1, sizeof(*j));
	size_t n = 0;

	if (j == NULL)
		return NULL;
	j->keep_fd = keep_fd;
	j->timeout_ms = timeout_ms;
	while (argv[n] != NULL)
		n++;
	j->argv = calloc(n + 1, sizeof(*j->argv));
	j->what = strdup(what);
	j->dev = strdup(dev);
	j->queues = hook_queues(queues, nqueues);
	if (j->argv == NULL || j->what == NULL || j->dev == NULL || j->queues == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((j->argv[i] = strdup(argv[i])) == NULL)
			goto fail;
	return j;
fail:
	hook_job_free(j);
	return NULL;
}

/* Log how J's child ended: STATUS as waitpid gave it, or KILLED by its timeout. */
static void
hook_report(const struct hook_job *j, int status, bool killed)
{
	if (killed)
		log_err("%s: %s hook %s killed after %ums", j->dev, j->what, j->argv[0],
		        j->timeout_ms);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("%s: %s hook %s done", j->dev, j->what, j->argv[0]);
	else if (WIFEXITED(status))
		log_err("%s: %s hook %s failed with exit status %d", j->dev, j->what, j->argv[0],
		        WEXITSTATUS(status));
	else
		log_err("%s: %s hook %s killed by signal %d", j->dev, j->what, j->argv[0],
		        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Start J's child; 0, or -1 when it could not be (logged). */
static int
hook_spawn(struct hook_job *j)
{
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0) {
		log_warn("%s: %s hook %s: fork", j->dev, j->what, j->argv[0]);
		return -1;
	}
	if (j->pid == 0)
		hook_child(j->argv, j->dev, j->queues);
	setpgid(j->pid, j->pid); /* as the child does: whichever runs first */
	return 0;
}

static void hook_schedule(void);

/* J's child ended with STATUS (or, KILLED, overran its time): say so, forget it. */
static void
hook_ended(struct hook_job *j, int status, bool killed)
{
	hook_report(j, status, killed);
	for (struct hook_job **p = &hook_jobs; *p != NULL; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	hook_job_free(j);
}

/* SIGCHLD: reap the hooks that ended, then start what waited for them. */
static void
hook_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct hook_job *j, *next;
	int status;

	(void)sig;
	(void)what;
	(void)arg;
	for (j = hook_jobs; j != NULL; j = next) {
		next = j->next;
		if (j->pid > 0 && waitpid(j->pid, &status, WNOHANG) == j->pid)
			hook_ended(j, status, false);
	}
	hook_schedule();
}

/* J overran hook-timeout: kill it and what it started, reap it, start what waited. */
static void
hook_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook_job *j = arg;
	int status = 0;

	(void)fd;
	(void)what;
	if (kill(-j->pid, SIGKILL) < 0)
		kill(j->pid, SIGKILL);
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	hook_ended(j, status, true);
	hook_schedule();
}

/* Watch J's child from the loop: SIGCHLD says when it ends, a timer ends it after its timeout. */
static int
hook_watch(struct hook_job *j)
{
	struct timeval tv = {j->timeout_ms / 1000, (j->timeout_ms % 1000) * 1000};

	j->expire_ev = evtimer_new(hook_base, hook_expire_cb, j);
	if (j->expire_ev == NULL || event_add(j->expire_ev, &tv) < 0)
		return -1;
	return 0;
}

/* Wait for J's child, killing it after its timeout (no loop to watch it from). */
static void
hook_wait(struct hook_job *j)
{
	struct timespec tick = {0, 5 * 1000000L};
	int status = 0;

	for (unsigned waited = 0; waited <= j->timeout_ms; waited += 5) {
		pid_t r = waitpid(j->pid, &status, WNOHANG);
		if (r == j->pid || (r < 0 && errno != EINTR)) {
			hook_report(j, status, false);
			return;
		}
		nanosleep(&tick, NULL);
	}
	if (kill(-j->pid, SIGKILL) < 0)
		kill(j->pid, SIGKILL);
	waitpid(j->pid, &status, 0);
	hook_report(j, status, true);
}

/* Start every queued hook whose device has no hook running or queued before it. */
static void
hook_schedule(void)
{
	struct hook_job *j = hook_jobs, *next;

	for (; j != NULL; j = next) {
		next = j->next;
		if (j->pid != 0)
			continue;
		bool blocked = false;
		for (struct hook_job *o = hook_jobs; o != j; o = o->next)
			blocked = blocked || strcmp(o->dev, j->dev) == 0;
		if (blocked)
			continue;
		if (hook_spawn(j) == 0 && hook_watch(j) == 0)
			continue;
		/* Not started, or started but not watchable: wait for it here. */
		if (j->pid > 0)
			hook_wait(j);
		for (struct hook_job **p = &hook_jobs; *p != NULL; p = &(*p)->next)
			if (*p == j) {
				*p = j->next;
				break;
			}
		hook_job_free(j);
		next = hook_jobs; /* the list changed: look again from the start */
	}
}

/* Queue J behind the hooks queued before it (on the main thread). */
static void
hook_queue_cb(void *arg)
{
	struct hook_job *j = arg, **tail;

	for (tail = &hook_jobs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = j;
	if (hook_base != NULL)
		hook_schedule();
	else
		hook_finish();
}

int
hook_run(char *const argv[], const char *what, const char *dev, const uint16_t *queues,
         size_t nqueues, unsigned timeout_ms, int keep_fd)
{
	struct hook_job *j;

	if (argv == NULL || argv[0] == NULL) {
		if (keep_fd >= 0)
			close(keep_fd);
		return 0;
	}
	if ((j = hook_job_new(argv, what, dev, queues, nqueues, timeout_ms, keep_fd)) == NULL) {
		log_warn("%s: %s hook %s", dev, what, argv[0]);
		if (keep_fd >= 0)
			close(keep_fd);
		return -1;
	}
	/* From a worker: the job (a copy of everything) goes to the main loop, which runs hooks. */
	if (worker_defer(hook_queue_cb, j) < 0) {
		log_warn("%s: %s hook %s", dev, what, argv[0]);
		hook_job_free(j); /* closes keep_fd */
		return -1;
	}
	return 0;
}

size_t
hook_pending(void)
{
	size_t n = 0;

	for (const struct hook_job *j = hook_jobs; j != NULL; j = j->next)
		n++;
	return n;
}

void
hook_finish(void)
{
	struct hook_job *j;

	while ((j = hook_jobs) != NULL) {
		if (j->pid == 0 && hook_spawn(j) < 0) {
			hook_jobs = j->next;
			hook_job_free(j);
			continue;
		}
		hook_wait(j);
		hook_jobs = j->next;
		hook_job_free(j);
	}
}

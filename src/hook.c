/* Device hooks: programs run when imqN comes up or goes away. */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

extern char **environ;

static char *hook_user;

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
	/* Once imqd has switched itself, its children are the user already. */
	if (hook_user != NULL && geteuid() == 0 && privs_drop(hook_user) < 0)
		_exit(126);
	execve(argv[0], argv, environ);
	/* The daemon sees only exit status 127: the reason is said here. */
	log_err("cannot run hook program %s: %s", argv[0], strerror(errno));
	_exit(127);
}

/* Wait for PID up to TIMEOUT_MS; 1 when it exited (*STATUS set), 0 on timeout. */
static int
hook_wait(pid_t pid, unsigned timeout_ms, int *status)
{
	struct timespec tick = {0, 5 * 1000000L};

	for (unsigned waited = 0; waited <= timeout_ms; waited += 5) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;
		nanosleep(&tick, NULL);
	}
	return 0;
}

int
hook_run(char *const argv[], const char *what, const char *dev, const uint16_t *queues,
         size_t nqueues, unsigned timeout_ms)
{
	int status = 0;
	pid_t pid;

	if (argv == NULL || argv[0] == NULL)
		return 0;
	char *qbuf = hook_queues(queues, nqueues);
	if (qbuf == NULL) {
		log_warn("%s: %s hook %s", dev, what, argv[0]);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_warn("%s: %s hook %s: fork", dev, what, argv[0]);
		free(qbuf);
		return -1;
	}
	if (pid == 0)
		hook_child(argv, dev, qbuf);
	free(qbuf);
	setpgid(pid, pid); /* as the child does: whichever runs first */
	if (!hook_wait(pid, timeout_ms, &status)) {
		if (kill(-pid, SIGKILL) < 0)
			kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		log_err("%s: %s hook %s killed after %ums", dev, what, argv[0], timeout_ms);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("%s: %s hook %s done", dev, what, argv[0]);
		return 0;
	}
	if (WIFEXITED(status))
		log_err("%s: %s hook %s failed with exit status %d", dev, what, argv[0],
		        WEXITSTATUS(status));
	else
		log_err("%s: %s hook %s killed by signal %d", dev, what, argv[0],
		        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

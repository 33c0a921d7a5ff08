/* Least privilege: run as an unprivileged user keeping only CAP_NET_ADMIN and CAP_NET_RAW. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

#define PRIVS_KEEP ((1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW))

static int
privs_set_caps(uint32_t caps)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0}};

	data[0].effective = data[0].permitted = data[0].inheritable = caps;
	return (int)syscall(SYS_capset, &hdr, data);
}

static int
privs_bound(void)
{
	/* Nothing but the two capabilities can ever come back, not even through a hook. */
	for (int cap = 0; cap <= 63; cap++) {
		if (cap == CAP_NET_ADMIN || cap == CAP_NET_RAW)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	}
	return 0;
}

/* Become USER (PW), with its supplementary groups: they may be what lets it read imqd.conf
 * or the hooks. */
static int
privs_switch(const char *user, const struct passwd *pw)
{
	if (initgroups(user, pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0)
		return -1;
	return setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid);
}

const char *
privs_cannot(const char *user)
{
	static char why[256];
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		snprintf(why, sizeof(why), "user %s does not exist", user);
	else if (geteuid() == 0 || geteuid() == pw->pw_uid)
		return NULL;
	else
		snprintf(why, sizeof(why),
		         "user = %s: only root can switch users, and imqd runs as uid %u; leave "
		         "user unset where the service manager starts imqd as its user",
		         user, (unsigned)geteuid());
	return why;
}

int
privs_access_as(const char *user, const char *const *paths, size_t n, int mode, int *errs)
{
	int fds[2], saved = ECHILD;

	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		if (errno == 0)
			errno = ENOENT;
		return -1;
	}
	if (geteuid() != 0) {
		errno = EPERM;
		return -1;
	}
	if (pipe(fds) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (privs_switch(user, pw) < 0)
			_exit(1);
		for (size_t i = 0; i < n; i++) {
			int err = access(paths[i], mode) == 0 ? 0 : errno;
			if (write(fds[1], &err, sizeof(err)) != (ssize_t)sizeof(err))
				_exit(1);
		}
		_exit(0);
	}
	if (pid < 0)
		saved = errno;
	close(fds[1]);
	size_t got = 0;
	while (pid > 0 && got < n) {
		ssize_t r = read(fds[0], &errs[got], sizeof(*errs));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(*errs))
			break;
		got++;
	}
	close(fds[0]);
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid > 0 && got == n && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* The child could not switch or answer: ECHILD. */
	errno = saved;
	return -1;
}

int
privs_thread_prepare(void)
{
	if (privs_bound() < 0 || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	return 0;
}

int
privs_thread_finish(void)
{
	if (privs_set_caps(PRIVS_KEEP) < 0)
		return -1;
	/* Ambient, so hooks (tc, ip) keep the two capabilities across exec. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0);
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

bool
privs_will_switch(const char *user)
{
	struct passwd *pw = getpwnam(user);

	return pw != NULL && !(geteuid() != 0 && geteuid() == pw->pw_uid);
}

int
privs_drop(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		log_err("user %s does not exist", user);
		return -1;
	}
	if (geteuid() != 0 && geteuid() == pw->pw_uid)
		return 1;
	if (privs_thread_prepare() < 0) {
		log_warn("cannot limit capabilities");
		return -1;
	}
	if (privs_switch(user, pw) < 0) {
		log_warn("cannot switch to user %s", user);
		return -1;
	}
	if (privs_thread_finish() < 0) {
		log_warn("cannot keep CAP_NET_ADMIN and CAP_NET_RAW");
		return -1;
	}
	return 0;
}

/* systemd's notification protocol (sd_notify), spoken directly; silent without NOTIFY_SOCKET. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int
notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	int fd, ret;

	if (path == NULL || path[0] == '\0')
		return 0;
	size_t plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	/* A leading '@' names an abstract socket. */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	ret = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0 ? -1 : 0;
	if (ret < 0)
		log_debug("sd_notify %s: %m", path);
	close(fd);
	return ret;
}

void
notify_ready(size_t ndevs)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=shaping on %zu device%s", ndevs,
	         ndevs == 1 ? "" : "s");
	notify_send(msg);
}

void
notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ULL +
	             (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(size_t ndevs, uint64_t held, uint64_t drops, uint64_t failopen)
{
	char msg[192];

	snprintf(msg, sizeof(msg),
	         "STATUS=%zu device%s, %llu packets held, %llu dropped, %llu passed unshaped",
	         ndevs, ndevs == 1 ? "" : "s", (unsigned long long)held, (unsigned long long)drops,
	         (unsigned long long)failopen);
	notify_send(msg);
}

uint64_t
notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	if (usec == NULL)
		return 0;
	if (pid != NULL && strtoull(pid, NULL, 10) != (unsigned long long)getpid())
		return 0;
	return strtoull(usec, NULL, 10);
}

void
notify_watchdog(void)
{
	if (notify_watchdog_usec() > 0)
		notify_send("WATCHDOG=1");
}

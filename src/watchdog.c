/*
 * The watchdog process. While a queue is flooded imqd can have the kernel
 * drop what imqd cannot take instead of passing it unshaped (on-flood =
 * drop): it switches the queue's NFQA_CFG_F_FAIL_OPEN off. Were imqd then
 * stopped (SIGSTOP), frozen or stuck, the queue would fill and the kernel
 * drop every packet of it: a black hole. So before it switches a queue's
 * fail-open off, imqd hands this process a duplicate of the netlink socket
 * the queue is bound on (the kernel takes a queue's configuration from that
 * socket only) and beats the queue's slot in shared memory. A slot silent
 * for WATCHDOG_STALL_MS gets its fail-open switched back on from here.
 *
 * The watchdog is forked before any thread starts and keeps nothing of
 * imqd's but its end of a socket pair: imqd's end closing (imqd exited or
 * was killed) ends it.
 */
#include "watchdog.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "nfqueue.h"
#include "privs.h"

#define WATCHDOG_SLOTS 4096

enum watchdog_op {
	WATCHDOG_HOLD = 1, /* with the socket's descriptor */
	WATCHDOG_RELEASE,
};

struct watchdog_msg {
	uint32_t op;
	uint32_t slot;
	uint16_t queue;
};

/* Shared between imqd and the watchdog. */
struct watchdog_shared {
	_Atomic uint64_t beat_ns[WATCHDOG_SLOTS];  /* when imqd last ran the slot's queue */
	atomic_bool fired[WATCHDOG_SLOTS];         /* the watchdog switched its fail-open on */
	_Atomic uint32_t fired_id[WATCHDOG_SLOTS]; /* the kernel's latest id of the queue then */
	atomic_bool fired_id_known[WATCHDOG_SLOTS];
};

static struct watchdog_shared *wd_shm;
static int wd_sock = -1; /* imqd's end */
static pid_t wd_pid;
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static bool wd_used[WATCHDOG_SLOTS];

/* In the watchdog: each held slot's socket and queue. */
static struct {
	int fd;
	uint16_t queue;
} wd_held[WATCHDOG_SLOTS];

/* Read what imqd sent; -1 once imqd's end is closed. */
static int
watchdog_read(int sock)
{
	for (;;) {
		struct watchdog_msg m;
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} c;
		struct iovec iov = {&m, sizeof(m)};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = c.buf,
		                    .msg_controllen = sizeof(c.buf)};
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		int fd = -1;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (cm != NULL && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		if ((size_t)n != sizeof(m) || m.slot >= WATCHDOG_SLOTS) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (wd_held[m.slot].fd >= 0)
			close(wd_held[m.slot].fd);
		wd_held[m.slot].fd = m.op == WATCHDOG_HOLD ? fd : -1;
		wd_held[m.slot].queue = m.queue;
		if (m.op != WATCHDOG_HOLD && fd >= 0)
			close(fd);
	}
}

/* Switch the fail-open of every held queue imqd has not run for WATCHDOG_STALL_MS back on. */
static void
watchdog_check(void)
{
	uint64_t now = log_now_ns();

	for (size_t i = 0; i < WATCHDOG_SLOTS; i++) {
		if (wd_held[i].fd < 0)
			continue;
		uint64_t beat = atomic_load(&wd_shm->beat_ns[i]);
		if (beat >= now || now - beat < WATCHDOG_STALL_MS * 1000000ULL)
			continue;
		/* Ids up to this one were dropped, later ones pass: imqd counts them so. */
		uint32_t id;
		bool known = nfqueue_last_id(wd_held[i].queue, &id) == 0;
		atomic_store(&wd_shm->fired_id[i], known ? id : 0);
		atomic_store(&wd_shm->fired_id_known[i], known);
		if (nfqueue_fd_failopen(wd_held[i].fd, wd_held[i].queue, true, 0) < 0)
			log_warn("watchdog: queue %u: cannot switch the kernel's fail-open back on",
			         wd_held[i].queue);
		else
			log_warnx(
			    "watchdog: queue %u: imqd has not run for %llu ms: the kernel's "
			    "fail-open is back on (packets pass unshaped while imqd does not run)",
			    wd_held[i].queue, (unsigned long long)((now - beat) / 1000000));
		atomic_store(&wd_shm->fired[i], true);
		close(wd_held[i].fd);
		wd_held[i].fd = -1;
	}
}

static void __attribute__((noreturn)) watchdog_run(int sock, const char *user, pid_t parent)
{
	/* Its end closing says imqd is gone; a signal to imqd's group is not for it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	prctl(PR_SET_NAME, "imqd-watchdog");
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	/* Nothing of imqd's stays open here: a socket kept would keep its queues bound. */
	if (sock > 3)
		close_range(3, (unsigned)sock - 1, 0);
	close_range((unsigned)sock + 1, ~0u, 0);
	if (user != NULL && privs_drop(user) < 0)
		_exit(1);
	for (size_t i = 0; i < WATCHDOG_SLOTS; i++)
		wd_held[i].fd = -1;
	for (;;) {
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		if (poll(&pfd, 1, WATCHDOG_BEAT_MS) < 0 && errno != EINTR)
			break;
		if (watchdog_read(sock) < 0)
			break;
		watchdog_check();
	}
	_exit(0);
}

int
watchdog_start(const char *user)
{
	int sv[2];
	pid_t parent = getpid();

	wd_shm =
	    mmap(NULL, sizeof(*wd_shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (wd_shm == MAP_FAILED) {
		wd_shm = NULL;
		log_warn("cannot start the watchdog: mmap");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("cannot start the watchdog: socketpair");
		return -1;
	}
	wd_pid = fork();
	if (wd_pid < 0) {
		log_warn("cannot start the watchdog: fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (wd_pid == 0)
		watchdog_run(sv[1], user, parent);
	close(sv[1]);
	wd_sock = sv[0];
	return 0;
}

/* Send M (and FD) to the watchdog; with wd_lock held. 0, or -1: then it is gone for good. */
static int
watchdog_send(const struct watchdog_msg *m, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = {(void *)m, sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (wd_sock < 0)
		return -1;
	if (fd >= 0) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = sizeof(c.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	}
	while (sendmsg(wd_sock, &mh, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		log_warn("the watchdog is gone: a flooded queue's kernel fail-open now stays on");
		close(wd_sock);
		wd_sock = -1;
		return -1;
	}
	return 0;
}

int
watchdog_hold(int fd, uint16_t queue)
{
	int slot = -1;

	pthread_mutex_lock(&wd_lock);
	for (int i = 0; wd_sock >= 0 && i < WATCHDOG_SLOTS; i++) {
		if (wd_used[i])
			continue;
		atomic_store(&wd_shm->beat_ns[i], log_now_ns());
		atomic_store(&wd_shm->fired[i], false);
		struct watchdog_msg m = {WATCHDOG_HOLD, (uint32_t)i, queue};
		if (watchdog_send(&m, fd) == 0) {
			wd_used[i] = true;
			slot = i;
		}
		break;
	}
	pthread_mutex_unlock(&wd_lock);
	return slot;
}

void
watchdog_beat(int slot, uint64_t now_ns)
{
	atomic_store_explicit(&wd_shm->beat_ns[slot], now_ns, memory_order_relaxed);
}

bool
watchdog_fired(int slot)
{
	return atomic_load(&wd_shm->fired[slot]);
}

bool
watchdog_fired_id(int slot, uint32_t *id)
{
	*id = atomic_load(&wd_shm->fired_id[slot]);
	return atomic_load(&wd_shm->fired_id_known[slot]);
}

void
watchdog_release(int slot)
{
	struct watchdog_msg m = {WATCHDOG_RELEASE, (uint32_t)slot, 0};

	pthread_mutex_lock(&wd_lock);
	/* Gone, it holds nothing either. */
	watchdog_send(&m, -1);
	wd_used[slot] = false;
	pthread_mutex_unlock(&wd_lock);
}

void
watchdog_stop(void)
{
	if (wd_sock >= 0) {
		close(wd_sock);
		wd_sock = -1;
	}
	if (wd_pid > 0) {
		while (waitpid(wd_pid, NULL, 0) < 0 && errno == EINTR)
			;
		wd_pid = 0;
	}
}

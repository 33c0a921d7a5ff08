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
	uint32_t gen; /* of the hold: a slot is used again with the next */
	uint16_t queue;
};

/* Shared between imqd and the watchdog. */
struct watchdog_shared {
	_Atomic uint64_t alive_ns;                /* the watchdog's own beat */
	_Atomic uint64_t beat_ns[WATCHDOG_SLOTS]; /* when imqd last ran the slot's queue */
	/* The hold whose fail-open the watchdog switched on (0: none), and the kernel's
	 * latest id of the queue then (if known). */
	_Atomic uint32_t fired_gen[WATCHDOG_SLOTS];
	_Atomic uint32_t fired_id[WATCHDOG_SLOTS];
	atomic_bool fired_id_known[WATCHDOG_SLOTS];
};

static struct watchdog_shared *wd_shm;
static int wd_sock = -1; /* imqd's end */
static pid_t wd_pid;
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static bool wd_used[WATCHDOG_SLOTS];
static uint32_t wd_gen[WATCHDOG_SLOTS]; /* of each slot's hold (its holder's thread reads it) */

/* In the watchdog: each held slot's socket, queue and hold. */
static struct {
	int fd;
	uint16_t queue;
	uint32_t gen;
} wd_held[WATCHDOG_SLOTS];

/* Switch slot I's fail-open on; keep holding it if that fails (the next poll tries again). */
static void
watchdog_fire(size_t i, uint64_t idle_ns)
{
	uint32_t id;
	bool known = false;

	/* Ids up to this one were dropped, later ones pass: imqd counts them so. */
	if (wd_held[i].fd >= 0) {
		known = nfqueue_last_id(wd_held[i].queue, &id) == 0;
		if (nfqueue_fd_failopen(wd_held[i].fd, wd_held[i].queue, true, 0) < 0) {
			log_warn("watchdog: queue %u: cannot switch the kernel's fail-open back on",
			         wd_held[i].queue);
			return;
		}
		log_warnx(
		    "watchdog: queue %u: imqd has not run for %llu ms: the kernel's fail-open "
		    "is back on (packets pass unshaped while imqd does not run)",
		    wd_held[i].queue, (unsigned long long)(idle_ns / 1000000));
		close(wd_held[i].fd);
	}
	atomic_store(&wd_shm->fired_id[i], known ? id : 0);
	atomic_store(&wd_shm->fired_id_known[i], known);
	atomic_store(&wd_shm->fired_gen[i], wd_held[i].gen);
	wd_held[i].fd = -1;
	wd_held[i].gen = 0;
}

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
		wd_held[m.slot].fd = -1;
		wd_held[m.slot].gen = 0;
		if (m.op != WATCHDOG_HOLD) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		wd_held[m.slot].queue = m.queue;
		wd_held[m.slot].gen = m.gen;
		wd_held[m.slot].fd = fd;
		/* Without the socket (out of descriptors) it cannot guard the queue: imqd must
		 * switch its fail-open back on itself, as if it had stalled. */
		if (fd < 0 || (mh.msg_flags & MSG_CTRUNC) != 0) {
			log_warnx(
			    "watchdog: queue %u: no socket received: imqd switches its fail-open "
			    "back on",
			    m.queue);
			watchdog_fire(m.slot, 0);
		}
	}
}

/* Switch the fail-open of every held queue imqd has not run for WATCHDOG_STALL_MS back on. */
static void
watchdog_check(void)
{
	uint64_t now = log_now_ns();

	atomic_store(&wd_shm->alive_ns, now);
	for (size_t i = 0; i < WATCHDOG_SLOTS; i++) {
		if (wd_held[i].gen == 0)
			continue;
		uint64_t beat = atomic_load(&wd_shm->beat_ns[i]);
		if (beat >= now || now - beat < WATCHDOG_STALL_MS * 1000000ULL)
			continue;
		watchdog_fire(i, now - beat);
	}
}

static void __attribute__((noreturn)) watchdog_run(int sock, const char *user, pid_t parent)
{
	prctl(PR_SET_NAME, "imqd-watchdog");
	/* Its end closing says imqd is gone; job control and signals to imqd's group are not
	 * for it. */
	setsid();
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	/* Nothing of imqd's stays open here: a socket kept would keep its queues bound. The
	 * syslog connection goes too; the C library opens it again when needed. */
	closelog();
	if ((sock > 3 && close_range(3, (unsigned)sock - 1, 0) < 0) ||
	    close_range((unsigned)sock + 1, ~0u, 0) < 0)
		for (int fd = 3; fd < 1024; fd++)
			if (fd != sock)
				close(fd);
	if (user != NULL && privs_drop(user) < 0)
		_exit(1);
	/* After the switch of user, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	for (size_t i = 0; i < WATCHDOG_SLOTS; i++)
		wd_held[i].fd = -1;
	for (;;) {
		watchdog_check();
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		if (poll(&pfd, 1, WATCHDOG_BEAT_MS) < 0 && errno != EINTR)
			break;
		if (watchdog_read(sock) < 0)
			break;
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
	atomic_store(&wd_shm->alive_ns, log_now_ns());
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

bool
watchdog_alive(uint64_t now_ns)
{
	if (wd_shm == NULL)
		return false;
	uint64_t alive = atomic_load(&wd_shm->alive_ns);
	return alive >= now_ns || now_ns - alive < WATCHDOG_STALL_MS * 1000000ULL;
}

/* Send M (and FD) to the watchdog, never waiting; with wd_lock held. 0 or -1. */
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
	while (sendmsg(wd_sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET) {
			log_warnx("the watchdog is gone: a flooded queue's kernel fail-open now "
			          "stays on");
			close(wd_sock);
			wd_sock = -1;
		}
		return -1;
	}
	return 0;
}

int
watchdog_hold(int fd, uint16_t queue)
{
	int slot = -1;

	pthread_mutex_lock(&wd_lock);
	for (int i = 0; watchdog_alive(log_now_ns()) && i < WATCHDOG_SLOTS; i++) {
		if (wd_used[i])
			continue;
		uint32_t gen = wd_gen[i] + 1 != 0 ? wd_gen[i] + 1 : 1;
		atomic_store(&wd_shm->beat_ns[i], log_now_ns());
		struct watchdog_msg m = {WATCHDOG_HOLD, (uint32_t)i, gen, queue};
		if (watchdog_send(&m, fd) == 0) {
			wd_gen[i] = gen;
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
	return atomic_load(&wd_shm->fired_gen[slot]) == wd_gen[slot];
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
	struct watchdog_msg m = {WATCHDOG_RELEASE, (uint32_t)slot, 0, 0};

	pthread_mutex_lock(&wd_lock);
	/* Should this fail, the watchdog lets go of the socket 500 ms on, as after a stall. */
	watchdog_send(&m, -1);
	wd_used[slot] = false;
	pthread_mutex_unlock(&wd_lock);
}

void
watchdog_reap(void)
{
	int status;

	if (wd_pid <= 0 || waitpid(wd_pid, &status, WNOHANG) != wd_pid)
		return;
	wd_pid = 0;
	pthread_mutex_lock(&wd_lock);
	if (wd_sock >= 0) {
		close(wd_sock);
		wd_sock = -1;
	}
	pthread_mutex_unlock(&wd_lock);
	log_warnx("the watchdog is gone (%s %d): a flooded queue's kernel fail-open now stays on",
	          WIFSIGNALED(status) ? "signal" : "exit status",
	          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

void
watchdog_stop(void)
{
	if (wd_sock >= 0) {
		close(wd_sock);
		wd_sock = -1;
	}
	if (wd_pid <= 0)
		return;
	/* It ends once it sees imqd's end closed: a second for that, then no more waiting. */
	for (int i = 0; i < 100 && waitpid(wd_pid, NULL, WNOHANG) == 0; i++)
		usleep(10000);
	if (waitpid(wd_pid, NULL, WNOHANG) == 0) {
		kill(wd_pid, SIGKILL);
		while (waitpid(wd_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	wd_pid = 0;
}

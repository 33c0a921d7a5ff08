/* tunread: what reading copies back from a TUN device costs, three ways.
 *
 * imqd sends its copies into imqN with sendmmsg on a packet socket and reads
 * each one back from the TUN fd as the qdisc releases it, one read(2) per
 * copy: a character device has no recvmmsg. This program repeats that round
 * trip alone, in a network namespace of its own, for -t seconds: batches of
 * -b IPv4/UDP packets of -s bytes go into a TUN device (default qdisc) and
 * come back by
 *   -m read   read(2) until the device is empty, as imqd does;
 *   -m uring  one io_uring_enter per batch with a read (RWF_NOWAIT) per copy
 *             and one more that finds the device empty;
 *   -m ring   a TPACKET_V2 mmap ring on a packet socket bound to the device,
 *             which sees each copy after the qdisc; nothing reads the TUN fd,
 *             so the device drops every copy once its queue is full.
 * It prints one JSON line: wall time per packet in the send and in the
 * read-back phase, and user+system CPU time per packet.
 *
 * build: cc -O2 -std=c11 -Wall -Wextra tunread.c -luring  (liburing-dev)
 * run as root: ./tunread -m read; ./tunread -m uring; ./tunread -m ring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TR_MAX_BATCH 256
#define TR_READ_BYTES 256  /* imqd reads no more of a copy than this */
#define TR_FRAME 512       /* ring frame: header and TR_READ_BYTES of the copy */
#define TR_FRAMES 8192     /* ring frames */
#define TR_TXQUEUELEN 1000 /* the device's queue (and its TUN ring) */

enum tr_mode { TR_READ, TR_URING, TR_RING };

struct tr {
	enum tr_mode mode;
	int tunfd, injfd, ringfd;
	struct io_uring uring;
	uint8_t *ring;
	unsigned frame; /* next ring frame to look at */
	uint8_t rdbuf[TR_MAX_BATCH + 1][TR_READ_BYTES];
};

static double
tr_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
tr_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
tr_die(const char *what)
{
	fprintf(stderr, "tunread: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A TUN device "tunr0", up, in a network namespace of our own; returns its ifindex. */
static int
tr_device(struct tr *t)
{
	struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};

	if (unshare(CLONE_NEWNET) < 0)
		tr_die("unshare(CLONE_NEWNET)");
	strcpy(ifr.ifr_name, "tunr0");
	t->tunfd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->tunfd < 0 || ioctl(t->tunfd, TUNSETIFF, &ifr) < 0)
		tr_die("TUN device");
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifr.ifr_qlen = TR_TXQUEUELEN;
	if (s < 0 || ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
		tr_die("txqueuelen");
	ifr.ifr_flags = IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		tr_die("link up");
	close(s);
	return (int)if_nametoindex("tunr0");
}

static void
tr_ring_open(struct tr *t, int ifindex)
{
	struct tpacket_req req = {.tp_block_size = 1 << 16,
	                          .tp_frame_size = TR_FRAME,
	                          .tp_frame_nr = TR_FRAMES,
	                          .tp_block_nr = TR_FRAMES / ((1 << 16) / TR_FRAME)};
	struct sockaddr_ll sa = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
	int v = TPACKET_V2;

	t->ringfd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (t->ringfd < 0 || setsockopt(t->ringfd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
	    setsockopt(t->ringfd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		tr_die("packet ring");
	t->ring = mmap(NULL, (size_t)req.tp_block_size * req.tp_block_nr, PROT_READ | PROT_WRITE,
	               MAP_SHARED, t->ringfd, 0);
	if (t->ring == MAP_FAILED || bind(t->ringfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		tr_die("packet ring");
}

/* Take up to N copies back; returns how many came. */
static int
tr_readback(struct tr *t, int n)
{
	int got = 0;

	switch (t->mode) {
	case TR_READ:
		while (read(t->tunfd, t->rdbuf[0], TR_READ_BYTES) > 0)
			got++;
		break;
	case TR_URING:
		for (int i = 0; i <= n; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&t->uring);
			io_uring_prep_read(sqe, t->tunfd, t->rdbuf[i], TR_READ_BYTES, 0);
			sqe->rw_flags = RWF_NOWAIT; /* -EAGAIN when empty, not a wait */
		}
		if (io_uring_submit_and_wait(&t->uring, (unsigned)n + 1) < 0)
			tr_die("io_uring_submit_and_wait");
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&t->uring, head, cqe)
		{
			got += cqe->res > 0;
			seen++;
		}
		io_uring_cq_advance(&t->uring, seen);
		break;
	case TR_RING:
		while (got < n) {
			struct tpacket2_hdr *h = (void *)(t->ring + (size_t)t->frame * TR_FRAME);
			if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
				struct pollfd pfd = {.fd = t->ringfd, .events = POLLIN};
				if (poll(&pfd, 1, 100) <= 0)
					break;
				continue;
			}
			__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			t->frame = (t->frame + 1) % TR_FRAMES;
			got++;
		}
		break;
	}
	return got;
}

static void
tr_usage(void)
{
	fprintf(stderr, "usage: tunread [-m read|uring|ring] [-s bytes] [-b batch] [-t seconds]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static uint8_t pkts[TR_MAX_BATCH][1500];
	static struct mmsghdr msgs[TR_MAX_BATCH];
	static struct iovec iov[TR_MAX_BATCH];
	struct tr *t = calloc(1, sizeof(*t));
	const char *mode = "read";
	long size = 92, batch = 64;
	double seconds = 3;
	int c;

	while ((c = getopt(argc, argv, "m:s:b:t:")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 's':
			size = strtol(optarg, NULL, 0);
			break;
		case 'b':
			batch = strtol(optarg, NULL, 0);
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		default:
			tr_usage();
		}
	}
	if (t == NULL || optind != argc || size < 28 || size > 1500 || batch < 1 ||
	    batch > TR_MAX_BATCH || !(seconds > 0 && seconds <= 60))
		tr_usage();
	if (strcmp(mode, "read") == 0)
		t->mode = TR_READ;
	else if (strcmp(mode, "uring") == 0)
		t->mode = TR_URING;
	else if (strcmp(mode, "ring") == 0)
		t->mode = TR_RING;
	else
		tr_usage();

	int ifindex = tr_device(t);
	struct sockaddr_ll to = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = ifindex};
	t->injfd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->injfd < 0)
		tr_die("packet socket");
	if (t->mode == TR_URING) {
		errno = -io_uring_queue_init(2 * TR_MAX_BATCH, &t->uring, 0);
		if (errno != 0)
			tr_die("io_uring_queue_init");
	}
	if (t->mode == TR_RING)
		tr_ring_open(t, ifindex);
	for (long i = 0; i < batch; i++) {
		struct iphdr *ip = (struct iphdr *)pkts[i];
		*ip = (struct iphdr){.version = 4,
		                     .ihl = 5,
		                     .tot_len = htons((uint16_t)size),
		                     .ttl = 64,
		                     .protocol = IPPROTO_UDP,
		                     .saddr = htonl(0x0a000001),
		                     .daddr = htonl(0x0a000002 + (uint32_t)i)};
		iov[i] = (struct iovec){.iov_base = pkts[i], .iov_len = (size_t)size};
		msgs[i].msg_hdr = (struct msghdr){.msg_name = &to,
		                                  .msg_namelen = sizeof(to),
		                                  .msg_iov = &iov[i],
		                                  .msg_iovlen = 1};
	}

	long sent = 0, got = 0;
	double send_s = 0, read_s = 0, t0 = tr_now(), cpu0 = tr_cpu(), ta, tb;
	while ((ta = tr_now()) - t0 < seconds) {
		int n = sendmmsg(t->injfd, msgs, (unsigned)batch, 0);
		if (n < 0)
			tr_die("sendmmsg");
		tb = tr_now();
		send_s += tb - ta;
		sent += n;
		got += tr_readback(t, n);
		read_s += tr_now() - tb;
	}
	double cpu = tr_cpu() - cpu0;
	printf("{\"mode\":\"%s\",\"size\":%ld,\"batch\":%ld,\"sent\":%ld,\"back\":%ld,"
	       "\"send_ns\":%.0f,\"read_ns\":%.0f,\"cpu_ns\":%.0f}\n",
	       mode, size, batch, sent, got, send_s / (double)sent * 1e9,
	       read_s / (double)sent * 1e9, cpu / (double)sent * 1e9);
	return got >= sent * 9 / 10 ? 0 : 1;
}

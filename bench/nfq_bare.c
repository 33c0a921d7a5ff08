/* nfq_bare: the benchmark's reference NFQUEUE consumer, a bare accept loop.
 *
 * Binds one queue, receives up to NFQB_BATCH messages per recvmmsg and
 * accepts all of them with one sendmsg holding one verdict message per
 * packet. Nothing else: it is the ceiling a userspace NFQUEUE datapath can
 * reach on this machine, against which imqd is measured.
 *
 * With -t DEV it is the floor of imqd's design instead: before its verdict,
 * each packet is also sent into the TUN device DEV through DEV's qdisc and
 * read back, as imqd does with its copies, and nothing else (no event
 * library, no matching: a pass-through qdisc keeps the order). A batch's
 * copies go in one io_uring submission, as imqd sends them: a copy the qdisc
 * drops fails its send, which would end a sendmmsg call. A packet whose copy
 * the qdisc refused is dropped, as imqd drops it; every other one is
 * accepted at once, without waiting for the qdisc to release its copy, so
 * with a shaping qdisc the packets pass at the rate the qdisc takes copies
 * in, not the one it lets them out at. Packets larger than DEV's MTU (whole
 * GSO packets) are accepted without the trip.
 *
 * With -b the verdicts of a batch go as one NFQNL_MSG_VERDICT_BATCH naming
 * the batch's last packet id instead of a message per packet (with -t, one
 * per run of equal verdicts).
 *
 * With -j N it runs N such loops in N threads, on queues queue..queue+N-1,
 * each with its own netlink socket: what several workers fed by iptables'
 * --queue-balance could gain over one on this machine.
 *
 * usage: nfq_bare [-b] [-g] [-q queue] [-j threads] [-c copy-bytes] [-t tun-device] [-v]
 * build: cc -O2 -std=c11 -Wall -Wextra -pthread nfq_bare.c -lmnl -lnetfilter_queue -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <liburing.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NFQB_BATCH 64
#define NFQB_MAXLEN 8192
#define NFQB_RCVBUF (64 * 1024 * 1024)
#define NFQB_SNDBUF (64 * 1024 * 1024)
#define NFQB_MSG_EXTRA 1024 /* netlink and NFQA_* headers around the payload */
#define NFQB_VMSG_SIZE 64   /* one aligned verdict message */
#define NFQB_POLL_MS 200
#define NFQB_MAX_THREADS 16

struct nfqb {
	struct mnl_socket *nl;
	int fd;
	uint32_t portid;
	uint32_t seq;
	uint16_t queue;
	size_t msgsize;
	uint8_t *rbuf;
	struct mmsghdr msgs[NFQB_BATCH];
	struct iovec iovs[NFQB_BATCH];
	char vbuf[NFQB_BATCH * NFQB_VMSG_SIZE];
	size_t vlen;
	size_t vlast; /* -b: where the last message starts, and its verdict */
	int vlast_verdict;
	size_t nverdicts;
	uint64_t packets, bytes, batches, sends, send_errors, nl_errors, unparsed;
	/* -t: the round trip through a TUN device */
	int tunfd, injfd;
	struct sockaddr_ll tunaddr[2]; /* IPv4, IPv6 */
	struct io_uring ring;
	struct mmsghdr tmsgs[NFQB_BATCH];
	struct iovec tiovs[NFQB_BATCH];
	size_t ntrip;
	int tres[NFQB_BATCH]; /* each copy's send: bytes, or -errno */
	struct {
		uint32_t id;
		int trip;   /* index in tmsgs, or -1: no trip */
	} pend[NFQB_BATCH]; /* packets whose verdict waits for the trip */
	size_t npend;
	uint8_t tbuf[2048];
	uint64_t trips, trip_errors;
};

static atomic_int nfqb_stop; /* set by SIGTERM or SIGINT, read by every thread */
static bool nfqb_vbatch;     /* -b */

static void
nfqb_signal_cb(int sig)
{
	(void)sig;
	nfqb_stop = 1;
}

static void __attribute__((noreturn)) nfqb_usage(int status)
{
	fprintf(status ? stderr : stdout,
	        "usage: nfq_bare [-b] [-g] [-q queue] [-j threads] [-c copy-bytes] [-t dev] [-v]\n"
	        "  -b     one batch verdict message per batch instead of one per packet\n"
	        "  -q N   queue number (default 0)\n"
	        "  -j N   N threads on queues queue..queue+N-1, a socket each (default 1)\n"
	        "  -g     NFQA_CFG_F_GSO: take GSO packets whole\n"
	        "  -c N   copy range in bytes (default 65535)\n"
	        "  -t DEV send each packet through TUN device DEV and back\n"
	        "  -v     print counters on exit\n");
	exit(status);
}

/* Send one config message with an ACK request and wait for the answer. */
static int
nfqb_config(struct nfqb *b, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct pollfd pfd = {.fd = b->fd, .events = POLLIN};

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++b->seq;
	if (mnl_socket_sendto(b->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	/* The socket is non-blocking; packets cannot arrive before the bind's ACK. */
	for (;;) {
		if (poll(&pfd, 1, 2000) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ssize_t n = mnl_socket_recvfrom(b->nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		return mnl_cb_run(buf, (size_t)n, b->seq, b->portid, NULL, NULL) < 0 ? -1 : 0;
	}
}

/* Bind the queue, copy mode, queue length and flags. */
static int
nfqb_bind(struct nfqb *b, int copy, bool gso)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t flags = gso ? NFQA_CFG_F_GSO : 0;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, b->queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (nfqb_config(b, nlh) < 0) {
		fprintf(stderr, "nfq_bare: bind queue %u: %s\n", b->queue, strerror(errno));
		return -1;
	}
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, b->queue);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, copy);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, NFQB_MAXLEN);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	if (nfqb_config(b, nlh) < 0) {
		fprintf(stderr, "nfq_bare: configure queue %u: %s\n", b->queue, strerror(errno));
		return -1;
	}
	return 0;
}

/* Attach to the TUN device DEV (made and given its qdisc by the caller). */
static int
nfqb_tun_open(struct nfqb *b, const char *dev)
{
	struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI};
	int ifindex;

	if (strlen(dev) >= sizeof(ifr.ifr_name)) {
		fprintf(stderr, "nfq_bare: device name too long: %s\n", dev);
		return -1;
	}
	strcpy(ifr.ifr_name, dev);
	b->tunfd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (b->tunfd < 0 || ioctl(b->tunfd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "nfq_bare: attach to TUN device %s: %s\n", dev, strerror(errno));
		return -1;
	}
	ifindex = (int)if_nametoindex(dev);
	b->injfd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ifindex == 0 || b->injfd < 0) {
		perror("nfq_bare: packet socket");
		return -1;
	}
	/*
	 * Copies a shaping qdisc holds stay charged to the socket: with the
	 * default buffer a send would wait for the qdisc's rate. As imqd, a
	 * buffer the qdisc's limit fills first, and sends that never wait.
	 */
	int sndbuf = NFQB_SNDBUF;
	if (setsockopt(b->injfd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		perror("nfq_bare: SO_SNDBUFFORCE");
	int err = io_uring_queue_init(NFQB_BATCH, &b->ring, 0);
	if (err < 0) {
		fprintf(stderr, "nfq_bare: io_uring: %s\n", strerror(-err));
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		b->tunaddr[i].sll_family = AF_PACKET;
		b->tunaddr[i].sll_protocol = htons(i == 0 ? ETH_P_IP : ETH_P_IPV6);
		b->tunaddr[i].sll_ifindex = ifindex;
	}
	return 0;
}

/* Queue PKT (LEN bytes) for the trip through the TUN device: its index, or -1. */
static int
nfqb_trip_add(struct nfqb *b, void *pkt, size_t len)
{
	struct msghdr *m = &b->tmsgs[b->ntrip].msg_hdr;

	if (len == 0 || len > sizeof(b->tbuf) || b->ntrip == NFQB_BATCH)
		return -1;
	b->tiovs[b->ntrip] = (struct iovec){.iov_base = pkt, .iov_len = len};
	*m = (struct msghdr){.msg_iov = &b->tiovs[b->ntrip],
	                     .msg_iovlen = 1,
	                     .msg_name = &b->tunaddr[(*(uint8_t *)pkt >> 4) == 6],
	                     .msg_namelen = sizeof(b->tunaddr[0])};
	return (int)b->ntrip++;
}

/* Send the queued packets into the TUN device and read as many back. */
static void
nfqb_trip(struct nfqb *b)
{
	struct io_uring_cqe *cqe;

	for (size_t i = 0; i < b->ntrip; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
		io_uring_prep_sendmsg(sqe, b->injfd, &b->tmsgs[i].msg_hdr, MSG_DONTWAIT);
		io_uring_sqe_set_data64(sqe, i);
		b->tres[i] = -EIO;
	}
	int r = io_uring_submit_and_wait(&b->ring, (unsigned)b->ntrip);
	for (size_t i = 0; r >= 0 && i < b->ntrip; i++) {
		if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
			break;
		b->tres[io_uring_cqe_get_data64(cqe)] = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
	}
	for (size_t i = 0; i < b->ntrip; i++) {
		if (b->tres[i] < 0)
			b->trip_errors++; /* refused by the qdisc, or no room */
		else
			b->trips++;
	}
	for (size_t i = 0; i < b->ntrip; i++)
		if (read(b->tunfd, b->tbuf, sizeof(b->tbuf)) < 0)
			break;
	b->ntrip = 0;
}

static int
nfqb_open(struct nfqb *b, int copy)
{
	int one = 1, rcvbuf = NFQB_RCVBUF;

	b->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (b->nl == NULL || mnl_socket_bind(b->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nfq_bare: netlink socket");
		return -1;
	}
	b->fd = mnl_socket_get_fd(b->nl);
	b->portid = mnl_socket_get_portid(b->nl);
	b->seq = (uint32_t)time(NULL);
	/* An overrun would otherwise latch the socket congested until drained. */
	if (setsockopt(b->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)) < 0)
		perror("nfq_bare: NETLINK_NO_ENOBUFS");
	if (setsockopt(b->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		perror("nfq_bare: SO_RCVBUFFORCE");
	/* The kernel reads a copy range of 0 as "whole packet". */
	b->msgsize = (size_t)(copy == 0 ? 0xffff : copy) + NFQB_MSG_EXTRA;
	b->rbuf = malloc(NFQB_BATCH * b->msgsize);
	if (b->rbuf == NULL) {
		perror("nfq_bare: malloc");
		return -1;
	}
	for (size_t i = 0; i < NFQB_BATCH; i++) {
		b->iovs[i].iov_base = b->rbuf + i * b->msgsize;
		b->iovs[i].iov_len = b->msgsize;
		b->msgs[i].msg_hdr.msg_iov = &b->iovs[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* Queue VERDICT for ID behind the verdicts already in the buffer. */
static void
nfqb_verdict(struct nfqb *b, uint32_t id, int verdict)
{
	/* -b: a run of equal verdicts is one message, rewritten with the latest id. */
	if (nfqb_vbatch && b->nverdicts > 0 && b->vlast_verdict == verdict)
		b->vlen = b->vlast;
	b->vlast = b->vlen;
	b->vlast_verdict = verdict;
	struct nlmsghdr *nlh = nfq_nlmsg_put(
	    b->vbuf + b->vlen, nfqb_vbatch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, b->queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	b->vlen += NLMSG_ALIGN(nlh->nlmsg_len);
	b->nverdicts++;
}

/* The trip for the packets waiting on it, then their verdicts in id order. */
static void
nfqb_pass(struct nfqb *b)
{
	if (b->ntrip > 0)
		nfqb_trip(b);
	for (size_t i = 0; i < b->npend; i++) {
		int t = b->pend[i].trip;
		nfqb_verdict(b, b->pend[i].id, t >= 0 && b->tres[t] < 0 ? NF_DROP : NF_ACCEPT);
	}
	b->npend = 0;
}

/* One sendmsg for every verdict in the buffer. */
static void
nfqb_flush(struct nfqb *b)
{
	if (b->nverdicts == 0)
		return;
	b->sends++;
	while (mnl_socket_sendto(b->nl, b->vbuf, b->vlen) < 0) {
		if (errno == EINTR)
			continue;
		b->send_errors++;
		break;
	}
	b->vlen = 0;
	b->nverdicts = 0;
}

static void
nfqb_message(struct nfqb *b, const struct nlmsghdr *nlh)
{
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	const struct nfqnl_msg_packet_hdr *ph;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		b->nl_errors++;
		return;
	}
	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
		b->unparsed++;
		return;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	if (attr[NFQA_CAP_LEN] != NULL)
		b->bytes += ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	else if (attr[NFQA_PAYLOAD] != NULL)
		b->bytes += mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	b->packets++;
	if (b->tunfd < 0) {
		nfqb_verdict(b, ntohl(ph->packet_id), NF_ACCEPT);
		return;
	}
	if (b->npend == NFQB_BATCH) {
		nfqb_pass(b);
		nfqb_flush(b);
	}
	int trip = -1;
	if (attr[NFQA_PAYLOAD] != NULL && attr[NFQA_CAP_LEN] == NULL)
		trip = nfqb_trip_add(b, mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
		                     mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]));
	b->pend[b->npend].id = ntohl(ph->packet_id);
	b->pend[b->npend++].trip = trip;
}

/* Receive one batch without blocking and accept it; the number received, or -1. */
static int
nfqb_batch(struct nfqb *b)
{
	int n = recvmmsg(b->fd, b->msgs, NFQB_BATCH, MSG_DONTWAIT, NULL);

	if (n <= 0)
		return n < 0 && errno != EAGAIN && errno != EINTR && errno != ENOBUFS ? -1 : 0;
	b->batches++;
	for (int i = 0; i < n; i++) {
		const struct nlmsghdr *nlh = b->iovs[i].iov_base;
		int len = (int)b->msgs[i].msg_len;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			nfqb_message(b, nlh);
	}
	nfqb_pass(b);
	nfqb_flush(b);
	/* Anything the reads above missed: the device must not fill up. */
	if (b->tunfd >= 0)
		while (read(b->tunfd, b->tbuf, sizeof(b->tbuf)) > 0)
			;
	return n;
}

static void
nfqb_signals(void)
{
	struct sigaction sa = {.sa_handler = nfqb_signal_cb};

	/* No SA_RESTART: poll returns EINTR and the loop sees the flag. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* One consumer's loop, until SIGTERM; then it accepts what is left. */
static void *
nfqb_run(void *arg)
{
	struct nfqb *b = arg;
	struct pollfd pfd = {.fd = b->fd, .events = POLLIN};

	while (!nfqb_stop) {
		if (poll(&pfd, 1, NFQB_POLL_MS) <= 0)
			continue;
		while (!nfqb_stop && nfqb_batch(b) == NFQB_BATCH)
			;
	}
	/* Accept what is still in the socket: closing it drops the kernel's queue. */
	while (nfqb_batch(b) > 0)
		;
	return NULL;
}

int
main(int argc, char **argv)
{
	static struct nfqb bs[NFQB_MAX_THREADS];
	pthread_t tids[NFQB_MAX_THREADS];
	const char *tun = NULL;
	bool gso = false, verbose = false;
	long copy = 0xffff, queue = 0, threads = 1;
	int c;

	while ((c = getopt(argc, argv, "bgq:j:c:t:vh")) != -1) {
		switch (c) {
		case 'b':
			nfqb_vbatch = true;
			break;
		case 'g':
			gso = true;
			break;
		case 'q':
			queue = strtol(optarg, NULL, 0);
			break;
		case 'j':
			threads = strtol(optarg, NULL, 0);
			break;
		case 'c':
			copy = strtol(optarg, NULL, 0);
			break;
		case 't':
			tun = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			nfqb_usage(0);
		default:
			nfqb_usage(2);
		}
	}
	if (optind != argc || queue < 0 || threads < 1 || threads > NFQB_MAX_THREADS ||
	    queue + threads - 1 > 65535 || copy < 0 || copy > 0xffff ||
	    (tun != NULL && threads > 1))
		nfqb_usage(2);
	nfqb_signals();
	for (long i = 0; i < threads; i++) {
		struct nfqb *b = &bs[i];

		*b = (struct nfqb){.tunfd = -1, .injfd = -1, .queue = (uint16_t)(queue + i)};
		if ((tun != NULL && nfqb_tun_open(b, tun) < 0) || nfqb_open(b, (int)copy) < 0 ||
		    nfqb_bind(b, (int)copy, gso) < 0)
			return 1;
	}
	/* Only the main thread takes SIGTERM; the workers see the flag within NFQB_POLL_MS. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (long i = 1; i < threads; i++)
		if ((errno = pthread_create(&tids[i], NULL, nfqb_run, &bs[i])) != 0) {
			perror("nfq_bare: pthread_create");
			return 1;
		}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	nfqb_run(&bs[0]);
	for (long i = 1; i < threads; i++)
		pthread_join(tids[i], NULL);
	for (long i = 0; i < threads; i++) {
		struct nfqb *b = &bs[i];

		if (verbose)
			fprintf(stderr,
			        "nfq_bare: queue %u: %" PRIu64 " packets, %" PRIu64
			        " bytes, %" PRIu64 " batches, %" PRIu64 " sends, %" PRIu64
			        " send errors, %" PRIu64 " netlink errors, %" PRIu64
			        " unparsed, %" PRIu64 " TUN trips, %" PRIu64 " trip errors\n",
			        b->queue, b->packets, b->bytes, b->batches, b->sends,
			        b->send_errors, b->nl_errors, b->unparsed, b->trips,
			        b->trip_errors);
		mnl_socket_close(b->nl);
		free(b->rbuf);
	}
	return 0;
}

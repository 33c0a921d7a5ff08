/* udpflood: bounded UDP generator and counting receiver for the benchmark.
 *
 * Sender: sendmmsg batches of UDPF_BATCH datagrams of -s bytes to -d:-p for
 * -t seconds or -n packets, whichever comes first, rotating over -F
 * sockets bound to consecutive source ports (one flow each); with -r, at
 * that many packets a second, in batches of 8.
 * Receiver (-l): counts datagrams on -p from the first one for -t seconds,
 * or until -i seconds pass without any, and never longer than -w + -t.
 * Both print one JSON line on stdout.
 *
 * build: cc -O2 -std=c11 -Wall -Wextra udpflood.c
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define UDPF_BATCH 64
#define UDPF_MAX_FLOWS 1024
#define UDPF_MAX_SIZE 65507
#define UDPF_MAX_SECONDS 3600.0
#define UDPF_SOCKBUF (8 * 1024 * 1024)

struct udpf_opts {
	bool listen;
	const char *addr;
	uint16_t port;
	uint16_t sport; /* first source port; 0: any */
	size_t size;
	double seconds;
	uint64_t count; /* 0: bounded by time only */
	unsigned flows;
	double wait; /* receiver: longest wait for the first datagram */
	double idle; /* receiver: end after this long without one */
	double pps;  /* sender: packets a second, 0: as fast as it goes */
};

static volatile sig_atomic_t udpf_stop;

static void
udpf_signal_cb(int sig)
{
	(void)sig;
	udpf_stop = 1;
}

static double
udpf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) udpf_usage(int status)
{
	fprintf(
	    status ? stderr : stdout,
	    "usage: udpflood -d addr [-p port] [-s bytes] [-t seconds] [-n packets] [-F flows] [-r "
	    "pps]\n"
	    "                [-S first-source-port]\n"
	    "       udpflood -l [-d bind-addr] [-p port] [-t seconds] [-w seconds] [-i seconds]\n"
	    "  -s payload bytes (default 64)   -t seconds (default 5)   -n packets (0: no limit)\n"
	    "  -F source ports, one flow each (default 1)   -r packets a second (default: as fast "
	    "as it goes)\n"
	    "  -l receive and count; -w wait for the first packet (default 10),\n"
	    "     -i end after this idle time (default 1)\n");
	exit(status);
}

static int
udpf_sockaddr(const char *addr, uint16_t port, struct sockaddr_in *sin)
{
	*sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
		fprintf(stderr, "udpflood: bad IPv4 address %s\n", addr);
		return -1;
	}
	return 0;
}

/* F connected sockets from consecutive source ports; the number opened. */
static unsigned
udpf_open_flows(const struct udpf_opts *o, const struct sockaddr_in *dst, int *fds)
{
	int buf = UDPF_SOCKBUF;
	unsigned n = 0;

	for (; n < o->flows; n++) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			break;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
		if (o->sport != 0)
			src.sin_port = htons((uint16_t)(o->sport + n));
		if ((o->sport != 0 && bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) ||
		    connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
			perror("udpflood: socket");
			close(fd);
			break;
		}
		fds[n] = fd;
	}
	return n;
}

static int
udpf_send(const struct udpf_opts *o)
{
	static int fds[UDPF_MAX_FLOWS];
	struct mmsghdr msgs[UDPF_BATCH];
	struct iovec iov;
	struct sockaddr_in dst;
	uint64_t sent = 0, errors = 0;
	unsigned nfds, f = 0;
	char *payload;
	double start, end, now;

	if (udpf_sockaddr(o->addr, o->port, &dst) < 0)
		return 1;
	nfds = udpf_open_flows(o, &dst, fds);
	payload = calloc(1, o->size ? o->size : 1);
	if (nfds == 0 || payload == NULL)
		return 1;
	iov = (struct iovec){.iov_base = payload, .iov_len = o->size};
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < UDPF_BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	start = now = udpf_now();
	end = start + o->seconds;
	while (!udpf_stop && now < end && (o->count == 0 || sent < o->count)) {
		unsigned want = UDPF_BATCH;
		int n;

		if (o->count != 0 && o->count - sent < want)
			want = (unsigned)(o->count - sent);
		/* At -r packets a second: the next batch waits until it is due. */
		if (o->pps > 0) {
			double due = start + (double)sent / o->pps;
			if (due > now) {
				struct timespec ts = {
				    (time_t)(due - now),
				    (long)((due - now - (double)(time_t)(due - now)) * 1e9)};
				nanosleep(&ts, NULL);
			}
			if (want > 8)
				want = 8;
		}
		n = sendmmsg(fds[f], msgs, want, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else if (errno != EINTR)
			errors++;
		f = (f + 1) % nfds;
		now = udpf_now();
	}
	printf("{\"sent\":%" PRIu64 ",\"pps\":%.0f,\"seconds\":%.3f,\"errors\":%" PRIu64 "}\n",
	       sent, now > start ? (double)sent / (now - start) : 0.0, now - start, errors);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	free(payload);
	return 0;
}

static int
udpf_open_listener(const struct udpf_opts *o)
{
	struct sockaddr_in sin;
	int buf = UDPF_SOCKBUF, fd;

	if (udpf_sockaddr(o->addr, o->port, &sin) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("udpflood: bind");
		close(fd);
		return -1;
	}
	return fd;
}

static int
udpf_receive(const struct udpf_opts *o)
{
	static char bufs[UDPF_BATCH][2048];
	struct mmsghdr msgs[UDPF_BATCH];
	struct iovec iovs[UDPF_BATCH];
	struct pollfd pfd;
	uint64_t packets = 0, bytes = 0;
	double start = udpf_now(), first = 0, last = 0, now = start;
	int fd = udpf_open_listener(o);

	if (fd < 0)
		return 1;
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < UDPF_BATCH; i++) {
		iovs[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	/* Ready for the caller to start the sender. */
	fprintf(stderr, "udpflood: listening on %s:%u\n", o->addr, o->port);
	while (!udpf_stop) {
		if (packets == 0 ? now - start > o->wait
		                 : now - first >= o->seconds || now - last >= o->idle)
			break;
		if (poll(&pfd, 1, 50) > 0) {
			int n = recvmmsg(fd, msgs, UDPF_BATCH, MSG_DONTWAIT, NULL);

			now = udpf_now();
			for (int i = 0; i < n; i++) {
				/* msg_len is the datagram's length even when cut to the buffer. */
				if (packets++ == 0)
					first = now;
				bytes += msgs[i].msg_len;
			}
			if (n > 0)
				last = now;
		} else {
			now = udpf_now();
		}
	}
	printf("{\"packets\":%" PRIu64 ",\"pps\":%.0f,\"bytes\":%" PRIu64 ",\"seconds\":%.3f}\n",
	       packets, last > first ? (double)packets / (last - first) : 0.0, bytes,
	       last > first ? last - first : 0.0);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct udpf_opts o = {
	    .port = 9000, .size = 64, .seconds = 5, .flows = 1, .wait = 10, .idle = 1};
	struct sigaction sa = {.sa_handler = udpf_signal_cb};
	int c;

	while ((c = getopt(argc, argv, "ld:p:s:t:n:F:S:w:i:r:h")) != -1) {
		switch (c) {
		case 'l':
			o.listen = true;
			break;
		case 'd':
			o.addr = optarg;
			break;
		case 'p':
			o.port = (uint16_t)strtoul(optarg, NULL, 0);
			break;
		case 's':
			o.size = strtoul(optarg, NULL, 0);
			break;
		case 't':
			o.seconds = strtod(optarg, NULL);
			break;
		case 'n':
			o.count = strtoull(optarg, NULL, 0);
			break;
		case 'F':
			o.flows = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'S':
			o.sport = (uint16_t)strtoul(optarg, NULL, 0);
			break;
		case 'w':
			o.wait = strtod(optarg, NULL);
			break;
		case 'r':
			o.pps = strtod(optarg, NULL);
			break;
		case 'i':
			o.idle = strtod(optarg, NULL);
			break;
		case 'h':
			udpf_usage(0);
		default:
			udpf_usage(2);
		}
	}
	if (optind != argc || o.size > UDPF_MAX_SIZE || o.flows < 1 || o.flows > UDPF_MAX_FLOWS ||
	    !(o.seconds > 0 && o.seconds <= UDPF_MAX_SECONDS) || !(o.wait >= 0 && o.wait <= 600) ||
	    !(o.idle > 0 && o.idle <= 600) || (!o.listen && o.addr == NULL))
		udpf_usage(2);
	if (o.addr == NULL)
		o.addr = "0.0.0.0";
	if (o.flows > 1 && o.sport == 0)
		o.sport = 20000;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	return o.listen ? udpf_receive(&o) : udpf_send(&o);
}

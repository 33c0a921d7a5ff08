/*
 * udpseq: numbered UDP datagrams for imqd's end-to-end tests.
 *
 *   udpseq send -d ADDR -p PORT -n COUNT [-s SIZE] [-r PPS] [-f FLOWS] [-t MAXSECONDS] [-T TOS]
 *   udpseq recv -p PORT -n COUNT -t SECONDS [-6] [-i] [-w IDLESECONDS]
 *
 * Each datagram starts with two big-endian u32: the flow number and its
 * sequence number within the flow, then zero padding up to SIZE bytes.
 * The sender spreads datagrams round-robin over FLOWS sockets (one source
 * port each) and stops at COUNT datagrams or MAXSECONDS, whichever comes
 * first, or at SIGTERM, SIGINT or SIGUSR1 ("stopped" in its output). The
 * receiver stops at COUNT datagrams, at SECONDS, or (with -i) after one idle
 * second following the first datagram (-w: IDLESECONDS), and prints one JSON
 * line with what it saw, including how many datagrams came marked Congestion
 * Experienced (ECN, "ce"); -T sets the sender's TOS / traffic class byte,
 * ECN field included. Both print JSON on stdout; errors go to stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
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

#define UDPSEQ_HDR 8          /* u32 flow + u32 seq */
#define UDPSEQ_MAX_SIZE 65507 /* largest IPv4 UDP payload */
#define UDPSEQ_MAX_FLOWS 4096
#define UDPSEQ_RCVBUF (16 << 20)
#define UDPSEQ_IDLE_NS 1000000000LL

static volatile sig_atomic_t stop_sending;

struct opts {
	const char *addr;
	unsigned port;
	uint64_t count;
	unsigned size;
	uint64_t pps;
	unsigned flows;
	double seconds;
	bool v6;
	bool idle;
	int64_t idle_ns;
	int tos; /* -1: the system's */
};

/* What the receiver knows about one flow. */
struct flow {
	bool seen;
	uint32_t max_seq;
	uint8_t *bits; /* one bit per sequence number seen */
	size_t nbits;
};

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	        "usage: udpseq send -d ADDR -p PORT -n COUNT [-s SIZE] [-r PPS] [-f FLOWS] "
	        "[-t MAXSECONDS] [-T TOS]\n"
	        "       udpseq recv -p PORT -n COUNT -t SECONDS [-6] [-i] [-w IDLESECONDS]\n");
	exit(2);
}

static int64_t
now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t
parse_u64(const char *s, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "udpseq: bad %s '%s' (%" PRIu64 "..%" PRIu64 ")\n", what, s, min,
		        max);
		exit(2);
	}
	return v;
}

static double
parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400) {
		fprintf(stderr, "udpseq: bad seconds '%s'\n", s);
		exit(2);
	}
	return v;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){
	    .size = 64, .flows = 1, .seconds = 10, .idle_ns = UDPSEQ_IDLE_NS, .tos = -1};
	while ((c = getopt(argc, argv, "d:p:n:s:r:f:t:T:6iw:")) != -1) {
		switch (c) {
		case 'd':
			o->addr = optarg;
			break;
		case 'p':
			o->port = (unsigned)parse_u64(optarg, "port", 1, 65535);
			break;
		case 'n':
			o->count = parse_u64(optarg, "count", 1, UINT32_MAX);
			break;
		case 's':
			o->size = (unsigned)parse_u64(optarg, "size", UDPSEQ_HDR, UDPSEQ_MAX_SIZE);
			break;
		case 'r':
			o->pps = parse_u64(optarg, "rate", 1, 100000000);
			break;
		case 'f':
			o->flows = (unsigned)parse_u64(optarg, "flows", 1, UDPSEQ_MAX_FLOWS);
			break;
		case 't':
			o->seconds = parse_seconds(optarg);
			break;
		case 'T':
			o->tos = (int)parse_u64(optarg, "tos", 0, 255);
			break;
		case '6':
			o->v6 = true;
			break;
		case 'i':
			o->idle = true;
			break;
		case 'w':
			o->idle = true;
			o->idle_ns = (int64_t)(parse_seconds(optarg) * 1e9);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !o->port || !o->count)
		usage();
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t
get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

/* Sleep until the monotonic time T (ns). */
static void
sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000LL, .tv_nsec = t % 1000000000LL};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int
open_senders(const struct addrinfo *ai, int *fds, unsigned n, int tos)
{
	int sndbuf = 4 << 20;

	for (unsigned i = 0; i < n; i++) {
		fds[i] = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
		if (fds[i] < 0) {
			perror("udpseq: socket");
			return -1;
		}
		if (setsockopt(fds[i], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
			(void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		if (tos >= 0 &&
		    (ai->ai_family == AF_INET6
		         ? setsockopt(fds[i], IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos))
		         : setsockopt(fds[i], IPPROTO_IP, IP_TOS, &tos, sizeof(tos))) < 0) {
			perror("udpseq: setting the TOS");
			return -1;
		}
		/* Unconnected, so an ICMP port unreachable does not fail later sends;
		 * an explicit bind gives every flow its own source port now. */
		struct sockaddr_storage any = {.ss_family = (sa_family_t)ai->ai_family};
		socklen_t len = ai->ai_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                          : sizeof(struct sockaddr_in);
		if (bind(fds[i], (struct sockaddr *)&any, len) < 0) {
			perror("udpseq: bind");
			return -1;
		}
	}
	return 0;
}

static void
on_stop(int sig)
{
	(void)sig;
	stop_sending = 1;
}

static int
do_send(const struct opts *o)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	char port[8];
	int fds[UDPSEQ_MAX_FLOWS];
	uint32_t seq[UDPSEQ_MAX_FLOWS] = {0};
	uint8_t *buf;
	uint64_t sent = 0, errors = 0, retries = 0;
	int err;

	if (!o->addr)
		usage();
	snprintf(port, sizeof(port), "%u", o->port);
	err = getaddrinfo(o->addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "udpseq: %s: %s\n", o->addr, gai_strerror(err));
		return 2;
	}
	buf = calloc(1, o->size);
	if (!buf || open_senders(ai, fds, o->flows, o->tos) < 0)
		return 2;
	/* Stopped by a signal, it still says what it sent (timeout(1) passes SIGTERM on). */
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int64_t start = now_ns(CLOCK_MONOTONIC);
	int64_t deadline = start + (int64_t)(o->seconds * 1e9);
	for (uint64_t i = 0; i < o->count; i++) {
		unsigned f = (unsigned)(i % o->flows);

		if (o->pps) {
			int64_t due = start + (int64_t)((double)i * 1e9 / (double)o->pps);
			if (due > deadline)
				break;
			if (due > now_ns(CLOCK_MONOTONIC))
				sleep_until(due);
		}
		if (now_ns(CLOCK_MONOTONIC) >= deadline || stop_sending)
			break;
		put_u32(buf, f);
		put_u32(buf + 4, seq[f]);
		for (;;) {
			if (sendto(fds[f], buf, o->size, 0, ai->ai_addr, ai->ai_addrlen) >= 0) {
				sent++;
				seq[f]++;
				break;
			}
			/* A full local queue is not the network's loss: wait and retry. */
			if ((errno == ENOBUFS || errno == EAGAIN || errno == EINTR) &&
			    now_ns(CLOCK_MONOTONIC) < deadline) {
				retries++;
				usleep(100);
				continue;
			}
			errors++;
			if (errors == 1)
				perror("udpseq: sendto");
			break;
		}
	}
	int64_t end = now_ns(CLOCK_MONOTONIC);

	printf("{\"sent\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"retries\":%" PRIu64
	       ",\"flows\":%u,\"size\":%u,\"elapsed_ns\":%" PRId64 ",\"stopped\":%s}\n",
	       sent, errors, retries, o->flows, o->size, end - start,
	       stop_sending ? "true" : "false");
	fflush(stdout);
	for (unsigned i = 0; i < o->flows; i++)
		close(fds[i]);
	free(buf);
	freeaddrinfo(ai);
	return sent == o->count || (stop_sending && errors == 0) ? 0 : 1;
}

static int
open_receiver(const struct opts *o)
{
	int rcvbuf = UDPSEQ_RCVBUF;
	int off = 0, on = 1;
	int fd = socket(o->v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);

	if (fd < 0) {
		perror("udpseq: socket");
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* The TOS / traffic class of each datagram, for its ECN field. */
	(void)setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on));
	if (o->v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof(on));
	if (o->v6) {
		struct sockaddr_in6 sa = {.sin6_family = AF_INET6,
		                          .sin6_port = htons((uint16_t)o->port),
		                          .sin6_addr = IN6ADDR_ANY_INIT};
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_port = htons((uint16_t)o->port),
		                         .sin_addr.s_addr = htonl(INADDR_ANY)};
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
	}
	perror("udpseq: bind");
	close(fd);
	return -1;
}

/* The ECN field of the datagram MSG carried, or -1 if no TOS came with it. */
static int
msg_ecn(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS &&
		    c->cmsg_len > CMSG_LEN(0))
			return *CMSG_DATA(c) & 3;
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int tc;
			memcpy(&tc, CMSG_DATA(c), sizeof(tc));
			return tc & 3;
		}
	}
	return -1;
}

/* Record SEQ in flow F; return 1 for a duplicate, 2 for out of order, 0 otherwise. */
static int
flow_note(struct flow *f, uint32_t seq)
{
	size_t need = (size_t)seq / 8 + 1;

	if (need > f->nbits) {
		size_t n = f->nbits ? f->nbits : 1024;
		while (n < need)
			n *= 2;
		uint8_t *b = realloc(f->bits, n);
		if (!b) {
			perror("udpseq: realloc");
			exit(2);
		}
		memset(b + f->nbits, 0, n - f->nbits);
		f->bits = b;
		f->nbits = n;
	}
	if (f->bits[seq / 8] & (1u << (seq % 8)))
		return 1;
	f->bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
	if (!f->seen) {
		f->seen = true;
		f->max_seq = seq;
		return 0;
	}
	if (seq < f->max_seq)
		return 2;
	f->max_seq = seq;
	return 0;
}

static int
do_recv(const struct opts *o)
{
	static struct flow flows[UDPSEQ_MAX_FLOWS];
	static uint8_t buf[65536];
	uint64_t received = 0, bytes = 0, ooo = 0, dups = 0, shorts = 0, badflow = 0, ce = 0;
	unsigned nflows = 0;
	int64_t first = 0, last = 0, first_len = 0;
	int fd = open_receiver(o);

	if (fd < 0)
		return 2;
	int64_t deadline = now_ns(CLOCK_MONOTONIC) + (int64_t)(o->seconds * 1e9);
	int64_t last_mono = 0;
	while (received < o->count) {
		int64_t now = now_ns(CLOCK_MONOTONIC);
		int64_t until = deadline;

		if (o->idle && received && last_mono + o->idle_ns < until)
			until = last_mono + o->idle_ns;
		if (now >= until)
			break;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int ms = (int)((until - now + 999999) / 1000000);
		int n = poll(&pfd, 1, ms);
		if (n < 0 && errno != EINTR) {
			perror("udpseq: poll");
			break;
		}
		if (n <= 0)
			continue;
		for (;;) {
			union {
				struct cmsghdr align;
				char buf[CMSG_SPACE(sizeof(int)) * 2];
			} cbuf;
			struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
			struct msghdr msg = {.msg_iov = &iov,
			                     .msg_iovlen = 1,
			                     .msg_control = cbuf.buf,
			                     .msg_controllen = sizeof(cbuf.buf)};
			ssize_t len = recvmsg(fd, &msg, MSG_DONTWAIT);
			if (len < 0)
				break;
			ce += msg_ecn(&msg) == 3;
			int64_t t = now_ns(CLOCK_REALTIME);
			last_mono = now_ns(CLOCK_MONOTONIC);
			if (!received) {
				first = t;
				first_len = len;
			}
			last = t;
			received++;
			bytes += (uint64_t)len;
			if (len < UDPSEQ_HDR) {
				shorts++;
			} else {
				uint32_t f = get_u32(buf), s = get_u32(buf + 4);
				if (f >= UDPSEQ_MAX_FLOWS) {
					badflow++;
				} else {
					if (!flows[f].seen)
						nflows++;
					int r = flow_note(&flows[f], s);
					dups += r == 1;
					ooo += r == 2;
				}
			}
			if (received >= o->count)
				break;
		}
	}
	/* Rate over the interval between the first and the last datagram. */
	double rate =
	    last > first ? (double)(bytes - (uint64_t)first_len) * 8e9 / (double)(last - first) : 0;
	printf("{\"received\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"out_of_order\":%" PRIu64
	       ",\"duplicates\":%" PRIu64 ",\"flows\":%u,\"short\":%" PRIu64
	       ",\"bad_flow\":%" PRIu64 ",\"first_ns\":%" PRId64 ",\"last_ns\":%" PRId64
	       ",\"rate_bps\":%.0f,\"ce\":%" PRIu64 "}\n",
	       received, bytes, ooo, dups, nflows, shorts, badflow, first, last, rate, ce);
	fflush(stdout);
	for (unsigned i = 0; i < UDPSEQ_MAX_FLOWS; i++)
		free(flows[i].bits);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;

	if (argc < 2)
		usage();
	const char *mode = argv[1];
	parse_opts(argc - 1, argv + 1, &o);
	if (!strcmp(mode, "send"))
		return do_send(&o);
	if (!strcmp(mode, "recv"))
		return do_recv(&o);
	usage();
	return 2;
}

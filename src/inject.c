/* AF_PACKET injection of copies into imqN, through its root qdisc. */
#include "inject.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* Linux 6.2; headers older than the kernel lack it */
#endif
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "log.h"

struct inject_slot {
	struct virtio_net_hdr vnet;
	struct iovec iov[3];
	union {
		char buf[2 * CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} ctl;
};

struct inject {
	int fd;
	struct sockaddr_ll addr[2]; /* IPv4, IPv6 */
	size_t batch;
	struct mmsghdr *msgs;
	struct inject_slot *slots;
	int sndbuf; /* the send buffer asked for */
	/* Sends of a batch in one system call, each with its own result; off: sendmmsg. */
	struct io_uring ring;
	bool ring_on;
	bool ring_broken; /* a wait failed: off from the next batch on */
};

static const uint8_t inject_zeros[INJECT_MAX_PAD];

void
inject_raise_sndbuf(struct inject *inj, int sndbuf)
{
	/* Never lower: the copies already in the qdisc stay charged to it. */
	if (sndbuf <= inj->sndbuf)
		return;
	inj->sndbuf = sndbuf;
	/* Every copy in the qdisc is charged to this buffer: size it for the whole backlog. */
	if (setsockopt(inj->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0 &&
	    setsockopt(inj->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		log_warn("packet socket: send buffer of %d bytes", sndbuf);
}

struct inject *
inject_open(int ifindex, int sndbuf, size_t batch)
{
	struct inject *inj = calloc(1, sizeof(*inj));

	if (inj == NULL)
		return NULL;
	inj->batch = batch;
	inj->msgs = calloc(batch, sizeof(*inj->msgs));
	inj->slots = calloc(batch, sizeof(*inj->slots));
	if (inj->msgs == NULL || inj->slots == NULL)
		goto free_inj;
	/*
	 * Protocol 0: the socket sends only and is never handed a received packet.
	 * Raw, as a virtio-net header needs, is the same as datagram on a TUN
	 * device: it has no link-layer header.
	 */
	inj->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (inj->fd < 0)
		goto free_inj;
	int one = 1;
	if (setsockopt(inj->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		goto free_inj;
	inject_raise_sndbuf(inj, sndbuf);
	for (int i = 0; i < 2; i++) {
		inj->addr[i].sll_family = AF_PACKET;
		inj->addr[i].sll_protocol = htons(i == 0 ? ETH_P_IP : ETH_P_IPV6);
	}
	inject_set_ifindex(inj, ifindex);
	inj->ring_on = io_uring_queue_init((unsigned)batch, &inj->ring, 0) == 0;
	return inj;
free_inj:
	inject_close(inj);
	return NULL;
}

void
inject_close(struct inject *inj)
{
	if (inj == NULL)
		return;
	if (inj->ring_on)
		io_uring_queue_exit(&inj->ring);
	if (inj->fd > 0)
		close(inj->fd);
	free(inj->msgs);
	free(inj->slots);
	free(inj);
}

void
inject_set_ifindex(struct inject *inj, int ifindex)
{
	inj->addr[0].sll_ifindex = ifindex;
	inj->addr[1].sll_ifindex = ifindex;
}

uint64_t
inject_cookie(const struct inject *inj)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(inj->fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) < 0)
		return 0;
	return cookie;
}

static void
inject_cmsg(struct msghdr *m, struct inject_slot *s, int type, uint32_t value)
{
	struct cmsghdr *c = (struct cmsghdr *)(s->ctl.buf + m->msg_controllen);

	m->msg_control = s->ctl.buf;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	memcpy(CMSG_DATA(c), &value, sizeof(uint32_t));
	m->msg_controllen += CMSG_SPACE(sizeof(uint32_t));
}

static void
inject_prepare(struct inject *inj, const struct inject_pkt *p, size_t i)
{
	struct msghdr *m = &inj->msgs[i].msg_hdr;
	struct inject_slot *s = &inj->slots[i];

	memset(&s->vnet, 0, sizeof(s->vnet));
	if (p->gso_size != 0) {
		/* As a TSO/USO-capable sender hands the stack a packet: checksum left to do. */
		s->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		if (p->udp)
			s->vnet.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		else
			s->vnet.gso_type = p->proto == ETH_P_IPV6 ? VIRTIO_NET_HDR_GSO_TCPV6
			                                          : VIRTIO_NET_HDR_GSO_TCPV4;
		s->vnet.hdr_len = p->hdrlen;
		s->vnet.gso_size = p->gso_size;
		s->vnet.csum_start = p->l4off;
		/* offsetof(struct udphdr, check), offsetof(struct tcphdr, check) */
		s->vnet.csum_offset = p->udp ? 6 : 16;
	}
	s->iov[0].iov_base = &s->vnet;
	s->iov[0].iov_len = sizeof(s->vnet);
	s->iov[1].iov_base = (void *)p->data;
	s->iov[1].iov_len = p->caplen;
	s->iov[2].iov_base = (void *)inject_zeros;
	s->iov[2].iov_len = p->pad;
	m->msg_name = &inj->addr[p->proto == ETH_P_IPV6];
	m->msg_namelen = sizeof(inj->addr[0]);
	m->msg_iov = s->iov;
	m->msg_iovlen = p->pad > 0 ? 3 : 2;
	m->msg_control = NULL;
	m->msg_controllen = 0;
	/* The netfilter mark and priority ride along so tc on imqN can classify by them. */
	if (p->mark != 0)
		inject_cmsg(m, s, SO_MARK, p->mark);
	if (p->priority != 0)
		inject_cmsg(m, s, SO_PRIORITY, p->priority);
}

/* An error of the device or the socket, which every copy meets alike. */
static bool
inject_errno_shared(int err)
{
	return err == ENXIO || err == ENETDOWN || err == ENODEV || err == EAGAIN ||
	       err == EWOULDBLOCK;
}

/*
 * Send the N prepared copies through io_uring: one system call, and each
 * copy gets its own result, where sendmmsg stops at the first copy the qdisc
 * refuses (a full qdisc under a flood then costs a system call per copy).
 * The sends run in order inside the call: MSG_DONTWAIT makes a full send
 * buffer an error (EAGAIN) instead of a wait. 0, or a negative errno when
 * io_uring cannot send: nothing was sent then.
 */
static int
inject_send_uring(struct inject *inj, struct inject_pkt *pkts, size_t n)
{
	struct io_uring_cqe *cqe;
	size_t seen = 0, refused = 0;
	int r;

	for (size_t k = 0; k < n; k++) {
		/* The submission queue is empty here: a batch goes in whole. */
		struct io_uring_sqe *sqe = io_uring_get_sqe(&inj->ring);
		if (sqe == NULL)
			return -EBUSY;
		io_uring_prep_sendmsg(sqe, inj->fd, &inj->msgs[k].msg_hdr, MSG_DONTWAIT);
		io_uring_sqe_set_data64(sqe, k);
	}
	do
		r = io_uring_submit(&inj->ring);
	while (r == -EINTR);
	if (r < 0)
		return r;
	for (size_t k = 0; k < n; k++)
		pkts[k].err = k < (size_t)r ? EINPROGRESS : EIO; /* EIO: not submitted */
	/* Every submitted send is waited for: a completion left over would name a later copy. */
	while (seen < (size_t)r) {
		int w = io_uring_wait_cqe(&inj->ring, &cqe);
		if (w == -EINTR)
			continue;
		if (w < 0) {
			/* Broken: the sends not heard of count as failed; the next batch uses
			 * sendmmsg. */
			for (size_t k = 0; k < n; k++)
				if (pkts[k].err == EINPROGRESS)
					pkts[k].err = EIO;
			inj->ring_broken = true;
			return 0;
		}
		uint64_t k = io_uring_cqe_get_data64(cqe);
		if (k < n) {
			pkts[k].err = cqe->res < 0 ? -cqe->res : 0;
			refused += cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP;
		}
		io_uring_cqe_seen(&inj->ring, cqe);
		seen++;
	}
	/* A kernel without IORING_OP_SENDMSG refuses every send alike: none went out. */
	if (refused == n)
		return -pkts[0].err;
	return 0;
}

/* Send the N prepared copies with sendmmsg, which stops at the first failure. */
static void
inject_send_mmsg(struct inject *inj, struct inject_pkt *pkts, size_t n)
{
	size_t i = 0;

	/*
	 * sendmmsg stops at the first failure. When it failed first, its errno
	 * is that copy's. When some went before it, the kernel reports only
	 * those and drops the error: sending the copy again would queue it a
	 * second time in a qdisc that just refused it (and count it twice in
	 * tc's drops). Nearly always that refusal is the qdisc's (ENOBUFS; the
	 * send buffer is sized for the whole backlog), so it is taken as that,
	 * unless the next copy then fails at once for a reason that is the
	 * device's or the socket's, not one copy's: that one stopped it too.
	 */
	size_t guessed = n;
	while (i < n) {
		int r = sendmmsg(inj->fd, &inj->msgs[i], (unsigned)(n - i), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (guessed + 1 == i && inject_errno_shared(errno))
				pkts[guessed].err = errno;
			pkts[i++].err = errno;
		} else {
			i += (size_t)r;
			if (i < n) {
				guessed = i;
				pkts[i++].err = r == 0 ? EIO : ENOBUFS;
			}
		}
	}
}

void
inject_send(struct inject *inj, struct inject_pkt *pkts, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		inject_prepare(inj, &pkts[k], k);
		pkts[k].err = 0;
	}
	if (inj->ring_on) {
		int r = inject_send_uring(inj, pkts, n);
		if (r == 0 && !inj->ring_broken)
			return;
		inj->ring_on = false;
		io_uring_queue_exit(&inj->ring);
		log_notice(
		    "packet socket: io_uring sends failed (%s): sending copies with sendmmsg",
		    strerror(r < 0 ? -r : EIO));
		if (r == 0)
			return; /* this batch's results are in */
		for (size_t k = 0; k < n; k++)
			pkts[k].err = 0;
	}
	inject_send_mmsg(inj, pkts, n);
}

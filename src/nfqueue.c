/* NFQUEUE netlink socket: bind queues, receive packets in batches, batch verdicts. */
#include "nfqueue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "log.h"
#include "vseq.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NFQUEUE_VBUF_SIZE (64 * 1024)
#define NFQUEUE_VMSG_MAX 64 /* bytes of one verdict message, with mark */
#define NFQUEUE_BIND_TIMEOUT_MS 2000
#define NFQUEUE_STUCK_MAX (64u << 20) /* verdicts kept after failed sends, at most */
/* Each receive buffer starts aligned for the netlink headers in it. */
#define NFQUEUE_ALIGN(n) (((n) + 7) & ~(size_t)7)

/* A bound queue and the sequence of its verdicts (src/vseq.c). */
struct nfqueue_seq {
	uint16_t queue;
	struct vseq *seq;
};

struct nfqueue {
	struct mnl_socket *nl;
	int fd;
	uint32_t portid;
	uint32_t seq;
	struct nfqueue_ops ops;
	size_t batch;
	size_t msgsize;
	uint8_t *rbuf; /* batch * msgsize receive buffers */
	struct mmsghdr *msgs;
	struct iovec *iovs;
	struct nfqueue_packet *pkts;
	size_t npkts;
	uint8_t *vbuf; /* verdicts waiting to be sent */
	size_t vlen;
	size_t vn;              /* verdicts in vbuf */
	bool nobatch;           /* verdicts wait in stuck: no batch may cover their packets */
	struct nfqueue_seq *qs; /* each bound queue's verdict sequence */
	size_t nqs;
	uint8_t *stuck; /* verdict messages a send failed to deliver, oldest first */
	size_t stuck_len;
	size_t stuck_cap;
	uint64_t batched;         /* verdicts sent inside NFQNL_MSG_VERDICT_BATCH messages */
	struct log_limit lim_bad; /* packet messages that name no packet */
	uint32_t wait_seq;        /* config request nfqueue_bind waits for */
	int wait_err;             /* its answer (errno, 0 for success), -1 while none yet */
};

int
nfqueue_set_rcvbuf(struct nfqueue *nfq, int rcvbuf)
{
	if (setsockopt(nfq->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(nfq->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		return -1;
	return 0;
}

static void
nfqueue_setsockopts(struct nfqueue *nfq, int rcvbuf)
{
	int one = 1;

	/* Without this an overrun latches the socket congested until it is drained. */
	if (setsockopt(nfq->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)) < 0)
		log_warn("nfqueue: NETLINK_NO_ENOBUFS");
	if (nfqueue_set_rcvbuf(nfq, rcvbuf) < 0)
		log_warn("nfqueue: receive buffer of %d bytes", rcvbuf);
}

static void
nfqueue_set_iovs(struct nfqueue *nfq)
{
	for (size_t i = 0; i < nfq->batch; i++) {
		nfq->iovs[i].iov_base = nfq->rbuf + i * nfq->msgsize;
		nfq->iovs[i].iov_len = nfq->msgsize;
		nfq->msgs[i].msg_hdr.msg_iov = &nfq->iovs[i];
		nfq->msgs[i].msg_hdr.msg_iovlen = 1;
	}
}

static int
nfqueue_alloc(struct nfqueue *nfq)
{
	nfq->rbuf = malloc(nfq->batch * nfq->msgsize);
	nfq->msgs = calloc(nfq->batch, sizeof(*nfq->msgs));
	nfq->iovs = calloc(nfq->batch, sizeof(*nfq->iovs));
	nfq->pkts = calloc(nfq->batch, sizeof(*nfq->pkts));
	nfq->vbuf = malloc(NFQUEUE_VBUF_SIZE);
	if (!nfq->rbuf || !nfq->msgs || !nfq->iovs || !nfq->pkts || !nfq->vbuf)
		return -1;
	nfqueue_set_iovs(nfq);
	return 0;
}

int
nfqueue_set_msgsize(struct nfqueue *nfq, size_t msgsize, int rcvbuf)
{
	msgsize = NFQUEUE_ALIGN(msgsize);
	if (msgsize > nfq->msgsize) {
		uint8_t *rbuf = malloc(nfq->batch * msgsize);
		if (rbuf == NULL)
			return -1;
		free(nfq->rbuf);
		nfq->rbuf = rbuf;
		nfq->msgsize = msgsize;
		nfqueue_set_iovs(nfq);
	}
	return nfqueue_set_rcvbuf(nfq, rcvbuf);
}

struct nfqueue *
nfqueue_open(size_t batch, size_t msgsize, int rcvbuf, const struct nfqueue_ops *ops)
{
	struct nfqueue *nfq = calloc(1, sizeof(*nfq));

	if (nfq == NULL)
		return NULL;
	nfq->ops = *ops;
	nfq->batch = batch;
	nfq->msgsize = NFQUEUE_ALIGN(msgsize);
	nfq->seq = (uint32_t)time(NULL);
	nfq->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (nfq->nl == NULL)
		goto free_nfq;
	if (mnl_socket_bind(nfq->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto close_sock;
	nfq->fd = mnl_socket_get_fd(nfq->nl);
	nfq->portid = mnl_socket_get_portid(nfq->nl);
	nfqueue_setsockopts(nfq, rcvbuf);
	if (nfqueue_alloc(nfq) < 0)
		goto close_sock;
	return nfq;
close_sock:
	mnl_socket_close(nfq->nl);
	nfq->nl = NULL;
free_nfq:
	nfqueue_close(nfq);
	return NULL;
}

void
nfqueue_close(struct nfqueue *nfq)
{
	if (nfq == NULL)
		return;
	if (nfq->nl != NULL)
		mnl_socket_close(nfq->nl);
	free(nfq->rbuf);
	free(nfq->msgs);
	free(nfq->iovs);
	free(nfq->pkts);
	free(nfq->vbuf);
	free(nfq->stuck);
	for (size_t i = 0; i < nfq->nqs; i++)
		vseq_free(nfq->qs[i].seq);
	free(nfq->qs);
	free(nfq);
}

int
nfqueue_fd(const struct nfqueue *nfq)
{
	return nfq->fd;
}

static struct nlmsghdr *
nfqueue_config_msg(struct nfqueue *nfq, char *buf, uint16_t queue, uint8_t cmd,
                   const struct nfqueue_params *params)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);

	nlh->nlmsg_seq = ++nfq->seq;
	if (cmd != NFQNL_CFG_CMD_NONE)
		nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, cmd);
	if (params != NULL) {
		uint32_t flags = (params->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0) |
		                 (params->gso ? NFQA_CFG_F_GSO : 0);
		uint32_t mask = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;

		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)params->copy_range);
		nfq_nlmsg_cfg_put_qmaxlen(nlh, params->maxlen);
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
	}
	return nlh;
}

static int
nfqueue_send(struct nfqueue *nfq, const struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(nfq->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	return 0;
}

static struct vseq *
nfqueue_seq(const struct nfqueue *nfq, uint16_t queue)
{
	for (size_t i = 0; i < nfq->nqs; i++)
		if (nfq->qs[i].queue == queue)
			return nfq->qs[i].seq;
	return NULL;
}

/*
 * QUEUE was bound: its packet ids start over. Without memory for its
 * sequence, its verdicts go one message each.
 */
static void
nfqueue_seq_start(struct nfqueue *nfq, uint16_t queue)
{
	struct vseq *seq = nfqueue_seq(nfq, queue);

	if (seq != NULL) {
		vseq_reset(seq);
		return;
	}
	struct nfqueue_seq *qs = realloc(nfq->qs, (nfq->nqs + 1) * sizeof(*qs));
	if (qs == NULL)
		return;
	nfq->qs = qs;
	if ((seq = vseq_new(NFQUEUE_HOLD_DROPS)) != NULL)
		nfq->qs[nfq->nqs++] = (struct nfqueue_seq){queue, seq};
}

int
nfqueue_bind(struct nfqueue *nfq, uint16_t queue, const struct nfqueue_params *params)
{
	char buf[8192] = {0};
	struct nlmsghdr *nlh = nfqueue_config_msg(nfq, buf, queue, NFQNL_CFG_CMD_BIND, params);
	struct timespec start, now;

	nfqueue_flush(nfq);
	/* Packets of the new binding can come before its answer: their ids start over now. */
	nfqueue_seq_start(nfq, queue);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nfq->wait_seq = nlh->nlmsg_seq;
	nfq->wait_err = -1;
	if (nfqueue_send(nfq, nlh) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Packets can arrive before the answer; nfqueue_recv hands them on as usual. */
	while (nfq->wait_err == -1) {
		struct pollfd pfd = {.fd = nfq->fd, .events = POLLIN};
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= NFQUEUE_BIND_TIMEOUT_MS) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, (int)(NFQUEUE_BIND_TIMEOUT_MS - ms)) < 0 && errno != EINTR)
			return -1;
		if (nfqueue_recv(nfq) < 0 && errno != EAGAIN)
			return -1;
	}
	nfq->wait_seq = 0;
	if (nfq->wait_err != 0) {
		errno = nfq->wait_err;
		return -1;
	}
	return 0;
}

int
nfqueue_set_params(struct nfqueue *nfq, uint16_t queue, const struct nfqueue_params *params)
{
	char buf[8192] = {0};

	return nfqueue_send(nfq, nfqueue_config_msg(nfq, buf, queue, NFQNL_CFG_CMD_NONE, params));
}

int
nfqueue_fd_failopen(int fd, uint16_t queue, bool on, uint32_t seq)
{
	union {
		char buf[128];
		struct nlmsghdr align;
	} m = {{0}};
	struct nlmsghdr *nlh = nfq_nlmsg_put(m.buf, NFQNL_MSG_CONFIG, queue);
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	nlh->nlmsg_seq = seq;
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(on ? NFQA_CFG_F_FAIL_OPEN : 0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -1;
	return 0;
}

/* NFQ's socket's memory figures into MEM, up to index LAST at least; 0 or -1. */
static int
nfqueue_meminfo(const struct nfqueue *nfq, uint32_t mem[SK_MEMINFO_VARS], unsigned last)
{
	socklen_t len = SK_MEMINFO_VARS * sizeof(mem[0]);

	if (getsockopt(nfq->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
	    len <= last * sizeof(mem[0]))
		return -1;
	return 0;
}

int
nfqueue_backlog(const struct nfqueue *nfq, uint32_t *used, uint32_t *size)
{
	uint32_t mem[SK_MEMINFO_VARS];

	if (nfqueue_meminfo(nfq, mem, SK_MEMINFO_RCVBUF) < 0)
		return -1;
	*used = mem[SK_MEMINFO_RMEM_ALLOC];
	*size = mem[SK_MEMINFO_RCVBUF];
	return 0;
}

int
nfqueue_drops(const struct nfqueue *nfq, uint32_t *drops)
{
	uint32_t mem[SK_MEMINFO_VARS];

	if (nfqueue_meminfo(nfq, mem, SK_MEMINFO_DROPS) < 0)
		return -1;
	*drops = mem[SK_MEMINFO_DROPS];
	return 0;
}

int
nfqueue_last_id(uint16_t queue, uint32_t *id)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	unsigned num, portid, total, mode, range, dropped, user_dropped, seq;
	int ret = -1;

	if (f == NULL)
		return -1;
	while (fscanf(f, "%u %u %u %u %u %u %u %u %*d", &num, &portid, &total, &mode, &range,
	              &dropped, &user_dropped, &seq) == 8)
		if (num == queue) {
			*id = seq;
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

int
nfqueue_set_failopen(struct nfqueue *nfq, uint16_t queue, bool on)
{
	return nfqueue_fd_failopen(nfq->fd, queue, on, ++nfq->seq);
}

int
nfqueue_unbind(struct nfqueue *nfq, uint16_t queue)
{
	char buf[8192] = {0};

	/* The queue's verdicts first, the drops held back too, and no batch spans two bindings. */
	nfqueue_flush_all(nfq);
	struct vseq *seq = nfqueue_seq(nfq, queue);
	if (seq != NULL)
		vseq_reset(seq);

	return nfqueue_send(nfq, nfqueue_config_msg(nfq, buf, queue, NFQNL_CFG_CMD_UNBIND, NULL));
}

static void
nfqueue_dispatch(struct nfqueue *nfq)
{
	if (nfq->npkts > 0)
		nfq->ops.packets(nfq->ops.arg, nfq->pkts, nfq->npkts);
	nfq->npkts = 0;
}

static void
nfqueue_error_msg(struct nfqueue *nfq, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return;
	if (nfq->wait_seq != 0 && e->msg.nlmsg_seq == nfq->wait_seq) {
		nfq->wait_err = -e->error;
		return;
	}
	if (e->error != 0)
		nfq->ops.error(nfq->ops.arg, e->msg.nlmsg_seq, -e->error);
}

/* The library's attribute table stops before NFQA_PRIORITY; the kernel's does not. */
#define NFQUEUE_A_PRIORITY 21
#define NFQUEUE_A_MAX NFQUEUE_A_PRIORITY

static int
nfqueue_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	switch (type) {
	case NFQA_PACKET_HDR:
		if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC, sizeof(struct nfqnl_msg_packet_hdr)) <
		    0)
			return MNL_CB_OK;
		break;
	case NFQA_MARK:
	case NFQA_IFINDEX_INDEV:
	case NFQA_IFINDEX_OUTDEV:
	case NFQA_CAP_LEN:
	case NFQA_SKB_INFO:
	case NFQUEUE_A_PRIORITY:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case NFQA_PAYLOAD:
		break;
	default:
		return MNL_CB_OK;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

/* A packet message; TRUNCATED: cut short, its payload CUTLEN bytes long. */
static void
nfqueue_packet_msg(struct nfqueue *nfq, const struct nlmsghdr *nlh, bool truncated, uint32_t cutlen)
{
	const struct nlattr *attr[NFQUEUE_A_MAX + 1] = {0};
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return;
	mnl_attr_parse(nlh, sizeof(*nfg), nfqueue_attr_cb, attr);
	if (attr[NFQA_PACKET_HDR] == NULL) {
		/*
		 * No packet id: the packet can get no verdict of its own. A kernel
		 * always sends the header first; should one not, the packet stays
		 * queued until a batch verdict for its queue accepts it (fail-open)
		 * or the queue is unbound (dropped). Said, never silently.
		 */
		log_limited(&nfq->lim_bad, LOG_ERR,
		            "nfqueue: queue %u: a packet message without a packet header; its "
		            "packet waits for a later batch verdict",
		            ntohs(nfg->res_id));
		return;
	}
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	struct nfqueue_packet *p = &nfq->pkts[nfq->npkts];

	memset(p, 0, sizeof(*p));
	p->queue = ntohs(nfg->res_id);
	p->id = ntohl(ph->packet_id);
	struct vseq *seq = nfqueue_seq(nfq, p->queue);
	if (seq != NULL)
		vseq_received(seq, p->id); /* one it cannot track gets its verdict alone */
	p->proto = ntohs(ph->hw_protocol);
	if (attr[NFQA_MARK])
		p->mark = ntohl(mnl_attr_get_u32(attr[NFQA_MARK]));
	if (attr[NFQA_IFINDEX_INDEV])
		p->indev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_IFINDEX_OUTDEV])
		p->outdev = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
	if (attr[NFQUEUE_A_PRIORITY])
		p->priority = ntohl(mnl_attr_get_u32(attr[NFQUEUE_A_PRIORITY]));
	if (attr[NFQA_SKB_INFO])
		p->skbinfo = ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO]));
	if (attr[NFQA_PAYLOAD] && !truncated) {
		p->data = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		p->caplen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	p->truncated = truncated;
	p->len = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
	         : truncated        ? cutlen
	                            : p->caplen;
	if (++nfq->npkts == nfq->batch)
		nfqueue_dispatch(nfq);
}

static void
nfqueue_parse(struct nfqueue *nfq, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type == NLMSG_ERROR)
			nfqueue_error_msg(nfq, nlh);
		else if (nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
			nfqueue_packet_msg(nfq, nlh, false, 0);
	}
}

/*
 * A message longer than the receive buffer (the kernel's copy range grew
 * before the buffers did): its packet header, which comes first, still names
 * the packet, so it gets a verdict; the payload is cut and not used.
 */
static void
nfqueue_parse_truncated(struct nfqueue *nfq, void *buf, size_t len)
{
	struct nlmsghdr *nlh = buf;
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
	uint32_t cutlen = 0;

	if (len < NLMSG_HDRLEN || nlh->nlmsg_len <= len ||
	    nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
		return;
	/* The payload's length, from its attribute's header if that came (it is the last). */
	while (off + sizeof(struct nlattr) <= len) {
		const struct nlattr *a = (const struct nlattr *)((const char *)buf + off);
		if (a->nla_len < sizeof(*a))
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NFQA_PAYLOAD) {
			cutlen = a->nla_len - (uint32_t)sizeof(*a);
			break;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	nlh->nlmsg_len = (uint32_t)len; /* the attributes that fit; the cut one fails validation */
	nfqueue_packet_msg(nfq, nlh, true, cutlen);
}

int
nfqueue_recv(struct nfqueue *nfq)
{
	int n = recvmmsg(nfq->fd, nfq->msgs, (unsigned)nfq->batch, MSG_DONTWAIT, NULL);

	if (n < 0) {
		if (errno == ENOBUFS) {
			nfq->ops.overrun(nfq->ops.arg);
			return 0;
		}
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (nfq->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			nfqueue_parse_truncated(nfq, nfq->iovs[i].iov_base, nfq->msgs[i].msg_len);
		else
			nfqueue_parse(nfq, nfq->iovs[i].iov_base, nfq->msgs[i].msg_len);
	}
	nfqueue_dispatch(nfq);
	return n;
}

static int nfqueue_send_buf(struct nfqueue *nfq);

/* Put one verdict message in the buffer (a batch: every packet up to ID), sending it when full. */
static void
nfqueue_put(struct nfqueue *nfq, uint16_t queue, uint32_t id, uint32_t verdict, bool set_mark,
            uint32_t mark, bool batch)
{
	if (nfq->vlen + NFQUEUE_VMSG_MAX > NFQUEUE_VBUF_SIZE)
		nfqueue_send_buf(nfq);
	struct nlmsghdr *nlh =
	    nfq_nlmsg_put((char *)nfq->vbuf + nfq->vlen,
	                  batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue);
	nlh->nlmsg_seq = ++nfq->seq;
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	if (set_mark)
		nfq_nlmsg_verdict_put_mark(nlh, mark);
	nfq->vlen += NLMSG_ALIGN(nlh->nlmsg_len);
	nfq->vn++;
}

void
nfqueue_verdict(struct nfqueue *nfq, uint16_t queue, uint32_t id, uint32_t verdict, bool set_mark,
                uint32_t mark)
{
	struct vseq *seq = nfqueue_seq(nfq, queue);
	bool plain = !set_mark && (verdict == NF_ACCEPT || verdict == NF_DROP);

	/* A plain verdict waits for its queue's sequence to send it, alone or in a batch. */
	if (seq != NULL && plain &&
	    vseq_decide(seq, id, verdict == NF_ACCEPT ? VSEQ_ACCEPT : VSEQ_DROP))
		return;
	nfqueue_put(nfq, queue, id, verdict, set_mark, mark, false);
	if (seq != NULL)
		vseq_sent(seq, id);
}

struct nfqueue_emit {
	struct nfqueue *nfq;
	uint16_t queue;
};

static void
nfqueue_emit_cb(void *arg, const struct vseq_out *o)
{
	struct nfqueue_emit *e = arg;

	nfqueue_put(e->nfq, e->queue, o->id, o->verdict == VSEQ_ACCEPT ? NF_ACCEPT : NF_DROP, false,
	            0, o->batch);
	if (o->batch)
		e->nfq->batched += o->count;
}

/*
 * The verdicts each queue's sequence can send now (with ALL, the drops it
 * holds back too), into the buffer. Not as batches while verdicts a send
 * failed to deliver wait to be sent again: their packets (drops among
 * them) are still in the kernel's queue, and a batch would accept them.
 */
static void
nfqueue_emit(struct nfqueue *nfq, bool all)
{
	for (size_t i = 0; i < nfq->nqs; i++) {
		struct nfqueue_emit e = {nfq, nfq->qs[i].queue};
		vseq_emit(nfq->qs[i].seq, all, !nfq->nobatch, nfqueue_emit_cb, &e);
	}
}

/* Send LEN bytes of whole verdict messages at BUF; retries a short while. 0 or -1. */
static int
nfqueue_send_verdicts(struct nfqueue *nfq, const uint8_t *buf, size_t len)
{
	for (int tries = 0; tries < 100; tries++) {
		if (mnl_socket_sendto(nfq->nl, buf, len) >= 0)
			return 0;
		if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR && errno != ENOMEM)
			return -1;
		if (tries > 0)
			usleep(100);
	}
	return -1;
}

/* Keep the verdicts in vbuf for a later flush, after those already kept. */
static void
nfqueue_keep(struct nfqueue *nfq)
{
	if (nfq->stuck_len + nfq->vlen > nfq->stuck_cap) {
		size_t cap = nfq->stuck_cap ? nfq->stuck_cap * 2 : NFQUEUE_VBUF_SIZE;
		while (cap < nfq->stuck_len + nfq->vlen)
			cap *= 2;
		uint8_t *b = cap <= NFQUEUE_STUCK_MAX ? realloc(nfq->stuck, cap) : NULL;
		if (b == NULL) {
			/* Their packets stay queued in the kernel until the queue is unbound. */
			log_err("nfqueue: %zu bytes of verdicts lost: no memory to keep them",
			        nfq->vlen);
			nfq->vlen = 0;
			return;
		}
		nfq->stuck = b;
		nfq->stuck_cap = cap;
	}
	memcpy(nfq->stuck + nfq->stuck_len, nfq->vbuf, nfq->vlen);
	nfq->stuck_len += nfq->vlen;
	nfq->vlen = 0;
}

/*
 * Send the verdicts kept after failed sends, a buffer's worth of whole
 * messages at a time, oldest first; 0 once none is left, else -1.
 */
static int
nfqueue_send_stuck(struct nfqueue *nfq)
{
	size_t off = 0;

	while (off < nfq->stuck_len) {
		const struct nlmsghdr *nlh = (const void *)(nfq->stuck + off);
		size_t len = 0;
		while (off + len < nfq->stuck_len &&
		       len + NLMSG_ALIGN(nlh->nlmsg_len) <= NFQUEUE_VBUF_SIZE) {
			len += NLMSG_ALIGN(nlh->nlmsg_len);
			nlh = (const void *)(nfq->stuck + off + len);
		}
		if (nfqueue_send_verdicts(nfq, nfq->stuck + off, len) < 0)
			break;
		off += len;
	}
	memmove(nfq->stuck, nfq->stuck + off, nfq->stuck_len - off);
	nfq->stuck_len -= off;
	if (nfq->stuck_len > 0)
		return -1;
	if (nfq->nobatch)
		log_notice("nfqueue: the verdicts kept after failed sends are delivered");
	nfq->nobatch = false;
	return 0;
}

/* Send the buffer: the verdicts kept after failed sends first. 0 or -1 (kept for later). */
static int
nfqueue_send_buf(struct nfqueue *nfq)
{
	if (nfq->stuck_len > 0 && nfqueue_send_stuck(nfq) < 0) {
		/* Newer verdicts wait behind them: packets leave in the order decided. */
		nfq->vn = 0;
		nfqueue_keep(nfq);
		return -1;
	}
	if (nfq->vlen == 0)
		return 0;
	nfq->vn = 0;
	if (nfqueue_send_verdicts(nfq, nfq->vbuf, nfq->vlen) == 0) {
		nfq->vlen = 0;
		return 0;
	}
	/*
	 * Verdicts that never reach the kernel strand packets in its queue:
	 * keep them and send them with the next flush (the device's timer
	 * flushes every tick). Until then no batch verdict may cover their
	 * packets, drops among them.
	 */
	log_warn("nfqueue: sending %zu bytes of verdicts; keeping them to send again", nfq->vlen);
	nfq->nobatch = true;
	nfqueue_keep(nfq);
	return -1;
}

int
nfqueue_flush(struct nfqueue *nfq)
{
	nfqueue_emit(nfq, false);
	return nfqueue_send_buf(nfq);
}

int
nfqueue_flush_all(struct nfqueue *nfq)
{
	nfqueue_emit(nfq, true);
	return nfqueue_send_buf(nfq);
}

uint64_t
nfqueue_batched(const struct nfqueue *nfq)
{
	return nfq->batched;
}

/* Private to the device_*.c files: struct device and what they share. */
#ifndef IMQD_DEVICE_INT_H
#define IMQD_DEVICE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <liburing.h>

#include "conf.h"
#include "device.h"
#include "flow.h"
#include "inject.h"
#include "log.h"
#include "nfqueue.h"
#include "pending.h"
#include "stats.h"
#include "tundev.h"

#define DEVICE_BATCH 64       /* packets per receive pass */
#define DEVICE_READ_MAX 1024  /* copies read back per wakeup */
#define DEVICE_HOLD_RING 4096 /* recent hold times kept for percentiles */
#define DEVICE_LATE_MIN 4096  /* least slots for copies given up on (late, not stray) */
#define DEVICE_LATE_WAYS 8    /* entries per bucket of that table */
#define DEVICE_LOG_NS (10ULL * 1000000000ULL)  /* drop-timeout lines: at most one per 10 s */
#define DEVICE_LATE_CONN 0x9e3779b97f4a7c15ULL /* marks a connection's key in it */
#define DEVICE_MS 1000000ULL                   /* a millisecond, in nanoseconds */
#define DEVICE_HEALTH_MS 1000
#define DEVICE_MSG_OVERHEAD 512   /* netlink headers and attributes around a payload */
#define DEVICE_GSO_MTU 65535      /* imqN's MTU, and the longest GSO copy, with gso on */
#define DEVICE_READ_BYTES 256     /* of each copy read back: enough to tell which it is */
#define DEVICE_MTU_CACHE 64       /* ifindex -> MTU, for the segments of GSO packets */
#define DEVICE_MIN_SEG 576        /* smallest interface MTU taken for segments */
#define DEVICE_UDP_MAX_SEGS 128   /* segments of a UDP GSO copy, at most (UDP_MAX_SEGMENTS) */
#define DEVICE_GSO_COPY_BYTES 128 /* copy-bytes that hold the headers of any GSO packet */
#define DEVICE_URING_READS 64     /* reads of copies per io_uring submission, at most */
#define DEVICE_URING_FIRST 4      /* the first submission's when how many is not known */

struct device_queue {
	uint16_t num;
	bool bound;     /* ours in the kernel: drain and unbind it when done */
	bool releasing; /* being given up: what still comes in passes, not shaped */
	bool seen;
	uint32_t next_id;
	struct stats_counters c;
};

struct device {
	struct event_base *base;
	struct conf_device cf;          /* scalars of the config; list pointers are not used */
	const struct conf_device *conf; /* the section itself, for its hooks */
	bool hooked;                    /* the up hook ran: run the down hook before removal */
	char name[CONF_IFNAMSIZ];
	int ifindex;
	int tunfd;
	bool up;
	bool stopping;
	struct event *tun_ev;
	struct event *nfq_ev;
	struct event *timer_ev;
	uint64_t next_health_ns;
	struct nfqueue *nfq;
	struct inject *inj;
	struct pending *held;
	struct pending *spare; /* the next reload's table for held, made by device_prepare */
	bool incomplete;       /* an update ran out of memory: the next reload applies it again */
	struct device_queue *queues; /* sorted by num */
	size_t nqueues;
	uint64_t peak_held;
	struct stats_counters gone; /* counters of the queues reloads took away */
	uint64_t stray;
	uint64_t unmatched;
	uint32_t hold_us[DEVICE_HOLD_RING];
	size_t hold_n;
	uint64_t *late; /* hashes of copies given up on: twice the capacity, a power of two */
	size_t nlate;
	struct inject_pkt ipkts[DEVICE_BATCH];
	int islot[DEVICE_BATCH];
	uint8_t rdbuf[TUNDEV_VNET_HDR + DEVICE_READ_BYTES];
	/* Reads of copies in batches, one system call each; without it, read(2) per copy. */
	struct io_uring uring;
	bool uring_on;
	uint8_t (*rdbufs)[TUNDEV_VNET_HDR + DEVICE_READ_BYTES]; /* DEVICE_URING_READS of them */
	struct stats_counters *snap; /* per-queue copies for device_snapshot */
	uint16_t *snap_queues;
	char qdisc[32];
	unsigned tunmtu; /* imqN's MTU: the longest copy */
	unsigned maxlen; /* the longest packet that can be shaped */
	struct {
		uint32_t ifindex;
		uint32_t mtu;
	} mtus[DEVICE_MTU_CACHE];
	struct log_limit lim_failopen, lim_order, lim_stray, lim_read, lim_verdict, lim_attach,
	    lim_mtu, lim_txqlen, lim_full, lim_ecn;
	uint64_t timeouts_ns;       /* when timeouts were last logged */
	uint64_t timeouts_unlogged; /* packets dropped by drop-timeout since */
	int64_t partial_excess; /* bytes passed beyond what the qdisc sent, by partial GSO copies */
	uint32_t udp_id;        /* next IP ID range for a UDP GSO copy */
	uint32_t udp_label;     /* next IPv6 flow label for one */
	size_t segmenting; /* held GSO copies with segments back (at least; see device_overdue) */
	size_t overtaken;  /* held packets a later one of their flow overtook (at least) */
	bool timer_fast;   /* the timer ticks every half reorder-window while some are */
};

/* device.c */
uint64_t device_now_ns(void);
struct device_queue *device_queue(struct device *dev, uint16_t num);
struct nfqueue_params device_params(const struct conf_device *cf);
int device_bind(struct device *dev, struct device_queue *q);
int device_set_queues(struct device *dev, const struct conf_device *cf);
size_t device_capacity(const struct conf_device *cf);
int device_nfq_sizes(const struct device *dev, size_t *msgsize);
void device_copy_conf(struct device *dev, const struct conf_device *cf);
int device_timer_start(struct device *dev);
void device_drain(struct device *dev, struct device_queue *q);
void device_recv_queued(struct device *dev);

/* device.c: the event callbacks the other files register */
void device_tun_cb(evutil_socket_t fd, short what, void *arg);

/* device_health.c */
void device_hook(struct device *dev, char **argv, const char *what);
void device_health(struct device *dev);
int device_sndbuf(const struct conf_device *cf, size_t capacity);
int device_attach(struct device *dev);
void device_detach(struct device *dev);

/* device_intake.c */
void device_packets_cb(void *arg, struct nfqueue_packet *pkts, size_t n);
uint32_t device_seg_mtu(struct device *dev, const struct nfqueue_packet *p);

/* device_plan.c */
uint32_t device_nsegs(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen);
uint64_t device_wire_len(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen,
                         uint32_t nsegs);
uint32_t device_gso_copy(struct device *dev, struct nfqueue_packet *p, const struct flow_info *fi,
                         uint32_t seghdr, uint32_t nsegs, struct pending_pkt *pp,
                         struct inject_pkt *ip);
uint32_t device_seg_hdrlen(struct device *dev, const struct nfqueue_packet *p, uint32_t caplen,
                           const struct flow_info *fi);
uint32_t device_split(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen,
                      uint32_t nsegs, uint32_t *len, uint32_t *extra);

/* device_decide.c */
void device_accept(struct device *dev, uint16_t queue, uint32_t id, uint32_t mark);
void device_failopen(struct device *dev, struct device_queue *q, uint32_t id, uint32_t mark,
                     uint32_t len, enum stats_failopen why);
void device_copy_back(struct device *dev, const uint8_t *copy, size_t n, uint64_t now);
void device_release_all(struct device *dev, enum stats_failopen why);
void device_expire(struct device *dev, uint64_t now);

/* device_late.c */
bool device_late_has(struct device *dev, uint64_t key);
int device_late_size(struct device *dev, size_t capacity);
void device_late_add(struct device *dev, const struct pending_pkt *pp);

/* device_read.c */
void device_readback(struct device *dev, int max);
void device_uring_open(struct device *dev);

#endif

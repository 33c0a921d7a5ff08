/*
 * Private to the device_*.c files: struct device and what they share.
 * A struct device is one shard of an imqN device: a set of its queues with
 * their own sockets, tables and timer, run by one event loop
 * (device_set.c makes a device of shards; include/device.h is its face).
 */
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

#define DEVICE_BATCH 64               /* packets per receive pass */
#define DEVICE_RECV_PASSES 2          /* receive passes per wakeup of a queue's socket */
#define DEVICE_FLOOD_MS 100           /* the kernel deciding packets this long: a standing flood */
#define DEVICE_CALM_MS 1000           /* and this long without: the flood is over */
#define DEVICE_DROP_RANGES 8          /* spans of ids a queue's kernel dropped, kept */
#define DEVICE_RCVBUF_CUT (512 << 10) /* a queue's receive buffer during a standing flood */
#define DEVICE_RCVBUF_MIN (1 << 20)   /* a queue's receive buffer otherwise, at least */
#define DEVICE_READ_MAX 1024          /* copies read back per wakeup */
#define DEVICE_HOLD_RING 4096         /* recent hold times kept for percentiles */
#define DEVICE_LATE_MIN 4096          /* least slots for copies given up on (late, not stray) */
#define DEVICE_LATE_WAYS 8            /* entries per bucket of that table */
#define DEVICE_LATE_MAX (1u << 24)    /* most slots of it */
#define DEVICE_LOG_NS (10ULL * 1000000000ULL)  /* drop-timeout lines: at most one per 10 s */
#define DEVICE_LATE_CONN 0x9e3779b97f4a7c15ULL /* marks a connection's key in it */
#define DEVICE_MS 1000000ULL                   /* a millisecond, in nanoseconds */
#define DEVICE_HEALTH_MS 1000
#define DEVICE_MSG_OVERHEAD 512     /* netlink headers and attributes around a payload */
#define DEVICE_MIN_TRUESIZE 512     /* receive-buffer bytes a packet message takes, at least */
#define DEVICE_GSO_MTU PLAN_GSO_MTU /* imqN's MTU with gso on */
#define DEVICE_READ_BYTES 256       /* of each copy read back: enough to tell which it is */
#define DEVICE_MTU_CACHE 64         /* ifindex -> MTU, for the segments of GSO packets */
#define DEVICE_GSO_COPY_BYTES 128   /* copy-bytes that hold the headers of any GSO packet */
#define DEVICE_URING_READS 64       /* reads of copies per io_uring submission, at most */
#define DEVICE_URING_FIRST 4        /* the first submission's when how many is not known */

/*
 * device_plan.c: the copies a packet goes into imqN as (pure functions).
 */
#define PLAN_GSO_MTU 65535    /* the longest GSO copy */
#define PLAN_MIN_SEG 576      /* smallest interface MTU taken for segments */
#define PLAN_UDP_MAX_SEGS 128 /* segments of a UDP GSO copy, at most (UDP_MAX_SEGMENTS) */
#define PLAN_MAX_COPIES 64    /* plain copies of one packet, at most */

/* What copy planning needs of a device's configuration. */
struct plan_conf {
	bool gso;          /* GSO packets come whole: their copies count their segments */
	uint32_t overhead; /* link-layer bytes counted per segment */
	uint32_t tunmtu;   /* imqN's MTU: the longest copy */
};

/* The next tags for UDP GSO copies, whose segments carry no sequence number. */
struct plan_tags {
	uint32_t ip_id; /* IPv4: the first of an IP ID range */
	uint32_t label; /* IPv6: a flow label */
};

/* The copies of one packet. */
struct plan {
	uint32_t len;    /* bytes of each copy */
	uint32_t copies; /* 1, or one plain copy per segment (pending_pkt.split) */
	uint32_t extra;  /* the first EXTRA copies are one byte longer */
};

/*
 * Plan the copies of a packet of LEN bytes, CAPLEN of them at DATA, parsed
 * into FI, whose segments on its interface are SEG_MTU bytes (0: it needs
 * none). Fills OUT, the segment fields of PP (conn, seq, span, nsegs,
 * split) and the GSO fields of IP; the IPv4 ID or IPv6 flow label at DATA is
 * rewritten when a UDP GSO copy needs a tag.
 */
void plan_copies(const struct plan_conf *pc, struct plan_tags *tags, uint8_t *data, uint32_t caplen,
                 uint32_t len, const struct flow_info *fi, uint32_t seg_mtu, struct pending_pkt *pp,
                 struct inject_pkt *ip, struct plan *out);

/* CSUM after a 16-bit word of what it covers changed from OLD to NEW (RFC 1624). */
uint16_t plan_csum_update(uint16_t csum, uint16_t old, uint16_t new);

/*
 * Where verdicts go: the device's NFQUEUE socket, where they wait in a
 * buffer until the event that decided them ends, or a unit test's recorder.
 */
struct verdict_sink {
	void (*verdict)(void *arg, uint16_t queue, uint32_t id, uint32_t verdict, bool set_mark,
	                uint32_t mark);
	void *arg;
};

/*
 * A queue's own NFQUEUE socket. Each has its own receive buffer in the
 * kernel: a flood that fills one queue's cannot make the kernel pass or drop
 * the packets of another queue of the device, and the loop serves the
 * sockets in turn, so a queue's packets wait behind at most a few batches
 * of another's.
 */
struct device_sock {
	struct device *dev;
	uint16_t num; /* its queue */
	struct nfqueue *nfq;
	struct event *ev;
	uint64_t skip_first_ns; /* the kernel has skipped ids since, without a pause */
	uint64_t skip_last_ns;
	uint64_t press_last_ns; /* its buffer was more than half full then */
	uint64_t shut_retry_ns; /* no switching fail-open off before then */
	bool cut;               /* its buffer is cut for a flood */
	/* Ids [from, to) the kernel drops rather than passes (its fail-open off, for a flood or
	 * on-overflow = drop; to is not known yet while open), oldest first, until imqd has
	 * seen past them. */
	struct {
		uint32_t from, to;
		bool open;
	} drops[DEVICE_DROP_RANGES];
	unsigned ndrops;
	int wd_slot; /* the watchdog's, while its queue's fail-open is off */
	bool dirty;  /* verdicts handed to it since its last flush */
	/* Its kernel's last id at the last health check, once there was one. */
	uint32_t quiet_id;
	bool quiet_seen;
	/* Of the messages the kernel could not put in it (nfqueue_drops), those imqd knows of:
	 * the skipped ids it counted, and lost acknowledgements. */
	uint32_t drops_known;
};

struct device_queue {
	uint16_t num;
	struct device_sock *sock; /* opened by its first bind; kept across reloads */
	bool bound;               /* ours in the kernel: drain and unbind it when done */
	bool releasing;           /* being given up: what still comes in passes, not shaped */
	bool seen;
	uint32_t next_id;
	struct stats_counters c;
};

struct device {
	struct event_base *base;
	/* The device this shard belongs to; shards of a multiqueue device with several of them
	 * do not attach imqN by themselves (attach_by_set): TX queue k must be shard k's. */
	struct imqdev *set;
	bool attach_by_set;
	/* Its section of the running configuration: main_apply replaces it (device_update,
	 * device_set_conf) before the old configuration is freed. */
	const struct conf_device *conf;
	bool hooked; /* the up hook ran: run the down hook before removal */
	char name[CONF_IFNAMSIZ];
	int ifindex;
	int tunfd;
	bool up;
	bool stopping;
	struct event *tun_ev;
	struct event *timer_ev;
	uint64_t next_health_ns;
	uint64_t nfq_slack;       /* messages a queue's receive buffer can hold, at most */
	uint64_t batched_gone;    /* verdicts_batched of the sockets closed so far */
	struct verdict_sink sink; /* verdicts go to their queue's socket */
	struct inject *inj;
	struct pending *held;
	bool incomplete; /* an update ran out of memory: the next reload applies it again */
	struct device_queue *queues; /* sorted by num */
	size_t nqueues;
	uint64_t peak_held;
	struct stats_counters gone; /* counters of the queues reloads took away */
	uint64_t stray;
	uint64_t unmatched;
	uint32_t hold_us[DEVICE_HOLD_RING];
	size_t hold_n;
	struct stats_hold_hist hold_hist;
	uint64_t *late; /* hashes of copies given up on: twice the capacity, a power of two */
	size_t nlate;
	struct inject_pkt ipkts[DEVICE_BATCH];
	int islot[DEVICE_BATCH];
	uint8_t rdbuf[TUNDEV_VNET_HDR + DEVICE_READ_BYTES];
	/* Reads of copies in batches, one system call each; without it, read(2) per copy. */
	struct io_uring uring;
	bool uring_on;
	unsigned passthrough; /* copies the last read right after a batch found */
	uint8_t (*rdbufs)[TUNDEV_VNET_HDR + DEVICE_READ_BYTES]; /* DEVICE_URING_READS of them */
	struct stats_counters *snap; /* per-queue copies for device_snapshot */
	uint16_t *snap_queues;
	struct plan_conf plan; /* imqN's MTU (the longest copy), overhead, gso */
	unsigned maxlen;       /* the longest packet that can be shaped */
	struct {
		uint32_t ifindex;
		uint32_t mtu;
	} mtus[DEVICE_MTU_CACHE];
	struct log_limit lim_failopen, lim_order, lim_stray, lim_read, lim_verdict, lim_attach,
	    lim_mtu, lim_txqlen, lim_full, lim_ecn, lim_mem, lim_sock, lim_gone, lim_flood;
	uint64_t timeouts_ns;       /* when timeouts were last logged */
	uint64_t timeouts_unlogged; /* packets dropped by drop-timeout since */
	int64_t partial_excess; /* bytes passed beyond what the qdisc sent, by partial GSO copies */
	struct plan_tags tags;  /* for UDP GSO copies */
	size_t segmenting; /* held GSO copies with segments back (at least; see device_overdue) */
	size_t overtaken;  /* held packets a later one of their flow overtook (at least) */
	bool timer_fast;   /* the timer ticks every half reorder-window while some are */
	bool timer_beat;   /* and every WATCHDOG_BEAT_MS while a queue's fail-open is off */
};

/* device.c */
/* A shard running CF on BASE, imqN attached and its queues not bound yet; NULL (logged). */
struct device *device_shard_open(struct event_base *base, const struct conf_device *cf);
/* Bind the shard's queues and run its up hook; 0 or -1 (logged). */
int device_shard_bind(struct device *dev);
/* Accept what the shard holds, unbind its queues, run its down hook (if its section has one);
 * with KEEP_FD, the TUN fd is handed there instead of closed (-1: none); with LAST, its
 * counters as it ended. */
void device_shard_stop(struct device *dev, int *keep_fd, struct stats_counters *last);
bool device_shard_complete(const struct device *dev);
void device_shard_totals(const struct device *dev, struct stats_counters *out);
/* The shard's counters into OUT (valid until the next call), its recent hold times (up to
 * DEVICE_HOLD_RING) into HOLD_US. */
void device_shard_view(struct device *dev, struct stats_device *out, uint32_t *hold_us,
                       size_t *nhold);
struct device_queue *device_queue(struct device *dev, uint16_t num);
struct nfqueue_params device_params(const struct device *dev, const struct device_queue *q);
int device_bind(struct device *dev, struct device_queue *q);
int device_set_queues(struct device *dev, const struct conf_device *cf);
size_t device_capacity(const struct conf_device *cf);
int device_nfq_sizes(struct device *dev, size_t *msgsize);
void device_use_conf(struct device *dev, const struct conf_device *cf);
int device_timer_start(struct device *dev);
void device_drain(struct device *dev, struct device_queue *q);
void device_recv_queued(struct device *dev, struct device_queue *q);
/* The kernel skipped ids of Q at NOW (its buffer was full): a standing flood cuts the buffer. */
void device_sock_skipped(struct device *dev, struct device_queue *q, uint64_t now);
/* Close Q's socket, if it has one: the kernel drops what is still queued to it. */
void device_sock_close(struct device *dev, struct device_queue *q);

/* Q's kernel fail-open back on if a flood had it off (on-flood = drop); when CLOSING its
 * socket, the watchdog lets go of it even if the switch failed. */
void device_flood_open(struct device *dev, struct device_queue *q, bool closing);

/* Q's buffer is whole again (a reload sized it): its flood, if any, starts over. */
void device_flood_reset(struct device *dev, struct device_queue *q);

/* Whether a queue of DEV has its fail-open off: the watchdog needs beats. */
bool device_flood_beating(const struct device *dev);

/* SOCK has more waiting than imqd read on this wakeup: a flood may be coming. */
void device_flood_backlog(struct device *dev, struct device_sock *sock);

/* The timer's part for floods (src/device_flood.c). */
void device_flood_tick(struct device *dev, uint64_t now);

/* Whether the kernel drops what does not reach Q's socket (else it passes it unshaped). */
bool device_kernel_drops(const struct device *dev, const struct device_queue *q);

/* Count the ids the kernel skipped after the last packet imqd read from Q, which is drained
 * and about to be unbound: its ids start over with the next binding. */
void device_count_trailing(struct device *dev, struct device_queue *q);

/* Count now the ids the kernel skipped last on DEV's quiet queues (the health check). */
void device_count_quiet(struct device *dev);

/* Q was bound: its ids start over, and with on-overflow = drop the kernel drops them all. */
void device_drops_bound(struct device *dev, struct device_queue *q);

/* A reload is about to switch Q's fail-open for a new on-overflow; WAS_DROP: the old one. */
void device_drops_overflow(struct device *dev, struct device_queue *q, bool was_drop);

/* How many of the GAP ids from FIRST on, skipped by the kernel, it dropped (the rest passed). */
uint32_t device_gap_dropped(struct device *dev, struct device_queue *q, uint32_t first,
                            uint32_t gap);
/* Count GAP ids from Q's next on as the kernel decided them; how many it dropped. */
uint32_t device_count_gap(struct device *dev, struct device_queue *q, uint32_t gap);
/* A packet of Q with id ID was read at NOW: count the ids the kernel skipped before it, and
 * take them as part of a flood unless they are the last of one that is over. */
void device_id_seen(struct device *dev, struct device_queue *q, uint32_t id, uint64_t now);
/* Send the verdicts the queues given verdicts since can send now (nfqueue_flush); with ALL,
 * every queue's, held drops and verdicts kept after failed sends too (the timer's tick). */
void device_flush(struct device *dev);
void device_flush_all(struct device *dev);

/* Hand a verdict to DEV's sink. */
static inline void
device_verdict(struct device *dev, uint16_t queue, uint32_t id, uint32_t verdict, bool set_mark,
               uint32_t mark)
{
	dev->sink.verdict(dev->sink.arg, queue, id, verdict, set_mark, mark);
}

/* device.c: the event callbacks the other files register */
void device_tun_cb(evutil_socket_t fd, short what, void *arg);

/* device_health.c */
/* Queue hook ARGV of DEV; KEEP_FD (-1: none) is closed once it ended. */
void device_hook(struct device *dev, char **argv, const char *what, int keep_fd);
void device_health(struct device *dev);
/* Run the health check on the loop's next turn: the device looks gone (not from inside a send). */
void device_health_soon(struct device *dev);
int device_sndbuf(const struct conf_device *cf, size_t capacity);
int device_attach(struct device *dev);
void device_detach(struct device *dev);

/* device_intake.c */
void device_nfq_packets_cb(void *arg, struct nfqueue_packet *pkts, size_t n);

/* device_decide.c */
void device_accept(struct device *dev, uint16_t queue, uint32_t id, uint32_t mark);
void device_failopen(struct device *dev, struct device_queue *q, uint32_t id, uint32_t mark,
                     uint32_t len, enum stats_failopen why);
void device_copy_back(struct device *dev, const uint8_t *copy, size_t n, uint64_t now);
void device_release(struct device *dev, int qidx, enum stats_failopen why);
/* imqN is gone or down, its qdisc with it: release every held packet (device_down), logged. */
void device_release_gone(struct device *dev);
void device_expire(struct device *dev, uint64_t now);

/* device_late.c */
bool device_late_has(struct device *dev, uint64_t key);
int device_late_size(struct device *dev, size_t capacity);
void device_late_add(struct device *dev, const struct pending_pkt *pp);

/* device_reload.c */
void device_shard_release_queues(struct device *dev, const struct conf_device *cf);
int device_shard_update(struct device *dev, const struct conf_device *cf);
void device_shard_set_conf(struct device *dev, const struct conf_device *cf);

/* device_set.c: DEV's imqN went away; its set attaches every shard again, in order. */
void device_set_lost(struct device *dev);

/*
 * device_split.c: how a device is cut into shards and where they run (pure).
 */
/* Shards of a multiqueue device of NQUEUES queues over NWORKERS workers. */
size_t device_split_count(size_t nqueues, size_t nworkers);
/* Shard K of NSHARDS takes the N queues from index FIRST of the device's sorted list. */
void device_split_block(size_t nqueues, size_t nshards, size_t k, size_t *first, size_t *n);
/* The worker with the fewest queues (LOAD) that TAKEN (NULL: none) does not mark; lowest
 * number on ties; NWORKERS when every one is taken. */
size_t device_split_worker(const size_t *load, const bool *taken, size_t nworkers);

/* device_read.c */
void device_readback(struct device *dev, int max);
void device_uring_open(struct device *dev);

#endif

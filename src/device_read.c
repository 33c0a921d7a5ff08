/* Read-back: the copies imqN's qdisc releases, read from the TUN device. */
#include "device_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/fs.h>

/* A read of the TUN fd failed with ERR (not EAGAIN): the device went away under us. */
static void
device_read_failed(struct device *dev, int err)
{
	/*
	 * Stop polling, let the health check act. A deleted imqN detaches its
	 * fd (EBADFD) or is gone (ENXIO, ENODEV, EIO): the health check's
	 * warning says so, in words a reader understands; anything else is
	 * an error of its own.
	 */
	if (err == EBADFD || err == ENXIO || err == ENODEV || err == EIO)
		log_debug("%s: reading copies: %s", dev->name, strerror(err));
	else
		log_limited(&dev->lim_read, LOG_ERR, "%s: reading copies: %s", dev->name,
		            strerror(err));
	if (dev->tun_ev != NULL)
		event_del(dev->tun_ev);
	device_health_soon(dev);
}

/*
 * Read back up to MAX copies with io_uring, up to DEVICE_URING_READS reads
 * per system call (on machines where a system call costs a microsecond, a
 * read(2) per copy was a quarter of imqd's time with small packets). The
 * reads are non-blocking (RWF_NOWAIT): they run inside the call, in order,
 * and one that finds the device empty fails with EAGAIN instead of waiting.
 * Returns 0, or a negative errno when io_uring cannot go on: the caller then
 * reads with read(2); every copy a completed read took has been handled.
 */
static int
device_readback_uring(struct device *dev, int max, uint64_t now)
{
	/*
	 * A few reads, doubling while all find a copy: a read that finds the
	 * device empty is cheap, 63 of them not. Right after a batch went in
	 * (MAX below DEVICE_READ_MAX: the copies sent), as many as the qdisc let
	 * straight through last time, and a quarter more: all of a batch under
	 * pfifo, next to none under a rate limit that holds them.
	 */
	bool after_send = max < DEVICE_READ_MAX;
	unsigned want = DEVICE_URING_FIRST, found = 0;
	if (after_send && dev->passthrough + dev->passthrough / 4 + 1 > want)
		want = dev->passthrough + dev->passthrough / 4 + 1;
	if (want > DEVICE_URING_READS)
		want = DEVICE_URING_READS;

	while (max > 0) {
		unsigned n = (unsigned)max < want ? (unsigned)max : want;
		int res[DEVICE_URING_READS];
		for (unsigned i = 0; i < n; i++) {
			/* The submission queue is empty here: every batch goes in whole. */
			struct io_uring_sqe *sqe = io_uring_get_sqe(&dev->uring);
			if (sqe == NULL)
				return -EBUSY;
			/* Only the head of each copy: the read cuts off the rest. */
			io_uring_prep_read(sqe, dev->tunfd, dev->rdbufs[i], sizeof(dev->rdbufs[i]),
			                   0);
			sqe->rw_flags = RWF_NOWAIT;
			io_uring_sqe_set_data64(sqe, i);
			res[i] = 1; /* not completed */
		}
		int r;
		do /* EINTR: nothing was submitted */
			r = io_uring_submit_and_wait(&dev->uring, n);
		while (r == -EINTR);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&dev->uring, head, cqe)
		{
			uint64_t i = io_uring_cqe_get_data64(cqe);
			if (i < n)
				res[i] = cqe->res;
			seen++;
		}
		io_uring_cq_advance(&dev->uring, seen);
		/* Where TUN takes no RWF_NOWAIT (before Linux 6.4) every read is refused alike. */
		if (seen > 0 && res[0] == -EOPNOTSUPP)
			return -EOPNOTSUPP;
		int err = 0;
		for (unsigned i = 0; i < n; i++) {
			if (res[i] >= TUNDEV_VNET_HDR) {
				device_copy_back(dev, dev->rdbufs[i] + TUNDEV_VNET_HDR,
				                 (size_t)res[i] - TUNDEV_VNET_HDR, now);
				found++;
			} else if (res[i] < 0 && res[i] != -EAGAIN && res[i] != -EINTR && err == 0)
				err = -res[i];
		}
		/* Reads that did not go in, or did not complete at once, are not waited for. */
		if (r != (int)n || seen != n)
			return r < 0 ? r : -EIO;
		if (err != 0) {
			device_read_failed(dev, err);
			return 0;
		}
		if (res[n - 1] < 0)
			break; /* the device is empty */
		max -= (int)n;
		want = want * 2 < DEVICE_URING_READS ? want * 2 : DEVICE_URING_READS;
	}
	if (after_send)
		dev->passthrough = found;
	return 0;
}

static void
device_readback_copies(struct device *dev, int max, uint64_t now)
{
	if (dev->uring_on) {
		int r = device_readback_uring(dev, max, now);
		if (r == 0)
			return;
		/* The ring's requests, if any were left, are cancelled with it; rdbufs stay. */
		dev->uring_on = false;
		io_uring_queue_exit(&dev->uring);
		if (r == -EOPNOTSUPP)
			log_notice(
			    "%s: this kernel's TUN devices take no non-blocking io_uring reads: "
			    "reading copies one system call each",
			    dev->name);
		else
			log_warnx(
			    "%s: io_uring reads failed (%s): reading copies one system call each",
			    dev->name, strerror(-r));
	}
	for (int i = 0; i < max; i++) {
		/* Only the head of each copy: the read cuts off the rest. */
		ssize_t n = read(dev->tunfd, dev->rdbuf, sizeof(dev->rdbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				device_read_failed(dev, errno);
			break;
		}
		if (n < TUNDEV_VNET_HDR)
			continue;
		device_copy_back(dev, dev->rdbuf + TUNDEV_VNET_HDR, (size_t)n - TUNDEV_VNET_HDR,
		                 now);
	}
}

/* io_uring for the reads of copies, where the kernel allows it (it may be off: read(2) then). */
void
device_uring_open(struct device *dev)
{
	dev->rdbufs = calloc(DEVICE_URING_READS, sizeof(*dev->rdbufs));
	if (dev->rdbufs == NULL)
		return;
	int r = io_uring_queue_init(DEVICE_URING_READS, &dev->uring, 0);
	if (r < 0) {
		log_notice("%s: no io_uring (%s): reading copies one system call each", dev->name,
		           strerror(-r));
		free(dev->rdbufs);
		dev->rdbufs = NULL;
		return;
	}
	dev->uring_on = true;
}

/* Read back up to MAX copies, fewer when the device has no more. */
void
device_readback(struct device *dev, int max)
{
	device_readback_copies(dev, max, log_now_ns());
	/* Packets a later one of their flow overtook are decided within reorder-window. */
	if (dev->overtaken > 0 && !dev->timer_fast && dev->conf->reorder_window_ms > 0)
		device_timer_start(dev);
}

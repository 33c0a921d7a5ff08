/* imqN itself: create or reattach it, watch it, run its hooks. */
#include "device_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"

void
device_hook(struct device *dev, char **argv, const char *what, int keep_fd)
{
	if (argv == NULL) {
		if (keep_fd >= 0)
			close(keep_fd);
		return;
	}
	uint16_t nums[dev->nqueues > 0 ? dev->nqueues : 1];
	for (size_t i = 0; i < dev->nqueues; i++)
		nums[i] = dev->queues[i].num;
	hook_run(argv, what, dev->name, nums, dev->nqueues, dev->conf->hook_timeout_ms, keep_fd);
	dev->hooked = true;
}

/*
 * An MTU or transmit queue length set by hand: a short queue (0 drops every
 * copy) or a small MTU breaks shaping quietly. The configuration owns both.
 */
static void
device_check_params(struct device *dev)
{
	unsigned mtu, txqlen;

	if (tundev_params(dev->name, &mtu, &txqlen) < 0 ||
	    (mtu == dev->plan.tunmtu && txqlen == dev->conf->txqueuelen))
		return;
	if (mtu != dev->plan.tunmtu)
		log_limited(&dev->lim_mtu, LOG_WARNING,
		            "%s: mtu was changed by hand to %u; setting it back to %u (set mtu in "
		            "the configuration instead)",
		            dev->name, mtu, dev->plan.tunmtu);
	if (txqlen != dev->conf->txqueuelen)
		log_limited(&dev->lim_txqlen, LOG_WARNING,
		            "%s: txqueuelen was changed by hand to %u; setting it back to %u (set "
		            "txqueuelen in the configuration instead)",
		            dev->name, txqlen, dev->conf->txqueuelen);
	if (tundev_setup(dev->name, dev->plan.tunmtu, dev->conf->txqueuelen) < 0)
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot configure device: %s", dev->name,
		            strerror(errno));
}

void
device_health(struct device *dev)
{
	int ifindex;
	enum tundev_state state = tundev_state(dev->name, &ifindex);

	if (state == TUNDEV_UNKNOWN) {
		/* Not knowing is no reason to take the device down: ask again next time. */
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot check the device: %s", dev->name,
		            strerror(errno));
		return;
	}
	if (state == TUNDEV_UP && ifindex == dev->ifindex && dev->tunfd >= 0) {
		if (dev->tun_ev != NULL && !event_pending(dev->tun_ev, EV_READ, NULL))
			event_add(dev->tun_ev, NULL);
		device_check_params(dev);
		if (!dev->up)
			log_notice("%s: up again, shaping resumed", dev->name);
		dev->up = true;
		return;
	}
	if (dev->up) {
		log_warnx("%s: %s: %s until it is back", dev->name,
		          state == TUNDEV_MISSING || ifindex != dev->ifindex ? "device is gone"
		                                                             : "device is down",
		          dev->conf->on_error == CONF_DROP ? "dropping packets (on-error = drop)"
		                                           : "passing packets unshaped");
		dev->up = false;
	}
	/* Its qdisc was reset with it: no held copy will come back. */
	device_release_gone(dev);
	device_flush(dev);
	if (state == TUNDEV_DOWN && ifindex == dev->ifindex && dev->tunfd >= 0) {
		/* The qdisc survives a down/up: bringing the link back is enough. */
		if (tundev_setup(dev->name, dev->plan.tunmtu, dev->conf->txqueuelen) == 0) {
			log_notice("%s: was set down; up again, shaping resumed", dev->name);
			dev->up = true;
		}
		return;
	}
	/* Gone, replaced, or ours but not attached (an attach that failed half way). */
	if (state == TUNDEV_MISSING || ifindex != dev->ifindex || dev->tunfd < 0) {
		device_detach(dev);
		if (dev->attach_by_set) {
			device_set_lost(dev);
			return;
		}
		if (device_attach(dev) == 0) {
			log_notice("%s: recreated, shaping resumed", dev->name);
			dev->up = true;
			device_hook(dev, dev->conf->up, "up", -1);
		}
	}
}

int
device_sndbuf(const struct conf_device *cf, size_t capacity)
{
	/* A copy costs its size plus skb overhead; charge the whole backlog (the kernel takes only
	 * what the qdisc actually holds). */
	uint64_t per = (uint64_t)(cf->gso ? DEVICE_GSO_MTU : cf->mtu) + cf->overhead + 1024;
	uint64_t total = per * capacity;

	if (total > 1ULL << 30)
		total = 1ULL << 30;
	return total > INT32_MAX / 2 ? INT32_MAX / 2 : (int)total;
}

/* Create or reattach imqN and the socket that injects into it. */
int
device_attach(struct device *dev)
{
	bool created;

	/* Rate-limited: the health check retries every second while the device is gone. */
	dev->tunfd = tundev_open(dev->name, dev->conf->persist, dev->conf->multiqueue, &created);
	if (dev->tunfd < 0) {
		if (errno == EINVAL && !created)
			log_limited(
			    &dev->lim_attach, LOG_ERR,
			    "%s: cannot open TUN device: an interface of that name exists and "
			    "is not a TUN device imqd can use (a TUN device %s multi_queue "
			    "with multiqueue = %s?)",
			    dev->name, dev->conf->multiqueue ? "without" : "with",
			    dev->conf->multiqueue ? "yes" : "no");
		else if (errno == EBUSY)
			log_limited(&dev->lim_attach, LOG_ERR,
			            "%s: cannot open TUN device: another holds it (imqd's own, "
			            "removed by a reload, while its down hook runs?)",
			            dev->name);
		else
			log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot open TUN device: %s",
			            dev->name, strerror(errno));
		return -1;
	}
	if (tundev_setup(dev->name, dev->plan.tunmtu, dev->conf->txqueuelen) < 0) {
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot configure device: %s", dev->name,
		            strerror(errno));
		goto close_tun;
	}
	if (tundev_state(dev->name, &dev->ifindex) != TUNDEV_UP) {
		log_limited(&dev->lim_attach, LOG_ERR, "%s: cannot find the device it set up: %s",
		            dev->name, strerror(errno));
		goto close_tun;
	}
	if (dev->inj == NULL)
		dev->inj = inject_open(
		    dev->ifindex, device_sndbuf(dev->conf, pending_limit(dev->held)), DEVICE_BATCH);
	if (dev->inj == NULL) {
		log_warn("%s: cannot open packet socket", dev->name);
		goto close_tun;
	}
	inject_set_ifindex(dev->inj, dev->ifindex);
	dev->tun_ev = event_new(dev->base, dev->tunfd, EV_READ | EV_PERSIST, device_tun_cb, dev);
	if (dev->tun_ev == NULL || event_add(dev->tun_ev, NULL) < 0)
		goto close_tun;
	log_info("%s: %s, ifindex %d, mtu %u", dev->name, created ? "created" : "reattached",
	         dev->ifindex, dev->plan.tunmtu);
	return 0;
close_tun:
	device_detach(dev);
	return -1;
}

void
device_detach(struct device *dev)
{
	if (dev->tun_ev != NULL)
		event_free(dev->tun_ev);
	dev->tun_ev = NULL;
	if (dev->tunfd >= 0)
		close(dev->tunfd);
	dev->tunfd = -1;
}

/* imqN TUN devices: create or reattach, configure, query. */
#include "tundev.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "log.h"

/* Linux 6.2; headers older than the kernel lack them. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

int
tundev_open(const char *name, bool persist, bool multiqueue, bool *created)
{
	struct ifreq ifr;
	int fd;

	*created = if_nametoindex(name) == 0;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	/* A virtio-net header in front of each copy says whether it is a GSO packet. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | (multiqueue ? IFF_MULTI_QUEUE : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto close_fd;
	/*
	 * Take TCP and UDP GSO copies whole, as a NIC with TSO and USO would: one
	 * read each. A kernel that refuses cuts them into segments, which imqd
	 * also matches.
	 */
	unsigned long tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	if (ioctl(fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) < 0 &&
	    ioctl(fd, TUNSETOFFLOAD, tso) < 0)
		log_warn("%s: TCP segmentation offload refused; large copies come back in segments",
		         name);
	if (tundev_persist(fd, persist) < 0)
		goto close_fd;
	return fd;
close_fd:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
tundev_persist(int fd, bool persist)
{
	return ioctl(fd, TUNSETPERSIST, persist ? 1 : 0);
}

/* Send one rtnetlink request and wait for its acknowledgement. */
static int
tundev_rtnl(struct nlmsghdr *nlh)
{
	char buf[8192] = {0};
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	int ret = -1;

	if (nl == NULL)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto close_sock;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto close_sock;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		goto close_sock;
	ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL);
	if (ret > 0)
		ret = 0;
close_sock:;
	int saved = errno;
	mnl_socket_close(nl);
	errno = saved;
	return ret < 0 ? -1 : 0;
}

static struct nlmsghdr *
tundev_link_msg(char *buf, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

static void
tundev_disable_ipv6(const char *name)
{
	char path[128];
	int fd;

	/* Best effort: address generation is already off; this also keeps the stack away. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) < 0)
		log_debug("%s: cannot disable IPv6: %s", name, strerror(errno));
	close(fd);
}

int
tundev_setup(const char *name, unsigned mtu, unsigned txqueuelen)
{
	char buf[8192] = {0};
	int ifindex = (int)if_nametoindex(name);
	struct nlmsghdr *nlh;
	struct nlattr *spec, *af;

	if (ifindex == 0)
		return -1;
	nlh = tundev_link_msg(buf, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put_u32(nlh, IFLA_TXQLEN, txqueuelen);
	if (tundev_rtnl(nlh) < 0)
		return -1;
	/*
	 * Address generation off before the link goes up, so no link-local
	 * address appears. A device without IPv6 (an MTU under 1280, or IPv6
	 * disabled in the kernel) has nothing to turn off: EAFNOSUPPORT.
	 */
	memset(buf, 0, sizeof(buf));
	nlh = tundev_link_msg(buf, ifindex);
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	af = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, af);
	mnl_attr_nest_end(nlh, spec);
	if (tundev_rtnl(nlh) < 0 && errno != EAFNOSUPPORT)
		return -1;
	tundev_disable_ipv6(name);

	nlh = tundev_link_msg(buf, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return tundev_rtnl(nlh);
}

int
tundev_params(const char *name, unsigned *mtu, unsigned *txqueuelen)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFMTU, &ifr) == 0) {
		*mtu = (unsigned)ifr.ifr_mtu;
		if (ioctl(fd, SIOCGIFTXQLEN, &ifr) == 0) {
			*txqueuelen = (unsigned)ifr.ifr_qlen;
			ret = 0;
		}
	}
	close(fd);
	return ret;
}

enum tundev_state
tundev_state(const char *name, int *ifindex)
{
	struct ifreq ifr;
	enum tundev_state ret;
	int fd;

	*ifindex = (int)if_nametoindex(name);
	if (*ifindex == 0) {
		int err = errno;
		if (err == ENODEV)
			return TUNDEV_MISSING;
		/* Out of descriptors, glibc leaves the errno of a fallback (ENOENT): say why. */
		fd = open("/", O_PATH | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			errno = err;
		}
		return TUNDEV_UNKNOWN;
	}
	/* It exists: without a socket to ask for its flags, take it as up. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return TUNDEV_UP;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		ret = errno == ENODEV ? TUNDEV_MISSING : TUNDEV_UP;
	else
		ret = (ifr.ifr_flags & IFF_UP) ? TUNDEV_UP : TUNDEV_DOWN;
	close(fd);
	return ret;
}

int
tundev_mtu(const char *name)
{
	unsigned mtu, txqueuelen;

	return tundev_params(name, &mtu, &txqueuelen) == 0 ? (int)mtu : -1;
}

static int
tundev_link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(struct ifinfomsg))
	{
		if (mnl_attr_get_type(attr) == IFLA_STATS64 &&
		    mnl_attr_get_payload_len(attr) >= sizeof(struct rtnl_link_stats64)) {
			struct rtnl_link_stats64 st;
			memcpy(&st, mnl_attr_get_payload(attr), sizeof(st));
			*(uint64_t *)data = st.tx_dropped;
			return MNL_CB_STOP;
		}
	}
	return MNL_CB_OK;
}

int
tundev_tx_dropped(const char *name, uint64_t *dropped)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	uint64_t got = UINT64_MAX;
	ssize_t n;
	int ret = -1;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl == NULL)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto close_sock;
	/* libmnl leaves an attribute's padding as it finds it: the kernel must get zeros. */
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* No VF and other extras: the counters only. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, 0);
	uint32_t seq = nlh->nlmsg_seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto close_sock;
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n > 0) {
		/* An error message sets errno: ENODEV for a device that is gone. */
		int r = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), tundev_link_cb,
		                   &got);
		if (r >= 0 && got == UINT64_MAX)
			errno = ENODATA; /* an answer without the counters */
	}
	if (got != UINT64_MAX) {
		*dropped = got;
		ret = 0;
	}
close_sock:;
	int err = errno;
	mnl_socket_close(nl);
	errno = err;
	return ret;
}

struct tundev_qdisc_req {
	int ifindex;
	char *buf;
	size_t size;
};

static int
tundev_qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tundev_qdisc_req *req = data;
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;

	if (tcm->tcm_ifindex != req->ifindex || tcm->tcm_parent != TC_H_ROOT)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*tcm))
	{
		if (mnl_attr_get_type(attr) == TCA_KIND &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(req->buf, req->size, "%s", mnl_attr_get_str(attr));
	}
	return MNL_CB_OK;
}

void
tundev_qdisc(int ifindex, char *buf, size_t size)
{
	char rbuf[MNL_SOCKET_BUFFER_SIZE];
	struct tundev_qdisc_req req = {ifindex, buf, size};
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;
	ssize_t n;
	int ret = MNL_CB_OK;

	buf[0] = '\0';
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl == NULL)
		return;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto close_sock;
	nlh = mnl_nlmsg_put_header(rbuf);
	nlh->nlmsg_type = RTM_GETQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	uint32_t seq = nlh->nlmsg_seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto close_sock;
	while (ret > MNL_CB_STOP) {
		n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
		if (n <= 0)
			break;
		ret = mnl_cb_run(rbuf, (size_t)n, seq, mnl_socket_get_portid(nl), tundev_qdisc_cb,
		                 &req);
	}
close_sock:
	mnl_socket_close(nl);
}

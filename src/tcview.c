/* A device's qdiscs and classes with their counters, as rtnetlink reports them. */
#include "tcview.h"

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/gen_stats.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "stats.h"

/* A dump message is at most 32 KB (the kernel's limit for dumps); a smaller buffer truncates. */
#define TCVIEW_RECV_SIZE 32768
/* How long a dump may take before the reading gives up (the event loop waits meanwhile). */
#define TCVIEW_TIMEOUT_MS 1000

/* Nodes per device in the Prometheus output; 0 until imqd sets metrics-classes. */
static size_t tcview_metrics_nodes;

static void
tcview_basic(const struct nlattr *attr, struct tcview_node *node)
{
	struct gnet_stats_basic b;

	if (mnl_attr_get_payload_len(attr) < offsetof(struct gnet_stats_basic, packets) + 4)
		return;
	memset(&b, 0, sizeof(b));
	memcpy(&b, mnl_attr_get_payload(attr),
	       mnl_attr_get_payload_len(attr) < sizeof(b) ? mnl_attr_get_payload_len(attr)
	                                                  : sizeof(b));
	node->bytes = b.bytes;
	node->packets = b.packets;
}

static void
tcview_queue(const struct nlattr *attr, struct tcview_node *node)
{
	struct gnet_stats_queue q;

	if (mnl_attr_get_payload_len(attr) < sizeof(q))
		return;
	memcpy(&q, mnl_attr_get_payload(attr), sizeof(q));
	node->qlen = q.qlen;
	node->backlog = q.backlog;
	node->drops = q.drops;
	node->requeues = q.requeues;
	node->overlimits = q.overlimits;
}

/* TCA_STATS2: TCA_STATS_PKT64 may come before or after TCA_STATS_BASIC. */
static void
tcview_stats2(const struct nlattr *nest, struct tcview_node *node)
{
	const struct nlattr *attr;
	uint64_t pkt64 = 0;
	bool has_pkt64 = false;

	mnl_attr_for_each_nested(attr, nest)
	{
		switch (mnl_attr_get_type(attr)) {
		case TCA_STATS_BASIC:
			tcview_basic(attr, node);
			break;
		case TCA_STATS_PKT64:
			if (mnl_attr_validate(attr, MNL_TYPE_U64) >= 0) {
				pkt64 = mnl_attr_get_u64(attr);
				has_pkt64 = true;
			}
			break;
		case TCA_STATS_QUEUE:
			tcview_queue(attr, node);
			break;
		}
	}
	/* The 32-bit count of TCA_STATS_BASIC wraps; TCA_STATS_PKT64 does not. */
	if (has_pkt64)
		node->packets = pkt64;
}

int
tcview_parse_msg(const struct nlmsghdr *nlh, struct tcview_node *node, int *ifindex)
{
	const struct tcmsg *tcm;
	const struct nlattr *attr;

	if ((nlh->nlmsg_type != RTM_NEWQDISC && nlh->nlmsg_type != RTM_NEWTCLASS) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*tcm))
		return -1;
	tcm = mnl_nlmsg_get_payload(nlh);
	memset(node, 0, sizeof(*node));
	node->type = nlh->nlmsg_type == RTM_NEWQDISC ? TCVIEW_QDISC : TCVIEW_CLASS;
	node->handle = tcm->tcm_handle;
	node->parent = tcm->tcm_parent;
	*ifindex = tcm->tcm_ifindex;
	mnl_attr_for_each(attr, nlh, sizeof(*tcm))
	{
		if (mnl_attr_get_type(attr) == TCA_KIND &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
			snprintf(node->kind, sizeof(node->kind), "%s", mnl_attr_get_str(attr));
		else if (mnl_attr_get_type(attr) == TCA_STATS2 &&
		         mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0)
			tcview_stats2(attr, node);
	}
	return 0;
}

int
tcview_add(struct tcview *tv, const struct tcview_node *node, size_t max)
{
	tv->total++;
	if (tv->n >= max)
		return 0;
	if (tv->n == tv->size) {
		size_t size = tv->size == 0 ? 64 : tv->size * 2;
		struct tcview_node *p = reallocarray(tv->nodes, size, sizeof(*p));

		if (p == NULL)
			return -1;
		tv->nodes = p;
		tv->size = size;
	}
	tv->nodes[tv->n++] = *node;
	return 0;
}

void
tcview_clear(struct tcview *tv)
{
	free(tv->nodes);
	tv->nodes = NULL;
	tv->n = tv->size = tv->total = 0;
}

struct tcview_dump {
	struct tcview *tv;
	int ifindex;
	size_t max;
};

static int
tcview_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct tcview_dump *d = data;
	struct tcview_node node;
	int ifindex;

	/* A qdisc dump lists every device's: keep this one's. */
	if (tcview_parse_msg(nlh, &node, &ifindex) == -1 || ifindex != d->ifindex)
		return MNL_CB_OK;
	return tcview_add(d->tv, &node, d->max) == 0 ? MNL_CB_OK : MNL_CB_ERROR;
}

/* One dump of TYPE (RTM_GETQDISC, RTM_GETTCLASS) into D; 0 or -1. */
static int
tcview_dump(struct mnl_socket *nl, char *buf, uint16_t type, uint32_t seq, struct tcview_dump *d)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;
	int ret = MNL_CB_OK;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = d->ifindex;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while (ret > MNL_CB_STOP) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, TCVIEW_RECV_SIZE);

		if (n <= 0) {
			if (n == 0 || errno == EAGAIN)
				errno = ETIMEDOUT;
			return -1;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), tcview_dump_cb, d);
	}
	return ret == MNL_CB_ERROR ? -1 : 0;
}

static uint64_t
tcview_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
tcview_read(struct tcview *tv, const char *dev, size_t max)
{
	struct timeval tmo = {.tv_sec = TCVIEW_TIMEOUT_MS / 1000,
	                      .tv_usec = (TCVIEW_TIMEOUT_MS % 1000) * 1000};
	struct tcview_dump d = {.tv = tv, .max = max};
	struct mnl_socket *nl;
	char *buf;

	tcview_clear(tv);
	snprintf(tv->dev, sizeof(tv->dev), "%s", dev);
	tv->time_ns = tcview_now_ns();
	tv->error = 0;
	if ((d.ifindex = (int)if_nametoindex(dev)) == 0) {
		tv->error = ENODEV;
		return;
	}
	if ((buf = malloc(TCVIEW_RECV_SIZE)) == NULL) {
		tv->error = errno;
		return;
	}
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl == NULL) {
		tv->error = errno;
		goto free_buf;
	}
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) == -1 ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    tcview_dump(nl, buf, RTM_GETQDISC, (uint32_t)tv->time_ns, &d) == -1 ||
	    tcview_dump(nl, buf, RTM_GETTCLASS, (uint32_t)tv->time_ns + 1, &d) == -1) {
		tv->error = errno != 0 ? errno : EIO;
		tcview_clear(tv);
	}
	mnl_socket_close(nl);
free_buf:
	free(buf);
}

void
tcview_handle_str(uint32_t handle, char *buf, size_t size)
{
	if (handle == TC_H_ROOT)
		snprintf(buf, size, "root");
	else if (handle == TC_H_INGRESS)
		snprintf(buf, size, "ingress");
	else if (TC_H_MIN(handle) == 0)
		snprintf(buf, size, "%x:", TC_H_MAJ(handle) >> 16);
	else
		snprintf(buf, size, "%x:%x", TC_H_MAJ(handle) >> 16, TC_H_MIN(handle));
}

/* S as one word of a line: "-" when empty, anything but printable non-space as '?'. */
static void
tcview_word(FILE *out, const char *s)
{
	if (*s == '\0')
		fputc('-', out);
	for (; *s != '\0'; s++)
		fputc(*s > ' ' && *s <= '~' ? *s : '?', out);
}

void
tcview_print_view(const struct tcview *tv, FILE *out)
{
	fputs("device ", out);
	tcview_word(out, tv->dev);
	fprintf(out, " %" PRIu64 " %zu %d\n", tv->time_ns, tv->total, tv->error);
	for (size_t i = 0; i < tv->n; i++) {
		const struct tcview_node *x = &tv->nodes[i];

		fprintf(out, "node %c ", x->type == TCVIEW_QDISC ? 'q' : 'c');
		tcview_word(out, x->kind);
		fprintf(out, " %" PRIx32 " %" PRIx32 " %" PRIu64 " %" PRIu64 " %u %u %u %u %u\n",
		        x->handle, x->parent, x->bytes, x->packets, x->drops, x->overlimits,
		        x->requeues, x->backlog, x->qlen);
	}
}

void
tcview_print_lines(const struct stats_device *devs, size_t ndevs, FILE *out)
{
	struct tcview tv = {0};

	for (size_t i = 0; i < ndevs; i++) {
		/* A device a reload could not start is not imqd's to read. */
		if (devs[i].state != NULL && strcmp(devs[i].state, "failed") == 0) {
			tcview_clear(&tv);
			snprintf(tv.dev, sizeof(tv.dev), "%s", devs[i].name);
			tv.error = ENODEV;
		} else {
			tcview_read(&tv, devs[i].name, TCVIEW_MAX_NODES);
		}
		tcview_print_view(&tv, out);
	}
	tcview_clear(&tv);
}

static int
tcview_parse_device(const char *line, struct tcview **tvs, size_t *ntvs)
{
	struct tcview tv = {0}, *p;
	int end = -1;

	if (sscanf(line, "device %15s %" SCNu64 " %zu %d%n", tv.dev, &tv.time_ns, &tv.total,
	           &tv.error, &end) != 4 ||
	    line[end] != '\0')
		return errno = EINVAL, -1;
	if ((p = reallocarray(*tvs, *ntvs + 1, sizeof(*p))) == NULL)
		return -1;
	*tvs = p;
	p[(*ntvs)++] = tv;
	return 0;
}

int
tcview_parse_line(const char *line, struct tcview **tvs, size_t *ntvs)
{
	struct tcview_node x = {0};
	char type;
	int end = -1;

	if (strncmp(line, "device ", 7) == 0)
		return tcview_parse_device(line, tvs, ntvs);
	if (*ntvs == 0 ||
	    sscanf(line,
	           "node %c %15s %" SCNx32 " %" SCNx32 " %" SCNu64 " %" SCNu64 " %u %u %u %u %u%n",
	           &type, x.kind, &x.handle, &x.parent, &x.bytes, &x.packets, &x.drops,
	           &x.overlimits, &x.requeues, &x.backlog, &x.qlen, &end) != 11 ||
	    line[end] != '\0' || (type != 'q' && type != 'c'))
		return errno = EINVAL, -1;
	x.type = type == 'q' ? TCVIEW_QDISC : TCVIEW_CLASS;
	if (strcmp(x.kind, "-") == 0)
		x.kind[0] = '\0';
	/* Every node in the answer was counted in its device's total already. */
	struct tcview *tv = &(*tvs)[*ntvs - 1];
	size_t total = tv->total;
	int r = tcview_add(tv, &x, TCVIEW_MAX_NODES);
	tv->total = total;
	return r;
}

/* The Prometheus families of every qdisc and class. */
static const struct tcview_family {
	const char *name;
	const char *type;
	const char *help;
	size_t offset;
	bool wide; /* uint64_t, else uint32_t */
} tcview_families[] = {
    {"bytes_total", "counter", "Bytes sent, as tc -s counts them.",
     offsetof(struct tcview_node, bytes), true},
    {"packets_total", "counter", "Packets sent.", offsetof(struct tcview_node, packets), true},
    {"drops_total", "counter", "Packets dropped.", offsetof(struct tcview_node, drops), false},
    {"overlimits_total", "counter", "Times the rate held a packet back (tc -s overlimits).",
     offsetof(struct tcview_node, overlimits), false},
    {"requeues_total", "counter", "Packets requeued.", offsetof(struct tcview_node, requeues),
     false},
    {"backlog_bytes", "gauge", "Bytes queued now.", offsetof(struct tcview_node, backlog), false},
    {"backlog_packets", "gauge", "Packets queued now.", offsetof(struct tcview_node, qlen), false},
};
#define TCVIEW_NFAMILIES (sizeof(tcview_families) / sizeof(tcview_families[0]))

static uint64_t
tcview_field(const struct tcview_node *x, const struct tcview_family *f)
{
	uint64_t v64;
	uint32_t v32;

	if (f->wide) {
		memcpy(&v64, (const char *)x + f->offset, sizeof(v64));
		return v64;
	}
	memcpy(&v32, (const char *)x + f->offset, sizeof(v32));
	return v32;
}

/* V as a label value: backslash, double quote and newline escaped. */
static void
tcview_label(FILE *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

/* NAME{device="D",qdisc|class="H",parent="P",kind="K"} VALUE */
static void
tcview_sample(FILE *out, const char *name, const struct tcview *tv, const struct tcview_node *x,
              uint64_t value)
{
	const char *what = x->type == TCVIEW_QDISC ? "qdisc" : "class";
	char handle[24], parent[24];

	tcview_handle_str(x->handle, handle, sizeof(handle));
	tcview_handle_str(x->parent, parent, sizeof(parent));
	fprintf(out, "imqd_%s_%s{device=\"", what, name);
	tcview_label(out, tv->dev);
	fprintf(out, "\",%s=\"%s\",parent=\"%s\",kind=\"", what, handle, parent);
	tcview_label(out, x->kind);
	fprintf(out, "\"} %" PRIu64 "\n", value);
}

static void
tcview_family_print(const struct tcview *tvs, size_t ntvs, size_t max, enum tcview_type type,
                    const struct tcview_family *f, FILE *out)
{
	const char *what = type == TCVIEW_QDISC ? "qdisc" : "class";

	fprintf(out, "# HELP imqd_%s_%s %s\n# TYPE imqd_%s_%s %s\n", what, f->name, f->help, what,
	        f->name, f->type);
	for (size_t i = 0; i < ntvs; i++) {
		for (size_t k = 0; k < tvs[i].n && k < max; k++) {
			const struct tcview_node *x = &tvs[i].nodes[k];

			if (x->type == type)
				tcview_sample(out, f->name, &tvs[i], x, tcview_field(x, f));
		}
	}
}

static void
tcview_gauge(const struct tcview *tvs, size_t ntvs, size_t max, bool omitted, FILE *out)
{
	const char *name = omitted ? "imqd_tc_nodes_omitted" : "imqd_tc_nodes";

	fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name,
	        omitted ? "Qdiscs and classes left out of these metrics (metrics-classes)."
	                : "Qdiscs and classes the device has.",
	        name);
	for (size_t i = 0; i < ntvs; i++) {
		size_t shown = tvs[i].n < max ? tvs[i].n : max;

		if (tvs[i].error != 0)
			continue;
		fprintf(out, "%s{device=\"", name);
		tcview_label(out, tvs[i].dev);
		fprintf(out, "\"} %zu\n", omitted ? tvs[i].total - shown : tvs[i].total);
	}
}

void
tcview_print_prometheus(const struct tcview *tvs, size_t ntvs, size_t max, FILE *out)
{
	size_t read = 0;

	for (size_t i = 0; i < ntvs; i++)
		read += tvs[i].error == 0;
	if (read == 0 || max == 0)
		return;
	tcview_gauge(tvs, ntvs, max, false, out);
	tcview_gauge(tvs, ntvs, max, true, out);
	for (size_t i = 0; i < TCVIEW_NFAMILIES; i++)
		tcview_family_print(tvs, ntvs, max, TCVIEW_QDISC, &tcview_families[i], out);
	for (size_t i = 0; i < TCVIEW_NFAMILIES; i++)
		tcview_family_print(tvs, ntvs, max, TCVIEW_CLASS, &tcview_families[i], out);
}

void
tcview_set_metrics_nodes(size_t max)
{
	tcview_metrics_nodes = max < TCVIEW_MAX_NODES ? max : TCVIEW_MAX_NODES;
}

void
tcview_prometheus(const struct stats_device *devs, size_t ndevs, FILE *out)
{
	struct tcview *tvs;
	size_t n = 0;

	if (tcview_metrics_nodes == 0 || ndevs == 0 || (tvs = calloc(ndevs, sizeof(*tvs))) == NULL)
		return;
	for (size_t i = 0; i < ndevs; i++) {
		if (devs[i].state != NULL && strcmp(devs[i].state, "failed") == 0)
			continue;
		tcview_read(&tvs[n++], devs[i].name, tcview_metrics_nodes);
	}
	tcview_print_prometheus(tvs, n, tcview_metrics_nodes, out);
	for (size_t i = 0; i < n; i++)
		tcview_clear(&tvs[i]);
	free(tvs);
}

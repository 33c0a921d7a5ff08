/* Unit tests of tcview.c (rtnetlink messages, the classes answer, Prometheus) and classes.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <linux/gen_stats.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "classes.h"
#include "tcview.h"
#include "tcview_msgs.h"

#define H(maj, min) (((uint32_t)(maj) << 16) | (min))

static char *
capture_text(void (*fn)(void *arg, FILE *f), void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fn(arg, f);
	fclose(f);
	return text;
}

static void
test_parse_recorded(void **state)
{
	static const struct {
		const uint8_t *msg;
		enum tcview_type type;
		const char *kind;
		uint32_t handle, parent;
		uint64_t bytes, packets;
	} want[] = {
	    {tcview_msg0, TCVIEW_QDISC, "htb", H(1, 0), TC_H_ROOT, 3168, 4},
	    {tcview_msg1, TCVIEW_QDISC, "pfifo", H(0x10, 0), H(1, 0x10), 3126, 3},
	    {tcview_msg2, TCVIEW_CLASS, "htb", H(1, 0x10), H(1, 1), 3126, 3},
	    {tcview_msg3, TCVIEW_CLASS, "htb", H(1, 1), TC_H_ROOT, 3168, 4},
	    {tcview_msg4, TCVIEW_CLASS, "htb", H(1, 0x20), H(1, 1), 42, 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct tcview_node x;
		int ifindex = -1;

		assert_int_equal(
		    tcview_parse_msg((const struct nlmsghdr *)want[i].msg, &x, &ifindex), 0);
		assert_int_equal(ifindex, 2);
		assert_int_equal(x.type, want[i].type);
		assert_string_equal(x.kind, want[i].kind);
		assert_int_equal(x.handle, want[i].handle);
		assert_int_equal(x.parent, want[i].parent);
		assert_int_equal(x.bytes, want[i].bytes);
		assert_int_equal(x.packets, want[i].packets);
		assert_int_equal(x.drops + x.overlimits + x.requeues + x.backlog + x.qlen, 0);
	}
}

/* A message of TYPE with a tcmsg; the caller adds attributes. */
static struct nlmsghdr *
msg_start(char *buf, uint16_t type, uint32_t handle, uint32_t parent)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;

	nlh->nlmsg_type = type;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_ifindex = 7;
	tcm->tcm_handle = handle;
	tcm->tcm_parent = parent;
	return nlh;
}

/* Over 2^32 packets: TCA_STATS_PKT64 wins over the basic count, in either order. */
static void
test_parse_pkt64(void **state)
{
	struct gnet_stats_basic b = {.bytes = 7000000000000ull, .packets = 705032704};
	struct gnet_stats_queue q = {
	    .qlen = 3, .backlog = 4500, .drops = 7, .requeues = 1, .overlimits = 9};
	char buf[512];
	(void)state;

	for (int order = 0; order < 2; order++) {
		struct nlmsghdr *nlh = msg_start(buf, RTM_NEWTCLASS, H(1, 0x10), H(1, 1));
		struct tcview_node x;
		int ifindex;

		mnl_attr_put_strz(nlh, TCA_KIND, "htb");
		struct nlattr *nest = mnl_attr_nest_start(nlh, TCA_STATS2);
		if (order == 0)
			mnl_attr_put_u64(nlh, TCA_STATS_PKT64, 5000000000ull);
		mnl_attr_put(nlh, TCA_STATS_BASIC, sizeof(b), &b);
		if (order == 1)
			mnl_attr_put_u64(nlh, TCA_STATS_PKT64, 5000000000ull);
		mnl_attr_put(nlh, TCA_STATS_QUEUE, sizeof(q), &q);
		mnl_attr_nest_end(nlh, nest);
		assert_int_equal(tcview_parse_msg(nlh, &x, &ifindex), 0);
		assert_int_equal(ifindex, 7);
		assert_int_equal(x.type, TCVIEW_CLASS);
		assert_int_equal(x.bytes, 7000000000000ull);
		assert_int_equal(x.packets, 5000000000ull);
		assert_int_equal(x.qlen, 3);
		assert_int_equal(x.backlog, 4500);
		assert_int_equal(x.drops, 7);
		assert_int_equal(x.requeues, 1);
		assert_int_equal(x.overlimits, 9);
	}
}

static void
test_parse_rejects(void **state)
{
	char buf[512];
	struct tcview_node x;
	int ifindex;
	(void)state;

	/* Not a qdisc or class. */
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, 0, 0);
	assert_int_equal(tcview_parse_msg(nlh, &x, &ifindex), -1);
	nlh = msg_start(buf, RTM_NEWTFILTER, 0, 0);
	assert_int_equal(tcview_parse_msg(nlh, &x, &ifindex), -1);
	/* Too short for its tcmsg. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWQDISC;
	mnl_nlmsg_put_extra_header(nlh, 8);
	assert_int_equal(tcview_parse_msg(nlh, &x, &ifindex), -1);
	/* Short statistics and an unterminated kind are left out, the node kept. */
	nlh = msg_start(buf, RTM_NEWQDISC, H(1, 0), TC_H_ROOT);
	mnl_attr_put(nlh, TCA_KIND, 3, "htb");
	struct nlattr *nest = mnl_attr_nest_start(nlh, TCA_STATS2);
	mnl_attr_put(nlh, TCA_STATS_BASIC, 8, "\x01\x02\x03\x04\x05\x06\x07\x08");
	mnl_attr_put(nlh, TCA_STATS_QUEUE, 8, "\x01\x02\x03\x04\x05\x06\x07\x08");
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(tcview_parse_msg(nlh, &x, &ifindex), 0);
	assert_string_equal(x.kind, "");
	assert_int_equal(x.bytes + x.packets + x.qlen + x.drops, 0);
	/* An attribute claiming more than the message holds ends the walk. */
	nlh = msg_start(buf, RTM_NEWQDISC, H(1, 0), TC_H_ROOT);
	mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
	struct nlattr *bad = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, TCA_STATS2, 0);
	bad->nla_len = 200;
	assert_int_equal(tcview_parse_msg(nlh, &x, &ifindex), 0);
	assert_string_equal(x.kind, "tbf");
}

static struct tcview_node
node(enum tcview_type type, const char *kind, uint32_t handle, uint32_t parent, uint64_t bytes,
     uint64_t packets)
{
	struct tcview_node x = {
	    .type = type, .handle = handle, .parent = parent, .bytes = bytes, .packets = packets};

	snprintf(x.kind, sizeof(x.kind), "%s", kind);
	return x;
}

static void
recorded_view(struct tcview *tv)
{
	const uint8_t *msgs[] = {tcview_msg0, tcview_msg1, tcview_msg2, tcview_msg3, tcview_msg4};

	memset(tv, 0, sizeof(*tv));
	snprintf(tv->dev, sizeof(tv->dev), "imq0");
	for (size_t i = 0; i < 5; i++) {
		struct tcview_node x;
		int ifindex;

		assert_int_equal(tcview_parse_msg((const struct nlmsghdr *)msgs[i], &x, &ifindex),
		                 0);
		assert_int_equal(tcview_add(tv, &x, TCVIEW_MAX_NODES), 0);
	}
}

/* ORDER and DEPTH of TV's tree as "handle/depth ..." with qdiscs as "q1:". */
static void
tree_string(const struct tcview *tv, char *buf, size_t size)
{
	size_t *order = calloc(tv->n + 1, sizeof(*order));
	unsigned *depth = calloc(tv->n + 1, sizeof(*depth));
	size_t off = 0;

	assert_int_equal(classes_tree(tv, order, depth), 0);
	buf[0] = '\0';
	for (size_t k = 0; k < tv->n; k++) {
		const struct tcview_node *x = &tv->nodes[order[k]];
		char h[24];

		tcview_handle_str(x->handle, h, sizeof(h));
		off += (size_t)snprintf(buf + off, size - off, "%s%s%s/%u", k ? " " : "",
		                        x->type == TCVIEW_QDISC ? "q" : "", h, depth[k]);
	}
	free(order);
	free(depth);
}

static void
test_tree_recorded(void **state)
{
	struct tcview tv;
	char s[256];
	(void)state;

	recorded_view(&tv);
	tree_string(&tv, s, sizeof(s));
	assert_string_equal(s, "q1:/0 1:1/1 1:10/2 q10:/3 1:20/2");
	tcview_clear(&tv);
}

/* mq with a qdisc per class, an ingress qdisc, a class whose qdisc is missing, and a circle. */
static void
test_tree_shapes(void **state)
{
	struct tcview tv = {0};
	const struct tcview_node nodes[] = {
	    node(TCVIEW_CLASS, "htb", H(1, 2), H(1, 1), 0, 0),
	    node(TCVIEW_QDISC, "htb", H(1, 0), H(0x7fff, 1), 0, 0),
	    node(TCVIEW_CLASS, "mq", H(0x7fff, 2), TC_H_ROOT, 0, 0),
	    node(TCVIEW_QDISC, "ingress", H(0xffff, 0), TC_H_INGRESS, 0, 0),
	    node(TCVIEW_CLASS, "mq", H(0x7fff, 1), TC_H_ROOT, 0, 0),
	    node(TCVIEW_QDISC, "pfifo_fast", 0, H(0x7fff, 2), 0, 0),
	    node(TCVIEW_CLASS, "htb", H(1, 1), TC_H_ROOT, 0, 0),
	    node(TCVIEW_QDISC, "mq", H(0x7fff, 0), TC_H_ROOT, 0, 0),
	    node(TCVIEW_CLASS, "htb", H(5, 1), TC_H_ROOT, 0, 0),
	    node(TCVIEW_CLASS, "htb", H(9, 1), H(9, 2), 0, 0),
	    node(TCVIEW_CLASS, "htb", H(9, 2), H(9, 1), 0, 0),
	};
	char s[512];
	(void)state;

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		assert_int_equal(tcview_add(&tv, &nodes[i], TCVIEW_MAX_NODES), 0);
	tree_string(&tv, s, sizeof(s));
	assert_string_equal(s, "q7fff:/0 7fff:1/1 q1:/2 1:1/3 1:2/4 7fff:2/1 q0:/2 "
	                       "qffff:/0 5:1/0 9:1/0 9:2/1");
	tcview_clear(&tv);
}

static void
test_tree_empty(void **state)
{
	struct tcview tv = {0};
	size_t order[1];
	unsigned depth[1];
	(void)state;

	assert_int_equal(classes_tree(&tv, order, depth), 0);
}

static void
print_view_cb(void *arg, FILE *f)
{
	tcview_print_view(arg, f);
}

static void
test_lines_roundtrip(void **state)
{
	struct tcview tv, *back;
	size_t nback;
	(void)state;

	recorded_view(&tv);
	tv.time_ns = 123456789012ull;
	tv.total = 7; /* two more than were kept */
	tv.nodes[1].drops = 4000000000u;
	tv.nodes[1].qlen = 12;
	tv.nodes[1].backlog = 18000;
	tv.nodes[2].overlimits = 5;
	tv.nodes[2].requeues = 6;
	tv.nodes[3].packets = 5000000000ull;
	char *text = capture_text(print_view_cb, &tv);
	assert_string_equal(text, "device imq0 123456789012 7 0\n"
	                          "node q htb 10000 ffffffff 3168 4 0 0 0 0 0\n"
	                          "node q pfifo 100000 10010 3126 3 4000000000 0 0 18000 12\n"
	                          "node c htb 10010 10001 3126 3 0 5 6 0 0\n"
	                          "node c htb 10001 ffffffff 3168 5000000000 0 0 0 0 0\n"
	                          "node c htb 10020 10001 42 1 0 0 0 0 0\n");
	assert_int_equal(classes_parse(text, &back, &nback), 0);
	assert_int_equal(nback, 1);
	assert_string_equal(back[0].dev, "imq0");
	assert_int_equal(back[0].time_ns, tv.time_ns);
	assert_int_equal(back[0].total, 7);
	assert_int_equal(back[0].error, 0);
	assert_int_equal(back[0].n, 5);
	assert_memory_equal(back[0].nodes, tv.nodes, 5 * sizeof(*tv.nodes));
	classes_free(back, nback);
	free(text);
	tcview_clear(&tv);
}

static void
test_lines_malformed(void **state)
{
	static const char *const bad[] = {
	    "node q htb 10000 ffffffff 1 1 0 0 0 0 0\n", /* before any device */
	    "device imq0 1 1 0\nnode x htb 10000 ffffffff 1 1 0 0 0 0 0\n",
	    "device imq0 1 1 0\nnode q htb 10000 ffffffff 1 1 0 0 0 0\n",
	    "device imq0 1 1 0\nnode q htb 10000 ffffffff 1 1 0 0 0 0 0 9\n",
	    "device imq0 1 1\n",
	    "device imq0 1 1 0 extra\n",
	    "devices imq0 1 1 0\n",
	};
	struct tcview *tvs;
	size_t n;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(classes_parse(bad[i], &tvs, &n), -1);
		assert_null(tvs);
		assert_int_equal(n, 0);
	}
	/* An error reading a device comes as its errno, with no nodes. */
	assert_int_equal(classes_parse("device imq0 5 0 19\ndevice imq1 5 1 0\n"
	                               "node q - 0 ffffffff 0 0 0 0 0 0 0",
	                               &tvs, &n),
	                 0);
	assert_int_equal(n, 2);
	assert_int_equal(tvs[0].error, 19);
	assert_int_equal(tvs[1].n, 1);
	assert_string_equal(tvs[1].nodes[0].kind, "");
	classes_free(tvs, n);
}

static void
test_handle_str(void **state)
{
	char b[24];
	(void)state;

	tcview_handle_str(TC_H_ROOT, b, sizeof(b));
	assert_string_equal(b, "root");
	tcview_handle_str(TC_H_INGRESS, b, sizeof(b));
	assert_string_equal(b, "ingress");
	tcview_handle_str(0, b, sizeof(b));
	assert_string_equal(b, "0:");
	tcview_handle_str(H(0xffff, 0), b, sizeof(b));
	assert_string_equal(b, "ffff:");
	tcview_handle_str(H(1, 0xabc), b, sizeof(b));
	assert_string_equal(b, "1:abc");
	tcview_handle_str(H(0, 5), b, sizeof(b));
	assert_string_equal(b, "0:5");
}

/* Two readings 2 s apart: rates, a node new in the second, a qdisc replaced. */
static void
two_readings(struct tcview *prev, struct tcview *cur)
{
	struct tcview_node a = node(TCVIEW_CLASS, "htb", H(1, 0x10), H(1, 1), 1000000, 1000);
	struct tcview_node b = node(TCVIEW_QDISC, "tbf", H(2, 0), TC_H_ROOT, 500000, 400);
	struct tcview_node c = node(TCVIEW_CLASS, "htb", H(1, 0x20), H(1, 1), 10, 1);

	*prev = (struct tcview){.dev = "imq0", .time_ns = 10000000000ull};
	*cur = (struct tcview){.dev = "imq0", .time_ns = 12000000000ull};
	assert_int_equal(tcview_add(prev, &a, 10), 0);
	assert_int_equal(tcview_add(prev, &b, 10), 0);
	a.bytes += 2500000; /* 10 Mbit/s over 2 s */
	a.packets += 2000;
	b.bytes = 100; /* replaced: counters started again */
	b.packets = 1;
	assert_int_equal(tcview_add(cur, &b, 10), 0);
	assert_int_equal(tcview_add(cur, &a, 10), 0);
	assert_int_equal(tcview_add(cur, &c, 10), 0);
	classes_sort(prev);
}

static void
test_rate(void **state)
{
	struct tcview prev, cur;
	double bps, pps;
	(void)state;

	two_readings(&prev, &cur);
	assert_true(classes_rate(&prev, &cur, 1, &bps, &pps));
	assert_float_equal(bps, 10e6, 1e-6);
	assert_float_equal(pps, 1000, 1e-9);
	assert_false(classes_rate(&prev, &cur, 0, &bps, &pps)); /* counters went back */
	assert_false(classes_rate(&prev, &cur, 2, &bps, &pps)); /* not in the first reading */
	assert_false(classes_rate(NULL, &cur, 1, &bps, &pps));
	/* Another kind under the same handle is another qdisc. */
	snprintf(cur.nodes[1].kind, sizeof(cur.nodes[1].kind), "hfsc");
	assert_false(classes_rate(&prev, &cur, 1, &bps, &pps));
	tcview_clear(&prev);
	tcview_clear(&cur);
}

struct print_args {
	struct tcview *cur, *prev;
	struct classes_opts o;
};

static void
print_cb(void *arg, FILE *f)
{
	struct print_args *a = arg;

	classes_print(a->cur, 1, a->prev, a->prev != NULL, &a->o, f);
}

static void
test_print_json(void **state)
{
	struct tcview prev, cur;
	struct print_args a = {&cur, &prev, {.json = true}};
	(void)state;

	two_readings(&prev, &cur);
	char *text = capture_text(print_cb, &a);
	assert_string_equal(
	    text,
	    "{\"devices\":[{\"name\":\"imq0\",\"interval_s\":2.000,\"nodes\":3,\"shown\":3,"
	    "\"tree\":["
	    "{\"type\":\"qdisc\",\"kind\":\"tbf\",\"handle\":\"2:\",\"parent\":\"root\",\"depth\":"
	    "0,"
	    "\"rate_bps\":null,\"rate_pps\":null,\"bytes\":100,\"packets\":1,\"drops\":0,"
	    "\"overlimits\":0,\"requeues\":0,\"backlog_bytes\":0,\"backlog_packets\":0},"
	    "{\"type\":\"class\",\"kind\":\"htb\",\"handle\":\"1:10\",\"parent\":\"1:1\",\"depth\":"
	    "0,"
	    "\"rate_bps\":10000000,\"rate_pps\":1000.0,\"bytes\":3500000,\"packets\":3000,"
	    "\"drops\":0,\"overlimits\":0,\"requeues\":0,\"backlog_bytes\":0,\"backlog_packets\":0}"
	    ","
	    "{\"type\":\"class\",\"kind\":\"htb\",\"handle\":\"1:20\",\"parent\":\"1:1\",\"depth\":"
	    "0,"
	    "\"rate_bps\":null,\"rate_pps\":null,\"bytes\":10,\"packets\":1,\"drops\":0,"
	    "\"overlimits\":0,\"requeues\":0,\"backlog_bytes\":0,\"backlog_packets\":0}]}]}\n");
	free(text);
	/* No earlier reading: no interval and no rates; an unreadable device: its error. */
	a.prev = NULL;
	cur.error = 19;
	text = capture_text(print_cb, &a);
	assert_string_equal(text,
	                    "{\"devices\":[{\"name\":\"imq0\",\"error\":\"No such device\"}]}\n");
	free(text);
	tcview_clear(&prev);
	tcview_clear(&cur);
}

static void
test_print_text(void **state)
{
	struct tcview prev, cur;
	struct print_args a = {&cur, &prev, {0}};
	(void)state;

	two_readings(&prev, &cur);
	cur.total = 4;
	cur.nodes[1].qlen = 2;
	cur.nodes[1].backlog = 3028;
	char *text = capture_text(print_cb, &a);
	assert_string_equal(
	    text,
	    "imq0: 4 qdiscs and classes, the first 3 shown, rates over 2.00 s\n"
	    "NODE                  RATE      PPS          BYTES     PACKETS     DROPS OVERLIMITS "
	    "REQUEUES      BACKLOG\n"
	    "qdisc tbf 2:             -        -            100           1         0          0 "
	    "       0        0b 0p\n"
	    "class htb 1:10   10.00Mbit     1000        3500000        3000         0          0 "
	    "       0     3028b 2p\n"
	    "class htb 1:20           -        -             10           1         0          0 "
	    "       0        0b 0p\n");
	free(text);
	tcview_clear(&prev);
	tcview_clear(&cur);
}

static void
test_prometheus(void **state)
{
	struct tcview tvs[3];
	(void)state;

	recorded_view(&tvs[0]);
	tvs[1] = (struct tcview){.dev = "imq1", .error = 19};
	recorded_view(&tvs[2]);
	snprintf(tvs[2].dev, sizeof(tvs[2].dev), "imq\"2");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	tcview_print_prometheus(tvs, 3, 3, f);
	fclose(f);
	/* 2 gauges x 2 devices + 7 families x 3 nodes x 2 devices, and 2 x 16 HELP/TYPE lines. */
	size_t samples = 0, meta = 0;
	for (char *p = text; *p != '\0'; p = strchr(p, '\n') + 1)
		*p == '#' ? meta++ : samples++;
	assert_int_equal(samples, 2 * 2 + 7 * 3 * 2);
	assert_int_equal(meta, 2 * 16);
	assert_non_null(strstr(text, "imqd_tc_nodes{device=\"imq0\"} 5\n"));
	assert_non_null(strstr(text, "imqd_tc_nodes_omitted{device=\"imq0\"} 2\n"));
	assert_non_null(strstr(text, "imqd_tc_nodes_omitted{device=\"imq\\\"2\"} 2\n"));
	assert_null(strstr(text, "imq1"));
	assert_non_null(strstr(text, "# TYPE imqd_class_bytes_total counter\n"
	                             "imqd_class_bytes_total{device=\"imq0\",class=\"1:10\","
	                             "parent=\"1:1\",kind=\"htb\"} 3126\n"));
	assert_non_null(strstr(text, "imqd_qdisc_packets_total{device=\"imq0\",qdisc=\"10:\","
	                             "parent=\"1:10\",kind=\"pfifo\"} 3\n"));
	assert_non_null(strstr(text, "# TYPE imqd_qdisc_backlog_bytes gauge\n"));
	/* The fourth node and on are left out. */
	assert_null(strstr(text, "class=\"1:1\""));
	free(text);
	/* Nothing read, or a bound of 0: no families at all. */
	f = open_memstream(&text, &len);
	tcview_print_prometheus(tvs + 1, 1, 3, f);
	tcview_print_prometheus(tvs, 1, 0, f);
	fclose(f);
	assert_string_equal(text, "");
	free(text);
	tcview_clear(&tvs[0]);
	tcview_clear(&tvs[2]);
}

/* The bound keeps the first nodes and still counts the rest. */
static void
test_add_bound(void **state)
{
	struct tcview tv = {0};
	struct tcview_node x = node(TCVIEW_CLASS, "htb", H(1, 1), TC_H_ROOT, 0, 0);
	(void)state;

	for (int i = 0; i < 100; i++) {
		x.handle = H(1, i + 1);
		assert_int_equal(tcview_add(&tv, &x, 70), 0);
	}
	assert_int_equal(tv.n, 70);
	assert_int_equal(tv.total, 100);
	assert_int_equal(tv.nodes[69].handle, H(1, 70));
	tcview_clear(&tv);
	assert_int_equal(tv.n + tv.total, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_recorded),  cmocka_unit_test(test_parse_pkt64),
	    cmocka_unit_test(test_parse_rejects),   cmocka_unit_test(test_tree_recorded),
	    cmocka_unit_test(test_tree_shapes),     cmocka_unit_test(test_tree_empty),
	    cmocka_unit_test(test_lines_roundtrip), cmocka_unit_test(test_lines_malformed),
	    cmocka_unit_test(test_handle_str),      cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_print_json),      cmocka_unit_test(test_print_text),
	    cmocka_unit_test(test_prometheus),      cmocka_unit_test(test_add_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

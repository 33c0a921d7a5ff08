/*
 * Unit tests of the verdict engine (src/device_decide.c, device_late.c):
 * held packets, copies coming back, and the verdicts that follow, recorded
 * by a fake sink instead of an NFQUEUE socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "device_int.h"
#include "packets.h"

/* After device_int.h: the libc headers it includes must come first. */
#include <linux/netfilter.h>

#define MS 1000000ULL

struct rec {
	uint32_t id;
	uint32_t verdict;
	bool set_mark;
	uint32_t mark;
};

static struct rec recs[1024];
static size_t nrecs;

static void
record_cb(void *arg, uint16_t queue, uint32_t id, uint32_t verdict, bool set_mark, uint32_t mark)
{
	(void)arg;
	assert_int_equal(queue, 3);
	assert_true(nrecs < sizeof(recs) / sizeof(recs[0]));
	recs[nrecs++] = (struct rec){id, verdict, set_mark, mark};
}

struct fixture {
	struct conf_device conf;
	struct device *dev;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->conf.drop_timeout_ms = 1000;
	f->conf.queue_maxlen = 256;
	f->dev = calloc(1, sizeof(*f->dev));
	assert_non_null(f->dev);
	snprintf(f->dev->name, sizeof(f->dev->name), "imq9");
	f->dev->conf = &f->conf;
	f->dev->plan = (struct plan_conf){.gso = true, .overhead = 14, .tunmtu = PLAN_GSO_MTU};
	f->dev->held = pending_new(256);
	assert_non_null(f->dev->held);
	assert_int_equal(device_late_size(f->dev, 256), 0);
	f->dev->queues = calloc(1, sizeof(*f->dev->queues));
	f->dev->queues[0].num = 3;
	f->dev->nqueues = 1;
	f->dev->sink = (struct verdict_sink){record_cb, NULL};
	nrecs = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	pending_free(f->dev->held);
	free(f->dev->late);
	free(f->dev->queues);
	free(f->dev);
	free(f);
	return 0;
}

static struct stats_counters *
counters(struct fixture *f)
{
	return &f->dev->queues[0].c;
}

/* Hold the packet of LEN bytes at PKT (CAPLEN of them present) as packet ID, at NOW. */
static void
hold(struct fixture *f, uint8_t *pkt, uint32_t caplen, uint32_t len, uint32_t id, uint64_t now)
{
	struct flow_info fi;
	struct inject_pkt ip = {0};
	struct plan plan;
	struct pending_pkt pp = {.id = id, .len = len, .t_ns = now};

	flow_parse(pkt, caplen, len, 0, &fi);
	pp.flow = fi.key;
	int ecn = flow_ecn(pkt, caplen);
	pp.ecn = ecn < 0 ? FLOW_ECN_NOT_ECT : (uint8_t)ecn;
	plan_copies(&f->dev->plan, &f->dev->tags, pkt, caplen, len, &fi, 1500, &pp, &ip, &plan);
	pp.hash = flow_copy_hash(pkt, caplen < plan.len ? caplen : plan.len, plan.len);
	assert_int_not_equal(pending_add(f->dev->held, &pp), PENDING_NONE);
	counters(f)->held++;
}

/*
 * Test datagrams are 100 bytes; their copies COPY bytes, padded with zeros
 * for the link-layer overhead, as imqd sends them and reads them back.
 */
#define COPY 114

/* A UDP datagram of flow SPORT, told apart by TAG, held as packet ID; its copy at PKT. */
static void
hold_udp(struct fixture *f, uint8_t *pkt, uint16_t sport, uint8_t tag, uint32_t id, uint64_t now)
{
	pkt_udp4(pkt, COPY, 100, sport, 0, tag, 0x02 /* ECT(0) */);
	hold(f, pkt, 100, 100, id, now);
}

static void
assert_verdicts(const uint32_t *ids, const uint32_t *verdicts, size_t n)
{
	assert_int_equal(nrecs, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(recs[i].id, ids[i]);
		assert_int_equal(recs[i].verdict, verdicts[i]);
	}
}

/* Copies that come back in order release their packets in order, once each. */
static void
test_in_order(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY], b[COPY], c[COPY];

	hold_udp(f, a, 1000, 1, 11, 0);
	hold_udp(f, b, 1000, 2, 12, 0);
	hold_udp(f, c, 1000, 3, 13, 0);
	device_copy_back(f->dev, a, sizeof(a), 1 * MS);
	device_copy_back(f->dev, b, sizeof(b), 2 * MS);
	device_copy_back(f->dev, c, sizeof(c), 3 * MS);
	assert_verdicts((uint32_t[]){11, 12, 13}, (uint32_t[]){NF_ACCEPT, NF_ACCEPT, NF_ACCEPT}, 3);
	assert_int_equal(counters(f)->accepted, 3);
	assert_int_equal(counters(f)->accepted_bytes, 300);
	assert_int_equal(counters(f)->held, 0);
	assert_int_equal(pending_count(f->dev->held), 0);
	/* The same copy again has nothing to release: a stray, not a second verdict. */
	device_copy_back(f->dev, a, sizeof(a), 4 * MS);
	assert_int_equal(nrecs, 3);
	assert_int_equal(f->dev->stray, 1);
}

/*
 * reorder-window 0: a qdisc keeps a flow in order, so when a copy comes back
 * the older packets of its flow were dropped inside it. A dropped packet's
 * copy that turns up later is unmatched (late), not a stray.
 */
static void
test_drop_older_in_flow(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY], b[COPY], c[COPY], other[COPY];

	hold_udp(f, a, 1000, 1, 21, 0);
	hold_udp(f, other, 2000, 9, 22, 0);
	hold_udp(f, b, 1000, 2, 23, 0);
	hold_udp(f, c, 1000, 3, 24, 0);
	device_copy_back(f->dev, c, sizeof(c), 1 * MS);
	assert_verdicts((uint32_t[]){21, 23, 24}, (uint32_t[]){NF_DROP, NF_DROP, NF_ACCEPT}, 3);
	assert_int_equal(counters(f)->dropped_order, 2);
	/* Another flow is not affected. */
	assert_int_equal(pending_count(f->dev->held), 1);
	device_copy_back(f->dev, a, sizeof(a), 2 * MS);
	assert_int_equal(f->dev->unmatched, 1);
	assert_int_equal(f->dev->stray, 0);
	device_copy_back(f->dev, other, sizeof(other), 3 * MS);
	assert_int_equal(recs[3].id, 22);
	assert_int_equal(recs[3].verdict, NF_ACCEPT);
	assert_int_equal(counters(f)->held, 0);
}

/*
 * reorder-window 100 ms: an overtaken packet whose copy comes back within
 * the window goes on, late, as the qdisc sent it; one whose copy does not is
 * dropped when the window ends, long before drop-timeout.
 */
static void
test_reorder_window(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY], b[COPY], c[COPY];

	f->conf.reorder_window_ms = 100;
	hold_udp(f, a, 1000, 1, 31, 0);
	hold_udp(f, b, 1000, 2, 32, 0);
	hold_udp(f, c, 1000, 3, 33, 0);
	device_copy_back(f->dev, c, sizeof(c), 10 * MS);
	assert_verdicts((uint32_t[]){33}, (uint32_t[]){NF_ACCEPT}, 1);
	assert_int_equal(f->dev->overtaken, 2);
	device_copy_back(f->dev, a, sizeof(a), 60 * MS);
	assert_verdicts((uint32_t[]){33, 31}, (uint32_t[]){NF_ACCEPT, NF_ACCEPT}, 2);
	/* Not yet 100 ms since it was overtaken. */
	device_expire(f->dev, 100 * MS);
	assert_int_equal(nrecs, 2);
	device_expire(f->dev, 110 * MS);
	assert_verdicts((uint32_t[]){33, 31, 32}, (uint32_t[]){NF_ACCEPT, NF_ACCEPT, NF_DROP}, 3);
	assert_int_equal(counters(f)->dropped_order, 1);
	assert_int_equal(counters(f)->dropped_timeout, 0);
	assert_int_equal(f->dev->overtaken, 0);
}

/* A copy that does not come back within drop-timeout: dropped then, and late after. */
static void
test_expiry(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY], b[COPY];

	hold_udp(f, a, 1000, 1, 41, 0);
	hold_udp(f, b, 2000, 2, 42, 500 * MS);
	device_expire(f->dev, 999 * MS);
	assert_int_equal(nrecs, 0);
	device_expire(f->dev, 1000 * MS);
	assert_verdicts((uint32_t[]){41}, (uint32_t[]){NF_DROP}, 1);
	assert_int_equal(counters(f)->dropped_timeout, 1);
	device_copy_back(f->dev, a, sizeof(a), 1200 * MS);
	assert_int_equal(f->dev->unmatched, 1);
	assert_int_equal(nrecs, 1);
	device_expire(f->dev, 1500 * MS);
	assert_int_equal(counters(f)->dropped_timeout, 2);
	assert_int_equal(counters(f)->held, 0);
}

/* A copy imqd never sent is a stray; nothing is decided by it. */
static void
test_stray(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY], x[COPY];

	hold_udp(f, a, 1000, 1, 51, 0);
	pkt_udp4(x, sizeof(x), 100, 1000, 0, 77, 0x02);
	device_copy_back(f->dev, x, sizeof(x), 1 * MS);
	assert_int_equal(f->dev->stray, 1);
	assert_int_equal(f->dev->unmatched, 0);
	assert_int_equal(nrecs, 0);
	assert_int_equal(pending_count(f->dev->held), 1);
}

/* A continue mark: accepted packets re-run the chain with the mark's bits set. */
static void
test_continue_mark(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY];

	f->conf.continue_mark = 0x10;
	f->conf.continue_mask = 0x30;
	hold_udp(f, a, 1000, 1, 61, 0);
	device_copy_back(f->dev, a, sizeof(a), 1 * MS);
	assert_int_equal(nrecs, 1);
	assert_int_equal(recs[0].verdict, NF_REPEAT);
	assert_true(recs[0].set_mark);
	assert_int_equal(recs[0].mark, 0x10);
}

/* A copy the qdisc marked CE: its ECN-capable packet is dropped and counted as such. */
static void
test_ce_mark(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY];

	hold_udp(f, a, 1000, 1, 71, 0);
	a[1] |= FLOW_ECN_CE; /* the qdisc's mark; the IP checksum is not part of the hash */
	device_copy_back(f->dev, a, sizeof(a), 1 * MS);
	assert_verdicts((uint32_t[]){71}, (uint32_t[]){NF_DROP}, 1);
	assert_int_equal(counters(f)->dropped_ecn, 1);
	assert_int_equal(counters(f)->accepted, 0);
}

/*
 * With ecn-mark, a marked copy's packet is accepted to re-run the chain with
 * the ecn mark (and the continue mark), where a rule sets CE in its header.
 */
static void
test_ce_mark_passed(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY], b[COPY];

	f->conf.ecn_mark = 0x200;
	f->conf.ecn_mask = 0x300;
	hold_udp(f, a, 1000, 1, 75, 0);
	a[1] |= FLOW_ECN_CE;
	device_copy_back(f->dev, a, sizeof(a), 1 * MS);
	assert_int_equal(nrecs, 1);
	assert_int_equal(recs[0].verdict, NF_REPEAT);
	assert_true(recs[0].set_mark);
	assert_int_equal(recs[0].mark, 0x200);
	assert_int_equal(counters(f)->marked_ecn, 1);
	assert_int_equal(counters(f)->accepted, 1);
	assert_int_equal(counters(f)->dropped_ecn, 0);
	/* An unmarked copy's packet goes on as always; with continue-mark both marks are set. */
	f->conf.continue_mark = 0x10;
	f->conf.continue_mask = 0x10;
	hold_udp(f, b, 1000, 2, 76, 0);
	hold_udp(f, a, 2000, 3, 77, 0);
	device_copy_back(f->dev, b, sizeof(b), 2 * MS);
	a[1] |= FLOW_ECN_CE;
	device_copy_back(f->dev, a, sizeof(a), 3 * MS);
	assert_int_equal(nrecs, 3);
	assert_int_equal(recs[1].mark, 0x10);
	assert_int_equal(recs[2].verdict, NF_REPEAT);
	assert_int_equal(recs[2].mark, 0x210);
	assert_int_equal(counters(f)->marked_ecn, 2);
}

/*
 * The head (100 bytes, as read back) of segment K, of GSO_SIZE bytes of
 * payload, of the TCP GSO copy held from SEQ, at BUF.
 */
static size_t
tcp_segment(uint8_t *buf, uint32_t seq, uint32_t k, uint32_t gso_size)
{
	pkt_tcp4(buf, 100, 40 + gso_size, seq + k * gso_size, 0);
	return 100;
}

/* Hold a 4-segment TCP GSO packet as ID; returns its copy's segment payload size. */
static uint32_t
hold_gso(struct fixture *f, uint32_t seq, uint32_t id, uint64_t now)
{
	uint8_t pkt[128];
	uint32_t len = 40 + 4 * 1400;

	pkt_tcp4(pkt, sizeof(pkt), len, seq, 0);
	hold(f, pkt, sizeof(pkt), len, id, now);
	int s = pending_oldest(f->dev->held);
	while (pending_next(f->dev->held, s) != PENDING_NONE)
		s = pending_next(f->dev->held, s);
	const struct pending_pkt *pp = pending_get(f->dev->held, s);
	assert_int_equal(pp->nsegs, 4);
	return (pp->span + pp->nsegs - 1) / pp->nsegs;
}

/* A GSO copy the qdisc cut into segments: its packet goes when the last one is back. */
static void
test_gso_segments_whole(void **state)
{
	struct fixture *f = *state;
	uint8_t seg[100];
	uint32_t gso = hold_gso(f, 5000, 81, 0);

	for (uint32_t k = 0; k < 4; k++) {
		assert_int_equal(nrecs, 0);
		device_copy_back(f->dev, seg, tcp_segment(seg, 5000, k, gso), (1 + k) * MS);
	}
	assert_verdicts((uint32_t[]){81}, (uint32_t[]){NF_ACCEPT}, 1);
	assert_int_equal(counters(f)->partial, 0);
	assert_int_equal(f->dev->stray, 0);
}

/*
 * A GSO copy sent only in part (the qdisc dropped its tail): the packet goes
 * whole or not at all, whichever keeps the bytes passed nearest to what the
 * qdisc sent. Half sent: accepted (a tie goes through); then a quarter sent
 * with half a packet passed too many already: dropped. The segments that
 * come after a decision are late, not strays.
 */
static void
test_gso_partial(void **state)
{
	struct fixture *f = *state;
	uint8_t seg[100];
	uint32_t gso = hold_gso(f, 10000, 91, 0);

	device_copy_back(f->dev, seg, tcp_segment(seg, 10000, 0, gso), 1 * MS);
	device_copy_back(f->dev, seg, tcp_segment(seg, 10000, 1, gso), 2 * MS);
	/* No segment for 8 times the gap between them plus 50 ms: the rest was dropped. */
	device_expire(f->dev, 50 * MS);
	assert_int_equal(nrecs, 0);
	device_expire(f->dev, 61 * MS);
	assert_verdicts((uint32_t[]){91}, (uint32_t[]){NF_ACCEPT}, 1);
	assert_int_equal(counters(f)->partial, 1);
	device_copy_back(f->dev, seg, tcp_segment(seg, 10000, 2, gso), 62 * MS);
	assert_int_equal(f->dev->unmatched, 1);
	assert_int_equal(f->dev->stray, 0);

	uint32_t seq = 10000 + 4 * gso;
	hold_gso(f, seq, 92, 100 * MS);
	device_copy_back(f->dev, seg, tcp_segment(seg, seq, 0, gso), 101 * MS);
	/* One segment alone gives no gap to go by: 500 ms. */
	device_expire(f->dev, 600 * MS);
	assert_int_equal(nrecs, 1);
	device_expire(f->dev, 601 * MS);
	assert_verdicts((uint32_t[]){91, 92}, (uint32_t[]){NF_ACCEPT, NF_DROP}, 2);
	assert_int_equal(counters(f)->partial, 2);
	assert_int_equal(counters(f)->dropped_order, 1);
	assert_int_equal(counters(f)->held, 0);
}

/* Everything held goes, accepted, when the device stops; on-error = drop drops on failure. */
static void
test_release_all(void **state)
{
	struct fixture *f = *state;
	uint8_t a[COPY], b[COPY];

	hold_udp(f, a, 1000, 1, 101, 0);
	hold_udp(f, b, 2000, 2, 102, 0);
	f->conf.on_error = CONF_DROP;
	device_release(f->dev, -1, STATS_FO_SHUTDOWN);
	assert_verdicts((uint32_t[]){101, 102}, (uint32_t[]){NF_ACCEPT, NF_ACCEPT}, 2);
	assert_int_equal(counters(f)->failopen[STATS_FO_SHUTDOWN], 2);
	hold_udp(f, a, 1000, 1, 103, 0);
	device_release(f->dev, -1, STATS_FO_DEVICE_DOWN);
	assert_int_equal(recs[2].verdict, NF_DROP);
	assert_int_equal(counters(f)->dropped_error, 1);
	assert_int_equal(counters(f)->held, 0);
	/* Their copies, should they come back, are late. */
	device_copy_back(f->dev, a, sizeof(a), 1 * MS);
	assert_int_equal(f->dev->unmatched, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drop_older_in_flow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reorder_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stray, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_continue_mark, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ce_mark, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ce_mark_passed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gso_segments_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gso_partial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release_all, setup, teardown),
	};

	log_init("test_device_decide", LOG_WARNING, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

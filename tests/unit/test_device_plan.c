/* Unit tests of copy planning (src/device_plan.c): what each packet goes into imqN as. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "device_int.h"
#include "packets.h"

static const struct plan_conf gso_conf = {.gso = true, .overhead = 14, .tunmtu = PLAN_GSO_MTU};

struct planned {
	struct flow_info fi;
	struct pending_pkt pp;
	struct inject_pkt ip;
	struct plan plan;
};

static void
plan_pkt(const struct plan_conf *pc, struct plan_tags *tags, uint8_t *pkt, uint32_t caplen,
         uint32_t len, uint32_t seg_mtu, struct planned *out)
{
	memset(out, 0, sizeof(*out));
	assert_true(flow_parse(pkt, caplen, len, 0, &out->fi));
	plan_copies(pc, tags, pkt, caplen, len, &out->fi, seg_mtu, &out->pp, &out->ip, &out->plan);
}

/* Bytes a qdisc counts for a GSO copy: every segment's headers and its share of the payload. */
static uint64_t
qdisc_counts(const struct planned *p)
{
	uint32_t payload = p->plan.len - p->ip.hdrlen;
	uint32_t segs = (payload + p->ip.gso_size - 1) / p->ip.gso_size;
	return (uint64_t)segs * p->ip.hdrlen + payload;
}

/* What the packet is on the wire: LEN, and for every segment after the first its headers. */
static uint64_t
wire(uint32_t len, uint32_t hdr, uint32_t seg_mtu, uint32_t overhead)
{
	uint32_t mss = seg_mtu - hdr;
	uint32_t nsegs = (len - hdr + mss - 1) / mss;
	return len + (uint64_t)(nsegs - 1) * hdr + (uint64_t)nsegs * overhead;
}

/* A packet that fits a segment: one copy, its length plus the link-layer overhead. */
static void
test_small_packet(void **state)
{
	uint8_t pkt[128];
	struct plan_tags tags = {0};
	struct planned p;

	(void)state;
	pkt_udp4(pkt, sizeof(pkt), 100, 1000, 7, 0xaa, 0);
	plan_pkt(&gso_conf, &tags, pkt, 100, 100, 1500, &p);
	assert_int_equal(p.plan.copies, 1);
	assert_int_equal(p.plan.len, 114);
	assert_int_equal(p.ip.gso_size, 0);
	assert_false(p.pp.split);
	assert_int_equal(p.pp.nsegs, 0);
	/* The IP ID is the packet's own: only GSO copies are tagged. */
	assert_int_equal(pkt[4] << 8 | pkt[5], 7);
}

/* A copy is never longer than imqN's MTU. */
static void
test_tunmtu_caps_copy(void **state)
{
	const struct plan_conf pc = {.gso = false, .overhead = 14, .tunmtu = 1400};
	uint8_t pkt[128];
	struct plan_tags tags = {0};
	struct planned p;

	(void)state;
	pkt_udp4(pkt, sizeof(pkt), 1400, 1000, 7, 0xaa, 0);
	plan_pkt(&pc, &tags, pkt, sizeof(pkt), 1400, 0, &p);
	assert_int_equal(p.plan.copies, 1);
	assert_int_equal(p.plan.len, 1400);
}

/*
 * TCP GSO packets of every size: the qdisc counts each copy as exactly the
 * bytes the packet is on the wire, segments' headers and overhead included,
 * with the padding inside the copy or, where it would pass 64 KB, the
 * headers of extra segments standing in for it.
 */
static void
test_gso_tcp_counts_wire(void **state)
{
	uint8_t pkt[128];
	struct plan_tags tags = {0};
	struct planned p;

	(void)state;
	for (uint32_t len = 1501; len <= 65535; len += 997) {
		pkt_tcp4(pkt, sizeof(pkt), len, 1000, 0);
		plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), len, 1500, &p);
		assert_int_equal(p.plan.copies, 1);
		assert_true(p.plan.len <= PLAN_GSO_MTU);
		assert_int_not_equal(p.ip.gso_size, 0);
		assert_int_equal(p.ip.hdrlen, 40);
		assert_false(p.ip.udp);
		assert_int_equal(qdisc_counts(&p), wire(len, 40, 1500, 14));
		/* Held: its connection and the sequence numbers its segments cover. */
		assert_true(p.pp.conn == p.fi.conn);
		assert_int_equal(p.pp.seq, 1000);
		assert_int_equal(p.pp.span, p.plan.len - 40);
		assert_int_equal(p.pp.nsegs, (p.pp.span + p.ip.gso_size - 1) / p.ip.gso_size);
	}
}

/* Without gso, or on an interface the packet fits, no segments are planned. */
static void
test_gso_off_or_fits(void **state)
{
	const struct plan_conf off = {.gso = false, .overhead = 14, .tunmtu = PLAN_GSO_MTU};
	uint8_t pkt[128];
	struct plan_tags tags = {0};
	struct planned p;

	(void)state;
	pkt_tcp4(pkt, sizeof(pkt), 9000, 1, 0);
	plan_pkt(&off, &tags, pkt, sizeof(pkt), 9000, 1500, &p);
	assert_int_equal(p.ip.gso_size, 0);
	assert_int_equal(p.plan.len, 9014);
	plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), 9000, 9000, &p);
	assert_int_equal(p.ip.gso_size, 0);
	assert_int_equal(p.plan.len, 9014);
}

/* The IPv4 header checksum stays valid when a UDP GSO copy is tagged with an IP ID range. */
static void
test_udp_tag_ipv4(void **state)
{
	uint8_t pkt[128];
	struct plan_tags tags = {.ip_id = 0xfffc};
	struct planned p;

	(void)state;
	pkt_udp4(pkt, sizeof(pkt), 8000, 1000, 0x1234, 0, 0);
	plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), 8000, 1500, &p);
	assert_true(p.ip.udp);
	/* 0xfffc has no room for its 6 segments: the range starts again at 0. */
	assert_int_equal(pkt[4] << 8 | pkt[5], 0);
	assert_int_equal(pkt_csum(pkt, 20), 0);
	assert_int_equal(p.pp.seq, 0);
	assert_int_equal(p.pp.span, p.pp.nsegs);
	assert_int_equal(tags.ip_id, p.pp.nsegs);
	/* The next copy's range follows this one's. */
	pkt_udp4(pkt, sizeof(pkt), 8000, 1000, 0x1234, 0, 0);
	plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), 8000, 1500, &p);
	assert_int_equal(pkt[4] << 8 | pkt[5], p.pp.seq);
	assert_int_equal(p.pp.seq, tags.ip_id - p.pp.nsegs);
	assert_int_equal(pkt_csum(pkt, 20), 0);
}

/* IPv6 UDP GSO copies are told apart by a flow label of their own. */
static void
test_udp_tag_ipv6(void **state)
{
	uint8_t pkt[128];
	struct plan_tags tags = {.label = 0xffffe};
	struct planned p;
	uint32_t len = 6000;

	(void)state;
	for (int i = 0; i < 3; i++) {
		memset(pkt, 0, sizeof(pkt));
		pkt_ipv6(pkt, len, 17, 0);
		pkt_put16(pkt + 40, 1000);
		pkt_put16(pkt + 42, 9);
		pkt_put16(pkt + 44, (uint16_t)(len - 40));
		plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), len, 1500, &p);
		uint32_t label = (uint32_t)(pkt[1] & 0x0f) << 16 | (uint32_t)pkt[2] << 8 | pkt[3];
		assert_int_equal(label, (0xffffeu + (unsigned)i) & 0xfffff);
		assert_int_equal(p.pp.seq, label);
		assert_int_equal(p.pp.span, 1);
		assert_int_equal(pkt[0] >> 4, 6);
	}
}

/* A UDP GSO copy has at most 128 segments (the kernel's limit); more go as plain copies. */
static void
test_udp_segment_cap(void **state)
{
	uint8_t pkt[128];
	struct plan_tags tags = {0};
	struct planned p;

	(void)state;
	/* 127 segments, and padding that needs more: capped at 128 in all. */
	pkt_udp4(pkt, sizeof(pkt), 65000, 1000, 1, 0, 0);
	plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), 65000, 540, &p);
	assert_int_equal(p.plan.copies, 1);
	assert_true(p.ip.udp);
	assert_int_equal(p.pp.nsegs, PLAN_UDP_MAX_SEGS);
	assert_true(qdisc_counts(&p) <= wire(65000, 28, 540, 14));
	/* 133 segments: plain copies, PLAN_MAX_COPIES at most, together its wire length. */
	pkt_udp4(pkt, sizeof(pkt), 65000, 1000, 1, 0, 0);
	plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), 65000, 520, &p);
	assert_int_equal(p.ip.gso_size, 0);
	assert_true(p.pp.split);
	assert_int_equal(p.plan.copies, PLAN_MAX_COPIES);
	assert_int_equal(p.pp.nsegs, PLAN_MAX_COPIES);
	assert_int_equal((uint64_t)p.plan.len * p.plan.copies + p.plan.extra,
	                 wire(65000, 28, 520, 14));
}

/* A long packet that is neither TCP nor UDP goes as one plain copy per segment. */
static void
test_split_other_protocol(void **state)
{
	uint8_t pkt[128];
	struct plan_tags tags = {0};
	struct planned p;

	(void)state;
	memset(pkt, 0, sizeof(pkt));
	pkt_ipv4(pkt, 6000, 1, 9, 0); /* ICMP, reassembled from fragments */
	plan_pkt(&gso_conf, &tags, pkt, sizeof(pkt), 6000, 1500, &p);
	assert_true(p.pp.split);
	assert_int_equal(p.plan.copies, 5);
	assert_int_equal(p.pp.nsegs, 5);
	/* 6000 bytes, the IP header of 4 more fragments, 5 times the overhead. */
	assert_int_equal(p.plan.len * 5 + p.plan.extra, 6000 + 4 * 20 + 5 * 14);
	assert_int_equal(p.plan.extra, (6000 + 4 * 20 + 5 * 14) % 5);
}

/* RFC 1624: an incremental update gives the checksum a full recomputation gives. */
static void
test_csum_update(void **state)
{
	uint8_t h[20];

	(void)state;
	for (uint32_t id = 0; id < 0x10000; id += 251) {
		pkt_ipv4(h, 1500, 17, 0xbeef, 0x02);
		uint16_t csum = (uint16_t)(h[10] << 8 | h[11]);
		uint16_t updated = plan_csum_update(csum, 0xbeef, (uint16_t)id);
		pkt_put16(h + 4, (uint16_t)id);
		pkt_put16(h + 10, 0);
		uint16_t full = pkt_csum(h, 20);
		/* 0x0000 and 0xffff are the same number in ones' complement. */
		assert_true(updated == full || (updated ^ full) == 0xffff);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_packet),        cmocka_unit_test(test_tunmtu_caps_copy),
	    cmocka_unit_test(test_gso_tcp_counts_wire), cmocka_unit_test(test_gso_off_or_fits),
	    cmocka_unit_test(test_udp_tag_ipv4),        cmocka_unit_test(test_udp_tag_ipv6),
	    cmocka_unit_test(test_udp_segment_cap),     cmocka_unit_test(test_split_other_protocol),
	    cmocka_unit_test(test_csum_update),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

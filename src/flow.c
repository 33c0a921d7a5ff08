/* What imqd reads of a packet: its flow, and the hash that finds its copy again. */
#include "flow.h"

#include <string.h>
#include <xxhash.h>

#define FLOW_SMALL_LEN 128

/* Fields hashed into a flow key; zeroed first so padding hashes the same. */
struct flow_tuple {
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint32_t ports; /* sport << 16 | dport, or SPI, or 0 */
	uint32_t mark;
	uint8_t proto;
	uint8_t dscp;
	uint8_t tcpflags; /* SYN, FIN, RST */
	uint8_t small;
	uint8_t frag; /* non-first fragment: no ports */
	uint8_t version;
	/* Not hashed: */
	uint32_t hdrlen; /* network and transport header bytes */
	uint32_t l4off;
	uint32_t iplen;
	uint32_t seq;
	bool tcp;
};

/* The part of a flow_tuple that names a TCP connection or UDP flow. */
struct flow_conn {
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint32_t ports;
	uint8_t version;
	uint8_t proto;
	uint8_t pad[2];
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

static void
flow_l4(const uint8_t *l4, size_t avail, struct flow_tuple *t)
{
	switch (t->proto) {
	case 6: /* TCP */
		if (avail >= 20) {
			uint32_t thl = (uint32_t)(l4[12] >> 4) * 4;
			t->tcpflags = l4[13] & (TCP_FIN | TCP_SYN | TCP_RST);
			t->hdrlen += thl;
			t->seq = (uint32_t)l4[4] << 24 | (uint32_t)l4[5] << 16 |
			         (uint32_t)l4[6] << 8 | l4[7];
			t->tcp = thl >= 20 && thl <= avail;
		}
		if (avail >= 4)
			t->ports = (uint32_t)l4[0] << 24 | (uint32_t)l4[1] << 16 |
			           (uint32_t)l4[2] << 8 | l4[3];
		break;
	case 17: /* UDP */
		t->hdrlen += 8;
		/* fall through */
	case 132: /* SCTP */
	case 136: /* UDP-Lite */
	case 33:  /* DCCP */
		if (avail >= 4)
			t->ports = (uint32_t)l4[0] << 24 | (uint32_t)l4[1] << 16 |
			           (uint32_t)l4[2] << 8 | l4[3];
		break;
	case 50: /* ESP: the SPI names the security association */
		if (avail >= 4)
			memcpy(&t->ports, l4, 4);
		break;
	default:
		break;
	}
}

static bool
flow_ipv4(const uint8_t *p, size_t caplen, struct flow_tuple *t)
{
	if (caplen < 20)
		return false;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > caplen)
		return false;
	memcpy(t->saddr, p + 12, 4);
	memcpy(t->daddr, p + 16, 4);
	t->proto = p[9];
	t->dscp = p[1] >> 2;
	t->iplen = (uint32_t)(p[2] << 8 | p[3]);
	t->seq = (uint32_t)(p[4] << 8 | p[5]); /* the IP ID, for UDP; TCP's sequence number below */
	uint16_t frag = (uint16_t)(p[6] << 8 | p[7]);
	if ((frag & 0x1fff) != 0) {
		t->frag = 1;
		return true;
	}
	t->hdrlen = (uint32_t)ihl;
	t->l4off = (uint32_t)ihl;
	flow_l4(p + ihl, caplen - ihl, t);
	return true;
}

static bool
flow_ipv6_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 51 || nh == 135 || nh == 139 || nh == 140;
}

static bool
flow_ipv6(const uint8_t *p, size_t caplen, struct flow_tuple *t)
{
	if (caplen < 40)
		return false;
	memcpy(t->saddr, p + 8, 16);
	memcpy(t->daddr, p + 24, 16);
	t->dscp = (uint8_t)(((p[0] & 0x0f) << 4 | p[1] >> 4) >> 2);
	t->iplen = 40 + (uint32_t)(p[4] << 8 | p[5]);
	t->seq = (uint32_t)(p[1] & 0x0f) << 16 | (uint32_t)p[2] << 8 | p[3]; /* flow label */
	uint8_t nh = p[6];
	size_t off = 40;
	/* A bounded walk over extension headers to the transport header. */
	for (int i = 0; i < 8; i++) {
		if (nh == 44) { /* fragment header */
			if (off + 8 > caplen)
				break;
			uint16_t fo = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
			nh = p[off];
			off += 8;
			if ((fo & 0xfff8) != 0) {
				t->frag = 1;
				t->proto = nh;
				return true;
			}
			continue;
		}
		if (!flow_ipv6_ext(nh) || off + 8 > caplen)
			break;
		size_t hlen =
		    nh == 51 ? ((size_t)p[off + 1] + 2) * 4 : ((size_t)p[off + 1] + 1) * 8;
		nh = p[off];
		off += hlen;
	}
	t->proto = nh;
	t->hdrlen = (uint32_t)off;
	t->l4off = (uint32_t)off;
	if (off <= caplen)
		flow_l4(p + off, caplen - off, t);
	return true;
}

bool
flow_parse(const uint8_t *pkt, size_t caplen, size_t len, uint32_t mark, struct flow_info *fi)
{
	struct flow_tuple t;
	struct flow_conn c;
	bool ok = false;

	memset(&t, 0, sizeof(t));
	t.mark = mark;
	t.small = len < FLOW_SMALL_LEN;
	if (caplen > 0) {
		t.version = pkt[0] >> 4;
		if (t.version == 4)
			ok = flow_ipv4(pkt, caplen, &t);
		else if (t.version == 6)
			ok = flow_ipv6(pkt, caplen, &t);
	}
	memset(fi, 0, sizeof(*fi));
	fi->hdrlen = t.hdrlen;
	fi->l4off = t.l4off;
	fi->iplen = t.iplen;
	fi->tcp = ok && t.proto == 6 && !t.frag && t.tcp;
	fi->udp = ok && t.proto == 17 && !t.frag && t.l4off + 8 <= caplen;
	if (fi->tcp || fi->udp) {
		fi->seq = t.seq;
		memset(&c, 0, sizeof(c));
		memcpy(c.saddr, t.saddr, sizeof(c.saddr));
		memcpy(c.daddr, t.daddr, sizeof(c.daddr));
		c.ports = t.ports;
		c.version = t.version;
		c.proto = t.proto;
		fi->conn = XXH3_64bits(&c, sizeof(c));
	}
	t.hdrlen = t.l4off = t.iplen = t.seq = 0;
	t.tcp = false;
	fi->key = XXH3_64bits(&t, sizeof(t));
	return ok;
}

/* Linux's TCP header with timestamps, for an inner header past what was copied. */
#define FLOW_TCP_HDR_GUESS 32

/*
 * The end of the TCP or UDP header of an inner IP packet at OFF that runs to
 * the end of the outer one (LEN); TYPE, if not 0, is the Ethernet type that
 * announced it. 0 if there is no such packet at OFF. The exact length field
 * (and, for IPv4, the header checksum) make a UDP payload that merely looks
 * like one very unlikely to pass.
 */
static uint32_t
flow_inner_ip(const uint8_t *p, size_t caplen, size_t len, size_t off, uint16_t type)
{
	size_t l4;
	uint8_t proto;

	if (off + 20 > caplen)
		return 0;
	const uint8_t *ip = p + off;
	if (ip[0] >> 4 == 4 && (type == 0 || type == 0x0800)) {
		size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
		uint32_t sum = 0;
		if (ihl < 20 || off + ihl > caplen || (size_t)(ip[2] << 8 | ip[3]) != len - off ||
		    ((ip[6] << 8 | ip[7]) & 0x3fff) != 0)
			return 0;
		for (size_t i = 0; i < ihl; i += 2)
			sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
		while (sum > 0xffff)
			sum = (sum & 0xffff) + (sum >> 16);
		if (sum != 0xffff)
			return 0;
		proto = ip[9];
		l4 = off + ihl;
	} else if (ip[0] >> 4 == 6 && (type == 0 || type == 0x86dd)) {
		if (off + 40 > caplen || 40 + (size_t)(ip[4] << 8 | ip[5]) != len - off)
			return 0;
		proto = ip[6];
		l4 = off + 40;
	} else {
		return 0;
	}
	size_t thl;
	if (proto == 17)
		thl = 8;
	else if (proto != 6)
		return 0;
	else if (l4 + 13 > caplen)
		thl = FLOW_TCP_HDR_GUESS;
	else if ((thl = (size_t)(p[l4 + 12] >> 4) * 4) < 20)
		return 0;
	return l4 + thl <= len ? (uint32_t)(l4 + thl) : 0;
}

/* As flow_inner_ip, for an Ethernet frame at OFF (with at most one VLAN tag). */
static uint32_t
flow_inner_eth(const uint8_t *p, size_t caplen, size_t len, size_t off)
{
	if (off + 14 > caplen)
		return 0;
	uint16_t type = (uint16_t)(p[off + 12] << 8 | p[off + 13]);
	off += 14;
	if (type == 0x8100 || type == 0x88a8) {
		if (off + 4 > caplen)
			return 0;
		type = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
		off += 4;
	}
	return type == 0x0800 || type == 0x86dd ? flow_inner_ip(p, caplen, len, off, type) : 0;
}

uint32_t
flow_tunnel_hdrlen(const uint8_t *pkt, size_t caplen, size_t len, const struct flow_info *fi)
{
	size_t off = (size_t)fi->l4off + 8;
	uint32_t r;

	if (!fi->udp || off + 8 > caplen || len < off)
		return 0;
	const uint8_t *h = pkt + off;
	/* VXLAN (RFC 7348): the I flag, an Ethernet frame after 8 bytes. */
	if ((h[0] & 0x08) && (r = flow_inner_eth(pkt, caplen, len, off + 8)) != 0)
		return r;
	/* Geneve (RFC 8926): version 0, options, then what the protocol type says. */
	if (h[0] >> 6 == 0) {
		size_t inner = off + 8 + (size_t)(h[0] & 0x3f) * 4;
		uint16_t type = (uint16_t)(h[2] << 8 | h[3]);
		if (type == 0x6558 && (r = flow_inner_eth(pkt, caplen, len, inner)) != 0)
			return r;
		if ((type == 0x0800 || type == 0x86dd) &&
		    (r = flow_inner_ip(pkt, caplen, len, inner, type)) != 0)
			return r;
	}
	/* An IP packet right after the UDP header (foo-over-UDP). */
	return flow_inner_ip(pkt, caplen, len, off, 0);
}

uint64_t
flow_copy_hash(const uint8_t *head, size_t headlen, size_t len)
{
	uint8_t buf[FLOW_ID_BYTES];
	size_t n = len < FLOW_ID_BYTES ? len : FLOW_ID_BYTES;
	size_t have = headlen < n ? headlen : n;

	memcpy(buf, head, have);
	memset(buf + have, 0, n - have);
	/*
	 * A qdisc may rewrite the traffic class of a copy (an ECN mark, with the
	 * IPv4 checksum following it): leave both out, so the copy is still found.
	 */
	if (n >= 12 && buf[0] >> 4 == 4) {
		buf[1] = 0;
		buf[10] = buf[11] = 0;
	} else if (n >= 2 && buf[0] >> 4 == 6) {
		buf[0] &= 0xf0;
		buf[1] &= 0x0f;
	}
	return XXH3_64bits(buf, n);
}

int
flow_ecn(const uint8_t *pkt, size_t caplen)
{
	if (caplen >= 2 && pkt[0] >> 4 == 4)
		return pkt[1] & FLOW_ECN_CE;
	if (caplen >= 2 && pkt[0] >> 4 == 6)
		return (pkt[1] >> 4) & FLOW_ECN_CE;
	return -1;
}

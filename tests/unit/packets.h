/* Test packets for the unit tests: IPv4 and IPv6 headers with UDP or TCP, checksums right. */
#ifndef IMQD_TEST_PACKETS_H
#define IMQD_TEST_PACKETS_H

#include <stdint.h>
#include <string.h>

#define PKT_SADDR 0x0a000001u /* 10.0.0.1 */
#define PKT_DADDR 0x0a000002u /* 10.0.0.2 */

static inline void
pkt_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
pkt_put32(uint8_t *p, uint32_t v)
{
	pkt_put16(p, (uint16_t)(v >> 16));
	pkt_put16(p + 2, (uint16_t)v);
}

/* The ones' complement sum of N bytes at P, folded and inverted. */
static inline uint16_t
pkt_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * An IPv4 header at P for a packet of LEN bytes of protocol PROTO, with
 * IP ID and TOS as given and a valid header checksum.
 */
static inline void
pkt_ipv4(uint8_t *p, uint32_t len, uint8_t proto, uint16_t id, uint8_t tos)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[1] = tos;
	pkt_put16(p + 2, (uint16_t)len);
	pkt_put16(p + 4, id);
	p[8] = 64;
	p[9] = proto;
	pkt_put32(p + 12, PKT_SADDR);
	pkt_put32(p + 16, PKT_DADDR);
	pkt_put16(p + 10, pkt_csum(p, 20));
}

/* An IPv6 header at P for a packet of LEN bytes (40 of them header), next header PROTO. */
static inline void
pkt_ipv6(uint8_t *p, uint32_t len, uint8_t proto, uint8_t tclass)
{
	memset(p, 0, 40);
	p[0] = (uint8_t)(0x60 | tclass >> 4);
	p[1] = (uint8_t)(tclass << 4);
	pkt_put16(p + 4, (uint16_t)(len - 40));
	p[6] = proto;
	p[7] = 64;
	p[8] = 0xfd;
	p[23] = 1;
	p[24] = 0xfd;
	p[39] = 2;
}

/*
 * IPv4 UDP datagram of LEN bytes at P (at most CAP of them written: the
 * rest of the payload is zeros), from port SPORT, IP ID ID, payload bytes
 * set to TAG.
 */
static inline uint32_t
pkt_udp4(uint8_t *p, size_t cap, uint32_t len, uint16_t sport, uint16_t id, uint8_t tag,
         uint8_t tos)
{
	memset(p, 0, cap);
	pkt_ipv4(p, len, 17, id, tos);
	pkt_put16(p + 20, sport);
	pkt_put16(p + 22, 9);
	pkt_put16(p + 24, (uint16_t)(len - 20));
	for (size_t i = 28; i < cap && i < len; i++)
		p[i] = tag;
	return len;
}

/* IPv4 TCP segment of LEN bytes at P (CAP of them written), sequence number SEQ. */
static inline uint32_t
pkt_tcp4(uint8_t *p, size_t cap, uint32_t len, uint32_t seq, uint8_t tos)
{
	memset(p, 0, cap);
	pkt_ipv4(p, len, 6, 0, tos);
	pkt_put16(p + 20, 40000);
	pkt_put16(p + 22, 5201);
	pkt_put32(p + 24, seq);
	p[32] = 5 << 4; /* data offset: 20 bytes */
	p[33] = 0x10;   /* ACK */
	return len;
}

#endif

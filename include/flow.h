/* What imqd reads of a packet: its flow, and the hash that finds its copy again. */
#ifndef IMQD_FLOW_H
#define IMQD_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a copy that identify it when it comes back from imqN. */
#define FLOW_ID_BYTES 128

/* What flow_parse finds in a packet. */
struct flow_info {
	/*
	 * The packets a qdisc keeps in order among themselves: addresses,
	 * protocol, ports (or SPI), DSCP, mark, TCP SYN/FIN/RST and whether the
	 * packet is small, so a qdisc that puts small packets or control
	 * segments in another class does not look like a dropper.
	 */
	uint64_t key;
	/* The TCP connection or UDP flow (addresses, protocol, ports), when tcp or udp is set. */
	uint64_t conn;
	/* Bytes of network and TCP/UDP headers (what each segment of a GSO packet repeats), or of
	 * the network header alone for other protocols. */
	uint32_t hdrlen;
	uint32_t l4off; /* offset of the transport header */
	uint32_t iplen; /* length the IP header declares */
	/*
	 * Where a segment sits in its packet. TCP: the sequence number. UDP,
	 * which has none: the IP ID (IPv4) or the flow label (IPv6), which imqd
	 * sets in its GSO copies to tell whose segments come back.
	 */
	uint32_t seq;
	bool tcp; /* a TCP segment (not a fragment) whose whole header is present */
	bool udp; /* a UDP datagram (not a fragment) whose whole header is present */
};

/*
 * Parse PKT: CAPLEN bytes are present, LEN is its length, MARK its netfilter
 * mark. Returns false (and a key of the addresses alone, if any) when PKT is
 * not a well-formed IPv4/IPv6 packet.
 */
bool flow_parse(const uint8_t *pkt, size_t caplen, size_t len, uint32_t mark, struct flow_info *fi);

/*
 * For a UDP packet FI of PKT (CAPLEN bytes present, LEN long) that carries a
 * tunnel (VXLAN, Geneve, or an IP packet right after the UDP header): the
 * header bytes each of its segments repeats when a GSO packet of it is cut
 * up, from the outer network header to the end of the inner TCP or UDP
 * header. 0 when it carries no tunnel imqd knows.
 */
uint32_t flow_tunnel_hdrlen(const uint8_t *pkt, size_t caplen, size_t len,
                            const struct flow_info *fi);

/*
 * Hash of a copy whose first bytes are HEAD (HEADLEN of them, zeros follow up
 * to LEN): its first FLOW_ID_BYTES bytes, which hold the IP header and so the
 * packet's length, leaving out the traffic class and the IPv4 header
 * checksum, which a qdisc may change. A read of the copy that stops after
 * FLOW_ID_BYTES hashes the same.
 */
uint64_t flow_copy_hash(const uint8_t *head, size_t headlen, size_t len);

/* ECN field values (RFC 3168). */
#define FLOW_ECN_NOT_ECT 0
#define FLOW_ECN_ECT1 1
#define FLOW_ECN_ECT0 2
#define FLOW_ECN_CE 3

/* The ECN field of the IPv4/IPv6 packet PKT (CAPLEN bytes present), or -1. */
int flow_ecn(const uint8_t *pkt, size_t caplen);

#endif

/*
 * Copy planning: the copies a packet goes into imqN as, so that the qdisc
 * counts it as it is on the wire. Pure: the device's parameters, the packet
 * and the segment size of its interface in; the copies' lengths, their GSO
 * fields and the held packet's segment fields out.
 */
#include "device_int.h"

/* Segments a packet of LEN bytes with HDRLEN bytes of headers is on an interface of SEG_MTU. */
static uint32_t
plan_nsegs(const struct plan_conf *pc, uint32_t len, uint32_t hdrlen, uint32_t seg_mtu)
{
	if (!pc->gso || len <= PLAN_MIN_SEG || hdrlen == 0 || seg_mtu == 0)
		return 1;
	if (len <= seg_mtu || hdrlen + 64 >= seg_mtu)
		return 1;
	uint32_t mss = seg_mtu - hdrlen;
	return (len - hdrlen + mss - 1) / mss;
}

/*
 * Bytes the qdisc should count for a packet of LEN bytes: what it occupies
 * on the wire as NSEGS segments, each repeating HDRLEN bytes of headers and
 * with its link-layer overhead, as a qdisc on the real interface or IFB
 * would count it.
 */
static uint64_t
plan_wire_len(const struct plan_conf *pc, uint32_t len, uint32_t hdrlen, uint32_t nsegs)
{
	return len + (uint64_t)(nsegs - 1) * hdrlen + (uint64_t)nsegs * pc->overhead;
}

/* A ones' complement checksum after a 16-bit word it covers changed (RFC 1624, eqn. 3). */
uint16_t
plan_csum_update(uint16_t csum, uint16_t old, uint16_t new)
{
	uint32_t sum = (uint16_t)~csum;

	sum += (uint16_t)~old;
	sum += new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * UDP segments carry no sequence number: tag the copy so that the segments a
 * qdisc cuts from it can be told from another copy's. IPv4: an IP ID range
 * of its own (segmentation numbers the segments' IDs up from the copy's);
 * IPv6: a flow label of its own (every segment keeps it). The real packet's
 * header is rewritten in the receive buffer, which only the copy is made from.
 */
static void
plan_udp_tag(struct plan_tags *tags, uint8_t *h, struct pending_pkt *pp)
{
	if ((h[0] >> 4) == 4) {
		uint32_t id = tags->ip_id;
		if (id + pp->nsegs > 0x10000)
			id = 0;
		tags->ip_id = id + pp->nsegs;
		uint16_t csum = plan_csum_update((uint16_t)(h[10] << 8 | h[11]),
		                                 (uint16_t)(h[4] << 8 | h[5]), (uint16_t)id);
		h[10] = (uint8_t)(csum >> 8);
		h[11] = (uint8_t)csum;
		h[4] = (uint8_t)(id >> 8);
		h[5] = (uint8_t)id;
		pp->seq = id;
		pp->span = pp->nsegs;
	} else {
		uint32_t label = tags->label++ & 0xfffff;
		h[1] = (uint8_t)((h[1] & 0xf0) | label >> 16);
		h[2] = (uint8_t)(label >> 8);
		h[3] = (uint8_t)label;
		pp->seq = label;
		pp->span = 1;
	}
}

/*
 * Make the copy of P (LEN bytes at DATA) a TCP or UDP GSO packet, counted by
 * the qdisc as the segments P becomes on the wire: each segment's headers
 * and link-layer overhead, as a qdisc on the real interface or IFB counts
 * them. The qdisc adds the headers of every segment after the first; the
 * overhead goes in as padding spread over the same segments. The copy must
 * stay below 64 KB (longer GSO packets are segmented before they reach
 * imqN), so where padding would not fit, the headers of extra, smaller
 * segments stand in for most of it. Returns the copy's length, or 0 when P
 * is not a TCP or UDP packet larger than a segment.
 */
static uint32_t
plan_gso_copy(const struct plan_conf *pc, struct plan_tags *tags, uint8_t *data, uint32_t len,
              const struct flow_info *fi, uint32_t seghdr, uint32_t nsegs, struct pending_pkt *pp,
              struct inject_pkt *ip)
{
	if (!(fi->tcp || fi->udp) || fi->iplen != len || len > PLAN_GSO_MTU || nsegs < 2)
		return 0;
	uint32_t hdr = fi->hdrlen;
	uint32_t payload = len - hdr;
	/*
	 * Bytes the qdisc must count beyond the copy's own headers: link-layer
	 * overhead, and a tunnel's headers that each real segment repeats.
	 */
	uint32_t extra = nsegs * pc->overhead + (nsegs - 1) * (seghdr - hdr);
	uint32_t room = PLAN_GSO_MTU - len;
	uint32_t more = extra > room ? (extra - room + hdr - 1) / hdr : 0;
	/*
	 * The kernel takes a UDP GSO packet of at most 128 segments: a packet of
	 * more goes in as plain copies, and a tunnel's largest packets, whose
	 * padding would need more, are counted up to ~1% (IPv6 inside: 3%) short.
	 */
	uint32_t most = fi->udp ? PLAN_UDP_MAX_SEGS : UINT16_MAX;
	if (nsegs > most)
		return 0; /* plain copies instead (plan_split) */
	if (nsegs + more > most)
		more = nsegs < most ? most - nsegs : 0;
	uint32_t pad = more * hdr > extra ? 0 : extra - more * hdr;
	if (pad > room)
		pad = room;
	uint32_t total = nsegs + more;
	uint32_t span = payload + pad;
	uint32_t gso_size = (span + total - 1) / total;
	if (gso_size > UINT16_MAX || (span + gso_size - 1) / gso_size != total)
		return 0;
	pp->conn = fi->conn;
	pp->seq = fi->seq;
	pp->span = span;
	pp->nsegs = (uint16_t)total;
	if (fi->udp)
		plan_udp_tag(tags, data, pp);
	ip->gso_size = (uint16_t)gso_size;
	ip->udp = fi->udp;
	ip->hdrlen = (uint16_t)hdr;
	ip->l4off = (uint16_t)fi->l4off;
	return hdr + span;
}

/*
 * Header bytes each segment of a packet repeats: its network and TCP/UDP
 * headers, or, for a UDP tunnel, every header from the outer IP to the
 * inner TCP/UDP (a VXLAN segment of TCP over IPv4 repeats 102 bytes, not 28).
 */
static uint32_t
plan_seg_hdrlen(const struct plan_conf *pc, const uint8_t *data, uint32_t caplen, uint32_t len,
                const struct flow_info *fi)
{
	uint32_t t = 0;

	if (fi->udp && pc->gso && len > PLAN_MIN_SEG)
		t = flow_tunnel_hdrlen(data, caplen, len, fi);
	return t > fi->hdrlen && t < len ? t : fi->hdrlen;
}

/*
 * A packet longer than one segment that cannot go in as a GSO copy (a
 * protocol other than TCP and UDP: a tunnel's GSO packet, a datagram
 * reassembled from fragments) goes in as plain copies, one per segment it is
 * (or was) on the wire, PLAN_MAX_COPIES at most: a qdisc counts them as it
 * counts the segments or fragments, and a tbf takes them one by one.
 */
static void
plan_split(const struct plan_conf *pc, uint32_t len, uint32_t hdrlen, uint32_t nsegs,
           struct plan *out)
{
	uint64_t wire = plan_wire_len(pc, len, hdrlen, nsegs);

	out->copies = nsegs < PLAN_MAX_COPIES ? nsegs : PLAN_MAX_COPIES;
	out->len = (uint32_t)(wire / out->copies);
	out->extra = (uint32_t)(wire % out->copies);
}

void
plan_copies(const struct plan_conf *pc, struct plan_tags *tags, uint8_t *data, uint32_t caplen,
            uint32_t len, const struct flow_info *fi, uint32_t seg_mtu, struct pending_pkt *pp,
            struct inject_pkt *ip, struct plan *out)
{
	uint32_t seghdr = plan_seg_hdrlen(pc, data, caplen, len, fi);
	uint32_t nsegs = plan_nsegs(pc, len, seghdr, seg_mtu);

	*out = (struct plan){.copies = 1};
	out->len = plan_gso_copy(pc, tags, data, len, fi, seghdr, nsegs, pp, ip);
	if (out->len != 0)
		return;
	if (nsegs > 1) {
		plan_split(pc, len, seghdr, nsegs, out);
		pp->split = true;
		pp->nsegs = (uint16_t)out->copies;
		return;
	}
	/* One segment: its length and overhead, at most the device's MTU. */
	uint64_t wire = plan_wire_len(pc, len, seghdr, 1);
	out->len = wire < pc->tunmtu ? (uint32_t)wire : pc->tunmtu;
}

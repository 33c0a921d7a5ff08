/* Copy planning: the copies a packet goes into imqN as, so the qdisc counts it as on the wire. */
#include "device_int.h"

/*
 * Segments P (with HDRLEN bytes of headers) becomes on its interface when
 * gso is on; 1 when it fits one.
 */
uint32_t
device_nsegs(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen)
{
	if (!dev->cf.gso || p->len <= DEVICE_MIN_SEG || hdrlen == 0)
		return 1;
	uint32_t seg = device_seg_mtu(dev, p);
	if (p->len <= seg || hdrlen + 64 >= seg)
		return 1;
	uint32_t mss = seg - hdrlen;
	return (p->len - hdrlen + mss - 1) / mss;
}

/*
 * Bytes the qdisc should count for P: what it occupies on the wire as
 * segments, each with its own headers and link-layer overhead, as a qdisc
 * on the real interface or IFB would count it.
 */
uint64_t
device_wire_len(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen, uint32_t nsegs)
{
	/* HDRLEN: what each of its NSEGS segments repeats (device_seg_hdrlen). */
	return p->len + (uint64_t)(nsegs - 1) * hdrlen + (uint64_t)nsegs * dev->cf.overhead;
}

/*
 * UDP segments carry no sequence number: tag the copy so that the segments a
 * qdisc cuts from it can be told from another copy's. IPv4: an IP ID range
 * of its own (segmentation numbers the segments' IDs up from the copy's);
 * IPv6: a flow label of its own (every segment keeps it). The real packet's
 * header is rewritten in the receive buffer, which only the copy is made from.
 */
static void
device_udp_tag(struct device *dev, struct nfqueue_packet *p, struct pending_pkt *pp)
{
	uint8_t *h = p->data;

	if ((h[0] >> 4) == 4) {
		uint32_t id = dev->udp_id;
		if (id + pp->nsegs > 0x10000)
			id = 0;
		dev->udp_id = id + pp->nsegs;
		/* RFC 1624: the header checksum follows the new ID. */
		uint32_t sum = (uint16_t) ~(h[10] << 8 | h[11]);
		sum += (uint16_t) ~(h[4] << 8 | h[5]);
		sum += id;
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		h[10] = (uint8_t)(~sum >> 8);
		h[11] = (uint8_t)~sum;
		h[4] = (uint8_t)(id >> 8);
		h[5] = (uint8_t)id;
		pp->seq = id;
		pp->span = pp->nsegs;
	} else {
		uint32_t label = dev->udp_label++ & 0xfffff;
		h[1] = (uint8_t)((h[1] & 0xf0) | label >> 16);
		h[2] = (uint8_t)(label >> 8);
		h[3] = (uint8_t)label;
		pp->seq = label;
		pp->span = 1;
	}
}

/*
 * Make P's copy a TCP or UDP GSO packet, counted by the qdisc as the segments P
 * becomes on the wire: each segment's headers and link-layer overhead, as a
 * qdisc on the real interface or IFB counts them. The qdisc adds the headers
 * of every segment after the first; the overhead goes in as padding spread
 * over the same segments. The copy must stay below 64 KB (longer GSO packets
 * are segmented before they reach imqN), so where padding would not fit,
 * the headers of extra, smaller segments stand in for most of it. Returns
 * the copy's length, or 0 when P is not a TCP or UDP packet larger than a segment.
 */
uint32_t
device_gso_copy(struct device *dev, struct nfqueue_packet *p, const struct flow_info *fi,
                uint32_t seghdr, uint32_t nsegs, struct pending_pkt *pp, struct inject_pkt *ip)
{
	if (!(fi->tcp || fi->udp) || fi->iplen != p->len || p->len > DEVICE_GSO_MTU || nsegs < 2)
		return 0;
	uint32_t hdr = fi->hdrlen;
	uint32_t payload = p->len - hdr;
	/*
	 * Bytes the qdisc must count beyond the copy's own headers: link-layer
	 * overhead, and a tunnel's headers that each real segment repeats.
	 */
	uint32_t extra = nsegs * dev->cf.overhead + (nsegs - 1) * (seghdr - hdr);
	uint32_t room = DEVICE_GSO_MTU - p->len;
	uint32_t more = extra > room ? (extra - room + hdr - 1) / hdr : 0;
	/*
	 * The kernel takes a UDP GSO packet of at most 128 segments: a packet of
	 * more goes in as plain copies, and a tunnel's largest packets, whose
	 * padding would need more, are counted up to ~1% (IPv6 inside: 3%) short.
	 */
	uint32_t most = fi->udp ? DEVICE_UDP_MAX_SEGS : UINT16_MAX;
	if (nsegs > most)
		return 0; /* plain copies instead (device_split) */
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
		device_udp_tag(dev, p, pp);
	ip->gso_size = (uint16_t)gso_size;
	ip->udp = fi->udp;
	ip->hdrlen = (uint16_t)hdr;
	ip->l4off = (uint16_t)fi->l4off;
	return hdr + span;
}

/*
 * Header bytes each segment of P repeats: its network and TCP/UDP headers,
 * or, for a UDP tunnel, every header from the outer IP to the inner TCP/UDP
 * (a VXLAN segment of TCP over IPv4 repeats 102 bytes, not 28).
 */
uint32_t
device_seg_hdrlen(struct device *dev, const struct nfqueue_packet *p, uint32_t caplen,
                  const struct flow_info *fi)
{
	uint32_t t = 0;

	if (fi->udp && dev->cf.gso && p->len > DEVICE_MIN_SEG)
		t = flow_tunnel_hdrlen(p->data, caplen, p->len, fi);
	return t > fi->hdrlen && t < p->len ? t : fi->hdrlen;
}

/*
 * A packet longer than one segment that cannot go in as a GSO copy (a
 * protocol other than TCP and UDP: a tunnel's GSO packet, a datagram
 * reassembled from fragments) goes in as plain copies, one per segment it is
 * (or was) on the wire, DEVICE_BATCH at most: a qdisc counts them as it
 * counts the segments or fragments, and a tbf takes them one by one. Returns
 * how many, with *LEN the length of each and the first *EXTRA one byte
 * longer; 1 when P goes in as one copy.
 */
uint32_t
device_split(struct device *dev, const struct nfqueue_packet *p, uint32_t hdrlen, uint32_t nsegs,
             uint32_t *len, uint32_t *extra)
{
	if (nsegs < 2)
		return 1;
	uint64_t wire = device_wire_len(dev, p, hdrlen, nsegs);
	uint32_t n = nsegs < DEVICE_BATCH ? nsegs : DEVICE_BATCH;
	*len = (uint32_t)(wire / n);
	*extra = (uint32_t)(wire % n);
	return n;
}

/* What imqd reads of a packet: its flow, and the hash that finds its copy again. */
#ifndef IMQD_FLOW_H
#define IMQD_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a copy that identify it when it comes back from imqN. */
#define FLOW_ID_BYTES 128

/*
 * Key of the flow PKT belongs to: the packets a qdisc keeps in order among
 * themselves. Addresses, protocol, ports (or SPI), DSCP, mark, TCP SYN/FIN/RST
 * and whether the packet is small, so a qdisc that puts small packets or
 * control segments in another class does not look like a dropper.
 * Returns false (and a key of the addresses alone, if any) when PKT is not a
 * well-formed IPv4/IPv6 packet. CAPLEN bytes are present, LEN is its length.
 * *HDRLEN gets the bytes of network and TCP/UDP headers (what each segment of
 * a GSO packet repeats), or of the network header alone for other protocols.
 */
bool flow_key(const uint8_t *pkt, size_t caplen, size_t len, uint32_t mark, uint64_t *key,
              uint32_t *hdrlen);

/* Hash of a copy of LEN bytes whose first bytes are HEAD (HEADLEN of them, zeros follow). */
uint64_t flow_copy_hash(const uint8_t *head, size_t headlen, size_t len);

#endif

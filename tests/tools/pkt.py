"""Packets built byte by byte, for tools that send what the IP stack would not:
the Internet checksum and IPv4, IPv6, UDP and IPv6 extension headers, each
field settable to a wrong value on purpose."""
import socket
import struct


def csum(b):
    """The Internet checksum (RFC 1071) of B."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src, dst, proto, payload, ident=0, opts=b"", tot=None, good_csum=True, frag=0, ttl=64,
         ver=4, ihl=None, tos=0):
    """An IPv4 packet; TOT, IHL and VER as given (default: right), a checksum
    made wrong when GOOD_CSUM is false."""
    ihl = ihl if ihl is not None else 5 + len(opts) // 4
    tot = tot if tot is not None else 20 + len(opts) + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", ver << 4 | ihl, tos, tot & 0xffff, ident & 0xffff, frag, ttl,
                    proto, 0, socket.inet_aton(src), socket.inet_aton(dst)) + opts
    c = csum(h) if good_csum else csum(h) ^ 0x5a5a
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def udp(sport, dport, payload, length=None):
    """A UDP header (checksum 0: none) and PAYLOAD; LENGTH as given (default: right)."""
    return struct.pack("!HHHH", sport, dport, length if length is not None else 8 + len(payload),
                       0) + payload


def ipv6(src, dst, nh, payload, plen=None, hlim=64):
    """An IPv6 packet with next header NH; PLEN as given (default: right)."""
    plen = plen if plen is not None else len(payload)
    return struct.pack("!IHBB16s16s", 6 << 28, plen & 0xffff, nh, hlim,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def ext6(nh, body):
    """A generic IPv6 extension header: next header, length, BODY padded to 8 bytes."""
    body = body + bytes(-(len(body) + 2) % 8)
    return bytes([nh, (len(body) + 2) // 8 - 1]) + body


def frag6(nh, offset, more, ident=0x1234):
    """An IPv6 fragment header: OFFSET in 8-byte units, MORE fragments or not."""
    return struct.pack("!BBHI", nh, 0, offset << 3 | more, ident)

/*
 * Transmit offloads done by the device for a backend that wants complete
 * frames (slirp): the checksum the guest left to us (NEEDS_CSUM), and TCP
 * segmentation over IPv4. A TSO frame is not cut into MSS-sized segments:
 * it becomes one IPv4 packet of up to 64 KiB with its headers and checksums
 * made whole, which slirp's stack takes as one segment (it checks no MTU on
 * input), so it costs one pass over the data and one ACK back to the guest
 * instead of dozens.
 */
#include "hw/net/offload.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

#define ETH_HLEN_ 14

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t net_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t s = sum;
	size_t i = 0;

	/* 32 bits at a time into a 64-bit accumulator: big-endian words summed in order. */
	for (; i + 4 <= len; i += 4)
		s += (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 | (uint32_t)p[i + 2] << 8 |
		     p[i + 3];
	for (; i + 1 < len; i += 2)
		s += get16(p + i);
	if (i < len)
		s += (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint16_t net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* NEEDS_CSUM: the field holds the pseudo-header sum; sum from csum_start on. */
static int fill_partial_csum(uint8_t *f, size_t len, const struct virtio_net_hdr_v1 *h)
{
	size_t start = h->csum_start, at = start + h->csum_offset;

	if (start >= len || at + 2 > len)
		return -EINVAL;
	put16(f + at, net_csum_fold(net_csum_add(0, f + start, len - start)));
	return 0;
}

/* A TSO frame as one IPv4 packet: total length, IP and TCP checksums. */
static int finish_tso4(uint8_t *f, size_t len)
{
	uint8_t *ip = f + ETH_HLEN_, *tcp;
	size_t ihl, ip_len, tcp_len;
	uint32_t sum;

	if (len < ETH_HLEN_ + 20 || get16(f + 12) != 0x0800 || (ip[0] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	ip_len = len - ETH_HLEN_;
	if (ihl < 20 || ip_len > 0xffff || ip_len < ihl + 20 || ip[9] != 6)
		return -EINVAL;
	tcp = ip + ihl;
	tcp_len = ip_len - ihl;
	if ((size_t)(tcp[12] >> 4) * 4 < 20 || (size_t)(tcp[12] >> 4) * 4 > tcp_len)
		return -EINVAL;
	put16(ip + 2, (uint16_t)ip_len);
	put16(ip + 10, 0);
	put16(ip + 10, net_csum_fold(net_csum_add(0, ip, ihl)));
	/* The pseudo-header: addresses, protocol, TCP length. */
	sum = net_csum_add(6 + (uint32_t)tcp_len, ip + 12, 8);
	put16(tcp + 16, 0);
	put16(tcp + 16, net_csum_fold(net_csum_add(sum, tcp, tcp_len)));
	return 0;
}

int net_tx_offload(uint8_t *frame, size_t len, const struct virtio_net_hdr_v1 *h)
{
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return finish_tso4(frame, len);
	default:
		return -EINVAL;
	}
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return fill_partial_csum(frame, len, h);
	return 0;
}

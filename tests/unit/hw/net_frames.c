/* Hand-built frames for the network tests (net_frames.h). */
#include "net_frames.h"

#include <arpa/inet.h>
#include <string.h>

const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#define BOOTP_LEN (236 + 312) /* slirp wants the whole vendor area */

uint16_t frame_csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void eth(uint8_t *buf, const uint8_t *dst, uint16_t type)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, guest_mac, 6);
	put16(buf + 12, type);
}

/* An IPv4 header for payload bytes of proto at buf (after Ethernet). */
static void ip(uint8_t *buf, uint8_t proto, uint32_t src, uint32_t dst, size_t payload)
{
	memset(buf, 0, IP_HLEN_);
	buf[0] = 0x45;
	put16(buf + 2, (uint16_t)(IP_HLEN_ + payload));
	buf[8] = 64;
	buf[9] = proto;
	put32(buf + 12, src);
	put32(buf + 16, dst);
	put16(buf + 10, (uint16_t)~frame_csum(buf, IP_HLEN_, 0));
}

/* The TCP/UDP checksum over the pseudo-header and l4 (len bytes). */
static uint16_t l4_csum(uint8_t proto, uint32_t src, uint32_t dst, const uint8_t *l4, size_t len)
{
	uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto +
		       (uint32_t)len;

	return (uint16_t)~frame_csum(l4, len, sum);
}

size_t frame_arp_request(uint8_t *buf, uint32_t sender_ip, uint32_t target_ip)
{
	uint8_t *a = buf + ETH_HLEN_;

	eth(buf, bcast_mac, 0x0806);
	put16(a, 1);          /* Ethernet */
	put16(a + 2, 0x0800); /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, guest_mac, 6);
	put32(a + 14, sender_ip);
	memset(a + 18, 0, 6);
	put32(a + 24, target_ip);
	memset(a + 28, 0, 18); /* pad to the 60-byte minimum */
	return 60;
}

size_t frame_icmp_echo(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq)
{
	uint8_t *icmp = buf + ETH_HLEN_ + IP_HLEN_;
	size_t len = 8 + 32;

	eth(buf, bcast_mac, 0x0800);
	memset(icmp, 0, len);
	icmp[0] = 8;
	put16(icmp + 4, id);
	put16(icmp + 6, seq);
	for (size_t i = 8; i < len; i++)
		icmp[i] = (uint8_t)i;
	put16(icmp + 2, (uint16_t)~frame_csum(icmp, len, 0));
	ip(buf + ETH_HLEN_, 1, src, dst, len);
	return ETH_HLEN_ + IP_HLEN_ + len;
}

size_t frame_dhcp(uint8_t *buf, uint8_t type, uint32_t xid, uint32_t requested_ip)
{
	uint8_t *udp = buf + ETH_HLEN_ + IP_HLEN_, *b = udp + 8, *o = b + 240;
	size_t len = 8 + BOOTP_LEN;

	eth(buf, bcast_mac, 0x0800);
	memset(udp, 0, len);
	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, (uint16_t)len);
	b[0] = 1; /* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	put32(b + 4, xid);
	memcpy(b + 28, guest_mac, 6);
	put32(b + 236, 0x63825363);
	*o++ = 53, *o++ = 1, *o++ = type;
	if (requested_ip) {
		*o++ = 50, *o++ = 4;
		put32(o, requested_ip);
		o += 4;
	}
	*o = 255;
	put16(udp + 6, l4_csum(17, 0, 0xffffffff, udp, len));
	ip(buf + ETH_HLEN_, 17, 0, 0xffffffff, len);
	return ETH_HLEN_ + IP_HLEN_ + len;
}

size_t frame_tcp(uint8_t *buf, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		 uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
	uint8_t *tcp = buf + ETH_HLEN_ + IP_HLEN_;

	eth(buf, gw_mac, 0x0800);
	memset(tcp, 0, 20);
	put16(tcp, sport);
	put16(tcp + 2, dport);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	if (len)
		memcpy(tcp + 20, data, len);
	put16(tcp + 16, l4_csum(6, src, dst, tcp, 20 + len));
	ip(buf + ETH_HLEN_, 6, src, dst, 20 + len);
	return ETH_HLEN_ + IP_HLEN_ + 20 + len;
}

uint16_t frame_ethertype(const uint8_t *f, size_t len)
{
	return len < ETH_HLEN_ ? 0 : (uint16_t)(f[12] << 8 | f[13]);
}

uint8_t frame_ip_proto(const uint8_t *f, size_t len)
{
	if (frame_ethertype(f, len) != 0x0800 || len < ETH_HLEN_ + IP_HLEN_)
		return 0;
	return f[ETH_HLEN_ + 9];
}

uint8_t frame_dhcp_reply(const uint8_t *f, size_t len, uint32_t *yiaddr, uint32_t *router,
			 uint32_t *dns)
{
	size_t ihl, at;
	const uint8_t *b;
	uint8_t type = 0;

	if (frame_ip_proto(f, len) != 17)
		return 0;
	ihl = (size_t)(f[ETH_HLEN_] & 0xf) * 4;
	at = ETH_HLEN_ + ihl + 8;
	if (len < at + 240 || f[ETH_HLEN_ + ihl + 2] != 0 || f[ETH_HLEN_ + ihl + 3] != 68)
		return 0;
	b = f + at;
	*yiaddr = get32(b + 16);
	*router = *dns = 0;
	for (size_t i = 240; i + 2 <= len - at && b[i] != 255;) {
		uint8_t code = b[i], olen = b[i + 1];

		if (code == 0) {
			i++;
			continue;
		}
		if (i + 2 + olen > len - at)
			break;
		if (code == 53 && olen >= 1)
			type = b[i + 2];
		if (code == 3 && olen >= 4)
			*router = get32(b + i + 2);
		if (code == 6 && olen >= 4)
			*dns = get32(b + i + 2);
		i += 2 + olen;
	}
	return type;
}

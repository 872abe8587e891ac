/*
 * Ethernet frames for the network tests, built by hand: ARP, IPv4 with
 * ICMP, UDP (DHCP) and TCP, with real checksums (slirp checks them).
 */
#ifndef TESTS_UNIT_HW_NET_FRAMES_H
#define TESTS_UNIT_HW_NET_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#define ETH_HLEN_ 14
#define IP_HLEN_ 20

extern const uint8_t guest_mac[6];
extern const uint8_t bcast_mac[6];

/* Addresses in host order (0x0a00020f is 10.0.2.15). */
size_t frame_arp_request(uint8_t *buf, uint32_t sender_ip, uint32_t target_ip);
size_t frame_icmp_echo(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq);
/* A DHCP DISCOVER (type 1) or REQUEST (type 3, for requested_ip). */
size_t frame_dhcp(uint8_t *buf, uint8_t type, uint32_t xid, uint32_t requested_ip);
size_t frame_tcp(uint8_t *buf, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		 uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t len);

/* Parsing what comes back: 0 when the frame is not of that kind. */
uint16_t frame_ethertype(const uint8_t *f, size_t len);
/* IPv4: the protocol, or 0. */
uint8_t frame_ip_proto(const uint8_t *f, size_t len);
/* The DHCP message type (option 53) and fields of a reply, or 0. */
uint8_t frame_dhcp_reply(const uint8_t *f, size_t len, uint32_t *yiaddr, uint32_t *router,
			 uint32_t *dns);
/* The ones' complement sum of a buffer, folded (for checking our checksums). */
uint16_t frame_csum(const void *data, size_t len, uint32_t sum);

#endif

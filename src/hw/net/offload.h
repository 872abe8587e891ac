/* Transmit offloads done in the device, for backends that want complete frames. */
#ifndef HW_NET_OFFLOAD_H
#define HW_NET_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

struct virtio_net_hdr_v1;

/* The Internet checksum: add bytes (big-endian 16-bit words) to sum; fold and invert. */
uint32_t net_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t net_csum_fold(uint32_t sum);

/*
 * Makes an Ethernet frame complete as h describes it: fills a NEEDS_CSUM
 * checksum, or turns a TCPV4 GSO frame into one IPv4 packet with valid
 * checksums. 0, or -EINVAL for a frame that does not match its header.
 */
int net_tx_offload(uint8_t *frame, size_t len, const struct virtio_net_hdr_v1 *h);

#endif

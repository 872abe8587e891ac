/*
 * virtio-net on user-mode networking, driven through its virtqueues in guest
 * memory: negotiation and configuration, a frame out and its answer in,
 * frames held while the guest has no buffer, and hostile transmit chains.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <linux/virtio_net.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hw/net/backend.h"
#include "hw/net/offload.h"
#include "hw/virtio/net.h"
#include "net_frames.h"
#include "vq_driver.h"

#define QSIZE 16
#define GUEST_IP 0x0a00020f
#define GW_IP 0x0a000202
#define HDR 12
#define RXBUF 1526 /* header + a 1514-byte frame */

struct fixture {
	struct vqd_host h;
	struct net_config cfg;
	struct virtio_net *n;
	struct virtio_dev *vdev;
	struct vq_driver rx, tx;
};

static struct fixture *make(uint64_t features)
{
	struct fixture *f = calloc(1, sizeof(*f)); /* outlives a test's leak check */

	vqd_host_init(&f->h, 8 << 20);
	f->cfg = (struct net_config){ .type = NET_BACKEND_USER, .tap_fd = -1,
				      .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
	assert_int_equal(virtio_net_new(&f->h.host, &f->cfg, NULL, &f->n), 0);
	f->vdev = virtio_net_vdev(f->n);
	vqd_attach(&f->h, f->vdev);
	vqd_set_features(f->vdev, features);
	vqd_queue_init(&f->rx, &f->h, &f->vdev->vqs[0], QSIZE);
	vqd_queue_init(&f->tx, &f->h, &f->vdev->vqs[1], QSIZE);
	vqd_driver_ok(f->vdev);
	vqd_poll(&f->h);
	return f;
}

static int setup(void **state)
{
	*state = make(~0ull);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_net_free(f->n);
	vqd_host_fini(&f->h);
	free(f);
	return 0;
}

static void kick(struct fixture *f, struct vq_driver *d)
{
	virtq_kick(d->vq);
	vqd_poll(&f->h);
}

/* Transmits header + frame in one readable buffer; returns the head. */
static uint16_t tx_frame(struct fixture *f, const struct virtio_net_hdr_v1 *h,
			 const uint8_t *frame, size_t len)
{
	uint64_t a = vqd_alloc(&f->h, HDR + len);
	struct vqd_seg seg = { a, (uint32_t)(HDR + len), false };
	uint16_t head;

	memcpy(vqd_ptr(&f->h, a, HDR), h, HDR);
	memcpy(vqd_ptr(&f->h, a + HDR, len), frame, len);
	head = vqd_add(&f->tx, &seg, 1);
	kick(f, &f->tx);
	return head;
}

static uint64_t rx_buffer(struct fixture *f, uint32_t len)
{
	uint64_t a = vqd_alloc(&f->h, len);
	struct vqd_seg seg = { a, len, true };

	vqd_add(&f->rx, &seg, 1);
	return a;
}

/* Runs the loop until an rx buffer is used (1 s at most). */
static bool rx_used(struct fixture *f, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 100; i++) {
		if (vqd_used(&f->rx, id, len))
			return true;
		evloop_run_once(&f->h.loop, 10);
	}
	return false;
}

static void test_features_and_config(void **state)
{
	struct fixture *f = *state;
	uint8_t mac[6];
	uint16_t status;

	assert_true(f->vdev->features & 1ull << VIRTIO_NET_F_MAC);
	assert_true(f->vdev->features & 1ull << VIRTIO_NET_F_STATUS);
	assert_true(f->vdev->features & 1ull << VIRTIO_NET_F_GUEST_CSUM);
	/* slirp wants complete frames: the device completes checksums and TSO4 frames. */
	assert_true(f->vdev->features & 1ull << VIRTIO_NET_F_CSUM);
	assert_true(f->vdev->features & 1ull << VIRTIO_NET_F_HOST_TSO4);
	assert_false(f->vdev->features & 1ull << VIRTIO_NET_F_HOST_TSO6);
	assert_false(f->vdev->features & 1ull << VIRTIO_NET_F_GUEST_TSO4);
	virtio_config_access(f->vdev, 0, mac, 6, false);
	assert_memory_equal(mac, f->cfg.mac, 6);
	virtio_config_access(f->vdev, 6, &status, 2, false);
	assert_int_equal(status, VIRTIO_NET_S_LINK_UP);
}

static void test_arp_round_trip(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[64];
	uint64_t buf = rx_buffer(f, RXBUF);
	uint32_t id, len;
	const uint8_t *got;
	const struct virtio_net_hdr_v1 *gh;

	tx_frame(f, &h, frame, frame_arp_request(frame, GUEST_IP, GW_IP));
	assert_true(vqd_used(&f->tx, &id, &len));
	assert_int_equal(len, 0);
	assert_true(f->h.queue_irqs[1] > 0);
	assert_true(rx_used(f, &id, &len));
	assert_true(len >= HDR + 42);
	gh = vqd_ptr(&f->h, buf, HDR);
	assert_int_equal(gh->num_buffers, 1);
	assert_int_equal(gh->flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(gh->gso_type, 0);
	got = vqd_ptr(&f->h, buf + HDR, len - HDR);
	assert_memory_equal(got, guest_mac, 6);
	assert_int_equal(frame_ethertype(got, len - HDR), 0x0806);
	assert_true(f->h.queue_irqs[0] > 0);
}

/* Without GUEST_CSUM the guest checks checksums itself: flags stay 0. */
static void test_no_guest_csum(void **state)
{
	struct fixture *f = make(~(1ull << VIRTIO_NET_F_GUEST_CSUM));
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[64];
	uint64_t buf = rx_buffer(f, RXBUF);
	uint32_t id, len;

	*state = f;
	tx_frame(f, &h, frame, frame_arp_request(frame, GUEST_IP, GW_IP));
	assert_true(rx_used(f, &id, &len));
	assert_int_equal(((struct virtio_net_hdr_v1 *)vqd_ptr(&f->h, buf, HDR))->flags, 0);
}

/* No buffer when the answer comes: it waits, and arrives once one is given. */
static void test_held_until_refill(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[128];
	uint32_t id, len;

	tx_frame(f, &h, frame, frame_arp_request(frame, GUEST_IP, GW_IP));
	tx_frame(f, &h, frame, frame_icmp_echo(frame, GUEST_IP, GW_IP, 7, 1));
	for (int i = 0; i < 10; i++)
		evloop_run_once(&f->h.loop, 5);
	assert_false(vqd_used(&f->rx, &id, &len));
	rx_buffer(f, RXBUF);
	rx_buffer(f, RXBUF);
	kick(f, &f->rx);
	assert_true(vqd_used(&f->rx, &id, &len));
	assert_true(vqd_used(&f->rx, &id, &len));
	assert_int_equal(len, HDR + 14 + 20 + 40); /* the echo reply */
}

/* A buffer too small for a frame comes back empty (the frame is lost). */
static void test_rx_buffer_too_small(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[128];
	uint32_t id, len;

	rx_buffer(f, 20);
	rx_buffer(f, RXBUF);
	tx_frame(f, &h, frame, frame_arp_request(frame, GUEST_IP, GW_IP));
	tx_frame(f, &h, frame, frame_icmp_echo(frame, GUEST_IP, GW_IP, 7, 1));
	assert_true(rx_used(f, &id, &len));
	assert_int_equal(len, 0);
	assert_true(rx_used(f, &id, &len));
	assert_true(len >= HDR + 42);
}

/* Hostile transmit chains: refused one by one, the device stays usable. */
static void test_bad_tx_chains(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h = { 0 }, gso = { .gso_type = VIRTIO_NET_HDR_GSO_TCPV6 };
	uint8_t frame[64];
	size_t arp = frame_arp_request(frame, GUEST_IP, GW_IP);
	uint64_t big = vqd_alloc(&f->h, 70000), a = vqd_alloc(&f->h, 128);
	struct vqd_seg only_hdr = { a, HDR, false };
	struct vqd_seg huge = { big, 70000, false };
	struct vqd_seg with_write[2] = { { a, HDR + (uint32_t)arp, false }, { a, 64, true } };
	uint32_t id, len;

	vqd_add(&f->tx, &only_hdr, 1);
	vqd_add(&f->tx, &huge, 1);
	memcpy(vqd_ptr(&f->h, a, HDR), &h, HDR);
	memcpy(vqd_ptr(&f->h, a + HDR, arp), frame, arp);
	vqd_add(&f->tx, with_write, 2);
	tx_frame(f, &gso, frame, arp); /* TSO6 not offered */
	for (int i = 0; i < 4; i++) {
		assert_true(vqd_used(&f->tx, &id, &len));
		assert_int_equal(len, 0);
	}
	/* None of those reached slirp; a good frame still does. */
	rx_buffer(f, RXBUF);
	for (int i = 0; i < 10; i++)
		evloop_run_once(&f->h.loop, 5);
	assert_false(vqd_used(&f->rx, &id, &len));
	tx_frame(f, &h, frame, arp);
	assert_true(rx_used(f, &id, &len));
	assert_false(f->vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A frame split over many small segments is gathered whole. */
static void test_tx_scattered(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[128];
	size_t len = frame_icmp_echo(frame, GUEST_IP, GW_IP, 9, 2), off = 0;
	uint8_t all[HDR + 128];
	struct vqd_seg segs[16];
	unsigned n = 0;
	uint32_t id, ulen;

	memcpy(all, &h, HDR);
	memcpy(all + HDR, frame, len);
	while (off < HDR + len) {
		uint32_t chunk = (uint32_t)(HDR + len - off < 7 ? HDR + len - off : 7);
		uint64_t a = vqd_alloc(&f->h, chunk);

		memcpy(vqd_ptr(&f->h, a, chunk), all + off, chunk);
		segs[n++] = (struct vqd_seg){ a, chunk, false };
		off += chunk;
	}
	rx_buffer(f, RXBUF);
	rx_buffer(f, RXBUF);
	tx_frame(f, &h, frame, frame_arp_request(frame, GUEST_IP, GW_IP)); /* slirp learns our MAC */
	vqd_add(&f->tx, segs, n);
	kick(f, &f->tx);
	assert_true(rx_used(f, &id, &ulen)); /* the ARP reply */
	assert_true(rx_used(f, &id, &ulen));
	assert_int_equal(ulen, HDR + len);
}

/* After a reset nothing is written to the old buffers (held frames wait for the next driver). */
static void test_reset_drops_held(void **state)
{
	struct fixture *f = *state;
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t frame[64];

	tx_frame(f, &h, frame, frame_arp_request(frame, GUEST_IP, GW_IP));
	pthread_mutex_lock(&f->vdev->lock);
	virtio_set_status(f->vdev, 0);
	pthread_mutex_unlock(&f->vdev->lock);
	for (int i = 0; i < 10; i++)
		evloop_run_once(&f->h.loop, 5);
	assert_int_equal(f->vdev->vqs[0].used_idx, 0);
}

/* NEEDS_CSUM: the device sums from csum_start and stores at csum_offset. */
static void test_partial_csum(void **state)
{
	uint8_t f[256], want[256];
	size_t len = frame_tcp(f, GUEST_IP, 1234, GW_IP, 80, 1, 2, 0x18, "partial!", 8);
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				       .csum_offset = 16 };
	uint32_t pseudo = net_csum_add(6 + 20 + 8, f + 26, 8);

	memcpy(want, f, len);
	/* What Linux leaves: the pseudo-header sum, not inverted. */
	f[50] = (uint8_t)(((pseudo & 0xffff) + (pseudo >> 16)) >> 8);
	f[51] = (uint8_t)((pseudo & 0xffff) + (pseudo >> 16));
	assert_int_equal(net_tx_offload(f, len, &h), 0);
	assert_memory_equal(f, want, len);
	h.csum_offset = (uint16_t)(len - 34 - 1); /* the field would end past the frame */
	assert_int_equal(net_tx_offload(f, len, &h), -EINVAL);
	h.csum_start = (uint16_t)len;
	h.csum_offset = 0;
	assert_int_equal(net_tx_offload(f, len, &h), -EINVAL);
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t alen = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 1), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * A TSO frame of 30000 bytes, as Linux hands it over (IP length and
 * checksums left to the device), reaches a host socket whole through slirp.
 */
static void test_tso_to_host(void **state)
{
	struct fixture *f = *state;
	enum { DATA = 30000 };
	static uint8_t frame[DATA + 100], got[DATA + 1];
	struct virtio_net_hdr_v1 h = { 0 };
	struct virtio_net_hdr_v1 gso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54,
					 .gso_size = 1460, .csum_start = 34, .csum_offset = 16 };
	uint16_t port;
	int ls = listen_loopback(&port), as;
	uint64_t buf;
	uint32_t id, len, seq;
	size_t flen, total = 0;

	rx_buffer(f, RXBUF);
	tx_frame(f, &h, frame, frame_arp_request(frame, GUEST_IP, GW_IP));
	assert_true(rx_used(f, &id, &len)); /* the ARP reply */
	buf = rx_buffer(f, RXBUF);
	tx_frame(f, &h, frame, frame_tcp(frame, GUEST_IP, 40000, GW_IP, port, 1000, 0, 0x02,
					 NULL, 0));
	assert_true(rx_used(f, &id, &len)); /* SYN-ACK */
	seq = rd32((uint8_t *)vqd_ptr(&f->h, buf + HDR + 38, 4));
	for (int i = 0; i < 4; i++)
		rx_buffer(f, RXBUF);
	kick(f, &f->rx);
	for (size_t i = 0; i < DATA; i++)
		got[i] = (uint8_t)(i * 7);
	flen = frame_tcp(frame, GUEST_IP, 40000, GW_IP, port, 1001, seq + 1, 0x10, got, DATA);
	memset(frame + 14 + 2, 0, 2);  /* IP length: left to the device */
	memset(frame + 14 + 10, 0, 2); /* IP checksum */
	memset(frame + 50, 0, 2);      /* a TCP checksum the device must redo */
	tx_frame(f, &gso, frame, flen);
	as = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	for (int i = 0; i < 200 && as < 0; i++) {
		evloop_run_once(&f->h.loop, 5);
		as = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(as >= 0);
	memset(got, 0, sizeof(got));
	for (int i = 0; i < 400 && total < DATA; i++) {
		ssize_t r = read(as, got + total, sizeof(got) - total);

		if (r > 0)
			total += (size_t)r;
		else
			evloop_run_once(&f->h.loop, 5);
	}
	assert_int_equal(total, DATA);
	for (size_t i = 0; i < DATA; i++)
		if (got[i] != (uint8_t)(i * 7))
			fail_msg("byte %zu differs", i);
	close(as);
	close(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features_and_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_round_trip, setup, teardown),
		cmocka_unit_test_teardown(test_no_guest_csum, teardown),
		cmocka_unit_test_setup_teardown(test_held_until_refill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_buffer_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_tx_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_scattered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_held, setup, teardown),
		cmocka_unit_test(test_partial_csum),
		cmocka_unit_test_setup_teardown(test_tso_to_host, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

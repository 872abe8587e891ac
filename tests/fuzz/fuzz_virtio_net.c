/*
 * libFuzzer target: virtio-net's transmit and receive paths against
 * arbitrary rings and frames.
 *
 * Input: byte 0 picks the backend's kind (bit 0: tap-like, frames with a
 * vnet header; else slirp-like, the device completing checksums and TSO
 * frames), bit 1 event index, bit 2 whether the driver accepts the offloads
 * offered; the rest is the first 64 KiB of guest RAM: the transmit queue
 * (size 8) with its descriptor table at 0, avail at 0x80 and used at 0x100,
 * the receive queue (size 8) at 0x200/0x280/0x300 (the layout of
 * tests/fuzz/run.py's seeds). A loopback backend hands every frame sent
 * straight back to the device, so what the guest transmits lands in its
 * receive buffers. Any crash, sanitizer report or access outside guest RAM
 * is a bug.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/net/backend.h"
#include "hw/virtio/net.h"
#include "hw/virtio/virtio.h"

#define RAM_SIZE (1u << 20)
#define IMAGE_MAX (64u << 10)
#define QSIZE 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_env {
	struct guest_memory mem;
	struct evloop loop;
	struct logger log;
	struct dev_host host;
	bool vnet_hdr;
};

int virtio_pci_attach(struct virtio_dev *vdev)
{
	(void)vdev;
	return -1;
}

/* ---- a loopback backend ------------------------------------------------- */

struct loop_be {
	struct net_backend be;
	uint8_t frame[NET_VNET_HDR_LEN + NET_MAX_FRAME];
};

static int loop_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct loop_be *l = (struct loop_be *)be;
	size_t len = 0;
	struct iovec back;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > sizeof(l->frame) - len)
			return -EMSGSIZE;
		memcpy(l->frame + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	back = (struct iovec){ l->frame, len };
	be->peer.receive(be->peer.opaque, &back, 1);
	return 0;
}

static void loop_rx_ready(struct net_backend *be)
{
	(void)be;
}

static int loop_set_offloads(struct net_backend *be, unsigned flags)
{
	(void)be, (void)flags;
	return 0;
}

static void loop_destroy(struct net_backend *be)
{
	free(be);
}

static const struct net_backend_ops loop_ops = {
	.send = loop_send,
	.rx_ready = loop_rx_ready,
	.set_offloads = loop_set_offloads,
	.destroy = loop_destroy,
};

static int make_loop(struct net_config *cfg, const struct net_peer *peer, struct evloop *loop,
		     const struct logger *log, struct net_backend **out)
{
	struct loop_be *l = calloc(1, sizeof(*l));

	(void)loop, (void)log;
	if (!l)
		return -ENOMEM;
	l->be = (struct net_backend){ .ops = &loop_ops, .peer = *peer,
				      .vnet_hdr = cfg->type == NET_BACKEND_TAP,
				      .rx_csum_complete = cfg->type != NET_BACKEND_TAP,
				      .tun_offloads = cfg->tap_offloads };
	*out = &l->be;
	return 0;
}

/* ---- the target ------------------------------------------------------------- */

static struct fuzz_env *env(void)
{
	static struct fuzz_env *e;
	struct mem_range r = { gpa(0), RAM_SIZE };

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e || guest_memory_init(&e->mem, &r, 1) || evloop_init(&e->loop))
		abort();
	e->log = (struct logger){ .level = LOG_ERROR, .fd = open("/dev/null", O_WRONLY) };
	e->host = (struct dev_host){ .log = &e->log, .mem = &e->mem, .loop = &e->loop };
	return e;
}

static void setup_queue(struct virtq *vq, uint64_t base)
{
	vq->size = QSIZE;
	vq->desc_addr = base;
	vq->avail_addr = base + 0x80;
	vq->used_addr = base + 0x100;
	virtq_enable(vq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *e = env();
	struct net_config cfg = { .tap_fd = -1, .mac = { 0x52, 0x54, 0 } };
	struct virtio_net *n;
	struct virtio_dev *vdev;
	uint64_t want = 1ull << VIRTIO_F_VERSION_1;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		cfg.type = NET_BACKEND_TAP;
		cfg.tap_offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	}
	memset(e->mem.map, 0, IMAGE_MAX);
	memcpy(e->mem.map, data + 1, size - 1 < IMAGE_MAX ? size - 1 : IMAGE_MAX);
	if (virtio_net_new(&e->host, &cfg, make_loop, &n))
		abort();
	vdev = virtio_net_vdev(n);
	if (data[0] & 2)
		want |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (data[0] & 4)
		want |= ~0ull;
	pthread_mutex_lock(&vdev->lock);
	vdev->drv_features = vdev->features & want;
	vdev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		       VIRTIO_CONFIG_S_FEATURES_OK;
	setup_queue(&vdev->vqs[1], 0);
	setup_queue(&vdev->vqs[0], 0x200);
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_DRIVER_OK); /* kicks both */
	pthread_mutex_unlock(&vdev->lock);
	for (int i = 0; i < 4 && evloop_run_once(&e->loop, 0) > 0; i++)
		;
	virtio_net_free(n);
	return 0;
}

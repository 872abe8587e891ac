/*
 * virtio-net: one receive and one transmit queue, the MAC address and link
 * status in the configuration, and the offloads the backend can honour.
 *
 * Every frame carries the 12-byte virtio_net_hdr_v1 on the guest side. A tap
 * backend takes and gives that header too (offloads pass through to the host
 * kernel). slirp wants complete frames: with it the device offers CSUM and
 * HOST_TSO4 and completes such frames itself (net/offload.c: a TSO frame
 * goes to slirp as one large IPv4 packet), and GUEST_CSUM, since slirp's
 * frames carry valid checksums (DATA_VALID spares the guest checking them).
 *
 * Threads: the queues are served on the dev_host loop thread, where the
 * backend also runs. A backend may hand the device a frame from inside a
 * call the device makes with vdev->lock held (slirp answers an ARP request
 * within slirp_input); in_backend tells the receive path that the lock is
 * already held then.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hw/device.h"
#include "hw/net/backend.h"
#include "hw/net/offload.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/net.h"
#include "hw/virtio/virtio.h"

#define NET_QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1
#define TX_BURST 256 /* chains per turn before the loop's other work gets a go */
#define HDR_LEN NET_VNET_HDR_LEN
#define CONFIG_SIZE offsetof(struct virtio_net_config, mtu)

#define F(bit) (1ULL << (bit))

struct virtio_net {
	struct virtio_dev vdev;
	const struct logger *log;
	struct net_backend *be;
	bool in_backend; /* loop thread, vdev.lock held, inside a backend call */
	struct virtq_req rx_req;
	struct virtq_req tx_req; /* separate: a frame may arrive while one is sent */
	struct iovec tx_iov[VIRTQ_MAX_SEGS + 1];
	uint8_t *tx_buf; /* a frame the device completes (offloads without vnet_hdr) */
};

static uint64_t offered_features(const struct net_config *cfg)
{
	uint64_t f = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_GUEST_CSUM);

	if (cfg->type != NET_BACKEND_TAP) /* slirp: the device completes frames */
		return f | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4);
	f |= F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
	     F(VIRTIO_NET_F_HOST_ECN);
	if (!(cfg->tap_offloads & TUN_F_CSUM))
		f &= ~F(VIRTIO_NET_F_GUEST_CSUM);
	if (cfg->tap_offloads & TUN_F_TSO4)
		f |= F(VIRTIO_NET_F_GUEST_TSO4);
	if (cfg->tap_offloads & TUN_F_TSO6)
		f |= F(VIRTIO_NET_F_GUEST_TSO6);
	if (cfg->tap_offloads & TUN_F_TSO_ECN)
		f |= F(VIRTIO_NET_F_GUEST_ECN);
	return f;
}

static bool has(const struct virtio_net *n, unsigned bit)
{
	return virtio_has_feature(&n->vdev, bit);
}

/* Whether the negotiated features allow a header's offload requests. */
static bool hdr_allowed(const struct virtio_net *n, const struct virtio_net_hdr_v1 *h,
			bool to_guest)
{
	unsigned csum = to_guest ? VIRTIO_NET_F_GUEST_CSUM : VIRTIO_NET_F_CSUM;
	unsigned tso4 = to_guest ? VIRTIO_NET_F_GUEST_TSO4 : VIRTIO_NET_F_HOST_TSO4;
	unsigned tso6 = to_guest ? VIRTIO_NET_F_GUEST_TSO6 : VIRTIO_NET_F_HOST_TSO6;
	unsigned ecn = to_guest ? VIRTIO_NET_F_GUEST_ECN : VIRTIO_NET_F_HOST_ECN;

	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has(n, csum))
		return false;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(n, ecn))
		return false;
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(n, tso4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(n, tso6);
	default:
		return false;
	}
}

/* ---- receive: backend -> guest ------------------------------------------ */

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t len = 0;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	return len;
}

/* The header the guest gets; false when the frame must be dropped. */
static bool rx_header(struct virtio_net *n, const struct iovec *iov, int iovcnt,
		      struct virtio_net_hdr_v1 *h, size_t *skip)
{
	memset(h, 0, sizeof(*h));
	*skip = 0;
	if (n->be->vnet_hdr) {
		if (iovcnt < 1 || iov[0].iov_len < HDR_LEN)
			return false;
		memcpy(h, iov[0].iov_base, HDR_LEN);
		*skip = HDR_LEN;
		/* A frame read under the previous driver's offloads may not fit this one. */
		if (!hdr_allowed(n, h, true))
			return false;
		if (!has(n, VIRTIO_NET_F_GUEST_CSUM))
			h->flags = 0;
	} else if (n->be->rx_csum_complete && has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	h->num_buffers = 1;
	return true;
}

static size_t rx_copy(struct virtq_req *req, const struct iovec *iov, int iovcnt, size_t skip)
{
	size_t off = HDR_LEN;

	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		off += virtq_req_write(req, off, p + skip, len - skip);
		skip = 0;
	}
	return off;
}

static bool rx_ready(const struct virtio_net *n, const struct virtq *vq)
{
	uint8_t st = n->vdev.status;

	return (st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	       vq->enabled && !vq->broken;
}

/* 1: taken or dropped, 0: no buffer now (vdev.lock held). */
static int rx_frame(struct virtio_net *n, const struct iovec *iov, int iovcnt)
{
	struct virtq *vq = &n->vdev.vqs[RXQ];
	struct virtq_req *req = &n->rx_req;
	struct virtio_net_hdr_v1 h;
	size_t skip, len;
	int r;

	if (!rx_ready(n, vq))
		return 0;
	if (!rx_header(n, iov, iovcnt, &h, &skip))
		return 1;
	len = iov_total(iov, iovcnt) - skip;
	r = virtq_pop(vq, req);
	if (r <= 0)
		return r < 0 ? 1 : 0;
	if (req->nout || req->in_len < HDR_LEN + len) {
		/* The guest's buffer is unusable or too small: the frame is lost. */
		log_debug(n->log, "virtio-net: rx buffer of %zu bytes for a %zu-byte frame",
			  req->in_len, len);
		virtq_push(vq, req, 0);
	} else {
		virtq_req_write(req, 0, &h, HDR_LEN);
		virtq_push(vq, req, (uint32_t)rx_copy(req, iov, iovcnt, skip));
	}
	virtq_notify(vq);
	return 1;
}

static int net_receive(void *opaque, const struct iovec *iov, int iovcnt)
{
	struct virtio_net *n = opaque;
	bool lock = !n->in_backend;
	int r;

	if (lock)
		pthread_mutex_lock(&n->vdev.lock);
	r = rx_frame(n, iov, iovcnt);
	if (lock)
		pthread_mutex_unlock(&n->vdev.lock);
	return r;
}

/* ---- transmit: guest -> backend ------------------------------------------ */

/* tx_iov from the chain's bytes [from, end). Returns the count. */
static int chain_iov(struct virtio_net *n, const struct virtq_req *req, size_t from, int first)
{
	int cnt = first;

	for (unsigned i = 0; i < req->nout; i++) {
		size_t len = req->iov[i].iov_len;

		if (from >= len) {
			from -= len;
			continue;
		}
		n->tx_iov[cnt].iov_base = (uint8_t *)req->iov[i].iov_base + from;
		n->tx_iov[cnt++].iov_len = len - from;
		from = 0;
	}
	return cnt;
}

/* The frame in tx_buf with the offloads the guest asked for done: 1 (iovecs), or -errno. */
static int complete_frame(struct virtio_net *n, const struct virtq_req *req,
			  const struct virtio_net_hdr_v1 *h)
{
	size_t len = req->out_len - HDR_LEN;

	if (!n->tx_buf && !(n->tx_buf = malloc(NET_MAX_FRAME)))
		return -ENOMEM;
	virtq_req_read(req, HDR_LEN, n->tx_buf, len);
	if (net_tx_offload(n->tx_buf, len, h)) {
		log_debug(n->log, "virtio-net: tx offload request does not match the frame");
		return -EINVAL;
	}
	n->tx_iov[0] = (struct iovec){ n->tx_buf, len };
	return 1;
}

static void tx_frame(struct virtio_net *n, const struct virtq_req *req)
{
	struct virtio_net_hdr_v1 h;
	int cnt;

	if (req->nin || req->out_len <= HDR_LEN || req->out_len > HDR_LEN + NET_MAX_FRAME) {
		log_debug(n->log, "virtio-net: tx chain refused (%u writable, %zu bytes)",
			  req->nin, req->out_len);
		return;
	}
	virtq_req_read(req, 0, &h, HDR_LEN);
	if (!hdr_allowed(n, &h, false)) {
		log_debug(n->log, "virtio-net: tx header asks for offloads not negotiated");
		return;
	}
	if (!n->be->vnet_hdr && ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h.gso_type)) {
		cnt = complete_frame(n, req, &h);
		if (cnt < 0)
			return;
	} else if (n->be->vnet_hdr) {
		/* DATA_VALID is the device's to give; a guest's claim is not passed on. */
		h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.num_buffers = 0;
		/* Our own copy of the header: the guest may change its own meanwhile. */
		n->tx_iov[0] = (struct iovec){ &h, HDR_LEN };
		cnt = chain_iov(n, req, HDR_LEN, 1);
	} else {
		cnt = chain_iov(n, req, HDR_LEN, 0);
	}
	n->be->ops->send(n->be, n->tx_iov, cnt);
}

static void process_tx(struct virtio_net *n, struct virtq *vq)
{
	unsigned count = 0;
	int r = 0;

	n->in_backend = true;
	while (count < TX_BURST && (r = virtq_pop(vq, &n->tx_req)) == 1) {
		tx_frame(n, &n->tx_req);
		virtq_push(vq, &n->tx_req, 0);
		count++;
	}
	if (count && n->be->ops->flush)
		n->be->ops->flush(n->be);
	n->in_backend = false;
	virtq_notify(vq);
	if (r == 1) /* more to do: come back after the loop's other work */
		virtq_kick(vq);
}

/* ---- device model ops ---------------------------------------------------- */

static void net_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct virtio_net *n = vdev->opaque;

	if (vq->index == TXQ) {
		process_tx(n, vq);
	} else if (vq->index == RXQ) {
		n->in_backend = true;
		n->be->ops->rx_ready(n->be);
		n->in_backend = false;
	}
}

static unsigned guest_tun_offloads(const struct virtio_net *n)
{
	unsigned f = 0;

	if (has(n, VIRTIO_NET_F_GUEST_CSUM))
		f |= TUN_F_CSUM;
	if (has(n, VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (has(n, VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if (has(n, VIRTIO_NET_F_GUEST_ECN))
		f |= TUN_F_TSO_ECN;
	return f;
}

static int net_start(struct virtio_dev *vdev)
{
	struct virtio_net *n = vdev->opaque;

	if (n->be->ops->set_offloads && n->be->ops->set_offloads(n->be, guest_tun_offloads(n)))
		log_warn(n->log, "virtio-net: the backend refused the guest's offloads");
	return 0; /* the core kicks the queues: held frames go then */
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *n = vdev->opaque;

	/* An ioctl, fine from this thread; held frames are checked when delivered. */
	if (n->be->ops->set_offloads)
		n->be->ops->set_offloads(n->be, 0);
}

static const struct virtio_dev_ops net_ops = {
	.start = net_start,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
};

/* ---- device kind --------------------------------------------------------- */

static void fill_config(struct virtio_net *n, const struct net_config *cfg)
{
	struct virtio_net_config c = { .status = VIRTIO_NET_S_LINK_UP, .max_virtqueue_pairs = 1 };

	memcpy(c.mac, cfg->mac, 6);
	memcpy(n->vdev.config, &c, CONFIG_SIZE); /* little-endian host */
}

void virtio_net_free(struct virtio_net *n)
{
	if (n->be)
		n->be->ops->destroy(n->be); /* no more frames from here on */
	virtio_dev_destroy(&n->vdev);
	free(n->tx_buf);
	free(n);
}

struct virtio_dev *virtio_net_vdev(struct virtio_net *n)
{
	return &n->vdev;
}

int virtio_net_new(const struct dev_host *host, struct net_config *cfg, net_backend_maker make,
		   struct virtio_net **out)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct net_peer peer = { net_receive, n };
	int err;

	if (!n)
		return -ENOMEM;
	n->log = host->log;
	err = virtio_dev_init(&n->vdev, "virtio-net", VIRTIO_ID_NET, &net_ops, n, host, 2,
			      NET_QUEUE_SIZE, offered_features(cfg), CONFIG_SIZE);
	if (err) {
		free(n);
		return err;
	}
	fill_config(n, cfg);
	/* After the lock exists: the backend may hand over frames at once. */
	err = (make ? make : net_backend_create)(cfg, &peer, host->loop, host->log, &n->be);
	if (err) {
		virtio_net_free(n);
		return err;
	}
	*out = n;
	return 0;
}

static int net_create(const struct dev_host *host, void *config, void **state)
{
	struct virtio_net *n;
	int err = virtio_net_new(host, config, NULL, &n);

	if (err)
		return err;
	err = virtio_dev_attach(&n->vdev);
	if (err) {
		virtio_net_free(n);
		return err;
	}
	*state = n;
	return 0;
}

static void net_destroy(void *state)
{
	virtio_net_free(state);
}

static int net_parse(struct devspec *spec, void *config, const struct logger *log)
{
	return net_config_parse(spec, config, log);
}

static void net_config_release(void *config)
{
	net_config_free(config);
}

static const struct device_sandbox *net_sandbox(const void *config)
{
	const struct net_config *cfg = config;

	return cfg->type == NET_BACKEND_TAP ? &net_tap_sandbox : &net_slirp_sandbox;
}

const struct device_kind virtio_net_kind = {
	.name = "virtio-net",
	.usage = "virtio-net,user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]..."
		 "[,mac=MAC]\n  virtio-net,tap=NAME[,mac=MAC]",
	.config_size = sizeof(struct net_config),
	.parse = net_parse,
	.config_free = net_config_release,
	.create = net_create,
	.destroy = net_destroy,
	.sandbox = net_sandbox,
};

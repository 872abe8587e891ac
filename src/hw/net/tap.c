/*
 * A tap interface as the backend: frames both ways start with the 12-byte
 * virtio_net_hdr_v1 (IFF_VNET_HDR, TUNSETVNETHDRSZ), so checksum and
 * segmentation offloads pass straight through to the host kernel. When the
 * guest has no receive buffer, the frame read last waits here and the tap fd
 * is not read again until the guest refills its queue (the kernel queues,
 * then drops, what comes meanwhile).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/net/backend.h"

#define TAP_BUF_SIZE (NET_VNET_HDR_LEN + NET_MAX_FRAME)
#define TAP_READ_BURST 64 /* frames per wakeup, so the loop's other fds get a turn */

struct net_tap {
	struct net_backend be;
	const struct logger *log;
	struct evloop *loop;
	int fd;
	struct ev_watch watch;
	bool reading; /* fd is in the loop */
	size_t pending; /* bytes of a frame in buf that the guest has no room for yet */
	uint8_t *buf;
};

int net_tap_open(const char *name, const struct logger *log)
{
	struct ifreq ifr = { 0 };
	unsigned features = 0;
	int hdr_len = NET_VNET_HDR_LEN;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
		close(fd);
		return -ENOTSUP;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, name, sizeof(ifr.ifr_name) - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	log_debug(log, "virtio-net: tap %s open", ifr.ifr_name);
	return fd;
}

static void set_reading(struct net_tap *t, bool on)
{
	if (on == t->reading)
		return;
	/* Removed rather than masked: an error condition would wake us forever. */
	if (on ? evloop_add(t->loop, &t->watch, EPOLLIN) : evloop_del(t->loop, &t->watch))
		log_warn(t->log, "virtio-net tap: cannot %s the tap fd", on ? "watch" : "unwatch");
	else
		t->reading = on;
}

static bool deliver_pending(struct net_tap *t)
{
	struct iovec iov = { t->buf, t->pending };

	if (t->be.peer.receive(t->be.peer.opaque, &iov, 1) == 0)
		return false;
	t->pending = 0;
	return true;
}

static void on_tap(void *opaque, uint32_t events)
{
	struct net_tap *t = opaque;

	for (int i = 0; i < TAP_READ_BURST; i++) {
		ssize_t n;

		if (t->pending && !deliver_pending(t)) {
			set_reading(t, false);
			return;
		}
		n = read(t->fd, t->buf, TAP_BUF_SIZE);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug(t->log, "virtio-net tap: read: %s", strerror(errno));
			return;
		}
		if (n > NET_VNET_HDR_LEN)
			t->pending = (size_t)n;
	}
}

static void tap_rx_ready(struct net_backend *be)
{
	struct net_tap *t = (struct net_tap *)be;

	if (t->pending && !deliver_pending(t))
		return;
	set_reading(t, true);
}

static int tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct net_tap *t = (struct net_tap *)be;

	if (writev(t->fd, iov, iovcnt) < 0) {
		log_debug(t->log, "virtio-net tap: write: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int tap_set_offloads(struct net_backend *be, unsigned tun_flags)
{
	struct net_tap *t = (struct net_tap *)be;

	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)(tun_flags & be->tun_offloads)) < 0)
		return -errno;
	return 0;
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *t = (struct net_tap *)be;

	set_reading(t, false);
	close(t->fd);
	free(t->buf);
	free(t);
}

/* In a device process: frames through the tap fd, and its offloads. */
static const struct sandbox_rule tap_rules[] = {
	SANDBOX_ALLOW_EQ("ioctl", 1, TUNSETOFFLOAD),
};

const struct device_sandbox net_tap_sandbox = { SANDBOX_RULES(tap_rules) };

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.rx_ready = tap_rx_ready,
	.set_offloads = tap_set_offloads,
	.destroy = tap_destroy,
};

unsigned net_tap_probe_offloads(int fd)
{
	static const unsigned tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		TUN_F_CSUM,
	};
	unsigned got = 0;

	for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]) && !got; i++)
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0)
			got = tries[i];
	ioctl(fd, TUNSETOFFLOAD, 0UL);
	return got;
}

int net_tap_create(int fd, unsigned tun_offloads, const struct net_peer *peer, struct evloop *loop,
		   const struct logger *log, struct net_backend **out)
{
	struct net_tap *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->buf = malloc(TAP_BUF_SIZE);
	if (!t->buf) {
		free(t);
		return -ENOMEM;
	}
	t->be = (struct net_backend){ .ops = &tap_ops, .vnet_hdr = true,
				      .tun_offloads = tun_offloads, .peer = *peer };
	t->log = log;
	t->loop = loop;
	t->fd = fd;
	t->watch = (struct ev_watch){ fd, on_tap, t };
	set_reading(t, true);
	if (!t->reading) {
		t->fd = -1; /* the caller keeps its fd on failure */
		free(t->buf);
		free(t);
		return -EIO;
	}
	*out = &t->be;
	return 0;
}

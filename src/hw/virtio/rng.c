/*
 * virtio-rng (virtio 1.2, 5.4): one queue whose writable buffers the device
 * fills with the host's randomness, getrandom(2) without blocking.
 *
 * Before the host's pool is initialised getrandom says EAGAIN: the request
 * is then held (not returned empty, which would make the guest spin) and
 * retried from a timer on the device loop.
 */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/device.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio.h"

#define RNG_QUEUE_SIZE 64
#define RNG_RETRY_NS 50000000 /* 50 ms */

struct rng {
	struct virtio_dev vdev;
	const struct dev_host *host;
	int timer_fd;
	struct ev_watch timer_watch;
	bool held; /* req waits for the host's pool */
	struct virtq_req req;
};

/* Fills the writable segments; the bytes written or -errno (EAGAIN: none yet). */
static ssize_t fill(const struct virtq_req *req)
{
	size_t done = 0;

	for (unsigned i = req->nout; i < req->nout + req->nin; i++) {
		const struct iovec *iov = &req->iov[i];
		size_t off = 0;

		while (off < iov->iov_len) {
			ssize_t n = getrandom((char *)iov->iov_base + off, iov->iov_len - off,
					      GRND_NONBLOCK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return done ? (ssize_t)done : -errno;
			off += (size_t)n;
			done += (size_t)n;
		}
	}
	return (ssize_t)done;
}

static void arm_retry(struct rng *r)
{
	struct itimerspec its = { .it_value = { .tv_nsec = RNG_RETRY_NS } };

	timerfd_settime(r->timer_fd, 0, &its, NULL);
}

/* Serves the queue until it is empty or the pool is not ready (lock held). */
static void serve(struct rng *r)
{
	struct virtq *vq = &r->vdev.vqs[0];
	bool pushed = false;
	ssize_t n;

	for (;;) {
		if (!r->held && virtq_pop(vq, &r->req) != 1)
			break;
		r->held = false;
		n = fill(&r->req);
		if (n == -EAGAIN) {
			r->held = true;
			arm_retry(r);
			break;
		}
		if (n < 0) {
			virtio_needs_reset(&r->vdev, "getrandom: %s", strerror((int)-n));
			break;
		}
		virtq_push(vq, &r->req, (uint32_t)n);
		pushed = true;
	}
	if (pushed)
		virtq_notify(vq);
}

static void rng_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	serve(vdev->opaque);
}

static void rng_retry(void *opaque, uint32_t events)
{
	struct rng *r = opaque;
	uint64_t ticks;

	if (read(r->timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	pthread_mutex_lock(&r->vdev.lock);
	if (r->held)
		serve(r);
	pthread_mutex_unlock(&r->vdev.lock);
}

static void rng_reset(struct virtio_dev *vdev)
{
	struct rng *r = vdev->opaque;
	struct itimerspec off = { 0 };

	r->held = false;
	timerfd_settime(r->timer_fd, 0, &off, NULL);
}

static const struct virtio_dev_ops rng_ops = {
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
};

static int rng_parse(struct devspec *spec, void *config, const struct logger *log)
{
	return 0; /* no options */
}

static void rng_free(struct rng *r)
{
	if (r->timer_fd >= 0) {
		evloop_del(r->host->loop, &r->timer_watch);
		close(r->timer_fd);
	}
	free(r);
}

static int rng_create(const struct dev_host *host, void *config, void **state)
{
	struct rng *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->host = host;
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer_fd < 0) {
		err = -errno;
		free(r);
		return err;
	}
	r->timer_watch = (struct ev_watch){ .fd = r->timer_fd, .fn = rng_retry, .opaque = r };
	err = evloop_add(host->loop, &r->timer_watch, EPOLLIN);
	if (err) {
		close(r->timer_fd);
		free(r);
		return err;
	}
	err = virtio_dev_init(&r->vdev, "virtio-rng", VIRTIO_ID_RNG, &rng_ops, r, host, 1,
			      RNG_QUEUE_SIZE, 0, 0);
	if (err) {
		rng_free(r);
		return err;
	}
	err = virtio_dev_attach(&r->vdev);
	if (err) {
		virtio_dev_destroy(&r->vdev);
		rng_free(r);
		return err;
	}
	*state = r;
	return 0;
}

static void rng_destroy(void *state)
{
	struct rng *r = state;

	virtio_dev_destroy(&r->vdev);
	rng_free(r);
}

/* In a device process: the host's randomness, and the timer to retry with. */
static const struct sandbox_rule rng_rules[] = {
	SANDBOX_ALLOW("getrandom"),
	SANDBOX_ALLOW("timerfd_settime"),
};

static const struct device_sandbox rng_sandbox = { SANDBOX_RULES(rng_rules) };

static const struct device_sandbox *rng_sandbox_for(const void *config)
{
	return &rng_sandbox;
}

const struct device_kind virtio_rng_kind = {
	.name = "virtio-rng",
	.usage = "virtio-rng",
	.parse = rng_parse,
	.create = rng_create,
	.destroy = rng_destroy,
	.sandbox = rng_sandbox_for,
};

/* Virtio device state: features, status, reset, configuration, doorbells. */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <linux/virtio_pci.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/device.h"
#include "hw/virtio/vq_journal.h"

#define VIRTIO_CORE_FEATURES                                                           \
	(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC |               \
	 1ull << VIRTIO_RING_F_EVENT_IDX)

static void virtq_clear(struct virtq *vq)
{
	vq_journal_clear(vq);
	vq->size = vq->max_size;
	vq->enabled = false;
	vq->msix_vector = VIRTIO_MSI_NO_VECTOR;
	vq->desc_addr = vq->avail_addr = vq->used_addr = 0;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->broken = false;
}

static bool queue_live(const struct virtio_dev *vdev, const struct virtq *vq)
{
	return (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET) && vq->enabled && !vq->broken;
}

/* A doorbell rang (ioeventfd or virtq_kick): let the model look at the queue. */
static void on_kick(void *opaque, uint32_t events)
{
	struct virtq *vq = opaque;
	struct virtio_dev *vdev = vq->vdev;
	uint64_t n;

	(void)events;
	if (read(vq->kick_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&vdev->lock);
	if (queue_live(vdev, vq))
		vdev->ops->queue_notify(vdev, vq);
	pthread_mutex_unlock(&vdev->lock);
}

static int init_queue(struct virtio_dev *vdev, unsigned i, uint16_t max_size)
{
	struct virtq *vq = &vdev->vqs[i];

	vq->vdev = vdev;
	vq->index = i;
	vq->max_size = max_size;
	virtq_clear(vq);
	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick_fd < 0)
		return -errno;
	vq->kick_watch = (struct ev_watch){ vq->kick_fd, on_kick, vq };
	return evloop_add(vdev->host->loop, &vq->kick_watch, EPOLLIN);
}

static void fini_queue(struct virtio_dev *vdev, struct virtq *vq)
{
	if (vq->kick_fd < 0)
		return;
	evloop_del(vdev->host->loop, &vq->kick_watch);
	close(vq->kick_fd);
	vq->kick_fd = -1;
}

int virtio_dev_init(struct virtio_dev *vdev, const char *name, uint16_t device_id,
		    const struct virtio_dev_ops *ops, void *opaque, const struct dev_host *host,
		    unsigned nqueues, uint16_t queue_max_size, uint64_t features,
		    unsigned config_size)
{
	int err = 0;

	if (!nqueues || !queue_max_size || queue_max_size > VIRTQ_MAX_SIZE ||
	    (queue_max_size & (queue_max_size - 1)))
		return -EINVAL;
	memset(vdev, 0, sizeof(*vdev));
	vdev->name = name;
	vdev->device_id = device_id;
	vdev->ops = ops;
	vdev->opaque = opaque;
	vdev->host = host;
	vdev->features = features | VIRTIO_CORE_FEATURES;
	vdev->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
	pthread_mutex_init(&vdev->lock, NULL);
	vdev->vqs = calloc(nqueues, sizeof(*vdev->vqs));
	vdev->config = calloc(1, config_size ? config_size : 1);
	if (!vdev->vqs || !vdev->config) {
		err = -ENOMEM;
		goto fail;
	}
	vdev->config_size = config_size;
	for (unsigned i = 0; i < nqueues; i++)
		vdev->vqs[i].kick_fd = -1;
	vdev->nqueues = nqueues;
	for (unsigned i = 0; i < nqueues && !err; i++)
		err = init_queue(vdev, i, queue_max_size);
	if (err)
		goto fail;
	return 0;
fail:
	virtio_dev_destroy(vdev);
	return err;
}

int virtio_dev_attach(struct virtio_dev *vdev)
{
	return virtio_pci_attach(vdev);
}

void virtio_dev_destroy(struct virtio_dev *vdev)
{
	if (vdev->transport && vdev->transport->destroy)
		vdev->transport->destroy(vdev->transport_opaque);
	vdev->transport = NULL;
	for (unsigned i = 0; i < vdev->nqueues; i++)
		fini_queue(vdev, &vdev->vqs[i]);
	free(vdev->vqs);
	free(vdev->config);
	vdev->vqs = NULL;
	vdev->config = NULL;
	vdev->nqueues = 0;
	pthread_mutex_destroy(&vdev->lock);
}

void virtio_reset(struct virtio_dev *vdev)
{
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	for (unsigned i = 0; i < vdev->nqueues; i++)
		virtq_clear(&vdev->vqs[i]);
	vdev->status = 0;
	vdev->drv_features = 0;
	vdev->isr = 0;
	vdev->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
}

/* FEATURES_OK: only offered bits, and a modern driver. */
static bool features_acceptable(struct virtio_dev *vdev)
{
	uint64_t f = vdev->drv_features;

	if (f & ~vdev->features || !(f >> VIRTIO_F_VERSION_1 & 1))
		return false;
	return !vdev->ops->features_ok || vdev->ops->features_ok(vdev, f);
}

void virtio_set_status(struct virtio_dev *vdev, uint8_t status)
{
	uint8_t old = vdev->status;
	uint8_t rising;

	if (!status) {
		virtio_reset(vdev);
		return;
	}
	/* NEEDS_RESET is the device's to set; the driver cannot clear it either. */
	status = (status & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	rising = status & ~old;
	if ((rising & VIRTIO_CONFIG_S_FEATURES_OK) && !features_acceptable(vdev))
		status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	vdev->status = status;
	if ((rising & VIRTIO_CONFIG_S_DRIVER_OK) && vdev->ops->start) {
		int err = vdev->ops->start(vdev);

		if (err)
			virtio_needs_reset(vdev, "cannot start: %s", strerror(-err));
	}
	/* Doorbells rung before DRIVER_OK were ignored: look at the queues now. */
	if (rising & VIRTIO_CONFIG_S_DRIVER_OK)
		for (unsigned i = 0; i < vdev->nqueues; i++)
			if (vdev->vqs[i].enabled)
				virtq_kick(&vdev->vqs[i]);
}

void virtio_config_access(struct virtio_dev *vdev, unsigned off, void *data, unsigned size,
			  bool is_write)
{
	if (off > vdev->config_size || size > vdev->config_size - off) {
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	if (is_write) {
		if (vdev->ops->config_write)
			vdev->ops->config_write(vdev, off, data, size);
	} else if (vdev->ops->config_read) {
		vdev->ops->config_read(vdev, off, data, size);
	} else {
		memcpy(data, vdev->config + off, size);
	}
}

void virtq_kick(struct virtq *vq)
{
	uint64_t one = 1;

	if (vq->kick_fd >= 0 && write(vq->kick_fd, &one, sizeof(one)) < 0)
		return; /* the counter is saturated: a wakeup is pending anyway */
}

void virtio_needs_reset(struct virtio_dev *vdev, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	log_error(vdev->host->log, "%s: %s; the device needs a reset", vdev->name, why);
	vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	virtio_config_changed(vdev);
}

void virtio_config_changed(struct virtio_dev *vdev)
{
	vdev->config_generation++;
	if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	if (vdev->transport && vdev->transport->notify_config)
		vdev->transport->notify_config(vdev->transport_opaque);
}

/* TEMPORARY stand-in for the lead's virtio core, until it lands on main. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hw/device.h"
#include "hw/pci/msix.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio_pci.h"

static void kick_ready(void *opaque, uint32_t events)
{
	struct virtq *vq = opaque;
	eventfd_t v;

	if (eventfd_read(vq->kick_fd, &v) < 0)
		return;
	pthread_mutex_lock(&vq->vdev->lock);
	vq->vdev->ops->queue_notify(vq->vdev, vq);
	pthread_mutex_unlock(&vq->vdev->lock);
}

static void vq_reset(struct virtq *vq)
{
	vq->size = vq->max_size;
	vq->enabled = false;
	vq->msix_vector = MSIX_NO_VECTOR;
	vq->desc_addr = vq->avail_addr = vq->used_addr = 0;
}

int virtio_dev_init(struct virtio_dev *vdev, const char *name, uint16_t device_id,
		    const struct virtio_dev_ops *ops, void *opaque, const struct dev_host *host,
		    unsigned nqueues, uint16_t queue_max_size, uint64_t features,
		    unsigned config_size)
{
	memset(vdev, 0, sizeof(*vdev));
	vdev->name = name;
	vdev->device_id = device_id;
	vdev->ops = ops;
	vdev->opaque = opaque;
	vdev->host = host;
	pthread_mutex_init(&vdev->lock, NULL);
	vdev->features = features | 1ull << VIRTIO_F_VERSION_1;
	vdev->config_msix_vector = MSIX_NO_VECTOR;
	vdev->nqueues = nqueues;
	vdev->vqs = calloc(nqueues, sizeof(*vdev->vqs));
	vdev->config = calloc(1, config_size + 1);
	vdev->config_size = config_size;
	for (unsigned i = 0; i < nqueues; i++) {
		struct virtq *vq = &vdev->vqs[i];

		vq->vdev = vdev;
		vq->index = i;
		vq->max_size = queue_max_size;
		vq_reset(vq);
		vq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vq->kick_watch = (struct ev_watch){ vq->kick_fd, kick_ready, vq };
		evloop_add(host->loop, &vq->kick_watch, 1);
	}
	return 0;
}

int virtio_dev_attach(struct virtio_dev *vdev)
{
	return virtio_pci_attach(vdev);
}

void virtio_dev_destroy(struct virtio_dev *vdev)
{
	if (vdev->transport)
		vdev->transport->destroy(vdev->transport_opaque);
	for (unsigned i = 0; i < vdev->nqueues; i++) {
		evloop_del(vdev->host->loop, &vdev->vqs[i].kick_watch);
		close(vdev->vqs[i].kick_fd);
	}
	free(vdev->vqs);
	free(vdev->config);
	pthread_mutex_destroy(&vdev->lock);
}

void virtio_set_status(struct virtio_dev *vdev, uint8_t status)
{
	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(vdev->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    ((vdev->drv_features & ~vdev->features) ||
	     (vdev->ops->features_ok && !vdev->ops->features_ok(vdev, vdev->drv_features))))
		status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	vdev->status = status;
}

void virtio_reset(struct virtio_dev *vdev)
{
	vdev->status = 0;
	vdev->drv_features = 0;
	vdev->isr = 0;
	vdev->config_msix_vector = MSIX_NO_VECTOR;
	for (unsigned i = 0; i < vdev->nqueues; i++)
		vq_reset(&vdev->vqs[i]);
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
}

void virtio_config_access(struct virtio_dev *vdev, unsigned off, void *data, unsigned size,
			  bool is_write)
{
	if (off + size > vdev->config_size)
		return;
	if (is_write)
		memcpy(vdev->config + off, data, size);
	else
		memcpy(data, vdev->config + off, size);
}

void virtq_kick(struct virtq *vq)
{
	eventfd_write(vq->kick_fd, 1);
}

#include "fuzz_host.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

void fuzz_host_init(struct fuzz_host *h)
{
	struct mem_range r = { gpa(0), FUZZ_RAM_SIZE };

	memset(h, 0, sizeof(*h));
	if (guest_memory_init(&h->mem, &r, 1) || evloop_init(&h->loop))
		abort();
	h->log = (struct logger){ .level = LOG_ERROR, .fd = open("/dev/null", O_WRONLY) };
	h->host = (struct dev_host){ .log = &h->log, .mem = &h->mem, .loop = &h->loop };
}

void fuzz_load_ram(struct fuzz_host *h, const uint8_t *data, size_t size)
{
	memset(h->mem.map, 0, FUZZ_IMAGE_MAX);
	memcpy(h->mem.map, data, size < FUZZ_IMAGE_MAX ? size : FUZZ_IMAGE_MAX);
}

void fuzz_place_queue(struct virtq *vq, uint8_t size_code)
{
	vq->size = (uint16_t)(2u << (size_code % 8));
	vq->desc_addr = 0;
	vq->avail_addr = 16u * vq->size;
	vq->used_addr = (vq->avail_addr + 6 + 2u * vq->size + 3) & ~3u;
	virtq_enable(vq);
}

void fuzz_drive(struct virtio_dev *vdev, struct virtq *vq, uint8_t size_code, uint8_t ring_bits)
{
	uint64_t ring = 1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_RING_F_EVENT_IDX;

	pthread_mutex_lock(&vdev->lock);
	virtio_set_status(vdev, 0);
	virtio_set_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdev->drv_features = vdev->features & ~ring;
	if (ring_bits & 1)
		vdev->drv_features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (ring_bits & 2)
		vdev->drv_features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_FEATURES_OK);
	fuzz_place_queue(vq, size_code);
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vdev->lock);
}

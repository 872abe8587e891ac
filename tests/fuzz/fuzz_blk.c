/*
 * libFuzzer target: virtio-blk's request handling against arbitrary rings
 * and requests.
 *
 * Input: as fuzz-virtq's (byte 0 the queue size, 2..256; byte 1 the ring
 * features: indirect descriptors, event index; then the first 64 KiB of
 * guest RAM with the descriptor table at 0 and the avail and used rings
 * right behind it). One virtio-blk device, made once through its kind on a
 * 128 KiB memfd image (the io_uring backend where it runs), is reset, set up
 * by a driver that accepts every feature, and kicked; the event loop then
 * runs until every request is answered. Any crash, sanitizer report or
 * access outside guest RAM is a bug; IOERR/UNSUPP answers and a broken
 * queue are the right outcomes for bad input.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/virtio/blk.h"
#include "hw/virtio/devices.h"

#define RAM_SIZE (1u << 20)
#define IMAGE_MAX (64u << 10)
#define DISK_SIZE (128u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_env {
	struct guest_memory mem;
	struct evloop loop;
	struct logger log;
	struct dev_host host;
	char spec_text[128];
	struct devspec spec;
	struct blk_config cfg;
	struct blk_dev *blk;
};

static void no_notify_queue(void *t, struct virtq *vq)
{
	(void)t, (void)vq;
}

static void no_notify_config(void *t)
{
	(void)t;
}

static const struct virtio_transport_ops no_transport = {
	.notify_queue = no_notify_queue,
	.notify_config = no_notify_config,
};

/* Interrupts go nowhere. */
int virtio_pci_attach(struct virtio_dev *vdev)
{
	vdev->transport = &no_transport;
	return 0;
}

static struct fuzz_env *env(void)
{
	static struct fuzz_env *e;
	struct mem_range r = { gpa(0), RAM_SIZE };
	int disk;

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	disk = memfd_create("fuzz-blk-disk", MFD_CLOEXEC);
	if (!e || disk < 0 || ftruncate(disk, DISK_SIZE) || guest_memory_init(&e->mem, &r, 1) ||
	    evloop_init(&e->loop))
		abort();
	e->log = (struct logger){ .level = LOG_ERROR, .fd = open("/dev/null", O_WRONLY) };
	e->host = (struct dev_host){ .log = &e->log, .mem = &e->mem, .loop = &e->loop };
	snprintf(e->spec_text, sizeof(e->spec_text), "virtio-blk,file=/proc/self/fd/%d,serial=fuzz",
		 disk);
	if (devspec_parse(&e->spec, e->spec_text, &e->log) ||
	    virtio_blk_kind.parse(&e->spec, &e->cfg, &e->log) ||
	    virtio_blk_kind.create(&e->host, &e->cfg, (void **)&e->blk))
		abort();
	return e;
}

/* Reset, negotiate everything, program queue 0 from the input, DRIVER_OK. */
static void drive(struct virtio_dev *vdev, const uint8_t *data)
{
	struct virtq *vq = &vdev->vqs[0];
	uint64_t ring = 1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_RING_F_EVENT_IDX;

	pthread_mutex_lock(&vdev->lock);
	virtio_set_status(vdev, 0);
	virtio_set_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdev->drv_features = vdev->features & ~ring;
	if (data[1] & 1)
		vdev->drv_features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		vdev->drv_features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_FEATURES_OK);
	vq->size = (uint16_t)(2u << (data[0] % 8));
	vq->desc_addr = 0;
	vq->avail_addr = 16u * vq->size;
	vq->used_addr = (vq->avail_addr + 6 + 2u * vq->size + 3) & ~3u;
	virtq_enable(vq);
	/* DRIVER_OK kicks the enabled queues. */
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vdev->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *e = env();

	if (size < 2)
		return 0;
	memset(e->mem.map, 0, IMAGE_MAX);
	memcpy(e->mem.map, data + 2, size - 2 < IMAGE_MAX ? size - 2 : IMAGE_MAX);
	drive(&e->blk->vdev, data);
	/* The doorbell, then completions until nothing is in flight. */
	for (int i = 0; i < 1000; i++) {
		int n = evloop_run_once(&e->loop, e->blk->aio.inflight ? 10 : 0);

		if (n <= 0 && !e->blk->aio.inflight)
			break;
	}
	if (e->blk->aio.inflight)
		abort(); /* a request that never completes */
	return 0;
}

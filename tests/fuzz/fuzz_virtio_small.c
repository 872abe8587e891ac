/*
 * libFuzzer target: virtio-rng's and virtio-console's request handling
 * against arbitrary rings.
 *
 * Input: byte 0 picks the device and queue (rng 0; console receiveq,
 * transmitq) and the queue size (2..256), byte 1 the ring features
 * (indirect descriptors, event index); the rest is the first 64 KiB of guest
 * RAM laid out as for fuzz-virtq (descriptor table at 0, avail and used
 * rings right behind it). Both devices are made once through their kinds
 * (the console writes to /dev/null); for each input the chosen device is
 * reset, set up by a driver that accepts every feature, kicked, and the
 * event loop runs until it is idle.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/virtio/devices.h"
#include "hw/virtio/virtio.h"

#define RAM_SIZE (1u << 20)
#define IMAGE_MAX (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_env {
	struct guest_memory mem;
	struct evloop loop;
	struct logger log;
	struct dev_host host;
	struct device rng, console;
	struct virtio_dev *vdevs[2]; /* in creation order: rng, console */
	unsigned nvdevs;
};

static struct fuzz_env *the_env;

/* The devices come here instead of a PCI bus; interrupts go nowhere. */
int virtio_pci_attach(struct virtio_dev *vdev)
{
	if (the_env->nvdevs < 2)
		the_env->vdevs[the_env->nvdevs++] = vdev;
	vdev->transport = NULL;
	return 0;
}

static void make(struct fuzz_env *e, struct device *d, const char *spec)
{
	if (device_parse(d, spec, &e->log) || device_create(d, &e->host))
		abort();
}

static struct fuzz_env *env(void)
{
	struct mem_range r = { gpa(0), RAM_SIZE };
	struct fuzz_env *e = the_env;

	if (e)
		return e;
	e = the_env = calloc(1, sizeof(*e));
	if (!e || guest_memory_init(&e->mem, &r, 1) || evloop_init(&e->loop))
		abort();
	e->log = (struct logger){ .level = LOG_ERROR, .fd = open("/dev/null", O_WRONLY) };
	e->host = (struct dev_host){ .log = &e->log, .mem = &e->mem, .loop = &e->loop };
	make(e, &e->rng, "virtio-rng");
	make(e, &e->console, "virtio-console,file=/dev/null");
	if (e->nvdevs != 2)
		abort();
	return e;
}

/* Reset, negotiate, program queue q from the input, DRIVER_OK (which kicks it). */
static void drive(struct virtio_dev *vdev, unsigned q, const uint8_t *data)
{
	struct virtq *vq = &vdev->vqs[q % vdev->nqueues];
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
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vdev->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *e = env();
	unsigned pick;

	if (size < 2)
		return 0;
	pick = (data[0] >> 3) % 3; /* rng, console receiveq, console transmitq */
	memset(e->mem.map, 0, IMAGE_MAX);
	memcpy(e->mem.map, data + 2, size - 2 < IMAGE_MAX ? size - 2 : IMAGE_MAX);
	drive(e->vdevs[pick ? 1 : 0], pick ? pick - 1 : 0, data);
	for (int i = 0; i < 100 && evloop_run_once(&e->loop, 0) > 0; i++)
		;
	return 0;
}

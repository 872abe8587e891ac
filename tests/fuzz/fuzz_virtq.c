/*
 * libFuzzer target: the split-virtqueue parser against arbitrary rings.
 *
 * Input: byte 0 picks the queue size (2..256), byte 1 the ring features
 * (indirect descriptors, event index); the rest is the first 64 KiB of guest
 * RAM, holding the descriptor table at 0 with the avail and used rings right
 * behind it (the layout tests/fuzz/run.py's seeds use). An echo device pops every chain, reads what it may read, writes
 * what it may write and pushes it back. Any crash, sanitizer report or
 * access outside guest RAM is a bug; a refused queue is the right answer to
 * a broken one.
 */
#include <stdlib.h>

#include "fuzz_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nothing to plug into: the target calls the queue handler itself. */
int virtio_pci_attach(struct virtio_dev *vdev)
{
	(void)vdev;
	return -1;
}

static void echo_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	static struct virtq_req req;
	static uint8_t buf[4096];

	for (int n = 0; n < 512 && virtq_pop(vq, &req) > 0; n++) {
		size_t got = virtq_req_read(&req, 0, buf, sizeof(buf));
		size_t put = virtq_req_write(&req, 0, buf, got);

		virtq_push(vq, &req, (uint32_t)put);
	}
	virtq_notify(vq);
	(void)vdev;
}

static const struct virtio_dev_ops echo_ops = { .queue_notify = echo_notify };

static struct fuzz_host *env(void)
{
	static struct fuzz_host *h;

	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			abort();
		fuzz_host_init(h);
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_host *e = env();
	struct virtio_dev vdev;
	struct virtq *vq;
	uint64_t features = 1ull << VIRTIO_F_VERSION_1;

	if (size < 2)
		return 0;
	if (data[1] & 1)
		features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	fuzz_load_ram(e, data + 2, size - 2);
	if (virtio_dev_init(&vdev, "fuzz", 1, &echo_ops, NULL, &e->host, 1, 256, 0, 0))
		abort();
	/* No transport: interrupts go nowhere. */
	vdev.drv_features = features;
	vdev.status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	vq = &vdev.vqs[0];
	fuzz_place_queue(vq, data[0]);
	if (!vq->broken)
		echo_notify(&vdev, vq);
	virtio_dev_destroy(&vdev);
	return 0;
}

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
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_host.h"
#include "hw/virtio/blk.h"
#include "hw/virtio/devices.h"

#define DISK_SIZE (128u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_env {
	struct fuzz_host h;
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
	int disk;

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	disk = memfd_create("fuzz-blk-disk", MFD_CLOEXEC);
	if (!e || disk < 0 || ftruncate(disk, DISK_SIZE))
		abort();
	fuzz_host_init(&e->h);
	snprintf(e->spec_text, sizeof(e->spec_text), "virtio-blk,file=/proc/self/fd/%d,serial=fuzz",
		 disk);
	if (devspec_parse(&e->spec, e->spec_text, &e->h.log) ||
	    virtio_blk_kind.parse(&e->spec, &e->cfg, &e->h.log) ||
	    virtio_blk_kind.create(&e->h.host, &e->cfg, (void **)&e->blk))
		abort();
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *e = env();

	if (size < 2)
		return 0;
	fuzz_load_ram(&e->h, data + 2, size - 2);
	fuzz_drive(&e->blk->vdev, &e->blk->vdev.vqs[0], data[0], data[1]);
	/* The doorbell, then completions until nothing is in flight. */
	for (int i = 0; i < 1000; i++) {
		int n = evloop_run_once(&e->h.loop, e->blk->aio.inflight ? 10 : 0);

		if (n <= 0 && !e->blk->aio.inflight)
			break;
	}
	if (e->blk->aio.inflight)
		abort(); /* a request that never completes */
	return 0;
}

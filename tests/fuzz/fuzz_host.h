/*
 * What the virtio fuzz targets share: 1 MiB of guest RAM whose first 64 KiB
 * come from the input, an event loop, a quiet logger and the dev_host
 * services; and a driver that puts one queue in the layout tests/fuzz/run.py's
 * seeds use (descriptor table at 0, avail and used rings right behind it).
 */
#ifndef TESTS_FUZZ_FUZZ_HOST_H
#define TESTS_FUZZ_FUZZ_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/virtio/virtio.h"

#define FUZZ_RAM_SIZE (1u << 20)
#define FUZZ_IMAGE_MAX (64u << 10)

struct fuzz_host {
	struct guest_memory mem;
	struct evloop loop;
	struct logger log;
	struct dev_host host;
};

/* Sets up h once (aborts on failure: a broken harness is not a finding). */
void fuzz_host_init(struct fuzz_host *h);
/* Guest RAM's first 64 KiB: data (the rest zero). */
void fuzz_load_ram(struct fuzz_host *h, const uint8_t *data, size_t size);
/* Queue size 2 << (size_code % 8) in the shared layout, then virtq_enable(). */
void fuzz_place_queue(struct virtq *vq, uint8_t size_code);
/*
 * Reset, accept every feature but the ring ones (ring_bits: 1 indirect,
 * 2 event index), place vq, DRIVER_OK (which kicks the enabled queues).
 */
void fuzz_drive(struct virtio_dev *vdev, struct virtq *vq, uint8_t size_code, uint8_t ring_bits);

#endif

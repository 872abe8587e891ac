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
#include <stdlib.h>

#include "fuzz_host.h"
#include "hw/virtio/devices.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_env {
	struct fuzz_host h;
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
	if (device_parse(d, spec, &e->h.log) || device_create(d, &e->h.host))
		abort();
}

static struct fuzz_env *env(void)
{
	struct fuzz_env *e = the_env;

	if (e)
		return e;
	e = the_env = calloc(1, sizeof(*e));
	if (!e)
		abort();
	fuzz_host_init(&e->h);
	make(e, &e->rng, "virtio-rng");
	make(e, &e->console, "virtio-console,file=/dev/null");
	if (e->nvdevs != 2)
		abort();
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *e = env();
	struct virtio_dev *vdev;
	unsigned pick;

	if (size < 2)
		return 0;
	pick = (data[0] >> 3) % 3; /* rng, console receiveq, console transmitq */
	vdev = e->vdevs[pick ? 1 : 0];
	fuzz_load_ram(&e->h, data + 2, size - 2);
	fuzz_drive(vdev, &vdev->vqs[(pick ? pick - 1 : 0) % vdev->nqueues], data[0], data[1]);
	for (int i = 0; i < 100 && evloop_run_once(&e->h.loop, 0) > 0; i++)
		;
	return 0;
}

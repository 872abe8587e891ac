/*
 * A virtio driver in miniature for device tests: guest RAM, an event loop,
 * dev_host services and a stub transport that counts interrupts, plus the
 * driver half of a split virtqueue (descriptor tables, avail ring, used ring
 * read-back) written into guest memory the way Linux would.
 */
#ifndef TESTS_UNIT_HW_VQ_DRIVER_H
#define TESTS_UNIT_HW_VQ_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/virtio/virtio.h"

struct vqd_host {
	struct guest_memory mem;
	struct evloop loop;
	struct logger log;
	struct dev_host host;
	int log_pipe[2]; /* the device's log lines */
	char logbuf[1 << 16];
	size_t loglen;
	unsigned queue_irqs[8], config_irqs;
	uint64_t heap; /* next free guest address for buffers */
};

/* ram_size bytes of guest RAM at 0; buffers are handed out from 1 MiB up. */
void vqd_host_init(struct vqd_host *h, uint64_t ram_size);
void vqd_host_fini(struct vqd_host *h);
/* A guest buffer of len bytes (16-byte aligned), zeroed. */
uint64_t vqd_alloc(struct vqd_host *h, uint64_t len);
void *vqd_ptr(struct vqd_host *h, uint64_t addr, uint64_t len);
/* Installs the stub transport (counts into queue_irqs/config_irqs). */
void vqd_attach(struct vqd_host *h, struct virtio_dev *vdev);
/* Negotiates features (offered & want) and sets DRIVER_OK after the queues. */
void vqd_set_features(struct virtio_dev *vdev, uint64_t want);
void vqd_driver_ok(struct virtio_dev *vdev);
/* Runs the loop until nothing is pending (doorbells, completions). */
void vqd_poll(struct vqd_host *h);
/* The device's log so far (NUL-terminated). */
const char *vqd_log(struct vqd_host *h);

struct vqd_seg {
	uint64_t addr;
	uint32_t len;
	bool write; /* device-writable */
};

struct vq_driver {
	struct vqd_host *h;
	struct virtq *vq;
	uint16_t size;
	uint64_t desc, avail, used; /* guest addresses of the rings */
	uint16_t next_desc;         /* descriptors are used round-robin */
	uint16_t avail_idx;
	uint16_t used_seen;
};

/* Allocates the rings, programs vq and enables it (virtq_enable). */
void vqd_queue_init(struct vq_driver *d, struct vqd_host *h, struct virtq *vq, uint16_t size);
/* Writes a chain into the descriptor table and publishes it; returns the head. */
uint16_t vqd_add(struct vq_driver *d, const struct vqd_seg *segs, unsigned n);
/* Publishes head as is (for hand-made, possibly broken, chains). */
void vqd_publish(struct vq_driver *d, uint16_t head);
struct vring_desc *vqd_desc(struct vq_driver *d, uint16_t i);
/* The next used element, if any. */
bool vqd_used(struct vq_driver *d, uint32_t *id, uint32_t *len);
/* The event-index words. */
void vqd_set_used_event(struct vq_driver *d, uint16_t v);
uint16_t vqd_avail_event(struct vq_driver *d);

#endif

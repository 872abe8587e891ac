/*
 * Virtio 1.x devices: the device side of split virtqueues, feature
 * negotiation, status and reset. A device model (blk, net, rng, console)
 * fills a struct virtio_dev and never knows its transport; the transport
 * (virtio_pci.c) turns guest register accesses into the calls below and
 * delivers the device's interrupts.
 *
 * Threads and locking: vdev->lock guards the status, features, queues and
 * the device model's request state. The transport takes it for every
 * register access (vCPU threads). Queue notifications are delivered on the
 * dev_host loop thread with the lock held; a device model that completes
 * work later (I/O completions on its own fds, on the same loop) takes the
 * lock itself before virtq_push().
 *
 * Everything in guest memory is untrusted and may change under our feet:
 * each ring field is read once, every index and address is checked, and a
 * ring that breaks the rules marks the device DEVICE_NEEDS_RESET (logged)
 * instead of being used further.
 */
#ifndef HW_VIRTIO_VIRTIO_H
#define HW_VIRTIO_VIRTIO_H

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/evloop.h"

struct dev_host;
struct virtio_dev;
struct vq_journal_queue;

#define VIRTQ_MAX_SIZE 1024 /* largest queue a driver may configure */
#define VIRTQ_MAX_SEGS 128  /* segments in one request; blk offers seg_max below it */

/* One descriptor chain, as the device sees it. */
struct virtq_req {
	uint16_t head;     /* chain head, returned in the used ring */
	unsigned nout;     /* device-readable segments: iov[0 .. nout) */
	unsigned nin;      /* device-writable segments: iov[nout .. nout + nin) */
	size_t out_len;    /* bytes in the readable segments */
	size_t in_len;     /* bytes in the writable segments */
	struct iovec iov[VIRTQ_MAX_SEGS]; /* host addresses, checked to be guest RAM */
};

struct virtq {
	struct virtio_dev *vdev;
	unsigned index;
	uint16_t max_size;
	/* Driver-programmed (common configuration). */
	uint16_t size;
	bool enabled;
	uint16_t msix_vector;
	uint64_t desc_addr, avail_addr, used_addr; /* guest-physical */
	/* Set by virtq_start() from the above, once the device is live. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail; /* next avail ring entry to take */
	uint16_t used_idx;   /* our copy of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (event idx) */
	bool signalled_valid;
	bool broken; /* refused further use until reset */
	/* A device process's journal of this queue (vq_journal.h), or NULL. */
	struct vq_journal_queue *journal;
	/* Doorbell: an eventfd the transport (or an ioeventfd) signals. */
	int kick_fd;
	struct ev_watch kick_watch;
};

struct virtio_dev_ops {
	/*
	 * The driver wrote FEATURES_OK with these features accepted: false
	 * refuses them (FEATURES_OK then reads back clear). Optional.
	 */
	bool (*features_ok)(struct virtio_dev *vdev, uint64_t features);
	/* DRIVER_OK: queues are live. Optional; <0 marks DEVICE_NEEDS_RESET. */
	int (*start)(struct virtio_dev *vdev);
	/* The driver notified vq (loop thread, vdev->lock held). */
	void (*queue_notify)(struct virtio_dev *vdev, struct virtq *vq);
	/*
	 * Reset by the driver (status 0) or by the VMM: drop every request,
	 * in flight or not, so none touches guest memory afterwards. Optional.
	 */
	void (*reset)(struct virtio_dev *vdev);
	/* Device configuration access hooks; optional (default: vdev->config). */
	void (*config_read)(struct virtio_dev *vdev, unsigned off, void *data, unsigned size);
	void (*config_write)(struct virtio_dev *vdev, unsigned off, const void *data, unsigned size);
};

/* How a device raises interrupts; set by the transport. */
struct virtio_transport_ops {
	void (*notify_queue)(void *transport, struct virtq *vq);
	void (*notify_config)(void *transport);
	void (*destroy)(void *transport);
};

struct virtio_dev {
	const char *name; /* for logs: "virtio-blk" */
	uint16_t device_id; /* VIRTIO_ID_* */
	const struct virtio_dev_ops *ops;
	void *opaque; /* the device model */
	const struct dev_host *host;
	pthread_mutex_t lock;
	uint64_t features;     /* offered: the model's and the core's */
	uint64_t drv_features; /* accepted by the driver */
	uint8_t status;
	uint8_t isr; /* bit 0: queue interrupt, bit 1: configuration change */
	uint32_t config_generation;
	uint16_t config_msix_vector;
	unsigned nqueues;
	struct virtq *vqs;
	uint8_t *config; /* device configuration, little-endian */
	unsigned config_size;
	const struct virtio_transport_ops *transport;
	void *transport_opaque;
};

/*
 * features: the model's own bits; the core adds VIRTIO_F_VERSION_1,
 * RING_INDIRECT_DESC and RING_EVENT_IDX. Queues get eventfds and are
 * watched on host->loop.
 */
int virtio_dev_init(struct virtio_dev *vdev, const char *name, uint16_t device_id,
		    const struct virtio_dev_ops *ops, void *opaque, const struct dev_host *host,
		    unsigned nqueues, uint16_t queue_max_size, uint64_t features,
		    unsigned config_size);
/* Plugs the device into the process's transport (PCI) and makes it visible. */
int virtio_dev_attach(struct virtio_dev *vdev);
/* Unplugs, stops watching, frees. The model has finished its own work. */
void virtio_dev_destroy(struct virtio_dev *vdev);

static inline bool virtio_has_feature(const struct virtio_dev *vdev, unsigned bit)
{
	return vdev->drv_features >> bit & 1;
}

/* The transport's entry point (virtio_pci.c), called by virtio_dev_attach(). */
int virtio_pci_attach(struct virtio_dev *vdev);

/* Transport side (vdev->lock held). */
void virtio_set_status(struct virtio_dev *vdev, uint8_t status);
/* The driver enabled vq: its rings are checked and mapped (or the device breaks). */
void virtq_enable(struct virtq *vq);
void virtio_reset(struct virtio_dev *vdev);
void virtio_config_access(struct virtio_dev *vdev, unsigned off, void *data, unsigned size,
			  bool is_write);
/* Wakes the queue's loop handler (a doorbell that did not come by ioeventfd). */
void virtq_kick(struct virtq *vq);

/* Device side (vdev->lock held). */
/* Logs why, sets DEVICE_NEEDS_RESET, raises a configuration interrupt. */
void virtio_needs_reset(struct virtio_dev *vdev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void virtio_config_changed(struct virtio_dev *vdev);
/* The driver's published available index (acquire: the ring entries it
 * published before it are visible). */
static inline uint16_t virtq_avail_idx(const struct virtq *vq)
{
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
}

/*
 * Takes the next available chain: 1 with req filled, 0 when the queue is
 * empty (event idx: the driver is asked to notify again), -EIO when the
 * queue is broken (the device is then marked DEVICE_NEEDS_RESET).
 */
int virtq_pop(struct virtq *vq, struct virtq_req *req);
/*
 * The chain at head, taken from the ring by other means (a VMM answering
 * for a dead device process): 0 with req filled, -EIO (the queue broke).
 */
int virtq_chain(struct virtq *vq, uint16_t head, struct virtq_req *req);
/* Returns a chain with len bytes written to its writable segments. */
void virtq_push(struct virtq *vq, const struct virtq_req *req, uint32_t len);
/* Interrupts the driver if it wants to hear about the buffers pushed so far. */
void virtq_notify(struct virtq *vq);

/* Copy between a request's segments and a buffer, from byte off; return bytes copied. */
size_t virtq_req_read(const struct virtq_req *req, size_t off, void *buf, size_t len);
size_t virtq_req_write(const struct virtq_req *req, size_t off, const void *buf, size_t len);

#endif

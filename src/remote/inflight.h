/*
 * The VMM's answer for a dead virtio-blk device process (issue 7,
 * LINK_F_INFLIGHT; docs/proxy.md "What the guest sees"): the "failed
 * responder". From the journal the process kept (hw/virtio/vq_journal.h),
 * it takes the device's queues over and completes, with
 * VIRTIO_BLK_S_IOERR, every request the process had taken and every
 * request the driver makes available later, then interrupts the driver.
 *
 * The journal was written by an untrusted process: everything read from
 * it is checked (sizes, heads, ring addresses in guest RAM), chains are
 * walked by the virtio core's own hostile-ring checks (virtqueue.c), and a
 * journal that breaks a rule means no takeover (logged), never a crash.
 */
#ifndef REMOTE_INFLIGHT_H
#define REMOTE_INFLIGHT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/device.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/vq_journal.h"

/* The journal's shared memory, made by the VMM: a sealed memfd, mapped. */
struct inflight_journal {
	int fd;                /* -1: none */
	struct vq_journal *map; /* the device process writes it */
};

/* A fresh, zeroed, sealed journal with the header set. 0 or -errno. */
int inflight_journal_create(struct inflight_journal *j);
void inflight_journal_destroy(struct inflight_journal *j);

/* How the responder interrupts the driver for a queue (its MSI-X vector, or INTx). */
typedef void (*inflight_raise_fn)(void *opaque, uint16_t msix_vector);

struct inflight {
	pthread_mutex_t lock;
	bool active;
	/* A stand-in device: gives virtqueue.c guest memory, features, a log. */
	struct virtio_dev vdev;
	struct dev_host host; /* the VMM's, without a journal: the responder keeps none */
	struct virtq vqs[VQ_JOURNAL_QUEUES];
	bool unsignalled[VQ_JOURNAL_QUEUES]; /* answered, the driver not yet interrupted */
	struct virtio_transport_ops transport;
	inflight_raise_fn raise;
	void *raise_opaque;
	unsigned answered; /* requests answered since the takeover */
};

/* name: for log lines (the proxy's); host: guest memory and the log. */
void inflight_init(struct inflight *f, const struct dev_host *host, const char *name,
		   inflight_raise_fn raise, void *opaque);
void inflight_fini(struct inflight *f);

/*
 * Checks the journal (a copy is taken first), takes its enabled queues
 * over, answers what was in flight and what is available, interrupts.
 * 0: active; -EINVAL: a journal that breaks a rule (logged), or -ENOENT:
 * no queue to take (not logged); the responder then stays inactive.
 */
int inflight_takeover(struct inflight *f, const struct vq_journal *j);
/* A doorbell (any thread): answers what the driver made available since. */
void inflight_kick(struct inflight *f);
/* The driver resets the device, or a new process takes over: hands off the rings. */
void inflight_stop(struct inflight *f);
bool inflight_active(struct inflight *f);

#endif

/*
 * The failed responder (inflight.h): a dead virtio-blk device process's
 * queues, answered by the VMM with I/O errors from the journal it kept.
 */
#include "remote/inflight.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/device.h"

/* What the journal's features may say; the rest does not concern the rings. */
#define RING_FEATURES                                                                  \
	(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC |               \
	 1ull << VIRTIO_RING_F_EVENT_IDX)
#define COMPLETING_MASK (VQ_JOURNAL_COMPLETING | 0xffffffffull)

/* ---- the shared memory ----------------------------------------------------- */

int inflight_journal_create(struct inflight_journal *j)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	void *map = MAP_FAILED;
	int err = 0;

	j->map = NULL;
	j->fd = memfd_create("splitvm-vq-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (j->fd < 0)
		return -errno;
	/* Sealed: a device process that could shrink it would make our reads fault. */
	if (ftruncate(j->fd, VQ_JOURNAL_BYTES) || fcntl(j->fd, F_ADD_SEALS, seals))
		err = -errno;
	else
		map = mmap(NULL, VQ_JOURNAL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
	if (!err && map == MAP_FAILED)
		err = -errno;
	if (err) {
		close(j->fd);
		j->fd = -1;
		return err;
	}
	j->map = map;
	j->map->magic = VQ_JOURNAL_MAGIC;
	j->map->version = VQ_JOURNAL_VERSION;
	j->map->nqueues = VQ_JOURNAL_QUEUES;
	return 0;
}

void inflight_journal_destroy(struct inflight_journal *j)
{
	if (j->map)
		munmap(j->map, VQ_JOURNAL_BYTES);
	if (j->fd >= 0)
		close(j->fd);
	j->map = NULL;
	j->fd = -1;
}

/* ---- the responder ------------------------------------------------------------ */

static void notify_queue(void *transport, struct virtq *vq)
{
	struct inflight *f = transport;

	f->raise(f->raise_opaque, vq->msix_vector);
}

void inflight_init(struct inflight *f, const struct dev_host *host, const char *name,
		   inflight_raise_fn raise, void *opaque)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->host = *host;
	f->host.vq_journal = NULL;
	f->vdev.name = name;
	f->vdev.host = &f->host;
	f->vdev.device_id = VIRTIO_ID_BLOCK;
	f->vdev.vqs = f->vqs;
	f->transport.notify_queue = notify_queue;
	f->vdev.transport = &f->transport;
	f->vdev.transport_opaque = f;
	f->raise = raise;
	f->raise_opaque = opaque;
	for (unsigned i = 0; i < VQ_JOURNAL_QUEUES; i++) {
		f->vqs[i].vdev = &f->vdev;
		f->vqs[i].index = i;
		f->vqs[i].kick_fd = -1;
	}
}

void inflight_fini(struct inflight *f)
{
	pthread_mutex_destroy(&f->lock);
}

static bool taken(const struct vq_journal_queue *q, unsigned head)
{
	return q->taken[head / 64] >> (head % 64) & 1;
}

static void untake(struct vq_journal_queue *q, unsigned head)
{
	q->taken[head / 64] &= ~(1ull << (head % 64));
}

/* A record's own rules; the ring addresses are virtq_enable()'s to check. */
static const char *check_record(const struct vq_journal_queue *q)
{
	unsigned n = q->size;

	if (q->enabled > 1)
		return "enabled is neither 0 nor 1";
	if (!n || (n & (n - 1)) || n > VQ_JOURNAL_MAX_SIZE)
		return "queue size not a power of two up to 32768";
	/* Our device processes' virtio core has no larger queue; it also bounds our work. */
	if (n > VIRTQ_MAX_SIZE)
		return "queue size larger than a device process has";
	for (unsigned h = n; h < VQ_JOURNAL_MAX_SIZE; h += 64)
		if (q->taken[h / 64] >> (h % 64))
			return "a taken head past the queue size";
	if (q->completing && ((q->completing & ~COMPLETING_MASK) ||
			      !(q->completing & VQ_JOURNAL_COMPLETING) ||
			      VQ_JOURNAL_C_HEAD(q->completing) >= n))
		return "a completion record out of range";
	return NULL;
}

static uint16_t guest_used_idx(const struct virtq *vq)
{
	return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
}

/*
 * Where the process was killed, from the rings the guest sees: a take cut
 * short (the head taken, next_avail not yet moved) and a completion cut
 * short (used->idx tells whether the push reached the guest).
 */
static const char *settle_record(struct virtq *vq, struct vq_journal_queue *q)
{
	uint16_t mask = vq->size - 1, head;

	vq->used_idx = guest_used_idx(vq);
	if (q->completing) {
		uint16_t before = VQ_JOURNAL_C_USED(q->completing);

		head = VQ_JOURNAL_C_HEAD(q->completing);
		if (vq->used_idx == (uint16_t)(before + 1))
			untake(q, head); /* the push reached the guest */
		else if (vq->used_idx != before)
			return "a completion record the used ring does not match";
	}
	if (virtq_avail_idx(vq) != vq->last_avail) {
		head = __atomic_load_n(&vq->avail->ring[vq->last_avail & mask], __ATOMIC_RELAXED);
		if (head < vq->size && taken(q, head))
			vq->last_avail++; /* taken just before the kill */
	}
	return NULL;
}

/* Sets queue i up from its (copied, checked) record; NULL or why not. */
static const char *take_queue(struct inflight *f, unsigned i, struct vq_journal_queue *q)
{
	struct virtq *vq = &f->vqs[i];
	const char *why = check_record(q);

	if (why)
		return why;
	*vq = (struct virtq){ .vdev = &f->vdev, .index = i, .max_size = VIRTQ_MAX_SIZE,
			      .size = q->size, .msix_vector = q->msix_vector,
			      .desc_addr = q->desc, .avail_addr = q->avail, .used_addr = q->used,
			      .last_avail = q->next_avail, .kick_fd = -1 };
	virtq_enable(vq);
	if (vq->broken)
		return "ring addresses misaligned or outside guest RAM";
	return settle_record(vq, q);
}

/* VIRTIO_BLK_S_IOERR in the chain's last writable byte; 1 byte written. */
static void answer(struct inflight *f, struct virtq *vq, const struct virtq_req *req)
{
	for (unsigned i = req->nout + req->nin; i-- > req->nout;) {
		const struct iovec *iov = &req->iov[i];

		if (iov->iov_len) {
			((uint8_t *)iov->iov_base)[iov->iov_len - 1] = VIRTIO_BLK_S_IOERR;
			virtq_push(vq, req, 1);
			f->answered++;
			f->unsignalled[vq->index] = true;
			return;
		}
	}
	vq->broken = true;
	log_warn(f->vdev.host->log, "%s: queue %u: a request with no status byte: the queue "
		 "is left alone", f->vdev.name, vq->index);
}

/* The requests the dead process had taken (queue i, lock held). */
static void answer_taken(struct inflight *f, unsigned i, const struct vq_journal_queue *q)
{
	struct virtq *vq = &f->vqs[i];
	struct virtq_req req;

	for (unsigned h = 0; h < vq->size && !vq->broken; h++)
		if (taken(q, h) && virtq_chain(vq, (uint16_t)h, &req) == 0)
			answer(f, vq, &req);
}

/*
 * What the driver made available (lock held); then one interrupt per queue.
 * At most a ring's worth per queue and call: answers are written into guest
 * memory, and rings a guest made overlap (the used index on the available
 * one) would otherwise make new requests forever. The next kick goes on.
 */
static void answer_available(struct inflight *f)
{
	struct virtq_req req;

	for (unsigned i = 0; i < VQ_JOURNAL_QUEUES; i++) {
		struct virtq *vq = &f->vqs[i];

		if (!vq->enabled)
			continue;
		for (unsigned n = 0; n < vq->size && !vq->broken && virtq_pop(vq, &req) > 0; n++)
			answer(f, vq, &req);
		if (f->unsignalled[i])
			virtq_notify(vq);
		f->unsignalled[i] = false;
	}
}

static void clear_queues(struct inflight *f)
{
	for (unsigned i = 0; i < VQ_JOURNAL_QUEUES; i++) {
		f->vqs[i] = (struct virtq){ .vdev = &f->vdev, .index = i, .kick_fd = -1 };
		f->unsignalled[i] = false;
	}
	f->vdev.status = 0;
	f->vdev.drv_features = 0;
}

/* Every enabled queue taken, or none (why logged). Lock held. */
static int take_queues(struct inflight *f, struct vq_journal *copy)
{
	bool any = false;

	for (unsigned i = 0; i < VQ_JOURNAL_QUEUES; i++) {
		struct vq_journal_queue *q = &copy->q[i];
		uint64_t features = q->features & RING_FEATURES;
		const char *why = NULL;

		if (!q->enabled)
			continue;
		if (any && features != f->vdev.drv_features)
			why = "queues with different features";
		f->vdev.drv_features = features;
		if (!why)
			why = take_queue(f, i, q);
		if (why) {
			log_error(f->vdev.host->log, "%s: the device process's journal is not usable "
				  "(queue %u: %s): its requests are not answered", f->vdev.name, i, why);
			clear_queues(f);
			return -EINVAL;
		}
		any = true;
	}
	return any ? 0 : -ENOENT;
}

int inflight_takeover(struct inflight *f, const struct vq_journal *j)
{
	struct vq_journal *copy = malloc(sizeof(*copy));
	int err;

	if (!copy)
		return -ENOMEM;
	/* One read of memory the device process wrote: checked, then used. */
	memcpy(copy, j, sizeof(*copy));
	pthread_mutex_lock(&f->lock);
	clear_queues(f);
	f->answered = 0;
	err = take_queues(f, copy);
	if (!err) {
		for (unsigned i = 0; i < VQ_JOURNAL_QUEUES; i++)
			if (f->vqs[i].enabled)
				answer_taken(f, i, &copy->q[i]);
		answer_available(f);
		f->active = true;
	}
	pthread_mutex_unlock(&f->lock);
	free(copy);
	return err;
}

void inflight_kick(struct inflight *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->active)
		answer_available(f);
	pthread_mutex_unlock(&f->lock);
}

void inflight_stop(struct inflight *f)
{
	pthread_mutex_lock(&f->lock);
	f->active = false;
	clear_queues(f);
	pthread_mutex_unlock(&f->lock);
}

bool inflight_active(struct inflight *f)
{
	bool active;

	pthread_mutex_lock(&f->lock);
	active = f->active;
	pthread_mutex_unlock(&f->lock);
	return active;
}

/*
 * The device side of the virtqueue journal (vq_journal.h): a few release
 * stores per request, in the order that keeps the journal consistent
 * whichever instruction the process is killed at.
 */
#include "hw/virtio/vq_journal.h"

#include "hw/device.h"
#include "hw/virtio/virtio.h"

#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

static struct vq_journal_queue *record_of(const struct virtq *vq)
{
	struct vq_journal *j = vq->vdev->host->vq_journal;

	return j && vq->index < VQ_JOURNAL_QUEUES ? &j->q[vq->index] : NULL;
}

void vq_journal_enable(struct virtq *vq)
{
	struct vq_journal_queue *q = record_of(vq);

	vq->journal = q;
	if (!q)
		return;
	STORE(&q->enabled, 0);
	STORE(&q->desc, vq->desc_addr);
	STORE(&q->avail, vq->avail_addr);
	STORE(&q->used, vq->used_addr);
	STORE(&q->features, vq->vdev->drv_features);
	STORE(&q->size, vq->size);
	STORE(&q->msix_vector, vq->msix_vector);
	STORE(&q->next_avail, vq->last_avail);
	STORE(&q->completing, 0);
	STORE(&q->enabled, 1);
}

/* Disabled first: a kill while the bits are cleared leaves no queue to take. */
void vq_journal_clear(struct virtq *vq)
{
	struct vq_journal_queue *q = vq->journal;

	vq->journal = NULL;
	if (!q)
		return;
	STORE(&q->enabled, 0);
	STORE(&q->completing, 0);
	for (unsigned i = 0; i < (vq->size + 63u) / 64 && i < VQ_JOURNAL_MAX_SIZE / 64; i++)
		STORE(&q->taken[i], 0);
}

void vq_journal_vector(struct virtq *vq)
{
	if (vq->journal)
		STORE(&vq->journal->msix_vector, vq->msix_vector);
}

void vq_journal_take(struct virtq *vq, uint16_t head)
{
	struct vq_journal_queue *q = vq->journal;
	uint64_t *w;

	if (!q)
		return;
	w = &q->taken[head / 64];
	STORE(w, LOAD(w) | 1ull << (head % 64));
	STORE(&q->next_avail, vq->last_avail);
}

void vq_journal_push_begin(struct virtq *vq, uint16_t head)
{
	if (vq->journal)
		STORE(&vq->journal->completing,
		      VQ_JOURNAL_COMPLETING | (uint64_t)head << 16 | vq->used_idx);
}

void vq_journal_push_end(struct virtq *vq, uint16_t head)
{
	struct vq_journal_queue *q = vq->journal;
	uint64_t *w;

	if (!q)
		return;
	w = &q->taken[head / 64];
	STORE(w, LOAD(w) & ~(1ull << (head % 64)));
	STORE(&q->completing, 0);
}

/*
 * The virtqueue journal (issue 7, LINK_F_INFLIGHT; docs/mpqemu.md): shared
 * memory where a device process's virtio core keeps, per queue, what the
 * VMM needs to answer the guest's requests once that process is dead: the
 * rings, the next avail entry it will take, the heads it took and has not
 * completed, and the completion it is in the middle of.
 *
 * The VMM makes the memory (a sealed memfd) and reads it only after the
 * process is gone; it trusts none of it (src/remote/inflight.c). The
 * device side stores in an order that leaves a consistent journal after a
 * kill at any instruction:
 *
 *   take:     set taken[head], then next_avail++
 *             (killed between: the head is both taken and at avail
 *             slot next_avail; the reader counts it once)
 *   complete: completing = {head, used idx before}, then the used ring
 *             entry and used->idx, then clear taken[head], then completing = 0
 *             (killed between the first and the last: the guest's used->idx
 *             says whether the push reached it)
 *
 * Every store is a release store: the compiler keeps them in this order,
 * and x86 makes them visible in it; a process killed between two stores
 * leaves exactly the first in memory.
 */
#ifndef HW_VIRTIO_VQ_JOURNAL_H
#define HW_VIRTIO_VQ_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VQ_JOURNAL_MAGIC 0x4a515653u /* "SVQJ" */
#define VQ_JOURNAL_VERSION 1
#define VQ_JOURNAL_QUEUES 64      /* queues journaled; others are not */
#define VQ_JOURNAL_MAX_SIZE 32768 /* the largest split queue (virtio 1.x) */

/* completing: valid bit, head, used idx before the push. */
#define VQ_JOURNAL_COMPLETING (1ull << 63)
#define VQ_JOURNAL_C_HEAD(c) ((uint16_t)((c) >> 16))
#define VQ_JOURNAL_C_USED(c) ((uint16_t)(c))

struct vq_journal_queue {
	uint64_t desc, avail, used; /* guest-physical ring addresses */
	uint64_t features;          /* the driver's (indirect, event idx) */
	uint16_t size;
	uint16_t msix_vector;
	uint16_t next_avail; /* the next avail entry the device takes */
	uint16_t enabled;    /* 1: the fields above hold; written last */
	uint64_t completing; /* 0, or VQ_JOURNAL_COMPLETING | head << 16 | used idx */
	uint64_t reserved[2];
	uint64_t taken[VQ_JOURNAL_MAX_SIZE / 64]; /* heads taken, not completed */
};

struct vq_journal {
	uint32_t magic;   /* the VMM's, checked by the device process */
	uint32_t version;
	uint32_t nqueues; /* VQ_JOURNAL_QUEUES */
	uint32_t reserved[13];
	struct vq_journal_queue q[VQ_JOURNAL_QUEUES];
};

#define VQ_JOURNAL_BYTES sizeof(struct vq_journal)

struct virtq;

/* Device side (vdev->lock held); a queue without a record does nothing. */
void vq_journal_enable(struct virtq *vq);
void vq_journal_clear(struct virtq *vq);
void vq_journal_vector(struct virtq *vq);
void vq_journal_take(struct virtq *vq, uint16_t head);
void vq_journal_push_begin(struct virtq *vq, uint16_t head);
void vq_journal_push_end(struct virtq *vq, uint16_t head);

#endif

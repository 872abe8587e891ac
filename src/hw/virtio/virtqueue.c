/*
 * Split virtqueues, device side (virtio 1.x, 2.7). The rings live in guest
 * memory the driver may rewrite at any moment: every field is read once into
 * a local, indices and addresses are checked before use, and a queue that
 * breaks a rule is refused until the next reset.
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <string.h>

#include "core/memory.h"
#include "hw/device.h"
#include "hw/virtio/vq_journal.h"

/* Loads and stores the driver sees in order (the rings are shared memory). */
#define GUEST_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define GUEST_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define GUEST_STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static void *map_ring(struct virtq *vq, uint64_t addr, uint64_t len, uint64_t align)
{
	if (addr & (align - 1))
		return NULL;
	return gpa_to_hva(vq->vdev->host->mem, gpa(addr), len);
}

void virtq_enable(struct virtq *vq)
{
	uint64_t n = vq->size;

	/* Sizes with the event-index words: used_event and avail_event. */
	vq->desc = map_ring(vq, vq->desc_addr, 16 * n, 16);
	vq->avail = map_ring(vq, vq->avail_addr, 6 + 2 * n, 2);
	vq->used = map_ring(vq, vq->used_addr, 6 + 8 * n, 4);
	vq->enabled = true;
	if (!n || (n & (n - 1)) || n > vq->max_size || !vq->desc || !vq->avail || !vq->used) {
		vq->broken = true;
		virtio_needs_reset(vq->vdev, "queue %u: size %u or ring addresses %#llx/%#llx/%#llx "
				   "invalid or outside guest RAM", vq->index, vq->size,
				   (unsigned long long)vq->desc_addr,
				   (unsigned long long)vq->avail_addr,
				   (unsigned long long)vq->used_addr);
		return;
	}
	vq_journal_enable(vq);
}

static int refuse(struct virtq *vq, const char *why, unsigned n)
{
	vq->broken = true;
	virtio_needs_reset(vq->vdev, "queue %u: %s (%u)", vq->index, why, n);
	return -EIO;
}

/* One descriptor, copied out of guest memory (tables may be unaligned). */
static struct vring_desc read_desc(const struct vring_desc *table, unsigned i)
{
	struct vring_desc d;

	memcpy(&d, &table[i], sizeof(d));
	return d;
}

static int add_segment(struct virtq *vq, struct virtq_req *req, const struct vring_desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	unsigned n = req->nout + req->nin;
	void *hva;

	if (!writable && req->nin)
		return refuse(vq, "readable descriptor after a writable one", req->head);
	if (!d->len)
		return 0;
	if (n == VIRTQ_MAX_SEGS)
		return refuse(vq, "request has too many segments", n + 1);
	hva = gpa_to_hva(vq->vdev->host->mem, gpa(d->addr), d->len);
	if (!hva)
		return refuse(vq, "descriptor buffer outside guest RAM", req->head);
	req->iov[n] = (struct iovec){ hva, d->len };
	if (writable) {
		req->nin++;
		req->in_len += d->len;
	} else {
		req->nout++;
		req->out_len += d->len;
	}
	return 0;
}

/*
 * Switches the walk to an indirect table; *max becomes its length. Whether
 * we are in one already is a flag, not a pointer test: a table may alias
 * the ring's own descriptors.
 */
static int enter_indirect(struct virtq *vq, const struct vring_desc *d,
			  const struct vring_desc **table, unsigned *max, bool *indirect)
{
	if (!virtio_has_feature(vq->vdev, VIRTIO_RING_F_INDIRECT_DESC))
		return refuse(vq, "indirect descriptor not negotiated", d->len);
	if (*indirect)
		return refuse(vq, "nested indirect table", d->len);
	*indirect = true;
	if (d->flags & VRING_DESC_F_NEXT)
		return refuse(vq, "indirect descriptor with NEXT", d->len);
	if (!d->len || d->len % sizeof(**table) || d->len / sizeof(**table) > VIRTQ_MAX_SIZE)
		return refuse(vq, "indirect table length", d->len);
	*table = gpa_to_hva(vq->vdev->host->mem, gpa(d->addr), d->len);
	if (!*table)
		return refuse(vq, "indirect table outside guest RAM", d->len);
	*max = d->len / sizeof(**table);
	return 0;
}

/* Walks the chain from head; every step is bounded by the table it is in. */
static int walk_chain(struct virtq *vq, struct virtq_req *req)
{
	const struct vring_desc *table = vq->desc;
	unsigned max = vq->size, i = req->head, steps = 0;
	bool indirect = false;
	int err;

	for (;;) {
		struct vring_desc d = read_desc(table, i);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			err = enter_indirect(vq, &d, &table, &max, &indirect);
			if (err)
				return err;
			i = 0;
			steps = 0;
			continue;
		}
		err = add_segment(vq, req, &d);
		if (err)
			return err;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (++steps >= max)
			return refuse(vq, "descriptor chain longer than its table (a loop?)", max);
		i = d.next;
		if (i >= max)
			return refuse(vq, "descriptor index out of range", i);
	}
}

/* Event index: ask for a doorbell when the driver adds past last_avail. */
static void want_notify(struct virtq *vq)
{
	/* avail_event: the 16 bits after the used ring's last entry. */
	uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->size];

	if (virtio_has_feature(vq->vdev, VIRTIO_RING_F_EVENT_IDX))
		GUEST_STORE(avail_event, vq->last_avail);
}

int virtq_pop(struct virtq *vq, struct virtq_req *req)
{
	uint16_t idx, pending;

	if (vq->broken || !vq->avail)
		return -EIO;
	idx = virtq_avail_idx(vq);
	if (idx == vq->last_avail) {
		want_notify(vq);
		/* The driver may have added one before seeing avail_event. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		idx = virtq_avail_idx(vq);
		if (idx == vq->last_avail)
			return 0;
	}
	pending = (uint16_t)(idx - vq->last_avail);
	if (pending > vq->size)
		return refuse(vq, "available index moved past the queue size", pending);
	if (virtq_chain(vq, GUEST_LOAD(&vq->avail->ring[vq->last_avail & (vq->size - 1)]), req))
		return -EIO;
	vq->last_avail++;
	vq_journal_take(vq, req->head);
	return 1;
}

int virtq_chain(struct virtq *vq, uint16_t head, struct virtq_req *req)
{
	if (vq->broken || !vq->desc)
		return -EIO;
	req->head = head;
	if (req->head >= vq->size)
		return refuse(vq, "available head out of range", req->head);
	req->nout = req->nin = 0;
	req->out_len = req->in_len = 0;
	return walk_chain(vq, req);
}

void virtq_push(struct virtq *vq, const struct virtq_req *req, uint32_t len)
{
	struct vring_used_elem *e;

	if (vq->broken || !vq->used)
		return;
	vq_journal_push_begin(vq, req->head);
	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	GUEST_STORE(&e->id, (uint32_t)req->head);
	GUEST_STORE(&e->len, len);
	vq->used_idx++;
	GUEST_STORE_RELEASE(&vq->used->idx, vq->used_idx);
	vq_journal_push_end(vq, req->head);
}

static bool driver_wants_interrupt(struct virtq *vq)
{
	uint16_t used_event, old = vq->signalled_used, now = vq->used_idx;
	bool valid = vq->signalled_valid;

	if (!virtio_has_feature(vq->vdev, VIRTIO_RING_F_EVENT_IDX))
		return !(GUEST_LOAD(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	used_event = GUEST_LOAD(&vq->avail->ring[vq->size]);
	vq->signalled_used = now;
	vq->signalled_valid = true;
	return !valid || vring_need_event(used_event, now, old);
}

void virtq_notify(struct virtq *vq)
{
	struct virtio_dev *vdev = vq->vdev;

	if (vq->broken || !vq->avail)
		return;
	/* Our used->idx store before the driver's flags/used_event load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (driver_wants_interrupt(vq) && vdev->transport)
		vdev->transport->notify_queue(vdev->transport_opaque, vq);
}

static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len,
		       bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].iov_len, chunk;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		chunk = seg - off < len - done ? seg - off : len - done;
		if (to_iov)
			memcpy((char *)iov[i].iov_base + off, (const char *)buf + done, chunk);
		else
			memcpy((char *)buf + done, (const char *)iov[i].iov_base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t virtq_req_read(const struct virtq_req *req, size_t off, void *buf, size_t len)
{
	return iov_copy(req->iov, req->nout, off, buf, len, false);
}

size_t virtq_req_write(const struct virtq_req *req, size_t off, const void *buf, size_t len)
{
	return iov_copy(req->iov + req->nout, req->nin, off, (void *)buf, len, true);
}

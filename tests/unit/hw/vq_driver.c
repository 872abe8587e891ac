#include "vq_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void stub_notify_queue(void *t, struct virtq *vq)
{
	struct vqd_host *h = t;

	if (vq->index < 8)
		h->queue_irqs[vq->index]++;
}

static void stub_notify_config(void *t)
{
	((struct vqd_host *)t)->config_irqs++;
}

static const struct virtio_transport_ops stub_transport = {
	.notify_queue = stub_notify_queue,
	.notify_config = stub_notify_config,
};

/*
 * Stands in for the PCI transport: a device created through its kind (whose
 * dev_host is a vqd_host's) gets the stub transport, as vqd_attach() gives.
 */
int virtio_pci_attach(struct virtio_dev *vdev)
{
	vdev->transport = &stub_transport;
	vdev->transport_opaque = vdev->host->opaque;
	return 0;
}

static int stub_msi(void *opaque, uint64_t addr, uint32_t data)
{
	(void)opaque, (void)addr, (void)data;
	return 0;
}

void vqd_host_init(struct vqd_host *h, uint64_t ram_size)
{
	struct mem_range r = { gpa(0), ram_size };

	memset(h, 0, sizeof(*h));
	if (pipe2(h->log_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		abort();
	fcntl(h->log_pipe[1], F_SETPIPE_SZ, 1 << 20);
	h->log = (struct logger){ .level = LOG_DEBUG, .fd = h->log_pipe[1] };
	if (guest_memory_init(&h->mem, &r, 1) || evloop_init(&h->loop))
		abort();
	h->host = (struct dev_host){ .log = &h->log, .mem = &h->mem, .loop = &h->loop,
				     .opaque = h, .signal_msi = stub_msi };
	h->heap = 1 << 20;
}

void vqd_host_fini(struct vqd_host *h)
{
	evloop_destroy(&h->loop);
	guest_memory_destroy(&h->mem);
	close(h->log_pipe[0]);
	close(h->log_pipe[1]);
}

uint64_t vqd_alloc(struct vqd_host *h, uint64_t len)
{
	uint64_t a = h->heap;

	h->heap = (h->heap + len + 15) & ~15ull;
	if (h->heap > h->mem.total)
		abort();
	memset(vqd_ptr(h, a, len), 0, len);
	return a;
}

void *vqd_ptr(struct vqd_host *h, uint64_t addr, uint64_t len)
{
	void *p = gpa_to_hva(&h->mem, gpa(addr), len ? len : 1);

	if (!p)
		abort();
	return p;
}

void vqd_attach(struct vqd_host *h, struct virtio_dev *vdev)
{
	vdev->transport = &stub_transport;
	vdev->transport_opaque = h;
}

void vqd_set_features(struct virtio_dev *vdev, uint64_t want)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_set_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	vdev->drv_features = vdev->features & want;
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_FEATURES_OK);
	pthread_mutex_unlock(&vdev->lock);
}

void vqd_driver_ok(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_set_status(vdev, vdev->status | VIRTIO_CONFIG_S_DRIVER_OK);
	pthread_mutex_unlock(&vdev->lock);
}

void vqd_poll(struct vqd_host *h)
{
	while (evloop_run_once(&h->loop, 0) > 0)
		;
}

const char *vqd_log(struct vqd_host *h)
{
	size_t cap = sizeof(h->logbuf) - 1;
	ssize_t n;

	while (h->loglen < cap && (n = read(h->log_pipe[0], h->logbuf + h->loglen,
					    cap - h->loglen)) > 0)
		h->loglen += (size_t)n;
	h->logbuf[h->loglen] = '\0';
	return h->logbuf;
}

void vqd_queue_init(struct vq_driver *d, struct vqd_host *h, struct virtq *vq, uint16_t size)
{
	memset(d, 0, sizeof(*d));
	d->h = h;
	d->vq = vq;
	d->size = size;
	d->desc = vqd_alloc(h, 16ull * size);
	d->avail = vqd_alloc(h, 6 + 2ull * size);
	d->used = vqd_alloc(h, 6 + 8ull * size);
	pthread_mutex_lock(&vq->vdev->lock);
	vq->size = size;
	vq->desc_addr = d->desc;
	vq->avail_addr = d->avail;
	vq->used_addr = d->used;
	virtq_enable(vq);
	pthread_mutex_unlock(&vq->vdev->lock);
}

struct vring_desc *vqd_desc(struct vq_driver *d, uint16_t i)
{
	return vqd_ptr(d->h, d->desc + 16ull * i, 16);
}

void vqd_publish(struct vq_driver *d, uint16_t head)
{
	struct vring_avail *av = vqd_ptr(d->h, d->avail, 6 + 2ull * d->size);

	av->ring[d->avail_idx % d->size] = head;
	d->avail_idx++;
	__atomic_store_n(&av->idx, d->avail_idx, __ATOMIC_RELEASE);
}

uint16_t vqd_add(struct vq_driver *d, const struct vqd_seg *segs, unsigned n)
{
	uint16_t head = d->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = d->next_desc;
		struct vring_desc *desc = vqd_desc(d, idx);

		d->next_desc = (uint16_t)((d->next_desc + 1) % d->size);
		desc->addr = segs[i].addr;
		desc->len = segs[i].len;
		desc->flags = (uint16_t)((segs[i].write ? VRING_DESC_F_WRITE : 0) |
					 (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		desc->next = d->next_desc;
	}
	vqd_publish(d, head);
	return head;
}

bool vqd_used(struct vq_driver *d, uint32_t *id, uint32_t *len)
{
	struct vring_used *u = vqd_ptr(d->h, d->used, 6 + 8ull * d->size);

	if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == d->used_seen)
		return false;
	*id = u->ring[d->used_seen % d->size].id;
	*len = u->ring[d->used_seen % d->size].len;
	d->used_seen++;
	return true;
}

void vqd_set_used_event(struct vq_driver *d, uint16_t v)
{
	struct vring_avail *av = vqd_ptr(d->h, d->avail, 6 + 2ull * d->size);

	av->ring[d->size] = v;
}

uint16_t vqd_avail_event(struct vq_driver *d)
{
	struct vring_used *u = vqd_ptr(d->h, d->used, 6 + 8ull * d->size);

	return *(uint16_t *)&u->ring[d->size];
}

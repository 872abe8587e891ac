/*
 * virtio-blk requests: each chain is checked (layout, directions, sector
 * ranges) and either answered at once (GET_ID, errors) or sent to the block
 * backend on the guest's own buffers. See blk.h.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hw/virtio/blk.h"

#define HDR_LEN sizeof(struct virtio_blk_outhdr)
#define DWZ_LEN sizeof(struct virtio_blk_discard_write_zeroes)

static struct blk_req *req_get(struct blk_queue *q)
{
	struct blk_req *r = q->free_list;

	if (r) {
		q->free_list = r->next_free;
		return r;
	}
	r = malloc(sizeof(*r)); /* the pool grows to the depth in flight, no further */
	if (r)
		r->q = q;
	return r;
}

void blk_req_release(struct blk_req *r)
{
	r->next_free = r->q->free_list;
	r->q->free_list = r;
}

void blk_free_pool(struct blk_queue *q)
{
	while (q->free_list) {
		struct blk_req *r = q->free_list;

		q->free_list = r->next_free;
		free(r);
	}
}

static void answer(struct blk_req *r, uint8_t status)
{
	if (status != VIRTIO_BLK_S_OK)
		r->used_len = 1;
	*r->status = status;
	virtq_push(r->q->vq, &r->vreq, r->used_len);
	r->q->pushed = true;
	blk_req_release(r);
}

/* Cuts the chain's last writable byte off the data; NULL if there is none. */
static uint8_t *take_status(struct virtq_req *v)
{
	for (unsigned i = v->nout + v->nin; i-- > v->nout;) {
		struct iovec *iov = &v->iov[i];

		if (iov->iov_len) {
			iov->iov_len--;
			return (uint8_t *)iov->iov_base + iov->iov_len;
		}
	}
	return NULL;
}

/* Drops the first n bytes of iov[0 .. *cnt) in place: where the rest starts. */
static struct iovec *iov_drop(struct iovec *iov, unsigned *cnt, size_t n)
{
	while (*cnt && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	if (*cnt) {
		iov->iov_base = (uint8_t *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return iov;
}

/* [sector, +bytes) is whole sectors inside the disk (no overflow on the way). */
static bool in_disk(const struct blk_dev *b, uint64_t sector, uint64_t bytes)
{
	return bytes % BLK_SECTOR_SIZE == 0 && sector <= b->sectors &&
	       bytes / BLK_SECTOR_SIZE <= b->sectors - sector;
}

static const char *op_name(enum blk_aio_op op)
{
	static const char *const names[] = { "read", "write", "flush", "discard",
					     "write-zeroes" };

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

static void send(struct blk_req *r, enum blk_aio_op op, uint64_t sector)
{
	struct blk_dev *b = r->q->blk;
	int err;

	r->aio.op = op;
	r->aio.offset = sector * BLK_SECTOR_SIZE;
	r->aio.opaque = r;
	err = blk_aio_queue(&b->aio, &r->aio);
	if (err) {
		log_warn(b->log, "virtio-blk: %s: %s", op_name(op), strerror(-err));
		answer(r, VIRTIO_BLK_S_IOERR);
	}
}

void blk_finish(struct blk_req *r, int result)
{
	const struct blk_dev *b = r->q->blk;

	/* Discard is advisory: a file system that cannot punch holes ignores it. */
	if (r->aio.op == BLK_AIO_DISCARD && result == -EOPNOTSUPP)
		result = 0;
	if (result)
		log_warn(b->log, "virtio-blk: %s: %s at byte %llu: %s", b->cfg->path,
			 op_name(r->aio.op), (unsigned long long)r->aio.offset,
			 strerror(-result));
	answer(r, result ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static void do_read(struct blk_req *r, uint64_t sector)
{
	struct virtq_req *v = &r->vreq;
	uint64_t len = v->in_len - 1;

	if (v->out_len != HDR_LEN || !in_disk(r->q->blk, sector, len)) {
		answer(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	r->aio.iov = &v->iov[v->nout];
	r->aio.iovcnt = v->nin;
	r->used_len = (uint32_t)(len + 1);
	send(r, BLK_AIO_READ, sector);
}

static void do_write(struct blk_req *r, uint64_t sector)
{
	struct virtq_req *v = &r->vreq;
	uint64_t len = v->out_len - HDR_LEN;
	unsigned cnt = v->nout;

	if (r->q->blk->cfg->img.readonly || v->in_len != 1 ||
	    !in_disk(r->q->blk, sector, len)) {
		answer(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	r->aio.iov = iov_drop(v->iov, &cnt, HDR_LEN);
	r->aio.iovcnt = cnt;
	send(r, BLK_AIO_WRITE, sector);
}

static void do_get_id(struct blk_req *r)
{
	struct virtq_req *v = &r->vreq;
	size_t n = v->in_len - 1;

	if (n > VIRTIO_BLK_ID_BYTES)
		n = VIRTIO_BLK_ID_BYTES;
	n = virtq_req_write(v, 0, r->q->blk->cfg->serial, n);
	r->used_len = (uint32_t)n + 1;
	answer(r, VIRTIO_BLK_S_OK);
}

/* DISCARD and WRITE_ZEROES: one range (max_discard_seg = max_write_zeroes_seg = 1). */
static void do_dwz(struct blk_req *r, bool zero)
{
	const struct blk_dev *b = r->q->blk;
	struct virtq_req *v = &r->vreq;
	struct virtio_blk_discard_write_zeroes d;
	uint32_t flags, allowed = zero ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	uint64_t sector, bytes;

	if (b->cfg->img.readonly) {
		answer(r, VIRTIO_BLK_S_UNSUPP); /* not offered */
		return;
	}
	if (v->in_len != 1 || v->out_len != HDR_LEN + DWZ_LEN ||
	    virtq_req_read(v, HDR_LEN, &d, DWZ_LEN) != DWZ_LEN) {
		answer(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	flags = le32toh(d.flags);
	sector = le64toh(d.sector);
	bytes = (uint64_t)le32toh(d.num_sectors) * BLK_SECTOR_SIZE;
	if (flags & ~allowed) {
		answer(r, VIRTIO_BLK_S_UNSUPP); /* as the spec asks */
		return;
	}
	if (le32toh(d.num_sectors) > BLK_MAX_DISCARD_SECTORS || !in_disk(b, sector, bytes)) {
		answer(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (!bytes) {
		answer(r, VIRTIO_BLK_S_OK);
		return;
	}
	r->aio.len = bytes;
	send(r, zero ? BLK_AIO_ZERO : BLK_AIO_DISCARD, sector);
}

static void handle(struct blk_req *r)
{
	struct virtq_req *v = &r->vreq;
	struct virtio_blk_outhdr hdr;
	uint64_t sector;

	r->used_len = 1;
	r->status = take_status(v);
	if (!r->status) {
		virtio_needs_reset(&r->q->blk->vdev, "virtio-blk: a request with no status byte");
		blk_req_release(r);
		return;
	}
	if (virtq_req_read(v, 0, &hdr, HDR_LEN) != HDR_LEN) {
		answer(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		do_read(r, sector);
		break;
	case VIRTIO_BLK_T_OUT:
		do_write(r, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (v->in_len != 1)
			answer(r, VIRTIO_BLK_S_IOERR);
		else if (r->q->blk->cfg->img.readonly)
			answer(r, VIRTIO_BLK_S_OK); /* nothing was written */
		else
			send(r, BLK_AIO_FLUSH, 0);
		break;
	case VIRTIO_BLK_T_GET_ID:
		do_get_id(r);
		break;
	case VIRTIO_BLK_T_DISCARD:
		do_dwz(r, false);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		do_dwz(r, true);
		break;
	default:
		answer(r, VIRTIO_BLK_S_UNSUPP);
		break;
	}
}

unsigned blk_reap(struct blk_dev *b)
{
	struct blk_aio_req *a;
	unsigned n = 0;

	for (; (a = blk_aio_reap(&b->aio)); n++)
		blk_finish(a->opaque, a->result);
	return n;
}

/* Pops and handles requests while the backend has room. */
static void take_requests(struct blk_queue *q)
{
	struct blk_dev *b = q->blk;
	struct blk_req *r;

	q->stalled = false;
	for (;;) {
		if (blk_aio_full(&b->aio) || !(r = req_get(q))) {
			q->stalled = true; /* resumed when requests complete */
			return;
		}
		if (virtq_pop(q->vq, &r->vreq) <= 0) {
			blk_req_release(r);
			return;
		}
		handle(r);
	}
}

void blk_process_queue(struct blk_queue *q)
{
	struct blk_dev *b = q->blk;

	/*
	 * Reads from the host's page cache complete within the submission:
	 * answering them now saves a trip through the event loop and lets
	 * one interrupt cover the batch.
	 */
	do {
		take_requests(q);
		blk_aio_submit(&b->aio);
	} while (blk_reap(b) && q->stalled);
	if (q->pushed) {
		q->pushed = false;
		virtq_notify(q->vq);
	}
}

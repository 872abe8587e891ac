/* The io_uring backend (aio.h): completions signal the eventfd. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hw/block/aio.h"

struct aio_uring {
	struct io_uring ring;
	unsigned in_kernel; /* prepared and not yet completed */
	unsigned unsent;    /* prepared and not yet submitted */
};

/* Stages of BLK_AIO_ZERO, kept in req->done (unused for it otherwise). */
enum { ZERO_RANGE, ZERO_PUNCH, ZERO_WRITE };

static bool ops_supported(struct io_uring *ring)
{
	static const int needed[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				      IORING_OP_FALLOCATE };
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p != NULL;

	for (unsigned i = 0; ok && i < sizeof(needed) / sizeof(needed[0]); i++)
		ok = io_uring_opcode_supported(p, needed[i]);
	if (p)
		io_uring_free_probe(p);
	return ok;
}

static int ur_init(struct blk_aio *a)
{
	struct aio_uring *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	err = io_uring_queue_init(a->depth, &u->ring, 0);
	if (err)
		goto fail;
	err = -EOPNOTSUPP;
	if (!ops_supported(&u->ring))
		goto fail_ring;
	err = io_uring_register_eventfd(&u->ring, a->efd);
	if (err)
		goto fail_ring;
	a->priv = u;
	return 0;
fail_ring:
	io_uring_queue_exit(&u->ring);
fail:
	free(u);
	return err;
}

static void ur_destroy(struct blk_aio *a)
{
	struct aio_uring *u = a->priv;

	io_uring_queue_exit(&u->ring);
	free(u);
	a->priv = NULL;
}

static void prep(struct blk_aio *a, struct io_uring_sqe *sqe, struct blk_aio_req *req)
{
	unsigned cnt = req->iovcnt > IOV_MAX ? IOV_MAX : req->iovcnt;
	uint64_t off = req->offset + req->done;
	int mode;

	switch (req->op) {
	case BLK_AIO_READ:
		io_uring_prep_readv(sqe, a->fd, req->iov, cnt, off);
		break;
	case BLK_AIO_WRITE:
		io_uring_prep_writev(sqe, a->fd, req->iov, cnt, off);
		break;
	case BLK_AIO_FLUSH:
		io_uring_prep_fsync(sqe, a->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_AIO_DISCARD:
	case BLK_AIO_ZERO:
		mode = req->op == BLK_AIO_ZERO && req->done == ZERO_RANGE ? FALLOC_FL_ZERO_RANGE
									  : FALLOC_FL_PUNCH_HOLE;
		io_uring_prep_fallocate(sqe, a->fd, mode | FALLOC_FL_KEEP_SIZE, req->offset,
					req->len);
		break;
	}
	io_uring_sqe_set_data(sqe, req);
}

static void ur_queue(struct blk_aio *a, struct blk_aio_req *req)
{
	struct aio_uring *u = a->priv;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	/* The ring holds depth entries and at most depth are in flight... */
	while (!sqe) { /* ...but a submission may have failed and left some queued */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	prep(a, sqe, req);
	u->in_kernel++;
	u->unsent++;
}

static void ur_submit(struct blk_aio *a)
{
	struct aio_uring *u = a->priv;
	int r;

	if (!u->unsent)
		return;
	do
		r = io_uring_submit(&u->ring);
	while (r == -EINTR);
	if (r < 0) /* they stay in the ring: sent with the next submission */
		log_warn(a->log, "aio: io_uring_submit: %s", strerror(-r));
	else
		u->unsent = r >= (int)u->unsent ? 0 : u->unsent - (unsigned)r;
}

/* One completion: finished, or resumed (short transfer, fallback stage). */
static void complete(struct blk_aio *a, struct blk_aio_req *req, int res)
{
	if (res == -EINTR || res == -EAGAIN)
		goto again;
	switch (req->op) {
	case BLK_AIO_READ:
	case BLK_AIO_WRITE:
		if (res < 0)
			break;
		if (blk_aio_advance(req, (uint64_t)res))
			res = 0;
		else if (res == 0)
			res = -EIO; /* past the end of the file */
		else
			goto again;
		break;
	case BLK_AIO_ZERO:
		if (res != -EOPNOTSUPP)
			break;
		if (++req->done == ZERO_PUNCH)
			goto again;
		/* Neither zeroing nor punching: write zeroes, rare enough to do here. */
		req->done = 0;
		res = blk_aio_sync_op(a->fd, req);
		break;
	default:
		break;
	}
	blk_aio_finish(a, req, res < 0 ? res : 0);
	return;
again:
	ur_queue(a, req);
}

static void ur_collect(struct blk_aio *a, bool wait)
{
	struct aio_uring *u = a->priv;
	struct io_uring_cqe *cqe;

	if (wait && u->in_kernel && io_uring_peek_cqe(&u->ring, &cqe)) {
		int r = io_uring_submit_and_wait(&u->ring, 1);

		if (r >= 0)
			u->unsent = 0;
	}
	while (u->in_kernel && !io_uring_peek_cqe(&u->ring, &cqe)) {
		struct blk_aio_req *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		u->in_kernel--;
		complete(a, req, res);
	}
	ur_submit(a);
}

static unsigned ur_pending(struct blk_aio *a)
{
	struct aio_uring *u = a->priv;

	return u->in_kernel;
}

const struct blk_aio_backend blk_aio_uring = {
	.init = ur_init,
	.destroy = ur_destroy,
	.queue = ur_queue,
	.submit = ur_submit,
	.collect = ur_collect,
	.pending = ur_pending,
};

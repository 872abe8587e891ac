/* Asynchronous block I/O: the part common to both backends (see aio.h). */
#include "hw/block/aio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"

#define ZERO_CHUNK 65536

const char *blk_aio_mode_name(enum blk_aio_mode mode)
{
	switch (mode) {
	case BLK_AIO_URING: return "io_uring";
	case BLK_AIO_THREADS: return "threads";
	default: return "auto";
	}
}

static void on_ready(void *opaque, uint32_t events)
{
	struct blk_aio *a = opaque;
	uint64_t v;

	if (read(a->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn(a->log, "aio: eventfd: %s", strerror(errno));
	a->ready(a->opaque);
}

static int start_backend(struct blk_aio *a, enum blk_aio_mode mode)
{
	int err;

	if (mode != BLK_AIO_THREADS) {
		a->be = &blk_aio_uring;
		a->mode = BLK_AIO_URING;
		err = a->be->init(a);
		if (!err || mode == BLK_AIO_URING) {
			if (err)
				log_error(a->log, "aio: io_uring: %s", strerror(-err));
			return err;
		}
		log_info(a->log, "aio: io_uring unavailable (%s), using worker threads",
			 strerror(-err));
	}
	a->be = &blk_aio_threads;
	a->mode = BLK_AIO_THREADS;
	err = a->be->init(a);
	if (err)
		log_error(a->log, "aio: worker threads: %s", strerror(-err));
	return err;
}

int blk_aio_init(struct blk_aio *a, const struct blk_aio_config *cfg)
{
	int err;

	if (cfg->depth < 1 || cfg->depth > 4096 || !cfg->ready || !cfg->loop)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->fd = cfg->fd;
	a->depth = cfg->depth;
	a->log = cfg->log;
	a->loop = cfg->loop;
	a->ready = cfg->ready;
	a->opaque = cfg->opaque;
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0)
		return -errno;
	err = start_backend(a, cfg->mode);
	if (err)
		goto fail_efd;
	a->watch = (struct ev_watch){ .fd = a->efd, .fn = on_ready, .opaque = a };
	err = evloop_add(a->loop, &a->watch, EPOLLIN);
	if (err)
		goto fail_be;
	return 0;
fail_be:
	a->be->destroy(a);
fail_efd:
	close(a->efd);
	a->efd = -1;
	return err;
}

void blk_aio_destroy(struct blk_aio *a)
{
	if (!a->be)
		return;
	blk_aio_wait(a);
	evloop_del(a->loop, &a->watch);
	a->be->destroy(a);
	a->be = NULL;
	close(a->efd);
	a->efd = -1;
	a->done_head = a->done_tail = NULL;
	a->inflight = 0;
}

static int check_req(struct blk_aio_req *req)
{
	uint64_t len = 0;

	switch (req->op) {
	case BLK_AIO_READ:
	case BLK_AIO_WRITE:
		if (req->iovcnt > IOV_MAX || (req->iovcnt && !req->iov))
			return -EINVAL;
		for (unsigned i = 0; i < req->iovcnt; i++) {
			if (req->iov[i].iov_len > SSIZE_MAX - len)
				return -EINVAL;
			len += req->iov[i].iov_len;
		}
		req->len = len;
		break;
	case BLK_AIO_FLUSH:
		req->len = 0;
		break;
	case BLK_AIO_DISCARD:
	case BLK_AIO_ZERO:
		if (!req->len)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (req->offset > (uint64_t)INT64_MAX - req->len)
		return -EINVAL;
	return 0;
}

int blk_aio_queue(struct blk_aio *a, struct blk_aio_req *req)
{
	int err;

	if (blk_aio_full(a))
		return -EAGAIN;
	err = check_req(req);
	if (err)
		return err;
	req->done = 0;
	req->result = 0;
	req->next = NULL;
	a->inflight++;
	a->be->queue(a, req);
	return 0;
}

void blk_aio_submit(struct blk_aio *a)
{
	a->be->submit(a);
}

struct blk_aio_req *blk_aio_reap(struct blk_aio *a)
{
	struct blk_aio_req *req;

	if (!a->done_head)
		a->be->collect(a, false);
	req = a->done_head;
	if (!req)
		return NULL;
	a->done_head = req->next;
	if (!a->done_head)
		a->done_tail = NULL;
	req->next = NULL;
	a->inflight--;
	return req;
}

void blk_aio_wait(struct blk_aio *a)
{
	a->be->submit(a);
	while (a->be->pending(a))
		a->be->collect(a, true);
}

void blk_aio_finish(struct blk_aio *a, struct blk_aio_req *req, int result)
{
	req->result = result;
	req->next = NULL;
	if (a->done_tail)
		a->done_tail->next = req;
	else
		a->done_head = req;
	a->done_tail = req;
}

bool blk_aio_advance(struct blk_aio_req *req, uint64_t n)
{
	req->done += n;
	while (req->iovcnt && (n || !req->iov->iov_len)) {
		if (n < req->iov->iov_len) {
			req->iov->iov_base = (uint8_t *)req->iov->iov_base + n;
			req->iov->iov_len -= n;
			break;
		}
		n -= req->iov->iov_len;
		req->iov++;
		req->iovcnt--;
	}
	return req->done >= req->len;
}

static int sync_rw(int fd, struct blk_aio_req *req)
{
	while (req->done < req->len) {
		off_t off = (off_t)(req->offset + req->done);
		int cnt = req->iovcnt > IOV_MAX ? IOV_MAX : (int)req->iovcnt;
		ssize_t n = req->op == BLK_AIO_READ ? preadv(fd, req->iov, cnt, off)
						    : pwritev(fd, req->iov, cnt, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* past the end of the file */
		blk_aio_advance(req, (uint64_t)n);
	}
	return 0;
}

/*
 * Zeroes by writing, where the file system can neither zero nor punch. The
 * zeroes are an anonymous mapping never written (the kernel's zero page): a
 * zeroed array in the binary was 64 KiB of its file, mapped by every process.
 */
static int sync_write_zeroes(int fd, uint64_t off, uint64_t len)
{
	void *zeroes = mmap(NULL, ZERO_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err = 0;

	if (zeroes == MAP_FAILED)
		return -errno;
	while (len && !err) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
		ssize_t r = pwrite(fd, zeroes, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : -EIO;
			break;
		}
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	munmap(zeroes, ZERO_CHUNK);
	return err;
}

static int sync_zero(int fd, uint64_t off, uint64_t len)
{
	if (!fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	if (!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	return sync_write_zeroes(fd, off, len);
}

int blk_aio_sync_op(int fd, struct blk_aio_req *req)
{
	switch (req->op) {
	case BLK_AIO_READ:
	case BLK_AIO_WRITE:
		return sync_rw(fd, req);
	case BLK_AIO_FLUSH:
		return fdatasync(fd) < 0 ? -errno : 0;
	case BLK_AIO_DISCARD:
		return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 (off_t)req->offset, (off_t)req->len) < 0 ? -errno : 0;
	case BLK_AIO_ZERO:
		return sync_zero(fd, req->offset, req->len);
	}
	return -EINVAL;
}

/*
 * Asynchronous block I/O on one file descriptor: reads and writes straight
 * into the caller's buffers (guest memory), flush, discard and zeroing.
 *
 * Two backends: io_uring (liburing), and where io_uring cannot be set up
 * (seccomp, old kernels, io_uring_disabled) a few worker threads doing the
 * same system calls. Either way, the thread that queues requests never
 * waits for the disk, and finished requests are announced on an event loop:
 * an eventfd fires and `ready` runs on the loop thread, which then collects
 * them with blk_aio_reap().
 *
 * Not thread-safe: the owner serializes every call (a device does so under
 * its lock); the backends synchronize with their own threads internally.
 */
#ifndef HW_BLOCK_AIO_H
#define HW_BLOCK_AIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/evloop.h"

struct logger;
struct blk_aio_backend;

enum blk_aio_mode {
	BLK_AIO_AUTO,    /* io_uring, else threads */
	BLK_AIO_URING,   /* io_uring or fail */
	BLK_AIO_THREADS, /* the fallback, always */
};

enum blk_aio_op {
	BLK_AIO_READ,
	BLK_AIO_WRITE,
	BLK_AIO_FLUSH,   /* fdatasync */
	BLK_AIO_DISCARD, /* punch a hole, keep the size */
	BLK_AIO_ZERO,    /* make [offset, offset + len) read as zeroes */
};

struct blk_aio_req {
	enum blk_aio_op op;
	/*
	 * READ/WRITE: the buffers. The array (and these two fields) are the
	 * backend's until the request is reaped: a short transfer is resumed
	 * by advancing them in place.
	 */
	struct iovec *iov;
	unsigned iovcnt;
	uint64_t offset; /* bytes into the file */
	uint64_t len;    /* DISCARD/ZERO: bytes; READ/WRITE: set by blk_aio_queue() */
	int result;      /* when reaped: 0, or -errno (-EIO for a read past the end) */
	void *opaque;    /* the caller's */
	/* Backend state. */
	uint64_t done;
	struct blk_aio_req *next;
};

typedef void (*blk_aio_ready_fn)(void *opaque);

struct blk_aio {
	const struct blk_aio_backend *be;
	void *priv;
	enum blk_aio_mode mode; /* the backend in use: URING or THREADS */
	int fd;
	unsigned depth;    /* requests in flight at most */
	unsigned inflight; /* queued and not yet reaped */
	const struct logger *log;
	struct evloop *loop;
	int efd; /* eventfd: completions are waiting */
	struct ev_watch watch;
	blk_aio_ready_fn ready;
	void *opaque;
	struct blk_aio_req *done_head, *done_tail; /* finished, not yet reaped */
};

struct blk_aio_config {
	int fd;
	unsigned depth; /* 1..4096 */
	enum blk_aio_mode mode;
	struct evloop *loop;
	blk_aio_ready_fn ready;
	void *opaque;
	const struct logger *log;
};

int blk_aio_init(struct blk_aio *a, const struct blk_aio_config *cfg);
/* Waits for what is in flight, then frees; requests not reaped are dropped. */
void blk_aio_destroy(struct blk_aio *a);
const char *blk_aio_mode_name(enum blk_aio_mode mode);

static inline bool blk_aio_full(const struct blk_aio *a)
{
	return a->inflight >= a->depth;
}

/* Takes req (sent at the next blk_aio_submit()); -EAGAIN when full, -EINVAL if malformed. */
int blk_aio_queue(struct blk_aio *a, struct blk_aio_req *req);
/* Sends what was queued. */
void blk_aio_submit(struct blk_aio *a);
/* A finished request, or NULL; never blocks. */
struct blk_aio_req *blk_aio_reap(struct blk_aio *a);
/* Blocks until nothing is in flight (finished requests then wait in blk_aio_reap()). */
void blk_aio_wait(struct blk_aio *a);

/*
 * Backends (aio_uring.c, aio_thread.c). Each calls blk_aio_finish() for
 * every request done (from any thread that holds what serializes it) and
 * signals a->efd.
 */
struct blk_aio_backend {
	int (*init)(struct blk_aio *a);
	void (*destroy)(struct blk_aio *a);
	void (*queue)(struct blk_aio *a, struct blk_aio_req *req);
	void (*submit)(struct blk_aio *a);
	/* Moves finished requests to the done list; blocks for one if wait. */
	void (*collect)(struct blk_aio *a, bool wait);
	/* Requests the backend still holds (queued or in the kernel). */
	unsigned (*pending)(struct blk_aio *a);
};

extern const struct blk_aio_backend blk_aio_uring;
extern const struct blk_aio_backend blk_aio_threads;

/* Shared helpers for the backends. */
void blk_aio_finish(struct blk_aio *a, struct blk_aio_req *req, int result);
/* Accounts n bytes transferred (advancing req->iov): true when req is complete. */
bool blk_aio_advance(struct blk_aio_req *req, uint64_t n);
/* One blocking system call for req (the thread backend; io_uring's fallbacks). */
int blk_aio_sync_op(int fd, struct blk_aio_req *req);

#endif

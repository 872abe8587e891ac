/*
 * Block images and asynchronous block I/O: every operation through both
 * backends (io_uring and the worker threads), completions announced on an
 * event loop, errors, back-pressure and waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/evloop.h"
#include "core/log.h"
#include "hw/block/aio.h"
#include "hw/block/image.h"

#define DISK_SIZE (1u << 20)

struct ctx {
	enum blk_aio_mode mode;
	char path[64];
	int logp[2];
	struct logger log;
	struct evloop loop;
	struct blk_image img;
	struct blk_aio aio;
	unsigned ready_calls;
};

static void on_ready(void *opaque)
{
	struct ctx *c = opaque;

	c->ready_calls++;
}

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9));
}

static void make_disk(struct ctx *c, size_t size)
{
	uint8_t *buf = malloc(size);
	int fd;

	strcpy(c->path, "/tmp/splitvm-blk-XXXXXX");
	fd = mkstemp(c->path);
	assert_true(fd >= 0);
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern(i);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

static int aio_start(struct ctx *c, unsigned depth)
{
	struct blk_aio_config cfg = {
		.fd = c->img.fd, .depth = depth, .mode = c->mode, .loop = &c->loop,
		.ready = on_ready, .opaque = c, .log = &c->log,
	};

	return blk_aio_init(&c->aio, &cfg);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	c->mode = (enum blk_aio_mode)(uintptr_t)*state;
	assert_int_equal(pipe2(c->logp, O_NONBLOCK | O_CLOEXEC), 0);
	c->log = (struct logger){ .level = LOG_DEBUG, .fd = c->logp[1] };
	assert_int_equal(evloop_init(&c->loop), 0);
	make_disk(c, DISK_SIZE);
	assert_int_equal(blk_image_open(&c->img, c->path, false, &c->log), 0);
	assert_int_equal(aio_start(c, 64), 0);
	assert_int_equal(c->aio.mode, c->mode == BLK_AIO_THREADS ? BLK_AIO_THREADS
								 : BLK_AIO_URING);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	blk_aio_destroy(&c->aio);
	blk_image_close(&c->img);
	evloop_destroy(&c->loop);
	unlink(c->path);
	close(c->logp[0]);
	close(c->logp[1]);
	free(c);
	return 0;
}

/* Runs the loop until a request is done (at most ~5 s); returns it. */
static struct blk_aio_req *next_done(struct ctx *c)
{
	struct blk_aio_req *r;

	for (int i = 0; i < 500; i++) {
		r = blk_aio_reap(&c->aio);
		if (r)
			return r;
		evloop_run_once(&c->loop, 10);
	}
	fail_msg("no completion");
	return NULL;
}

static int run_one(struct ctx *c, struct blk_aio_req *r)
{
	assert_int_equal(blk_aio_queue(&c->aio, r), 0);
	blk_aio_submit(&c->aio);
	assert_ptr_equal(next_done(c), r);
	return r->result;
}

static int rw(struct ctx *c, enum blk_aio_op op, uint64_t off, uint8_t *buf, size_t len)
{
	/* Uneven pieces, with an empty one, as a guest's scatter list may be. */
	struct iovec iov[4] = {
		{ buf, len / 3 }, { buf + len / 3, 0 }, { buf + len / 3, len / 2 - len / 3 },
		{ buf + len / 2, len - len / 2 },
	};
	struct blk_aio_req r = { .op = op, .iov = iov, .iovcnt = 4, .offset = off };

	return run_one(c, &r);
}

static void test_read(void **state)
{
	struct ctx *c = *state;
	uint8_t buf[12345];

	struct iovec iov = { buf, sizeof(buf) };
	struct blk_aio_req r = { .op = BLK_AIO_READ, .iov = &iov, .iovcnt = 1, .offset = 4096 + 3 };

	/* The loop hears of the completion before anyone looks for it. */
	assert_int_equal(blk_aio_queue(&c->aio, &r), 0);
	blk_aio_submit(&c->aio);
	for (int i = 0; i < 500 && !c->ready_calls; i++)
		evloop_run_once(&c->loop, 10);
	assert_true(c->ready_calls > 0);
	assert_ptr_equal(blk_aio_reap(&c->aio), &r);
	assert_null(blk_aio_reap(&c->aio));
	assert_int_equal(r.result, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], pattern(4096 + 3 + i));
	assert_int_equal(rw(c, BLK_AIO_READ, 512, buf, 0), 0);
}

static void test_write_then_read(void **state)
{
	struct ctx *c = *state;
	uint8_t out[8192], in[8192];

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(rw(c, BLK_AIO_WRITE, 65536, out, sizeof(out)), 0);
	memset(in, 0, sizeof(in));
	assert_int_equal(rw(c, BLK_AIO_READ, 65536, in, sizeof(in)), 0);
	assert_memory_equal(in, out, sizeof(out));
	/* The bytes around it are untouched. */
	assert_int_equal(rw(c, BLK_AIO_READ, 65536 - 512, in, 512), 0);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(in[i], pattern(65536 - 512 + i));
	assert_int_equal(pread(c->img.fd, in, sizeof(in), 65536), (ssize_t)sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
}

static void test_flush(void **state)
{
	struct ctx *c = *state;
	struct blk_aio_req r = { .op = BLK_AIO_FLUSH };

	assert_int_equal(run_one(c, &r), 0);
}

static void expect_zeroes(struct ctx *c, uint64_t off, size_t len)
{
	uint8_t buf[16384];

	assert_true(len + 1024 <= sizeof(buf));
	assert_int_equal(rw(c, BLK_AIO_READ, off - 512, buf, len + 1024), 0);
	for (size_t i = 0; i < 512; i++) {
		assert_int_equal(buf[i], pattern(off - 512 + i));
		assert_int_equal(buf[len + 512 + i], pattern(off + len + i));
	}
	for (size_t i = 512; i < len + 512; i++)
		assert_int_equal(buf[i], 0);
}

static void test_discard_and_zero(void **state)
{
	struct ctx *c = *state;
	struct blk_aio_req d = { .op = BLK_AIO_DISCARD, .offset = 8192, .len = 8192 };
	struct blk_aio_req z = { .op = BLK_AIO_ZERO, .offset = 32768 + 512, .len = 1024 };
	struct stat st;

	assert_int_equal(run_one(c, &d), 0);
	expect_zeroes(c, 8192, 8192);
	assert_int_equal(run_one(c, &z), 0);
	expect_zeroes(c, 32768 + 512, 1024);
	assert_int_equal(fstat(c->img.fd, &st), 0);
	assert_int_equal(st.st_size, DISK_SIZE);
}

static void test_errors(void **state)
{
	struct ctx *c = *state;
	uint8_t buf[1024];
	struct iovec iov = { buf, sizeof(buf) };
	struct blk_aio_req bad = { .op = (enum blk_aio_op)42 };
	struct blk_aio_req far = { .op = BLK_AIO_READ, .iov = &iov, .iovcnt = 1,
				   .offset = UINT64_MAX - 100 };
	struct blk_aio_req none = { .op = BLK_AIO_DISCARD, .offset = 0, .len = 0 };

	/* Past the end of the file: nothing to read. */
	assert_int_equal(rw(c, BLK_AIO_READ, DISK_SIZE, buf, sizeof(buf)), -EIO);
	/* Half of it past the end: the read is not complete. */
	assert_int_equal(rw(c, BLK_AIO_READ, DISK_SIZE - 512, buf, sizeof(buf)), -EIO);
	assert_int_equal(blk_aio_queue(&c->aio, &bad), -EINVAL);
	assert_int_equal(blk_aio_queue(&c->aio, &far), -EINVAL);
	assert_int_equal(blk_aio_queue(&c->aio, &none), -EINVAL);
	assert_int_equal(c->aio.inflight, 0);
}

/* A descriptor opened read-only: the kernel's error comes back. */
static void test_write_refused(void **state)
{
	struct ctx *c = *state;
	struct blk_image ro;
	uint8_t buf[512] = { 1 };

	blk_aio_destroy(&c->aio);
	blk_image_close(&c->img);
	assert_int_equal(blk_image_open(&ro, c->path, true, &c->log), 0);
	c->img = ro;
	assert_int_equal(aio_start(c, 4), 0);
	assert_int_equal(rw(c, BLK_AIO_WRITE, 0, buf, sizeof(buf)), -EBADF);
	assert_int_equal(rw(c, BLK_AIO_READ, 0, buf, sizeof(buf)), 0);
	assert_int_equal(buf[1], pattern(1));
}

/* Many requests at once, more than the depth: -EAGAIN, then all complete. */
static void test_depth_and_many(void **state)
{
	struct ctx *c = *state;
	enum { N = 64, LEN = 4096 };
	static uint8_t bufs[N][LEN];
	struct iovec iov[N];
	struct blk_aio_req req[N + 1];
	unsigned done = 0;

	memset(req, 0, sizeof(req));
	for (unsigned i = 0; i < N; i++) {
		iov[i] = (struct iovec){ bufs[i], LEN };
		req[i] = (struct blk_aio_req){ .op = BLK_AIO_READ, .iov = &iov[i], .iovcnt = 1,
					       .offset = (uint64_t)i * LEN, .opaque = &bufs[i] };
		assert_int_equal(blk_aio_queue(&c->aio, &req[i]), 0);
	}
	req[N].op = BLK_AIO_FLUSH;
	assert_true(blk_aio_full(&c->aio));
	assert_int_equal(blk_aio_queue(&c->aio, &req[N]), -EAGAIN);
	blk_aio_submit(&c->aio);
	while (done < N) {
		struct blk_aio_req *r = next_done(c);
		uint8_t *b = r->opaque;
		uint64_t off = (uint64_t)(r - req) * LEN;

		assert_int_equal(r->result, 0);
		for (unsigned i = 0; i < LEN; i += 511)
			assert_int_equal(b[i], pattern(off + i));
		done++;
	}
	assert_false(blk_aio_full(&c->aio));
	assert_null(blk_aio_reap(&c->aio));
}

/* blk_aio_wait() needs no event loop: what a device reset does. */
static void test_wait(void **state)
{
	struct ctx *c = *state;
	enum { N = 16 };
	uint8_t buf[N][1024];
	struct iovec iov[N];
	struct blk_aio_req req[N];
	unsigned n = 0;

	for (unsigned i = 0; i < N; i++) {
		memset(buf[i], 0xee, sizeof(buf[i]));
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
		req[i] = (struct blk_aio_req){ .op = i % 2 ? BLK_AIO_WRITE : BLK_AIO_READ,
					       .iov = &iov[i], .iovcnt = 1,
					       .offset = 200000 + i * 1024 };
		assert_int_equal(blk_aio_queue(&c->aio, &req[i]), 0);
	}
	blk_aio_wait(&c->aio);
	while (blk_aio_reap(&c->aio))
		n++;
	assert_int_equal(n, N);
	assert_int_equal(c->aio.inflight, 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(req[i].result, 0);
		if (i % 2 == 0)
			assert_int_equal(buf[i][5], pattern(200000 + i * 1024 + 5));
	}
	/* Destroy with requests in flight waits for them. */
	iov[1] = (struct iovec){ buf[1], sizeof(buf[1]) };
	assert_int_equal(blk_aio_queue(&c->aio, &req[1]), 0);
	blk_aio_submit(&c->aio);
	blk_aio_destroy(&c->aio);
	assert_int_equal(req[1].result, 0);
	assert_int_equal(aio_start(c, 8), 0);
}

static size_t log_text(struct ctx *c, char *buf, size_t len)
{
	ssize_t n = read(c->logp[0], buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? (size_t)n : 0;
}

static void expect_open_error(struct ctx *c, const char *path, bool ro, const char *msg)
{
	struct blk_image img;
	char text[512];

	log_text(c, text, sizeof(text));
	assert_int_equal(blk_image_open(&img, path, ro, &c->log), -EINVAL);
	assert_int_equal(img.fd, -1);
	log_text(c, text, sizeof(text));
	if (!strstr(text, msg))
		fail_msg("log '%s' lacks '%s'", text, msg);
}

/* Try to make path unwritable even for root (an immutable file); false if we cannot. */
static bool make_unwritable(const char *path)
{
	int fd = open(path, O_RDONLY), flags = 0;
	bool ok;

	chmod(path, 0444);
	if (geteuid() != 0)
		return true;
	ok = fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
	flags |= FS_IMMUTABLE_FL;
	ok = ok && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
	close(fd);
	return ok;
}

static void make_writable(const char *path)
{
	int fd = open(path, O_RDONLY), flags = 0;

	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && flags & FS_IMMUTABLE_FL) {
		flags &= ~FS_IMMUTABLE_FL;
		ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	if (fd >= 0)
		close(fd);
	chmod(path, 0644);
}

static void test_image_open(void **state)
{
	struct ctx *c = *state;
	struct blk_image img;
	char odd[64] = "/tmp/splitvm-blk-odd-XXXXXX";
	int fd = mkstemp(odd);

	assert_int_equal(c->img.size, DISK_SIZE);
	assert_false(c->img.is_blkdev);
	expect_open_error(c, "/nonexistent/disk.img", false, "No such file");
	expect_open_error(c, "/tmp", false, "not a regular file or a block device");
	/* Locked by the fixture's image: one writer at a time. */
	expect_open_error(c, c->path, false, "in use by another process");
	expect_open_error(c, c->path, true, "in use by another process for writing");
	/* A partial last sector is left out. */
	assert_int_equal(ftruncate(fd, 4096 + 100), 0);
	close(fd);
	assert_int_equal(blk_image_open(&img, odd, false, &c->log), 0);
	assert_int_equal(img.size, 4096);
	assert_int_equal(blk_image_sync(&img), 0);
	blk_image_close(&img);
	blk_image_close(&img);
	/* Readers share. */
	assert_int_equal(blk_image_open(&img, odd, true, &c->log), 0);
	struct blk_image img2;
	assert_int_equal(blk_image_open(&img2, odd, true, &c->log), 0);
	blk_image_close(&img2);
	blk_image_close(&img);
	if (make_unwritable(odd)) {
		expect_open_error(c, odd, false, "add readonly=on");
		assert_int_equal(blk_image_open(&img, odd, true, &c->log), 0);
		blk_image_close(&img);
	}
	make_writable(odd);
	unlink(odd);
}

/* As in a sandbox that forbids io_uring: io_uring_setup() fails with ENOSYS. */
static int forbid_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) ? -errno : 0;
}

/* In a child (the filter is for good): auto falls back, io_uring alone fails. */
static int fallback_child(struct ctx *c)
{
	uint8_t buf[700];

	/* The parent's loop and ring stay as they are: shared after fork(). */
	if (evloop_init(&c->loop) || forbid_io_uring())
		return 10;
	c->mode = BLK_AIO_URING;
	if (aio_start(c, 4) != -ENOSYS)
		return 11;
	c->mode = BLK_AIO_AUTO;
	if (aio_start(c, 4) || c->aio.mode != BLK_AIO_THREADS)
		return 12;
	if (rw(c, BLK_AIO_READ, 1000, buf, sizeof(buf)) || buf[9] != pattern(1009))
		return 13;
	blk_aio_destroy(&c->aio);
	return 0;
}

static void test_fallback(void **state)
{
	struct ctx *c = *state;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fallback_child(c));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define BOTH(fn)                                                                         \
	{ #fn "/auto", fn, setup, teardown, (void *)(uintptr_t)BLK_AIO_AUTO },          \
	{ #fn "/threads", fn, setup, teardown, (void *)(uintptr_t)BLK_AIO_THREADS }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_read),
		BOTH(test_write_then_read),
		BOTH(test_flush),
		BOTH(test_discard_and_zero),
		BOTH(test_errors),
		BOTH(test_write_refused),
		BOTH(test_depth_and_many),
		BOTH(test_wait),
		cmocka_unit_test_prestate_setup_teardown(test_fallback, setup, teardown,
							 (void *)(uintptr_t)BLK_AIO_AUTO),
		cmocka_unit_test_prestate_setup_teardown(test_image_open, setup, teardown,
							 (void *)(uintptr_t)BLK_AIO_URING),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

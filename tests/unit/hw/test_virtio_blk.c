/*
 * virtio-blk request handling with a miniature driver (vq_driver.c): every
 * request type, hostile layouts and ranges, read-only disks, several queues,
 * reset with requests in flight and the flush at exit; through both block
 * backends.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hw/virtio/blk.h"
#include "hw/virtio/devices.h"
#include "vq_driver.h"

#define QSIZE 16
#define SECTORS 2048u
#define DISK_SIZE (SECTORS * 512u)
#define SERIAL "test-serial-01"

struct fx {
	const char *aio; /* "io_uring" or "threads" */
	struct vqd_host h;
	char path[64];
	char spec_text[256];
	struct devspec spec;
	struct blk_config cfg;
	struct blk_dev *b; /* the kind's state */
	bool live;
	unsigned nq;
	struct vq_driver d[4];
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 13 + (off >> 9));
}

static void make_disk(struct fx *f)
{
	static uint8_t buf[DISK_SIZE];
	int fd;

	strcpy(f->path, "/tmp/splitvm-vblk-XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	for (size_t i = 0; i < DISK_SIZE; i++)
		buf[i] = pattern(i);
	assert_int_equal(write(fd, buf, DISK_SIZE), DISK_SIZE);
	close(fd);
}

static void start(struct fx *f, const char *extra)
{
	snprintf(f->spec_text, sizeof(f->spec_text), "virtio-blk,file=%s,serial=" SERIAL
		 ",aio=%s%s", f->path, f->aio, extra);
	assert_int_equal(devspec_parse(&f->spec, f->spec_text, &f->h.log), 0);
	assert_int_equal(virtio_blk_kind.parse(&f->spec, &f->cfg, &f->h.log), 0);
	assert_int_equal(virtio_blk_kind.create(&f->h.host, &f->cfg, (void **)&f->b), 0);
	f->live = true;
	/* vq_driver.c's stand-in for the PCI transport: the stub one. */
	assert_non_null(f->b->vdev.transport);
	assert_int_equal(f->b->aio.mode, strcmp(f->aio, "threads") ? BLK_AIO_URING
								 : BLK_AIO_THREADS);
	vqd_set_features(&f->b->vdev, ~0ull);
	f->nq = f->b->nqueues;
	for (unsigned i = 0; i < f->nq; i++)
		vqd_queue_init(&f->d[i], &f->h, &f->b->vdev.vqs[i], QSIZE);
	vqd_driver_ok(&f->b->vdev);
}

static struct fx *fx_new(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->aio = *state;
	vqd_host_init(&f->h, 16 << 20);
	make_disk(f);
	*state = f;
	return f;
}

static int setup(void **state)
{
	start(fx_new(state), "");
	return 0;
}

static int setup_ro(void **state)
{
	start(fx_new(state), ",readonly=on");
	return 0;
}

static int setup_mq(void **state)
{
	start(fx_new(state), ",num-queues=4");
	return 0;
}

static void stop(struct fx *f)
{
	if (!f->live)
		return;
	virtio_blk_kind.destroy(f->b);
	virtio_blk_kind.config_free(&f->cfg);
	devspec_free(&f->spec);
	f->live = false;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stop(f);
	vqd_host_fini(&f->h);
	unlink(f->path);
	free(f);
	return 0;
}

/* Runs the loop until queue q has a used entry (at most ~5 s). */
static bool wait_used(struct fx *f, unsigned q, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 500; i++) {
		if (vqd_used(&f->d[q], id, len))
			return true;
		evloop_run_once(&f->h.loop, 10);
	}
	return false;
}

static uint64_t header(struct fx *f, uint32_t type, uint64_t sector)
{
	uint64_t a = vqd_alloc(&f->h, 16);
	struct virtio_blk_outhdr *h = vqd_ptr(&f->h, a, 16);

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	return a;
}

/* Sends a chain on queue q, waits for it: the status byte at status_addr. */
static uint8_t run_chain(struct fx *f, unsigned q, const struct vqd_seg *segs, unsigned n,
			 uint64_t status_addr, uint32_t *used_len)
{
	uint32_t id, len;
	uint16_t head;

	*(uint8_t *)vqd_ptr(&f->h, status_addr, 1) = 0xff;
	head = vqd_add(&f->d[q], segs, n);
	virtq_kick(&f->b->vdev.vqs[q]);
	assert_true(wait_used(f, q, &id, &len));
	assert_int_equal(id, head);
	if (used_len)
		*used_len = len;
	return *(uint8_t *)vqd_ptr(&f->h, status_addr, 1);
}

/* header, then the data segments, then a 1-byte status. */
static uint8_t request(struct fx *f, unsigned q, uint32_t type, uint64_t sector,
		       const struct vqd_seg *data, unsigned ndata, uint32_t *used_len)
{
	struct vqd_seg segs[8];
	uint64_t st = vqd_alloc(&f->h, 1);

	assert_true(ndata + 2 <= 8);
	segs[0] = (struct vqd_seg){ header(f, type, sector), 16, false };
	if (ndata)
		memcpy(&segs[1], data, ndata * sizeof(*data));
	segs[ndata + 1] = (struct vqd_seg){ st, 1, true };
	return run_chain(f, q, segs, ndata + 2, st, used_len);
}

static uint8_t rw(struct fx *f, unsigned q, uint32_t type, uint64_t sector, uint64_t buf,
		  uint32_t len, uint32_t *used_len)
{
	/* Two pieces, as a guest's scatter list would have them. */
	uint32_t first = len > 512 ? 512 : len;
	struct vqd_seg data[2] = { { buf, first, type == VIRTIO_BLK_T_IN },
				   { buf + first, len - first, type == VIRTIO_BLK_T_IN } };

	return request(f, q, type, sector, data, len > first ? 2 : 1, used_len);
}

static uint64_t config_u64(struct fx *f, unsigned off)
{
	uint64_t v = 0;

	virtio_config_access(&f->b->vdev, off, &v, 8, false);
	return le64toh(v);
}

static uint32_t config_u32(struct fx *f, unsigned off)
{
	uint32_t v = 0;

	virtio_config_access(&f->b->vdev, off, &v, 4, false);
	return le32toh(v);
}

#define CFG(field) offsetof(struct virtio_blk_config, field)
#define HAS(f, bit) ((f)->b->vdev.features >> (bit) & 1)

static void test_config(void **state)
{
	struct fx *f = *state;
	uint32_t junk = 0x12345678;
	uint16_t nq = 0;

	assert_int_equal(config_u64(f, CFG(capacity)), SECTORS);
	assert_int_equal(config_u32(f, CFG(seg_max)), VIRTQ_MAX_SEGS - 2);
	assert_int_equal(config_u32(f, CFG(blk_size)), 512);
	virtio_config_access(&f->b->vdev, CFG(num_queues), &nq, 2, false);
	assert_int_equal(nq, 1);
	assert_int_equal(config_u32(f, CFG(max_discard_seg)), 1);
	assert_true(config_u32(f, CFG(max_discard_sectors)) > 0);
	assert_int_equal(config_u32(f, CFG(max_write_zeroes_seg)), 1);
	for (unsigned bit = 0; bit < 64; bit++) {
		static const unsigned want[] = { VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
						 VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_MQ,
						 VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES };
		bool wanted = false;

		for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			wanted |= bit == want[i];
		if (bit < 24)
			assert_int_equal(HAS(f, bit), wanted);
	}
	/* The guest cannot change the disk's size. */
	virtio_config_access(&f->b->vdev, CFG(capacity), &junk, 4, true);
	assert_int_equal(config_u64(f, CFG(capacity)), SECTORS);
}

static void test_read_write(void **state)
{
	struct fx *f = *state;
	uint64_t buf = vqd_alloc(&f->h, 8192);
	uint8_t *p = vqd_ptr(&f->h, buf, 8192), file[8192];
	uint32_t used;
	int fd;

	assert_int_equal(rw(f, 0, VIRTIO_BLK_T_IN, 10, buf, 4096, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 4097);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(p[i], pattern(10 * 512 + i));
	for (unsigned i = 0; i < 8192; i++)
		p[i] = (uint8_t)(i * 3 + 1);
	assert_int_equal(rw(f, 0, VIRTIO_BLK_T_OUT, 100, buf, 8192, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	fd = open(f->path, O_RDONLY);
	assert_int_equal(pread(fd, file, sizeof(file), 100 * 512), (ssize_t)sizeof(file));
	close(fd);
	assert_memory_equal(file, p, sizeof(file));
	memset(p, 0, 8192);
	assert_int_equal(rw(f, 0, VIRTIO_BLK_T_IN, 100, buf, 8192, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(file, p, sizeof(file));
	/* The last sector, and nothing at all. */
	assert_int_equal(rw(f, 0, VIRTIO_BLK_T_IN, SECTORS - 1, buf, 512, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(p[7], pattern((SECTORS - 1) * 512 + 7));
	assert_int_equal(request(f, 0, VIRTIO_BLK_T_IN, SECTORS, NULL, 0, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_true(f->h.queue_irqs[0] > 0);
}

/* No framing is implied: header and data share descriptors, status follows data. */
static void test_any_layout(void **state)
{
	struct fx *f = *state;
	uint64_t out = vqd_alloc(&f->h, 16 + 1024), in = vqd_alloc(&f->h, 1024 + 1);
	uint8_t *po = vqd_ptr(&f->h, out, 16 + 1024), *pi = vqd_ptr(&f->h, in, 1025);
	struct virtio_blk_outhdr h = { htole32(VIRTIO_BLK_T_OUT), 0, htole64(7) };
	struct vqd_seg w[2] = { { out, 16 + 1024, false }, { vqd_alloc(&f->h, 1), 1, true } };
	struct vqd_seg r[2] = { { header(f, VIRTIO_BLK_T_IN, 7), 16, false }, { in, 1025, true } };
	uint32_t used;

	memcpy(po, &h, 16);
	for (unsigned i = 0; i < 1024; i++)
		po[16 + i] = (uint8_t)~i;
	assert_int_equal(run_chain(f, 0, w, 2, w[1].addr, NULL), VIRTIO_BLK_S_OK);
	pi[1024] = 0xff;
	assert_int_equal(run_chain(f, 0, r, 2, in + 1024, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1025);
	assert_memory_equal(pi, po + 16, 1024);
}

static void test_flush_get_id(void **state)
{
	struct fx *f = *state;
	uint64_t id = vqd_alloc(&f->h, 32);
	struct vqd_seg seg = { id, 20, true }, shortseg = { id, 4, true };
	uint8_t want[20] = SERIAL;
	uint32_t used;

	assert_int_equal(request(f, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(request(f, 0, VIRTIO_BLK_T_GET_ID, 0, &seg, 1, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(vqd_ptr(&f->h, id, 20), want, 20);
	memset(vqd_ptr(&f->h, id, 20), 0, 20);
	assert_int_equal(request(f, 0, VIRTIO_BLK_T_GET_ID, 0, &shortseg, 1, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 5);
	assert_memory_equal(vqd_ptr(&f->h, id, 5), "test\0", 5);
}

static uint8_t dwz(struct fx *f, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags,
		   unsigned nranges)
{
	uint64_t a = vqd_alloc(&f->h, 16 * nranges);
	struct virtio_blk_discard_write_zeroes *d = vqd_ptr(&f->h, a, 16 * nranges);
	struct vqd_seg seg = { a, 16 * nranges, false };

	for (unsigned i = 0; i < nranges; i++)
		d[i] = (struct virtio_blk_discard_write_zeroes){
			htole64(sector + 2 * n * i), htole32(n), htole32(flags) };
	return request(f, 0, type, 0, &seg, 1, NULL);
}

static void expect_disk(struct fx *f, uint64_t sector, unsigned n, bool zero)
{
	uint8_t buf[4096];
	int fd = open(f->path, O_RDONLY);

	assert_true(n * 512 <= sizeof(buf));
	assert_int_equal(pread(fd, buf, n * 512, (off_t)sector * 512), n * 512);
	close(fd);
	for (unsigned i = 0; i < n * 512; i++)
		assert_int_equal(buf[i], zero ? 0 : pattern(sector * 512 + i));
}

static void test_discard_zeroes(void **state)
{
	struct fx *f = *state;
	const uint32_t D = VIRTIO_BLK_T_DISCARD, Z = VIRTIO_BLK_T_WRITE_ZEROES;
	const uint32_t UNMAP = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

	assert_int_equal(dwz(f, D, 64, 8, 0, 1), VIRTIO_BLK_S_OK);
	expect_disk(f, 64, 8, true);
	expect_disk(f, 72, 1, false);
	assert_int_equal(dwz(f, Z, 200, 3, 0, 1), VIRTIO_BLK_S_OK);
	expect_disk(f, 200, 3, true);
	expect_disk(f, 199, 1, false);
	expect_disk(f, 203, 1, false);
	assert_int_equal(dwz(f, Z, 300, 2, UNMAP, 1), VIRTIO_BLK_S_OK);
	expect_disk(f, 300, 2, true);
	/* The spec: unmap on a discard, or an unknown flag: UNSUPP. */
	assert_int_equal(dwz(f, D, 400, 1, UNMAP, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, Z, 400, 1, 2, 1), VIRTIO_BLK_S_UNSUPP);
	expect_disk(f, 400, 1, false);
	/* Outside the disk, too many ranges, nothing to do. */
	assert_int_equal(dwz(f, D, SECTORS - 1, 2, 0, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(f, Z, UINT64_MAX - 1, 4, 0, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(f, D, 500, 1, 0, 2), VIRTIO_BLK_S_IOERR);
	expect_disk(f, 500, 1, false);
	assert_int_equal(dwz(f, D, 500, 0, 0, 1), VIRTIO_BLK_S_OK);
}

/* Malformed requests are answered with an error; the device carries on. */
static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	uint64_t buf = vqd_alloc(&f->h, 4096), st = vqd_alloc(&f->h, 1);
	uint64_t hdr = header(f, VIRTIO_BLK_T_IN, 0);
	struct vqd_seg shorthdr[2] = { { hdr, 8, false }, { st, 1, true } };
	struct vqd_seg wrongdir[3] = { { hdr, 16, false }, { buf, 512, false }, { st, 1, true } };
	struct vqd_seg wdata[3] = { { header(f, VIRTIO_BLK_T_OUT, 0), 16, false },
				    { buf, 512, true }, { st, 1, true } };
	struct vqd_seg fdata[3] = { { header(f, VIRTIO_BLK_T_FLUSH, 0), 16, false },
				    { buf, 512, true }, { st, 1, true } };
	const uint32_t IN = VIRTIO_BLK_T_IN, OUT = VIRTIO_BLK_T_OUT;
	const uint8_t E = VIRTIO_BLK_S_IOERR;
	uint32_t used;

	assert_int_equal(run_chain(f, 0, shorthdr, 2, st, &used), E);
	assert_int_equal(used, 1);
	assert_int_equal(run_chain(f, 0, wrongdir, 3, st, NULL), E);
	assert_int_equal(run_chain(f, 0, wdata, 3, st, NULL), E);
	assert_int_equal(run_chain(f, 0, fdata, 3, st, NULL), E);
	assert_int_equal(rw(f, 0, IN, SECTORS, buf, 512, NULL), E);
	assert_int_equal(rw(f, 0, IN, SECTORS - 1, buf, 1024, &used), E);
	assert_int_equal(used, 1);
	assert_int_equal(rw(f, 0, OUT, SECTORS - 7, buf, 4096, NULL), E);
	assert_int_equal(rw(f, 0, IN, UINT64_MAX, buf, 512, NULL), E);
	assert_int_equal(rw(f, 0, IN, UINT64_MAX / 512 + 1, buf, 512, NULL), E);
	assert_int_equal(rw(f, 0, IN, 0, buf, 100, NULL), E);
	assert_int_equal(rw(f, 0, OUT, 0, buf, 513, NULL), E);
	assert_int_equal(request(f, 0, 2 /* SCSI */, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, 0, 0x12345, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_false(f->b->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	expect_disk(f, 0, 8, false);
	expect_disk(f, SECTORS - 8, 8, false);
	/* Still working. */
	assert_int_equal(rw(f, 0, IN, 1, buf, 512, NULL), VIRTIO_BLK_S_OK);
}

/* No writable byte for the status: nothing can be answered; the device breaks. */
static void test_no_status(void **state)
{
	struct fx *f = *state;
	struct vqd_seg seg = { header(f, VIRTIO_BLK_T_IN, 0), 16, false };
	uint32_t id, len;

	vqd_add(&f->d[0], &seg, 1);
	virtq_kick(&f->b->vdev.vqs[0]);
	vqd_poll(&f->h);
	assert_false(vqd_used(&f->d[0], &id, &len));
	assert_true(f->b->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_non_null(strstr(vqd_log(&f->h), "no status byte"));
	assert_int_equal(f->h.config_irqs, 1);
}

static void test_readonly(void **state)
{
	struct fx *f = *state;
	uint64_t buf = vqd_alloc(&f->h, 4096);

	assert_true(f->cfg.img.readonly);
	assert_true(HAS(f, VIRTIO_BLK_F_RO));
	assert_false(HAS(f, VIRTIO_BLK_F_DISCARD));
	assert_false(HAS(f, VIRTIO_BLK_F_WRITE_ZEROES));
	memset(vqd_ptr(&f->h, buf, 4096), 0, 4096);
	assert_int_equal(rw(f, 0, VIRTIO_BLK_T_OUT, 0, buf, 4096, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	expect_disk(f, 0, 8, false);
	assert_int_equal(rw(f, 0, VIRTIO_BLK_T_IN, 0, buf, 4096, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(((uint8_t *)vqd_ptr(&f->h, buf, 4096))[99], pattern(99));
}

static void test_multiqueue(void **state)
{
	struct fx *f = *state;
	uint64_t buf = vqd_alloc(&f->h, 512);
	uint16_t nq = 0;

	virtio_config_access(&f->b->vdev, CFG(num_queues), &nq, 2, false);
	assert_int_equal(nq, 4);
	assert_int_equal(f->nq, 4);
	for (unsigned q = 0; q < 4; q++) {
		assert_int_equal(rw(f, q, VIRTIO_BLK_T_IN, q, buf, 512, NULL), VIRTIO_BLK_S_OK);
		assert_int_equal(((uint8_t *)vqd_ptr(&f->h, buf, 512))[5], pattern(q * 512 + 5));
		assert_int_equal(f->h.queue_irqs[q], 1);
	}
}

/* Many requests on every queue at once, more than one queue's worth. */
static void test_many_in_flight(void **state)
{
	struct fx *f = *state;
	enum { PER_Q = QSIZE / 3, LEN = 4096 }; /* 3 descriptors each */
	uint64_t bufs[4][PER_Q], st[4][PER_Q];
	unsigned done = 0;

	for (unsigned q = 0; q < f->nq; q++) {
		for (unsigned i = 0; i < PER_Q; i++) {
			uint64_t sector = (q * PER_Q + i) * (LEN / 512);
			struct vqd_seg segs[3] = {
				{ header(f, VIRTIO_BLK_T_IN, sector), 16, false },
				{ bufs[q][i] = vqd_alloc(&f->h, LEN), LEN, true },
				{ st[q][i] = vqd_alloc(&f->h, 1), 1, true },
			};

			vqd_add(&f->d[q], segs, 3);
		}
		virtq_kick(&f->b->vdev.vqs[q]);
	}
	for (unsigned q = 0; q < f->nq; q++) {
		uint32_t id, len;

		while (done < (q + 1) * PER_Q && wait_used(f, q, &id, &len)) {
			assert_int_equal(len, LEN + 1);
			done++;
		}
	}
	assert_int_equal(done, f->nq * PER_Q);
	for (unsigned q = 0; q < f->nq; q++)
		for (unsigned i = 0; i < PER_Q; i++) {
			uint64_t off = (uint64_t)(q * PER_Q + i) * LEN;

			assert_int_equal(*(uint8_t *)vqd_ptr(&f->h, st[q][i], 1), 0);
			assert_int_equal(((uint8_t *)vqd_ptr(&f->h, bufs[q][i], LEN))[LEN - 1],
					 pattern(off + LEN - 1));
		}
}

/*
 * Holds I/O in flight for as long as a test wants: guest pages no one has
 * touched yet, registered with userfaultfd, so the kernel's copy into or out
 * of them waits until a helper thread fills them in, delay_ms after the
 * first fault. With the thread backend, requests that meet them are in
 * flight, deterministically. (io_uring copies within the submission, so its
 * submitter would wait instead: its tests run without the gate.)
 */
struct gate {
	int fd;
	uint8_t *base;
	size_t len;
	int delay_ms;
	uint8_t fill;
	pthread_t thread;
	unsigned filled;
};

#define PAGE 4096u

static void *gate_thread(void *opaque)
{
	struct gate *g = opaque;
	static uint8_t page[PAGE];
	struct pollfd pfd = { .fd = g->fd, .events = POLLIN };
	struct uffd_msg msg;

	memset(page, g->fill, PAGE);
	while (g->filled < g->len / PAGE && poll(&pfd, 1, 5000) > 0) {
		struct uffdio_copy copy;

		if (read(g->fd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		if (!g->filled)
			usleep((useconds_t)g->delay_ms * 1000);
		copy = (struct uffdio_copy){ .dst = msg.arg.pagefault.address & ~(PAGE - 1ull),
					     .src = (uintptr_t)page, .len = PAGE };
		if (ioctl(g->fd, UFFDIO_COPY, &copy) == 0)
			g->filled++;
	}
	return NULL;
}

/* false for io_uring, or where userfaultfd is not allowed: fill the pages then. */
static bool gate_open(struct fx *f, struct gate *g, void *base, size_t len, uint8_t fill,
		      int delay_ms)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .range = { (uintptr_t)base, len },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };

	*g = (struct gate){ .base = base, .len = len, .fill = fill, .delay_ms = delay_ms };
	g->fd = strcmp(f->aio, "threads") ? -1
					  : (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (g->fd < 0) {
		memset(base, fill, len);
		return false;
	}
	if (ioctl(g->fd, UFFDIO_API, &api) || ioctl(g->fd, UFFDIO_REGISTER, &reg)) {
		close(g->fd);
		memset(base, fill, len);
		return false;
	}
	assert_int_equal(pthread_create(&g->thread, NULL, gate_thread, g), 0);
	return true;
}

static void gate_close(struct gate *g)
{
	if (g->fd < 0)
		return;
	pthread_join(g->thread, NULL);
	close(g->fd);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Guest RAM no test has touched: [12 MiB, +len). */
#define UNTOUCHED (12u << 20)

/*
 * A reset with reads in flight: it waits for them, nothing is answered
 * afterwards and the buffers do not change any more.
 */
static void test_reset_in_flight(void **state)
{
	struct fx *f = *state;
	enum { N = QSIZE / 3, LEN = 2 * PAGE };
	uint8_t *p = vqd_ptr(&f->h, UNTOUCHED, N * LEN), *snap = malloc(N * LEN);
	uint64_t buf = vqd_alloc(&f->h, 512);
	struct gate g;
	uint32_t id, len;
	bool gated = gate_open(f, &g, p, N * LEN, 0xaa, 100);
	double t0;

	for (unsigned i = 0; i < N; i++) {
		struct vqd_seg segs[3] = { { header(f, VIRTIO_BLK_T_IN, i * (LEN / 512)), 16, false },
					   { UNTOUCHED + i * LEN, LEN, true },
					   { vqd_alloc(&f->h, 1), 1, true } };

		vqd_add(&f->d[0], segs, 3);
	}
	virtq_kick(&f->b->vdev.vqs[0]);
	evloop_run_once(&f->h.loop, 1000); /* the doorbell: requests sent, held at the gate */
	if (gated)
		assert_int_equal(f->b->aio.inflight, N);
	while (vqd_used(&f->d[0], &id, &len)) /* answered within the submission */
		assert_false(gated);
	t0 = now_ms();
	pthread_mutex_lock(&f->b->vdev.lock);
	virtio_set_status(&f->b->vdev, 0);
	pthread_mutex_unlock(&f->b->vdev.lock);
	if (gated)
		assert_true(now_ms() - t0 >= 90); /* it waited for the gate */
	assert_int_equal(f->b->aio.inflight, 0);
	gate_close(&g);
	memcpy(snap, p, N * LEN);
	for (unsigned i = 0; i < N * LEN; i += 511)
		assert_int_equal(p[i], pattern(i));
	for (int i = 0; i < 5; i++)
		evloop_run_once(&f->h.loop, 10);
	assert_false(vqd_used(&f->d[0], &id, &len));
	assert_memory_equal(snap, p, N * LEN);
	free(snap);
	/* The driver sets the device up again; it works. */
	vqd_set_features(&f->b->vdev, ~0ull);
	vqd_queue_init(&f->d[0], &f->h, &f->b->vdev.vqs[0], QSIZE);
	vqd_driver_ok(&f->b->vdev);
	assert_int_equal(rw(f, 0, VIRTIO_BLK_T_IN, 3, buf, 512, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(((uint8_t *)vqd_ptr(&f->h, buf, 512))[1], pattern(3 * 512 + 1));
	assert_null(strstr(vqd_log(&f->h), "error"));
}

/* Destroying the device (VM exit) finishes the writes in flight first. */
static void test_exit_completes_writes(void **state)
{
	struct fx *f = *state;
	enum { N = QSIZE / 3, LEN = 2 * PAGE };
	struct gate g;
	uint8_t file[LEN];
	bool gated = gate_open(f, &g, vqd_ptr(&f->h, UNTOUCHED, N * LEN), N * LEN, 0x5c, 100);
	int fd;

	for (unsigned i = 0; i < N; i++) {
		struct vqd_seg segs[3] = { { header(f, VIRTIO_BLK_T_OUT, i * (LEN / 512)), 16, false },
					   { UNTOUCHED + i * LEN, LEN, false },
					   { vqd_alloc(&f->h, 1), 1, true } };

		vqd_add(&f->d[0], segs, 3);
	}
	virtq_kick(&f->b->vdev.vqs[0]);
	evloop_run_once(&f->h.loop, 1000);
	if (gated)
		assert_int_equal(f->b->aio.inflight, N);
	stop(f);
	gate_close(&g);
	fd = open(f->path, O_RDONLY);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(pread(fd, file, LEN, (off_t)i * LEN), LEN);
		for (unsigned j = 0; j < LEN; j += 97)
			assert_int_equal(file[j], 0x5c);
	}
	close(fd);
}

static void expect_parse_error(struct fx *f, const char *text, const char *msg)
{
	struct devspec spec;
	struct blk_config cfg;

	vqd_log(&f->h);
	f->h.loglen = 0;
	assert_int_equal(devspec_parse(&spec, text, &f->h.log), 0);
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(virtio_blk_kind.parse(&spec, &cfg, &f->h.log), -EINVAL);
	virtio_blk_kind.config_free(&cfg);
	devspec_free(&spec);
	if (!strstr(vqd_log(&f->h), msg))
		fail_msg("log '%s' lacks '%s'", vqd_log(&f->h), msg);
}

static void test_parse(void **state)
{
	struct fx *f = *state;
	char text[256];

	expect_parse_error(f, "virtio-blk,readonly=on", "file=PATH is required");
	expect_parse_error(f, "virtio-blk,file=/nonexistent.img", "No such file");
	expect_parse_error(f, "virtio-blk,file=/tmp", "not a regular file");
	snprintf(text, sizeof(text), "virtio-blk,file=%s,serial=123456789012345678901", f->path);
	expect_parse_error(f, text, "longer than 20");
	snprintf(text, sizeof(text), "virtio-blk,file=%s,num-queues=0", f->path);
	expect_parse_error(f, text, "num-queues");
	snprintf(text, sizeof(text), "virtio-blk,file=%s,num-queues=17", f->path);
	expect_parse_error(f, text, "num-queues");
	snprintf(text, sizeof(text), "virtio-blk,file=%s,aio=posix", f->path);
	expect_parse_error(f, text, "expected auto, io_uring or threads");
	snprintf(text, sizeof(text), "virtio-blk,file=%s,readonly=maybe", f->path);
	expect_parse_error(f, text, "readonly");
}

#define T(fn, setup_fn)                                                            \
	{ #fn "/io_uring", fn, setup_fn, teardown, (void *)"io_uring" },          \
	{ #fn "/threads", fn, setup_fn, teardown, (void *)"threads" }

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_config, setup),
		T(test_read_write, setup),
		T(test_any_layout, setup),
		T(test_flush_get_id, setup),
		T(test_discard_zeroes, setup),
		T(test_bad_requests, setup),
		T(test_no_status, setup),
		T(test_readonly, setup_ro),
		T(test_multiqueue, setup_mq),
		T(test_many_in_flight, setup_mq),
		T(test_reset_in_flight, setup),
		T(test_exit_completes_writes, setup),
		{ "test_parse", test_parse, setup, teardown, (void *)"io_uring" },
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

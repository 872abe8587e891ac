/*
 * virtio-blk: a raw image as a virtio 1.x block device with several
 * request queues, read-only mode, flush, discard and write-zeroes. Requests
 * are handled in blk_req.c; this file is the device's life: options,
 * features and configuration space, completions, reset and the final flush.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hw/device.h"
#include "hw/virtio/blk.h"
#include "hw/virtio/devices.h"

#define BLK_CONFIG_SIZE offsetof(struct virtio_blk_config, max_secure_erase_sectors)
#define BLK_AIO_DEPTH_MAX 1024

static int parse_aio(const struct devspec *spec, const char *s, enum blk_aio_mode *mode,
		     const struct logger *log)
{
	if (!s || !strcmp(s, "auto"))
		*mode = BLK_AIO_AUTO;
	else if (!strcmp(s, "io_uring"))
		*mode = BLK_AIO_URING;
	else if (!strcmp(s, "threads"))
		*mode = BLK_AIO_THREADS;
	else {
		log_error(log, "--device %s: aio=%s: expected auto, io_uring or threads",
			  spec->text, s);
		return -EINVAL;
	}
	return 0;
}

static int blk_parse(struct devspec *spec, void *config, const struct logger *log)
{
	struct blk_config *c = config;
	const char *file = devspec_get(spec, "file");
	const char *serial = devspec_get(spec, "serial");
	uint64_t nq;
	bool ro;
	int err;

	memset(c, 0, sizeof(*c));
	if (!file || !*file) {
		log_error(log, "--device %s: file=PATH is required", spec->text);
		return -EINVAL;
	}
	if (serial && strlen(serial) > VIRTIO_BLK_ID_BYTES) {
		log_error(log, "--device %s: serial is longer than %d bytes", spec->text,
			  VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	err = devspec_bool(spec, "readonly", false, &ro, log);
	if (!err)
		err = devspec_u64(spec, "num-queues", 1, 1, BLK_MAX_QUEUES, &nq, log);
	if (!err)
		err = parse_aio(spec, devspec_get(spec, "aio"), &c->aio, log);
	if (err)
		return err;
	if (serial)
		memcpy(c->serial, serial, strlen(serial));
	c->num_queues = (unsigned)nq;
	c->path = strdup(file);
	if (!c->path)
		return -ENOMEM;
	err = blk_image_open(&c->img, file, ro, log);
	if (err) {
		free(c->path);
		c->path = NULL;
	}
	return err;
}

/* Safe on a config parse() failed to fill: path is set only with the image open. */
static void blk_config_free(void *config)
{
	struct blk_config *c = config;

	if (!c->path)
		return;
	blk_image_close(&c->img);
	free(c->path);
	c->path = NULL;
}

static void fill_config(struct blk_dev *b)
{
	struct virtio_blk_config c;

	memset(&c, 0, sizeof(c));
	c.capacity = htole64(b->sectors);
	c.seg_max = htole32(BLK_SEG_MAX);
	c.blk_size = htole32(BLK_SECTOR_SIZE);
	c.num_queues = htole16((uint16_t)b->nqueues);
	c.max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	c.max_discard_seg = htole32(1);
	c.discard_sector_alignment = htole32(BLK_DISCARD_ALIGN);
	c.max_write_zeroes_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
	c.max_write_zeroes_seg = htole32(1);
	memcpy(b->vdev.config, &c, BLK_CONFIG_SIZE);
}

static uint64_t blk_features(const struct blk_config *cfg)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_MQ;

	if (cfg->img.readonly)
		return f | 1ull << VIRTIO_BLK_F_RO;
	return f | 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
}

static void blk_queue_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct blk_dev *b = vdev->opaque;

	if (vq->index < b->nqueues)
		blk_process_queue(&b->queues[vq->index]);
}

/* As the core checks before queue_notify(). */
static bool queue_live(const struct blk_dev *b, const struct blk_queue *q)
{
	uint8_t st = b->vdev.status;

	return (st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	       q->vq->enabled && !q->vq->broken;
}

/* The backend finished requests (loop thread). */
static void blk_aio_ready(void *opaque)
{
	struct blk_dev *b = opaque;

	pthread_mutex_lock(&b->vdev.lock);
	blk_reap(b);
	for (unsigned i = 0; i < b->nqueues; i++) {
		struct blk_queue *q = &b->queues[i];

		if (q->stalled && queue_live(b, q)) {
			blk_process_queue(q);
		} else if (q->pushed) {
			q->pushed = false;
			virtq_notify(q->vq);
		}
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

/* Waits for every request in flight and drops it unanswered (vdev.lock held). */
static void blk_drain(struct blk_dev *b)
{
	struct blk_aio_req *a;

	if (!b->aio_live)
		return;
	blk_aio_wait(&b->aio);
	while ((a = blk_aio_reap(&b->aio)))
		blk_req_release(a->opaque);
	for (unsigned i = 0; i < b->nqueues; i++)
		b->queues[i].stalled = b->queues[i].pushed = false;
}

/*
 * The kernel writes into guest memory until a read completes: waiting here
 * (a rare, driver-initiated event) is what keeps a request from before the
 * reset from landing in memory the driver has reused since.
 */
static void blk_reset(struct virtio_dev *vdev)
{
	blk_drain(vdev->opaque);
}

/* Only a driver that negotiated CONFIG_WCE may write; it was not offered. */
static void blk_config_write(struct virtio_dev *vdev, unsigned off, const void *data,
			     unsigned size)
{
}

static const struct virtio_dev_ops blk_ops = {
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.config_write = blk_config_write,
};

static int start_aio(struct blk_dev *b, const struct dev_host *host)
{
	unsigned depth = b->nqueues * BLK_QUEUE_SIZE;
	struct blk_aio_config ac = {
		.fd = b->cfg->img.fd,
		.depth = depth > BLK_AIO_DEPTH_MAX ? BLK_AIO_DEPTH_MAX : depth,
		.mode = b->cfg->aio,
		.loop = host->loop,
		.ready = blk_aio_ready,
		.opaque = b,
		.log = host->log,
	};
	int err = blk_aio_init(&b->aio, &ac);

	b->aio_live = !err;
	return err;
}

static int blk_dev_init(struct blk_dev *b, const struct dev_host *host,
		       const struct blk_config *cfg)
{
	int err;

	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	b->log = host->log;
	b->sectors = cfg->img.size / BLK_SECTOR_SIZE;
	b->nqueues = cfg->num_queues;
	err = virtio_dev_init(&b->vdev, "virtio-blk", VIRTIO_ID_BLOCK, &blk_ops, b, host,
			      b->nqueues, BLK_QUEUE_SIZE, blk_features(cfg), BLK_CONFIG_SIZE);
	if (err)
		return err;
	fill_config(b);
	for (unsigned i = 0; i < b->nqueues; i++)
		b->queues[i] = (struct blk_queue){ .blk = b, .vq = &b->vdev.vqs[i] };
	err = start_aio(b, host);
	if (err)
		virtio_dev_destroy(&b->vdev);
	return err;
}

/* Waits for the I/O in flight, makes it durable, frees the queues' pools. */
static void blk_dev_fini(struct blk_dev *b)
{
	int err;

	pthread_mutex_lock(&b->vdev.lock);
	blk_drain(b);
	b->aio_live = false;
	pthread_mutex_unlock(&b->vdev.lock);
	blk_aio_destroy(&b->aio);
	err = blk_image_sync(&b->cfg->img);
	if (err)
		log_error(b->log, "virtio-blk: %s: fdatasync: %s", b->cfg->path, strerror(-err));
	virtio_dev_destroy(&b->vdev);
	for (unsigned i = 0; i < b->nqueues; i++)
		blk_free_pool(&b->queues[i]);
}

static int blk_create(const struct dev_host *host, void *config, void **state)
{
	const struct blk_config *cfg = config;
	struct blk_dev *b = malloc(sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	err = blk_dev_init(b, host, cfg);
	if (err)
		goto fail;
	err = virtio_dev_attach(&b->vdev);
	if (err)
		goto fail_dev;
	log_info(b->log, "virtio-blk: %s: %llu sectors%s, %u queue(s), %s", cfg->path,
		 (unsigned long long)b->sectors, cfg->img.readonly ? ", read-only" : "",
		 b->nqueues, blk_aio_mode_name(b->aio.mode));
	*state = b;
	return 0;
fail_dev:
	blk_dev_fini(b);
fail:
	free(b);
	return err;
}

/* VM exit (including Ctrl-A x and a guest reset): finish I/O, make it durable. */
static void blk_destroy(void *state)
{
	blk_dev_fini(state);
	free(state);
}

/*
 * In a device process: I/O on the open image through io_uring, or with
 * blocking calls on worker threads (aio=threads, or no io_uring here) that
 * start with the first request. Threads only: clone() with the thread
 * flags and no namespace flag; clone3() (whose flags a filter cannot see)
 * says ENOSYS, so glibc falls back to clone(). The kernel's own io_uring
 * workers count against RLIMIT_NPROC too.
 */
#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
		  CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

static const struct sandbox_rule blk_rules[] = {
	SANDBOX_ALLOW("io_uring_enter"),
	SANDBOX_ALLOW("pread64"),
	SANDBOX_ALLOW("pwrite64"),
	SANDBOX_ALLOW("preadv"),
	SANDBOX_ALLOW("pwritev"),
	SANDBOX_ALLOW("fallocate"),
	SANDBOX_ALLOW("fdatasync"),
	SANDBOX_ALLOW("fsync"),
	SANDBOX_ALLOW_MASKED("clone", 0, THREAD_FLAGS | NS_FLAGS, THREAD_FLAGS),
	SANDBOX_FAIL("clone3", ENOSYS),
	SANDBOX_ALLOW("set_robust_list"),
	SANDBOX_ALLOW("rseq"),
};

static const struct device_sandbox blk_sandbox = {
	SANDBOX_RULES(blk_rules),
	.max_files = 128,  /* up to 16 queues: a doorbell and an interrupt fd each */
	.max_threads = 64, /* two workers, the kernel's io_uring workers */
};

static const struct device_sandbox *blk_sandbox_for(const void *config)
{
	return &blk_sandbox;
}

const struct device_kind virtio_blk_kind = {
	.name = "virtio-blk",
	.usage = "virtio-blk,file=PATH[,readonly=on][,serial=STR][,num-queues=N]"
		 "[,aio=auto|io_uring|threads]",
	.config_size = sizeof(struct blk_config),
	.parse = blk_parse,
	.config_free = blk_config_free,
	.create = blk_create,
	.destroy = blk_destroy,
	.sandbox = blk_sandbox_for,
};

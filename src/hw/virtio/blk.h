/*
 * virtio-blk internals shared by the device (blk.c) and its request
 * handling (blk_req.c). The rest of the VMM sees only virtio_blk_kind.
 */
#ifndef HW_VIRTIO_BLK_H
#define HW_VIRTIO_BLK_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/block/aio.h"
#include "hw/block/image.h"
#include "hw/virtio/virtio.h"

#define BLK_QUEUE_SIZE 256
#define BLK_MAX_QUEUES 16
#define BLK_SEG_MAX (VIRTQ_MAX_SEGS - 2) /* data segments: not the header and status */
#define BLK_MAX_DISCARD_SECTORS 0x3fffffu
#define BLK_DISCARD_ALIGN 8u /* sectors: 4 KiB, a host file system block */

/* What parse() made of the spec; outlives the device. */
struct blk_config {
	char *path;
	struct blk_image img;
	char serial[VIRTIO_BLK_ID_BYTES]; /* zero-padded, no terminator when full */
	unsigned num_queues;
	enum blk_aio_mode aio;
};

struct blk_queue;

struct blk_req {
	struct blk_aio_req aio;
	struct blk_queue *q;
	uint8_t *status;   /* the chain's last writable byte, in guest RAM */
	uint32_t used_len; /* bytes written for the driver, status included */
	struct blk_req *next_free;
	struct virtq_req vreq; /* its iov is cut in place to the data */
};

struct blk_queue {
	struct blk_dev *blk;
	struct virtq *vq;
	struct blk_req *free_list;
	bool stalled; /* left requests on the ring: no room in the backend */
	bool pushed;  /* used entries not yet notified */
};

struct blk_dev {
	struct virtio_dev vdev;
	const struct blk_config *cfg;
	const struct logger *log;
	uint64_t sectors;
	struct blk_aio aio;
	bool aio_live; /* aio is set up and may hold requests */
	unsigned nqueues;
	struct blk_queue queues[BLK_MAX_QUEUES];
};

/* blk_req.c, with vdev.lock held. */
/* Takes requests from q while the backend has room; sends them. */
void blk_process_queue(struct blk_queue *q);
/* A backend request is done: answer the driver. */
void blk_finish(struct blk_req *r, int result);
/* Answers every request the backend has finished; how many. */
unsigned blk_reap(struct blk_dev *b);
/* Returns r to its queue's pool without answering (reset, destroy). */
void blk_req_release(struct blk_req *r);
void blk_free_pool(struct blk_queue *q);

#endif

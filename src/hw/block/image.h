/*
 * Raw disk images: a regular file or a block device, opened when the VM
 * loads so that a wrong path is bad input (exit status 2), not a failure
 * half-way through device creation.
 */
#ifndef HW_BLOCK_IMAGE_H
#define HW_BLOCK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

struct logger;

#define BLK_SECTOR_SIZE 512u

struct blk_image {
	int fd;
	bool readonly;
	bool is_blkdev;
	uint64_t size; /* bytes, a multiple of BLK_SECTOR_SIZE (a partial tail is ignored) */
};

/*
 * Opens path for reading and, unless readonly, writing, and locks it against
 * other writers. A missing file, anything but a regular file or block
 * device, a file that cannot be written without readonly=on, or an image in
 * use: logged, -EINVAL.
 */
int blk_image_open(struct blk_image *img, const char *path, bool readonly,
		   const struct logger *log);
/* Makes what was written durable (fdatasync); 0 or -errno. */
int blk_image_sync(const struct blk_image *img);
/* Safe after a failed open and twice. */
void blk_image_close(struct blk_image *img);

#endif

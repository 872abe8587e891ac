/* Raw disk images (see image.h). */
#include "hw/block/image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static int open_fd(const char *path, bool readonly, const struct logger *log)
{
	int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == EISDIR)
		log_error(log, "%s: not a regular file or a block device", path);
	else if (!readonly && (errno == EROFS || errno == EACCES || errno == EPERM) &&
	    access(path, R_OK) == 0)
		log_error(log, "%s: cannot be written (%s); add readonly=on", path,
			  strerror(errno));
	else
		log_error(log, "%s: %s", path, strerror(errno));
	return -EINVAL;
}

static int image_size(struct blk_image *img, const char *path, const struct logger *log)
{
	struct stat st;
	uint64_t size;

	if (fstat(img->fd, &st) < 0) {
		log_error(log, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		img->is_blkdev = true;
		if (ioctl(img->fd, BLKGETSIZE64, &size) < 0) {
			log_error(log, "%s: cannot read its size: %s", path, strerror(errno));
			return -EINVAL;
		}
	} else {
		log_error(log, "%s: not a regular file or a block device", path);
		return -EINVAL;
	}
	if (size % BLK_SECTOR_SIZE)
		log_warn(log, "%s: the last %u bytes (not a whole sector) are not used", path,
			 (unsigned)(size % BLK_SECTOR_SIZE));
	img->size = size - size % BLK_SECTOR_SIZE;
	return 0;
}

/* Two writers (or a writer and a reader) on one image corrupt it: refuse. */
static int lock_image(struct blk_image *img, const char *path, const struct logger *log)
{
	if (flock(img->fd, (img->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		log_error(log, "%s: in use by another process%s", path,
			  img->readonly ? " for writing" : "");
	else
		log_error(log, "%s: cannot lock it: %s", path, strerror(errno));
	return -EINVAL;
}

int blk_image_open(struct blk_image *img, const char *path, bool readonly,
		   const struct logger *log)
{
	int err;

	memset(img, 0, sizeof(*img));
	img->readonly = readonly;
	img->fd = open_fd(path, readonly, log);
	if (img->fd < 0) {
		err = img->fd;
		img->fd = -1;
		return err;
	}
	err = image_size(img, path, log);
	if (!err)
		err = lock_image(img, path, log);
	if (err)
		blk_image_close(img);
	return err;
}

int blk_image_sync(const struct blk_image *img)
{
	if (img->fd < 0 || img->readonly)
		return 0;
	return fdatasync(img->fd) < 0 ? -errno : 0;
}

void blk_image_close(struct blk_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

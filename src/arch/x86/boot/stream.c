/*
 * A struct kstream over a range of a file, read with pread straight into the
 * caller's buffer (guest RAM, usually).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/boot/boot.h"

int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int file_stream_read(struct kstream *s, void *dst, size_t len)
{
	struct file_stream *fs = (struct file_stream *)s;
	int err;

	if (len > s->size - s->pos)
		return -ENODATA;
	err = pread_full(fs->fd, dst, len, fs->base + s->pos);
	if (err && err != -ENODATA) {
		log_error(fs->lg, "%s: read failed: %s", fs->name, strerror(-err));
		return -EIO;
	}
	s->pos += len;
	return err;
}

static int file_stream_skip(struct kstream *s, uint64_t len)
{
	if (len > s->size - s->pos)
		return -ENODATA;
	s->pos += len;
	return 0;
}

static void file_stream_rewind(struct kstream *s, uint64_t pos)
{
	s->pos = pos;
}

void file_stream_init(struct file_stream *fs, int fd, uint64_t base, uint64_t size,
		      const struct logger *lg, const char *name)
{
	*fs = (struct file_stream){
		.s = { .read = file_stream_read, .skip = file_stream_skip,
		       .rewind = file_stream_rewind, .size = size },
		.fd = fd, .base = base, .lg = lg, .name = name,
	};
}

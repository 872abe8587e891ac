/*
 * The kernel file: opened once, recognised as a bzImage or an ELF64 file
 * (vmlinux or a test guest) and loaded into guest RAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"

int boot_open_file(const struct logger *lg, const char *what, const char *path,
		   uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int err = errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EACCES;

		log_error(lg, "%s %s: %s", what, path, strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error(lg, "%s %s: not a regular file", what, path);
		close(fd);
		return -EACCES;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* A vmlinux or test guest gets a minimal header: the kernel reads a few fields. */
static void synth_setup_header(struct x86_kernel *k)
{
	struct setup_header *h = &k->setup.hdr;

	memset(&k->setup, 0, sizeof(k->setup));
	k->hdr_len = sizeof(*h);
	h->boot_flag = BOOT_FLAG_MAGIC;
	h->header = BOOT_HDR_MAGIC;
	h->version = 0x020f;
	h->loadflags = LOADED_HIGH;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x1000000;
	h->xloadflags = XLF_KERNEL_64;
	h->cmdline_size = X86_CMDLINE_MAX - 1;
}

static int load_elf_file(int fd, uint64_t size, struct guest_memory *mem,
			 const struct logger *lg, const char *name, struct x86_kernel *out)
{
	struct file_stream fs;
	struct elf_image img;
	int err;

	file_stream_init(&fs, fd, 0, size, lg, name);
	err = elf_load(&fs.s, mem, lg, name, &img);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	synth_setup_header(out);
	out->entry = img.entry;
	out->lo = img.lo;
	out->hi = img.hi;
	out->format = "elf";
	log_info(lg, "%s: ELF loaded at 0x%" PRIx64 "-0x%" PRIx64 ", entry 0x%" PRIx64,
		 name, img.lo, img.hi, img.entry);
	return 0;
}

int x86_load_kernel(struct guest_memory *mem, const struct logger *lg, const char *path,
		    enum kernel_unpack mode, struct x86_kernel *out)
{
	uint8_t head[BOOT_HDR_AREA_END];
	struct bzimage bz;
	uint64_t size;
	size_t n;
	char *name;
	int fd, err;

	if (asprintf(&name, "kernel %s", path) < 0)
		return -ENOMEM;
	fd = boot_open_file(lg, "kernel", path, &size);
	if (fd < 0) {
		free(name);
		return fd;
	}
	n = size < sizeof(head) ? (size_t)size : sizeof(head);
	err = pread_full(fd, head, n, 0);
	if (err) {
		log_error(lg, "%s: read failed: %s", name, strerror(err == -ENODATA ? EIO : -err));
		err = -EIO;
	} else if (n >= 4 && !memcmp(head, "\x7f" "ELF", 4)) {
		err = load_elf_file(fd, size, mem, lg, name, out);
	} else if (bzimage_probe(head, n)) {
		err = bzimage_parse(head, n, size, lg, name, &bz);
		if (!err)
			err = bzimage_load(fd, &bz, mode, mem, lg, name, out);
	} else {
		log_error(lg, "%s: neither a bzImage nor an ELF file", name);
		err = -ENOEXEC;
	}
	close(fd);
	free(name);
	return err;
}

/*
 * bzImage kernels: the setup header (Documentation/x86/boot.rst) is checked
 * field by field, then either the compressed payload is unpacked by the VMM
 * and its vmlinux loaded like any ELF (UNPACK_VMM), or the protected-mode
 * code is loaded as is and decompresses itself in the guest (UNPACK_GUEST).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"

static int bz_bad(const struct logger *lg, const char *name, const char *what)
{
	log_error(lg, "%s: %s", name, what);
	return -ENOEXEC;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

bool bzimage_probe(const uint8_t *buf, size_t len)
{
	return len >= 0x206 && !memcmp(buf + 0x202, "HdrS", 4);
}

/* Where the payload and protected-mode code lie; all checked against the file. */
static int bz_check_layout(const struct setup_header *h, const struct logger *lg,
			   const char *name, struct bzimage *out)
{
	unsigned sects = h->setup_sects ? h->setup_sects : BOOT_DEFAULT_SETUP_SECTS;

	out->pm_offset = (uint64_t)(sects + 1) * BOOT_SECTOR_SIZE;
	if (out->pm_offset >= out->file_size)
		return bz_bad(lg, name, "file ends inside the real-mode setup code (truncated)");
	out->payload_off = out->pm_offset + h->payload_offset;
	out->payload_len = h->payload_length;
	if (out->payload_len == 0 || out->payload_off >= out->file_size ||
	    out->payload_len > out->file_size - out->payload_off) {
		log_error(lg, "%s: compressed payload (offset 0x%" PRIx64 ", 0x%" PRIx64
			  " bytes) lies outside the file (0x%" PRIx64 " bytes)", name,
			  out->payload_off, out->payload_len, out->file_size);
		return -ENOEXEC;
	}
	return 0;
}

int bzimage_parse(const uint8_t *buf, size_t len, uint64_t file_size,
		  const struct logger *lg, const char *name, struct bzimage *out)
{
	const struct setup_header *h = &out->setup.hdr;
	size_t end;
	char msg[96];

	memset(out, 0, sizeof(*out));
	out->file_size = file_size;
	if (len < 0x208 || !bzimage_probe(buf, len))
		return bz_bad(lg, name, "setup header is truncated");
	if (get16(buf + 0x1fe) != BOOT_FLAG_MAGIC)
		return bz_bad(lg, name, "bad boot_flag (not 0xAA55): not a bzImage");
	if (get16(buf + 0x206) < BOOT_MIN_VERSION) {
		snprintf(msg, sizeof(msg), "boot protocol %u.%02u is too old (2.12 or later needed)",
			 buf[0x207], buf[0x206]);
		return bz_bad(lg, name, msg);
	}
	end = 0x202 + (size_t)buf[BOOT_HDR_JUMP_END];
	if (end > BOOT_HDR_AREA_END || end < BOOT_HDR_OFFSET + offsetof(struct setup_header,
									 handover_offset))
		return bz_bad(lg, name, "setup header length (byte at 0x201) is invalid");
	if (end > len)
		return bz_bad(lg, name, "setup header is truncated");
	out->hdr_len = end - BOOT_HDR_OFFSET;
	memcpy(out->setup.raw, buf + BOOT_HDR_OFFSET, out->hdr_len);
	if (!(h->loadflags & LOADED_HIGH))
		return bz_bad(lg, name, "not a bzImage (LOADED_HIGH not set)");
	if (!(h->xloadflags & XLF_KERNEL_64))
		return bz_bad(lg, name, "kernel has no 64-bit entry point (XLF_KERNEL_64 not set)");
	return bz_check_layout(h, lg, name, out);
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Opens the payload as a stream: a decompressor, or the file for raw ELF. */
static int bz_open_payload(int fd, const struct bzimage *bz, const struct logger *lg,
			   const char *name, struct file_stream *raw, struct kstream **s,
			   const char **format)
{
	uint8_t magic[6] = { 0 };
	size_t n = bz->payload_len < sizeof(magic) ? (size_t)bz->payload_len : sizeof(magic);
	bool supported;
	int err = pread_full(fd, magic, n, bz->payload_off);

	if (err)
		return bz_bad(lg, name, "cannot read the compressed payload");
	if (n >= 4 && !memcmp(magic, "\x7f" "ELF", 4)) {
		file_stream_init(raw, fd, bz->payload_off, bz->payload_len, lg, name);
		*s = &raw->s;
		*format = "uncompressed";
		return 0;
	}
	*format = unpack_detect(magic, n, &supported);
	if (!*format) {
		log_error(lg, "%s: unknown payload compression (magic %02x %02x %02x %02x)",
			  name, magic[0], magic[1], magic[2], magic[3]);
		return -ENOEXEC;
	}
	if (!supported) {
		log_error(lg, "%s: unsupported compression %s (gzip, xz, lzma and zstd are "
			  "supported)", name, *format);
		return -ENOEXEC;
	}
	return unpack_open(fd, bz->payload_off, bz->payload_len, lg, name, s);
}

static int bz_load_vmm(int fd, const struct bzimage *bz, struct guest_memory *mem,
		       const struct logger *lg, const char *name, struct x86_kernel *out)
{
	struct file_stream raw;
	struct kstream *s = NULL;
	struct elf_image img;
	struct timespec t0;
	char *ename = NULL;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = bz_open_payload(fd, bz, lg, name, &raw, &s, &out->format);
	if (err)
		return err;
	if (asprintf(&ename, "%s: vmlinux in %s payload", name, out->format) < 0) {
		ename = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = elf_load(s, mem, lg, ename, &img);
	if (!err && s != &raw.s)
		err = unpack_finish(s);
	if (err)
		goto out;
	out->entry = img.entry;
	out->lo = img.lo;
	out->hi = img.hi;
	out->unpacked = s->pos;
	log_info(lg, "%s: %s payload unpacked by the VMM: %" PRIu64 " bytes in %.1f ms, "
		 "vmlinux at 0x%" PRIx64 "-0x%" PRIx64 ", entry 0x%" PRIx64, name, out->format,
		 out->unpacked, elapsed_ms(&t0), img.lo, img.hi, img.entry);
out:
	if (s != &raw.s)
		unpack_close(s);
	free(ename);
	return err;
}

/* The protected-mode code at pref_address; it decompresses itself. */
static int bz_load_guest(int fd, const struct bzimage *bz, struct guest_memory *mem,
			 const struct logger *lg, const char *name, struct x86_kernel *out)
{
	const struct setup_header *h = &bz->setup.hdr;
	uint64_t pm_size = bz->file_size - bz->pm_offset;
	uint64_t need = h->init_size > pm_size ? h->init_size : pm_size;
	uint64_t addr = h->pref_address, align = h->kernel_alignment;
	void *dst;
	int err;

	if (h->relocatable_kernel) {
		if (align < 4096 || (align & (align - 1)))
			return bz_bad(lg, name, "kernel_alignment is not a power of two");
		addr = (addr + align - 1) & ~(align - 1);
	}
	dst = gpa_to_hva(mem, gpa(addr), need);
	if (addr < X86_HIGH_MEM_START || addr + need < addr || !dst) {
		log_error(lg, "%s: kernel needs 0x%" PRIx64 "-0x%" PRIx64 " (init_size) which does "
			  "not fit in guest RAM (%" PRIu64 " MiB, usable from 1 MiB)", name, addr,
			  addr + need, mem->total >> 20);
		return -EFBIG;
	}
	err = pread_full(fd, dst, pm_size, bz->pm_offset);
	if (err) {
		log_error(lg, "%s: read failed: %s", name, strerror(err == -ENODATA ? EIO : -err));
		return -EIO;
	}
	out->entry = addr + BOOT_ENTRY64_OFFSET;
	out->lo = addr;
	out->hi = addr + need;
	out->format = "bzImage";
	log_info(lg, "%s: bzImage loaded at 0x%" PRIx64 " (decompresses itself), entry 0x%" PRIx64,
		 name, addr, out->entry);
	return 0;
}

int bzimage_load(int fd, const struct bzimage *bz, enum kernel_unpack mode,
		 struct guest_memory *mem, const struct logger *lg, const char *name,
		 struct x86_kernel *out)
{
	memset(out, 0, sizeof(*out));
	out->setup = bz->setup;
	out->hdr_len = bz->hdr_len;
	if (mode == UNPACK_GUEST)
		return bz_load_guest(fd, bz, mem, lg, name, out);
	return bz_load_vmm(fd, bz, mem, lg, name, out);
}

/*
 * The x86 guest loader, in pieces that work on a struct guest_memory and a
 * logger so that each can be tested without a whole VM.
 *
 * Every function that fails because of its input logs ONE error line naming
 * the file and returns -ENOENT, -EACCES, -ENOEXEC, -EFBIG or -EINVAL; callers
 * pass such errors up without logging again.
 */
#ifndef ARCH_X86_BOOT_BOOT_H
#define ARCH_X86_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot/boot_params.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/options.h"
#include "splitvm/cpu_state.h"

/* --- sequential byte sources (a file range or a decompressor) --- */

/*
 * read() delivers exactly len bytes, or returns -ENODATA (not logged) when
 * the source ends first, or another -errno (already logged).
 */
struct kstream {
	int (*read)(struct kstream *s, void *dst, size_t len);
	int (*skip)(struct kstream *s, uint64_t len);
	void (*rewind)(struct kstream *s, uint64_t pos); /* NULL: forward only */
	uint64_t pos;  /* bytes delivered or skipped so far */
	uint64_t size; /* total bytes, UINT64_MAX when unknown */
};

struct file_stream {
	struct kstream s;
	int fd;
	uint64_t base; /* file offset of byte 0 of the stream */
	const struct logger *lg;
	const char *name;
};

void file_stream_init(struct file_stream *fs, int fd, uint64_t base, uint64_t size,
		      const struct logger *lg, const char *name);
/* pread exactly len bytes at off; -ENODATA at end of file, -EIO otherwise. */
int pread_full(int fd, void *buf, size_t len, uint64_t off);

/* --- compressed payloads (unpack.c) --- */

/* The format's name ("gzip", "xz", "zstd", "lzma", "lz4", ...) or NULL. */
const char *unpack_detect(const uint8_t *magic, size_t len, bool *supported);
/* A stream decompressing [off, off+len) of fd. */
int unpack_open(int fd, uint64_t off, uint64_t len, const struct logger *lg,
		const char *name, struct kstream **out);
/* Decompresses what is left, so that checksums and truncation are caught. */
int unpack_finish(struct kstream *s);
void unpack_close(struct kstream *s);

/* --- ELF64 (elf_load.c) --- */

struct elf_image {
	uint64_t entry; /* guest-physical */
	uint64_t lo, hi; /* guest-physical extent of the loaded segments */
};

/* Loads every PT_LOAD segment at its p_paddr, streaming from s. */
int elf_load(struct kstream *s, struct guest_memory *mem, const struct logger *lg,
	     const char *name, struct elf_image *out);

/* --- the kernel (bzimage.c, kernel.c) --- */

union setup_area {
	uint8_t raw[BOOT_HDR_AREA_END - BOOT_HDR_OFFSET];
	struct setup_header hdr;
};

struct bzimage {
	union setup_area setup; /* bytes from 0x1f1; zero past hdr_len */
	size_t hdr_len;
	uint64_t file_size;
	uint64_t pm_offset;   /* protected-mode code: (setup_sects + 1) * 512 */
	uint64_t payload_off; /* file offset of the compressed payload */
	uint64_t payload_len;
};

struct x86_kernel {
	union setup_area setup; /* header for the zero page */
	size_t hdr_len;
	uint64_t entry;
	uint64_t lo, hi;      /* guest-physical range the kernel occupies */
	const char *format;   /* for logs: "elf", "gzip", "xz", ..., "bzImage" */
	uint64_t unpacked;    /* bytes unpacked by the VMM (0 if none) */
};

bool bzimage_probe(const uint8_t *buf, size_t len);
/* buf holds the file's first len bytes (at least up to the header's end). */
int bzimage_parse(const uint8_t *buf, size_t len, uint64_t file_size,
		  const struct logger *lg, const char *name, struct bzimage *out);
int bzimage_load(int fd, const struct bzimage *bz, enum kernel_unpack mode,
		 struct guest_memory *mem, const struct logger *lg, const char *name,
		 struct x86_kernel *out);
/* Loads a bzImage or an ELF64 x86-64 file. */
int x86_load_kernel(struct guest_memory *mem, const struct logger *lg, const char *path,
		    enum kernel_unpack mode, struct x86_kernel *out);
/* Opens a kernel or initrd for reading: one error line on failure. */
int boot_open_file(const struct logger *lg, const char *what, const char *path,
		   uint64_t *size);

/* --- initrd, command line, zero page, memory map --- */

struct x86_initrd {
	uint64_t addr;
	uint64_t size;
};

int x86_load_initrd(struct guest_memory *mem, const struct logger *lg, const char *path,
		    const struct x86_kernel *k, struct x86_initrd *out);
/* Highest initrd address allowed in [lo, end) for size bytes, or 0. */
uint64_t initrd_place(uint64_t lo, uint64_t end, uint64_t size);

int x86_write_cmdline(struct guest_memory *mem, const struct logger *lg, const char *cmdline,
		      const struct x86_kernel *k);
/* Number of entries written, or -ENOSPC. */
int x86_e820_build(const struct guest_memory *mem, struct e820_entry *out, unsigned max);
void x86_zero_page_fill(struct boot_params *bp, const struct guest_memory *mem,
			const struct x86_kernel *k, const struct x86_initrd *initrd);
int x86_write_zero_page(struct guest_memory *mem, const struct x86_kernel *k,
			const struct x86_initrd *initrd);

/* --- the boot CPU (boot_cpu.c) --- */

#define X86_BOOT_CS 0x10
#define X86_BOOT_DS 0x18

/* GDT, IDT and identity page tables in guest memory, and the register state. */
int x86_setup_boot_cpu(struct guest_memory *mem, uint64_t entry, struct cpu_boot_state *st);

/* --- all of it (load.c) --- */

int x86_load_guest(struct guest_memory *mem, const struct logger *lg,
		   const struct vm_config *cfg, struct cpu_boot_state *bsp);

#endif

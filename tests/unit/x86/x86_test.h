/*
 * Helpers for the x86 boot tests: guest memories, a captured log, temporary
 * files, and builders for tiny ELF64 files, compressed payloads and bzImages.
 */
#ifndef TESTS_UNIT_X86_TEST_H
#define TESTS_UNIT_X86_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot/boot.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

/* A guest memory laid out by arch_ram_layout(), and a log captured in a memfd. */
struct fixture {
	struct guest_memory mem;
	struct logger lg;
	char log[4096];
};

int fixture_init(struct fixture *f, uint64_t ram_size);
int fixture_init_ranges(struct fixture *f, const struct mem_range *r, unsigned n);
void fixture_destroy(struct fixture *f);
/* Reads the log captured so far into f->log; returns its number of lines. */
unsigned fixture_log(struct fixture *f);

/* A temporary file holding buf; the path is valid until tmp_cleanup(). */
const char *tmp_file(const void *buf, size_t len);
const char *tmp_dir(void);
void tmp_cleanup(void);

/* Deterministic pseudo-random bytes. */
void fill_pattern(uint8_t *p, size_t len, uint32_t seed);

struct test_seg {
	uint64_t paddr, vaddr;
	uint64_t filesz, memsz;
	uint32_t flags; /* PF_X, PF_W, PF_R */
	uint32_t seed;  /* content: fill_pattern(seed) */
	uint64_t offset; /* file offset; 0 = next free 4 KiB boundary */
};

#define TEST_AT_ZERO UINT64_MAX /* a segment at file offset 0 (with the headers) */

struct test_elf {
	uint8_t *buf;
	size_t len;
};

/* ELF64 x86-64 executable with the given PT_LOAD segments (free buf). */
struct test_elf make_elf(const struct test_seg *segs, unsigned n, uint64_t entry);

/* Every PT_LOAD of e is in m byte for byte, its bss zero. */
bool elf_matches(const struct guest_memory *m, const struct test_elf *e);

/* format: "gzip", "xz", "lzma", "zstd"; appends the 4-byte size like kbuild. */
int compress_buf(const char *format, const uint8_t *in, size_t len, uint8_t **out,
		 size_t *out_len);

#define TEST_PM_STUB 0x200 /* protected-mode bytes before the payload */

/* bzImage with setup_sects 4, protocol 2.15, the payload after a stub. */
struct test_elf make_bzimage(const uint8_t *payload, size_t len);
/* The setup header inside a bzImage buffer, to tweak fields. */
struct setup_header *bz_hdr(uint8_t *image);

#endif

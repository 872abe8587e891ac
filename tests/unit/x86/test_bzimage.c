/*
 * Synthetic bzImages: a tiny ELF64 vmlinux compressed with each supported
 * format, unpacked by the VMM into guest RAM and checked byte for byte; the
 * in-guest decompression mode; and malformed images refused.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "x86_test.h"

#define SETUP_SIZE (5 * BOOT_SECTOR_SIZE)

static const char *const formats[] = { "gzip", "xz", "lzma", "zstd" };

static int setup(void **state)
{
	static struct fixture f;

	*state = &f;
	return fixture_init(&f, 64 * MiB);
}

static int teardown(void **state)
{
	fixture_destroy(*state);
	tmp_cleanup();
	return 0;
}

/* A vmlinux in miniature: text, a percpu-like segment at vaddr 0, data + bss. */
static struct test_elf tiny_vmlinux(void)
{
	const struct test_seg segs[] = {
		{ .paddr = 0x1000000, .vaddr = 0xffffffff81000000ull, .filesz = 0x21000,
		  .memsz = 0x21000, .flags = PF_R | PF_X, .seed = 11, .offset = 0x200000 },
		{ .paddr = 0x1200000, .vaddr = 0, .filesz = 0x3000, .memsz = 0x3000,
		  .flags = PF_R | PF_W, .seed = 12 },
		{ .paddr = 0x1204000, .vaddr = 0xffffffff81204000ull, .filesz = 0x2345,
		  .memsz = 0x40000, .flags = PF_R | PF_W, .seed = 13 },
	};

	return make_elf(segs, 3, 0x1000000);
}

static struct test_elf compressed_bzimage(const char *format, const struct test_elf *elf)
{
	struct test_elf bz;
	uint8_t *payload;
	size_t len;

	assert_int_equal(compress_buf(format, elf->buf, elf->len, &payload, &len), 0);
	bz = make_bzimage(payload, len);
	free(payload);
	return bz;
}

static int boot(struct fixture *f, const char *path, enum kernel_unpack mode,
		struct cpu_boot_state *st)
{
	struct vm_config cfg = { .kernel = path, .append = "console=ttyS0", .unpack = mode };

	return x86_load_guest(&f->mem, &f->lg, &cfg, st);
}

static void check_unpacked(struct fixture *f, const char *format)
{
	struct test_elf elf = tiny_vmlinux();
	struct test_elf bz = compressed_bzimage(format, &elf);
	const char *path = tmp_file(bz.buf, bz.len);
	const uint8_t *zp = gpa_to_hva(&f->mem, gpa(X86_ZERO_PAGE), 4096);
	struct cpu_boot_state st;

	memset(gpa_to_hva(&f->mem, gpa(0x1200000), 0x100000), 0xcc, 0x100000);
	assert_int_equal(boot(f, path, UNPACK_VMM, &st), 0);
	assert_int_equal(fixture_log(f), 0);
	assert_non_null(strstr(f->log, format));
	assert_true(elf_matches(&f->mem, &elf));
	assert_int_equal(st.rip, 0x1000000);
	/* The image's setup header, with the loader-owned fields filled in. */
	assert_memory_equal(zp + 0x1f1, bz.buf + 0x1f1, 0x210 - 0x1f1);
	assert_memory_equal(zp + 0x22c, bz.buf + 0x22c, 0x250 - 0x22c);
	assert_memory_equal(zp + 0x258, bz.buf + 0x258, 0x26c - 0x258);
	assert_int_equal(zp[0x210], 0xff);
	free(bz.buf);
	free(elf.buf);
}

static void unpack_gzip(void **state)
{
	check_unpacked(*state, "gzip");
}

static void unpack_xz(void **state)
{
	check_unpacked(*state, "xz");
}

static void unpack_lzma(void **state)
{
	check_unpacked(*state, "lzma");
}

static void unpack_zstd(void **state)
{
	check_unpacked(*state, "zstd");
}

/* CONFIG_KERNEL_UNCOMPRESSED: the payload is the ELF itself. */
static void unpack_uncompressed(void **state)
{
	struct fixture *f = *state;
	struct test_elf elf = tiny_vmlinux();
	struct test_elf bz = make_bzimage(elf.buf, elf.len);
	struct cpu_boot_state st;

	assert_int_equal(boot(f, tmp_file(bz.buf, bz.len), UNPACK_VMM, &st), 0);
	assert_true(elf_matches(&f->mem, &elf));
	free(bz.buf);
	free(elf.buf);
}

/* setup_sects == 0 means 4 (all our images use 4). */
static void setup_sects_zero(void **state)
{
	struct fixture *f = *state;
	struct test_elf elf = tiny_vmlinux();
	struct test_elf bz = compressed_bzimage("gzip", &elf);
	struct cpu_boot_state st;

	bz_hdr(bz.buf)->setup_sects = 0;
	assert_int_equal(boot(f, tmp_file(bz.buf, bz.len), UNPACK_VMM, &st), 0);
	assert_true(elf_matches(&f->mem, &elf));
	free(bz.buf);
	free(elf.buf);
}

/* In-guest decompression: protected-mode code at pref_address, entry +0x200. */
static void guest_unpacks(void **state)
{
	struct fixture *f = *state;
	struct test_elf elf = tiny_vmlinux();
	struct test_elf bz = compressed_bzimage("xz", &elf);
	struct setup_header *h = bz_hdr(bz.buf);
	size_t pm = bz.len - SETUP_SIZE;
	struct cpu_boot_state st;

	assert_int_equal(boot(f, tmp_file(bz.buf, bz.len), UNPACK_GUEST, &st), 0);
	assert_int_equal(st.rip, 0x1000200);
	assert_memory_equal(gpa_to_hva(&f->mem, gpa(0x1000000), pm), bz.buf + SETUP_SIZE, pm);
	/* A relocatable kernel's pref_address is rounded up to kernel_alignment. */
	h->pref_address = 0x1100000;
	assert_int_equal(boot(f, tmp_file(bz.buf, bz.len), UNPACK_GUEST, &st), 0);
	assert_int_equal(st.rip, 0x1200200);
	h->relocatable_kernel = 0;
	assert_int_equal(boot(f, tmp_file(bz.buf, bz.len), UNPACK_GUEST, &st), 0);
	assert_int_equal(st.rip, 0x1100200);
	assert_memory_equal(gpa_to_hva(&f->mem, gpa(0x1100000), pm), bz.buf + SETUP_SIZE, pm);
	assert_int_equal(fixture_log(f), 0);
	/* init_size is what must fit, not just the file. */
	h->init_size = 64 * MiB;
	assert_int_equal(boot(f, tmp_file(bz.buf, bz.len), UNPACK_GUEST, &st), -EFBIG);
	assert_int_equal(fixture_log(f), 1);
	h->init_size = 0x400000;
	h->relocatable_kernel = 1;
	h->kernel_alignment = 0x300000;
	assert_int_equal(boot(f, tmp_file(bz.buf, bz.len), UNPACK_GUEST, &st), -ENOEXEC);
	assert_int_equal(fixture_log(f), 1);
	free(bz.buf);
	free(elf.buf);
}

/* Boots a copy of image (len bytes) expecting err and one error line. */
static void refused_as(struct fixture *f, const uint8_t *image, size_t len,
		       enum kernel_unpack mode, int err)
{
	const char *path = tmp_file(image, len);
	struct cpu_boot_state st;

	assert_int_equal(boot(f, path, mode, &st), err);
	assert_int_equal(fixture_log(f), 1);
	assert_non_null(strstr(f->log, path));
}

static void refused(struct fixture *f, const uint8_t *image, size_t len, int err)
{
	refused_as(f, image, len, UNPACK_VMM, err);
}

static void bad_header(void **state)
{
	struct fixture *f = *state;
	struct test_elf elf = tiny_vmlinux();
	struct test_elf bz = compressed_bzimage("gzip", &elf);
	uint8_t *img = malloc(bz.len);
	struct setup_header *h = bz_hdr(img);

#define RESET() memcpy(img, bz.buf, bz.len)
	RESET();
	h->boot_flag = 0x1234;
	refused(f, img, bz.len, -ENOEXEC);
	RESET();
	h->header = 0x12345678; /* no "HdrS": neither bzImage nor ELF */
	refused(f, img, bz.len, -ENOEXEC);
	RESET();
	refused(f, img, 0x220, -ENOEXEC);     /* file ends inside the header */
	refused(f, img, 0x400, -ENOEXEC);     /* file ends inside the setup code */
	h->version = 0x020b;
	refused(f, img, bz.len, -ENOEXEC);
	RESET();
	h->xloadflags = 0;
	refused(f, img, bz.len, -ENOEXEC);
	refused_as(f, img, bz.len, UNPACK_GUEST, -ENOEXEC);
	RESET();
	h->loadflags = 0;                      /* a zImage */
	refused(f, img, bz.len, -ENOEXEC);
	RESET();
	img[0x201] = 0x10;                     /* header would end at 0x212 */
	refused(f, img, bz.len, -ENOEXEC);
	img[0x201] = 0xa0;                     /* ... or past its area */
	refused(f, img, bz.len, -ENOEXEC);
#undef RESET
	free(img);
	free(bz.buf);
	free(elf.buf);
}

static void bad_payload_place(void **state)
{
	struct fixture *f = *state;
	struct test_elf elf = tiny_vmlinux();
	struct test_elf bz = compressed_bzimage("xz", &elf);
	struct setup_header *h = bz_hdr(bz.buf);
	uint32_t len = h->payload_length;

	h->payload_length = (uint32_t)bz.len;
	refused(f, bz.buf, bz.len, -ENOEXEC);
	h->payload_length = len;
	h->payload_offset = 0xfffffff0;
	refused(f, bz.buf, bz.len, -ENOEXEC);
	h->payload_offset = TEST_PM_STUB;
	h->payload_length = 0;
	refused(f, bz.buf, bz.len, -ENOEXEC);
	h->payload_length = len;
	refused(f, bz.buf, bz.len - 100, -ENOEXEC); /* file truncated */
	free(bz.buf);
	free(elf.buf);
}

static void corrupt_payloads(void **state)
{
	struct fixture *f = *state;
	struct test_elf elf = tiny_vmlinux();

	for (unsigned i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct test_elf bz = compressed_bzimage(formats[i], &elf);
		struct setup_header *h = bz_hdr(bz.buf);
		uint8_t *p = bz.buf + SETUP_SIZE + TEST_PM_STUB;
		uint32_t len = h->payload_length;

		/* Truncated: the stream stops before its end. */
		h->payload_length = len / 2;
		refused(f, bz.buf, bz.len, -ENOEXEC);
		h->payload_length = len;
		/* Corrupt: flipped bits in the middle (lzma has no checksum: the
		 * decoder may still notice, or the ELF comes out wrong). */
		for (uint32_t j = len / 3; j < len / 3 + 16; j++)
			p[j] ^= 0x55;
		if (strcmp(formats[i], "lzma")) {
			refused(f, bz.buf, bz.len, -ENOEXEC);
			assert_non_null(strstr(f->log, formats[i]));
		}
		free(bz.buf);
	}
	free(elf.buf);
}

static void unsupported_formats(void **state)
{
	struct fixture *f = *state;
	static const uint8_t magics[][8] = {
		{ 0x02, 0x21, 0x4c, 0x18, 1, 2, 3, 4 },          /* lz4 */
		{ 'B', 'Z', 'h', '9', 1, 2, 3, 4 },               /* bzip2 */
		{ 0x89, 'L', 'Z', 'O', 0, 0x0d, 0x0a, 0x1a },     /* lzo */
		{ 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4 },           /* unknown */
	};
	static const char *const names[] = { "lz4", "bzip2", "lzo", "unknown" };

	for (unsigned i = 0; i < 4; i++) {
		uint8_t payload[256];
		struct test_elf bz;

		fill_pattern(payload, sizeof(payload), i);
		memcpy(payload, magics[i], 8);
		bz = make_bzimage(payload, sizeof(payload));
		refused(f, bz.buf, bz.len, -ENOEXEC);
		assert_non_null(strstr(f->log, names[i]));
		free(bz.buf);
	}
}

/* What comes out of the decompressor is checked like any ELF file. */
static void bad_vmlinux(void **state)
{
	struct fixture *f = *state;
	struct test_elf elf = tiny_vmlinux();
	Elf64_Phdr *ph = (Elf64_Phdr *)(elf.buf + sizeof(Elf64_Ehdr));
	Elf64_Phdr saved = ph[2];
	uint8_t junk[8192];
	struct test_elf bz;

	ph[2].p_paddr = 0x8000000;             /* beyond 64 MiB of RAM */
	bz = compressed_bzimage("zstd", &elf);
	refused(f, bz.buf, bz.len, -EFBIG);
	free(bz.buf);
	ph[2] = saved;
	ph[2].p_memsz = 80 * MiB;              /* kernel bigger than RAM */
	bz = compressed_bzimage("gzip", &elf);
	refused(f, bz.buf, bz.len, -EFBIG);
	free(bz.buf);
	ph[2] = saved;
	ph[2].p_offset = elf.len + 0x1000;     /* beyond the unpacked data */
	bz = compressed_bzimage("xz", &elf);
	refused(f, bz.buf, bz.len, -ENOEXEC);
	free(bz.buf);
	ph[2] = saved;
	((Elf64_Ehdr *)elf.buf)->e_machine = EM_386;
	bz = compressed_bzimage("lzma", &elf);
	refused(f, bz.buf, bz.len, -ENOEXEC);
	free(bz.buf);
	((Elf64_Ehdr *)elf.buf)->e_machine = EM_X86_64;
	ph[2].p_offset = ph[1].p_offset;      /* a decompressor cannot go back */
	bz = compressed_bzimage("zstd", &elf);
	refused(f, bz.buf, bz.len, -ENOEXEC);
	assert_non_null(strstr(f->log, "overlap"));
	free(bz.buf);
	ph[2] = saved;
	fill_pattern(junk, sizeof(junk), 3);  /* decompresses fine, not an ELF */
	bz = compressed_bzimage("gzip", &(struct test_elf){ junk, sizeof(junk) });
	refused(f, bz.buf, bz.len, -ENOEXEC);
	free(bz.buf);
	free(elf.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unpack_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(unpack_xz, setup, teardown),
		cmocka_unit_test_setup_teardown(unpack_lzma, setup, teardown),
		cmocka_unit_test_setup_teardown(unpack_zstd, setup, teardown),
		cmocka_unit_test_setup_teardown(unpack_uncompressed, setup, teardown),
		cmocka_unit_test_setup_teardown(setup_sects_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(guest_unpacks, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_payload_place, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_payloads, setup, teardown),
		cmocka_unit_test_setup_teardown(unsupported_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_vmlinux, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

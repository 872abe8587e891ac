/*
 * Zero-page fields at the offsets Documentation/x86/boot.rst and
 * zero-page.rst give, the command line, and initrd placement.
 */
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

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* A kernel header as a bzImage would carry it. */
static struct x86_kernel test_kernel(uint64_t hi)
{
	struct x86_kernel k;
	struct test_elf bz = make_bzimage((const uint8_t *)"xxxx", 4);

	memset(&k, 0, sizeof(k));
	k.hdr_len = 0x26c - BOOT_HDR_OFFSET;
	memcpy(k.setup.raw, bz.buf + BOOT_HDR_OFFSET, k.hdr_len);
	k.lo = 0x1000000;
	k.hi = hi;
	free(bz.buf);
	return k;
}

static void field_offsets(void **state)
{
	struct guest_memory m = { .fd = -1, .nregions = 1 };
	struct x86_kernel k = test_kernel(0x2000000);
	struct x86_initrd rd = { 0x123456000ull, 0x100000010ull };
	struct boot_params bp;
	const uint8_t *zp = (const uint8_t *)&bp;

	m.regions[0].size = 256 * MiB;
	k.setup.hdr.setup_data = 0x1234; /* a loader-owned field: cleared */
	k.setup.hdr.loadflags |= KASLR_FLAG; /* the decompressor's, not ours */
	x86_zero_page_fill(&bp, &m, &k, &rd);
	assert_int_equal(zp[0x210], 0xff);             /* type_of_loader */
	assert_int_equal(zp[0x211], LOADED_HIGH);      /* loadflags */
	assert_int_equal(le32(zp + 0x218), 0x23456000); /* ramdisk_image */
	assert_int_equal(le32(zp + 0x21c), 0x00000010); /* ramdisk_size */
	assert_int_equal(le32(zp + 0x228), X86_CMDLINE); /* cmd_line_ptr */
	assert_int_equal(le32(zp + 0x0c0), 0x1);        /* ext_ramdisk_image */
	assert_int_equal(le32(zp + 0x0c4), 0x1);        /* ext_ramdisk_size */
	assert_int_equal(le32(zp + 0x0c8), 0);          /* ext_cmd_line_ptr */
	assert_int_equal(zp[0x1e8], 6);                 /* e820_entries */
	assert_int_equal(le32(zp + 0x2d0 + 8), 0x9fc00); /* first entry's size */
	assert_int_equal(le32(zp + 0x2d0 + 16), E820_RAM);
	assert_int_equal(zp[0x1ef], 0);                 /* sentinel */
	assert_int_equal(le32(zp + 0x250), 0);          /* setup_data */
}

/* The header is copied from 0x1f1 to 0x202 + the byte at 0x201. */
static void header_copy(void **state)
{
	struct guest_memory m = { .fd = -1 };
	struct x86_kernel k = test_kernel(0x2000000);
	struct x86_initrd rd = { 0, 0 };
	struct boot_params bp;
	const uint8_t *zp = (const uint8_t *)&bp;

	k.setup.raw[0x26c - BOOT_HDR_OFFSET] = 0x5a; /* past the header: not copied */
	x86_zero_page_fill(&bp, &m, &k, &rd);
	assert_memory_equal(zp + 0x1f1, k.setup.raw, 0x210 - 0x1f1);
	assert_memory_equal(zp + 0x212, k.setup.raw + 0x212 - 0x1f1, 0x218 - 0x212);
	assert_memory_equal(zp + 0x22c, k.setup.raw + 0x22c - 0x1f1, 0x250 - 0x22c);
	assert_memory_equal(zp + 0x258, k.setup.raw + 0x258 - 0x1f1, 0x26c - 0x258);
	assert_int_equal(le16(zp + 0x1fe), 0xaa55);
	assert_int_equal(le32(zp + 0x202), 0x53726448);
	assert_int_equal(le16(zp + 0x206), 0x020f);
	assert_int_equal(zp[0x26c], 0);
}

static void cmdline(void **state)
{
	struct fixture f;
	struct x86_kernel k = test_kernel(0x2000000);
	char big[X86_CMDLINE_MAX + 1];

	assert_int_equal(fixture_init(&f, 64 * MiB), 0);
	assert_int_equal(x86_write_cmdline(&f.mem, &f.lg, "console=ttyS0 quiet", &k), 0);
	assert_string_equal(gpa_to_hva(&f.mem, gpa(X86_CMDLINE), 20), "console=ttyS0 quiet");
	assert_int_equal(x86_write_cmdline(&f.mem, &f.lg, NULL, &k), 0);
	assert_string_equal(gpa_to_hva(&f.mem, gpa(X86_CMDLINE), 1), "");
	/* The kernel's cmdline_size (0x7ff) is the limit, without the NUL. */
	memset(big, 'a', sizeof(big));
	big[0x7ff] = '\0';
	assert_int_equal(x86_write_cmdline(&f.mem, &f.lg, big, &k), 0);
	big[0x7ff] = 'a';
	big[0x800] = '\0';
	assert_int_equal(fixture_log(&f), 0);
	assert_int_equal(x86_write_cmdline(&f.mem, &f.lg, big, &k), -EINVAL);
	assert_int_equal(fixture_log(&f), 1);
	/* A huge cmdline_size is capped by our 64 KiB buffer. */
	k.setup.hdr.cmdline_size = 0xffffffff;
	big[0x800] = 'a';
	big[X86_CMDLINE_MAX - 1] = 'a';
	big[X86_CMDLINE_MAX] = '\0';
	assert_int_equal(x86_write_cmdline(&f.mem, &f.lg, big, &k), -EINVAL);
	big[X86_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(x86_write_cmdline(&f.mem, &f.lg, big, &k), 0);
	fixture_destroy(&f);
}

static void place(void **state)
{
	assert_int_equal(initrd_place(0x1000000, 0x4000000, 0x1000), 0x3fff000);
	assert_int_equal(initrd_place(0x1000000, 0x4000000, 0x1001), 0x3ffe000);
	assert_int_equal(initrd_place(0x1000000, 0x4000000, 0x3000000), 0x1000000);
	assert_int_equal(initrd_place(0x1000000, 0x4000000, 0x3000001), 0);
	assert_int_equal(initrd_place(0x1000001, 0x4000000, 0x2fff001), 0); /* aligned below lo */
	assert_int_equal(initrd_place(0x5000000, 0x4000000, 1), 0);
}

static void initrd_low(void **state)
{
	struct fixture f;
	struct x86_kernel k = test_kernel(0x2000000);
	struct x86_initrd rd;
	uint8_t data[10000];
	const char *path;

	fill_pattern(data, sizeof(data), 7);
	path = tmp_file(data, sizeof(data));
	assert_int_equal(fixture_init(&f, 64 * MiB), 0);
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, path, &k, &rd), 0);
	assert_int_equal(rd.size, sizeof(data));
	assert_int_equal(rd.addr, (64 * MiB - sizeof(data)) & ~0xfffull);
	assert_memory_equal(gpa_to_hva(&f.mem, gpa(rd.addr), rd.size), data, sizeof(data));
	/* initrd_addr_max is the highest byte it may use. */
	k.setup.hdr.initrd_addr_max = 0x2ffffff;
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, path, &k, &rd), 0);
	assert_int_equal(rd.addr, (0x3000000 - sizeof(data)) & ~0xfffull);
	/* Never below the kernel's end. */
	k.hi = 0x2ffe000;
	assert_int_equal(fixture_log(&f), 0);
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, path, &k, &rd), -EFBIG);
	assert_int_equal(fixture_log(&f), 1);
	assert_non_null(strstr(f.log, path));
	fixture_destroy(&f);
	tmp_cleanup();
}

/* Only a kernel with XLF_CAN_BE_LOADED_ABOVE_4G gets it above 4 GiB. */
static void initrd_high(void **state)
{
	const struct mem_range r[] = { { gpa(0), 4 * MiB }, { gpa(X86_4G), 8 * MiB } };
	struct x86_kernel k = test_kernel(2 * MiB);
	struct x86_initrd rd;
	struct boot_params bp;
	struct fixture f;
	size_t len = 3 * MiB;
	uint8_t *data = malloc(len);
	const char *path;

	fill_pattern(data, len, 8);
	path = tmp_file(data, len);
	assert_int_equal(fixture_init_ranges(&f, r, 2), 0);
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, path, &k, &rd), 0);
	assert_int_equal(rd.addr, X86_4G + 5 * MiB);
	assert_memory_equal(gpa_to_hva(&f.mem, gpa(rd.addr), len), data, len);
	x86_zero_page_fill(&bp, &f.mem, &k, &rd);
	assert_int_equal(bp.hdr.ramdisk_image, 5 * MiB);
	assert_int_equal(bp.ext_ramdisk_image, 1);
	assert_int_equal(bp.hdr.ramdisk_size, len);
	assert_int_equal(bp.ext_ramdisk_size, 0);
	k.setup.hdr.xloadflags &= (uint16_t)~XLF_CAN_BE_LOADED_ABOVE_4G;
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, path, &k, &rd), -EFBIG);
	assert_int_equal(fixture_log(&f), 1);
	fixture_destroy(&f);
	free(data);
	tmp_cleanup();
}

static void initrd_bad_files(void **state)
{
	struct fixture f;
	struct x86_kernel k = test_kernel(0x2000000);
	struct x86_initrd rd;
	char missing[4200];

	assert_int_equal(fixture_init(&f, 64 * MiB), 0);
	snprintf(missing, sizeof(missing), "%s/none", tmp_dir());
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, missing, &k, &rd), -ENOENT);
	assert_int_equal(fixture_log(&f), 1);
	assert_non_null(strstr(f.log, missing));
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, tmp_dir(), &k, &rd), -EACCES);
	assert_int_equal(fixture_log(&f), 1);
	/* An empty initrd is no initrd. */
	assert_int_equal(x86_load_initrd(&f.mem, &f.lg, tmp_file("", 0), &k, &rd), 0);
	assert_int_equal(rd.addr, 0);
	assert_int_equal(rd.size, 0);
	fixture_destroy(&f);
	tmp_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(field_offsets),
		cmocka_unit_test(header_copy),
		cmocka_unit_test(cmdline),
		cmocka_unit_test(place),
		cmocka_unit_test(initrd_low),
		cmocka_unit_test(initrd_high),
		cmocka_unit_test(initrd_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

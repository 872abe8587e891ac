/* Guest RAM layout around the 32-bit PCI hole, and the e820 map. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/arch.h"
#include "x86_test.h"

static void check_layout(uint64_t size, int n, uint64_t low, uint64_t high)
{
	struct mem_range r[GUEST_MEM_MAX_REGIONS];

	assert_int_equal(arch_ram_layout(size, r, GUEST_MEM_MAX_REGIONS), n);
	assert_int_equal(r[0].base.raw, 0);
	assert_int_equal(r[0].size, low);
	if (n == 2) {
		assert_int_equal(r[1].base.raw, X86_4G);
		assert_int_equal(r[1].size, high);
	}
}

static void layout_128m(void **state)
{
	check_layout(128 * MiB, 1, 128 * MiB, 0);
}

static void layout_3g(void **state)
{
	check_layout(3 * GiB, 1, 3 * GiB, 0);
}

static void layout_4g(void **state)
{
	check_layout(4 * GiB, 2, 3 * GiB, 1 * GiB);
}

static void layout_8g(void **state)
{
	check_layout(8 * GiB, 2, 3 * GiB, 5 * GiB);
}

static void layout_bad(void **state)
{
	struct mem_range r[2];

	assert_int_equal(arch_ram_layout(0, r, 2), -EINVAL);
	assert_int_equal(arch_ram_layout(512 * 1024, r, 2), -EINVAL);
	assert_int_equal(arch_ram_layout(128 * MiB + 1, r, 2), -EINVAL);
	/* High RAM would run into the 64-bit PCI window at 512 GiB. */
	assert_int_equal(arch_ram_layout(600 * GiB, r, 2), -EINVAL);
	assert_int_equal(arch_ram_layout(8 * GiB, r, 1), -ENOSPC);
	assert_int_equal(arch_ram_layout(128 * MiB, r, 1), 1);
}

/* The e820 builder only reads the region list: no memory needed. */
static struct guest_memory fake_mem(uint64_t size)
{
	struct mem_range r[GUEST_MEM_MAX_REGIONS];
	struct guest_memory m = { .fd = -1 };
	int n = arch_ram_layout(size, r, GUEST_MEM_MAX_REGIONS);

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		m.regions[i].base = r[i].base;
		m.regions[i].size = r[i].size;
	}
	m.nregions = (unsigned)n;
	return m;
}

struct e820_want {
	uint64_t addr, size;
	uint32_t type;
};

static void check_e820(uint64_t size, const struct e820_want *want, int n)
{
	struct guest_memory m = fake_mem(size);
	struct e820_entry e[E820_MAX_ENTRIES_ZP];

	assert_int_equal(x86_e820_build(&m, e, E820_MAX_ENTRIES_ZP), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(e[i].addr, want[i].addr);
		assert_int_equal(e[i].size, want[i].size);
		assert_int_equal(e[i].type, want[i].type);
	}
}

static const struct e820_want hole[] = {
	{ 0xe0000000, 0x10000000, E820_RESERVED }, /* ECAM */
	{ 0xfec00000, 0x1000, E820_RESERVED },     /* IOAPIC */
	{ 0xfee00000, 0x1000, E820_RESERVED },     /* LAPIC */
};

static void e820_128m(void **state)
{
	const struct e820_want want[] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED },
		{ 0x100000, 128 * MiB - 0x100000, E820_RAM },
		hole[0], hole[1], hole[2],
	};

	check_e820(128 * MiB, want, 6);
}

static void e820_3g(void **state)
{
	const struct e820_want want[] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x60400, E820_RESERVED },
		{ 0x100000, 3 * GiB - 0x100000, E820_RAM },
		hole[0], hole[1], hole[2],
	};

	check_e820(3 * GiB, want, 6);
}

static void e820_8g(void **state)
{
	const struct e820_want want[] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x60400, E820_RESERVED },
		{ 0x100000, 3 * GiB - 0x100000, E820_RAM },
		hole[0], hole[1], hole[2],
		{ X86_4G, 5 * GiB, E820_RAM },
	};

	check_e820(8 * GiB, want, 7);
}

static void e820_no_room(void **state)
{
	struct guest_memory m = fake_mem(8 * GiB);
	struct e820_entry e[7];

	assert_int_equal(x86_e820_build(&m, e, 6), -ENOSPC);
	assert_int_equal(x86_e820_build(&m, e, 7), 7);
}

/* The table lands in the zero page at 0x2d0 with its count at 0x1e8. */
static void e820_in_zero_page(void **state)
{
	struct guest_memory m = fake_mem(4 * GiB);
	struct x86_kernel k = { .hdr_len = 0 };
	struct x86_initrd rd = { 0, 0 };
	struct boot_params bp;
	const uint8_t *raw = (const uint8_t *)&bp;
	uint64_t addr, len;
	uint32_t type;

	x86_zero_page_fill(&bp, &m, &k, &rd);
	assert_int_equal(raw[0x1e8], 7);
	memcpy(&addr, raw + 0x2d0 + 6 * 20, 8);
	memcpy(&len, raw + 0x2d0 + 6 * 20 + 8, 8);
	memcpy(&type, raw + 0x2d0 + 6 * 20 + 16, 4);
	assert_int_equal(addr, X86_4G);
	assert_int_equal(len, 1 * GiB);
	assert_int_equal(type, E820_RAM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_128m),
		cmocka_unit_test(layout_3g),
		cmocka_unit_test(layout_4g),
		cmocka_unit_test(layout_8g),
		cmocka_unit_test(layout_bad),
		cmocka_unit_test(e820_128m),
		cmocka_unit_test(e820_3g),
		cmocka_unit_test(e820_8g),
		cmocka_unit_test(e820_no_room),
		cmocka_unit_test(e820_in_zero_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

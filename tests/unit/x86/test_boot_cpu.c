/* The boot CPU state of the 64-bit boot protocol: GDT, page tables, registers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "x86_test.h"

static int setup(void **state)
{
	static struct fixture f;

	*state = &f;
	return fixture_init(&f, 64 * MiB);
}

static int teardown(void **state)
{
	fixture_destroy(*state);
	return 0;
}

static void control_registers(void **state)
{
	struct fixture *f = *state;
	struct cpu_boot_state st;

	assert_int_equal(x86_setup_boot_cpu(&f->mem, 0x1000000, &st), 0);
	assert_int_equal(st.cr0, 0x80000011);  /* PG | ET | PE */
	assert_int_equal(st.cr4, 0x20);        /* PAE */
	assert_int_equal(st.efer, 0x500);      /* LMA | LME */
	assert_int_equal(st.cr3, X86_PAGE_TABLES);
	assert_int_equal(st.rip, 0x1000000);
	assert_int_equal(st.rflags, 0x2);      /* IF clear */
	assert_int_equal(st.gpr[CPU_RSI], X86_ZERO_PAGE);
	assert_int_equal(st.gpr[CPU_RSP], X86_BOOT_STACK);
	assert_int_equal(st.gpr[CPU_RAX], 0);
}

static void segments(void **state)
{
	struct fixture *f = *state;
	struct cpu_boot_state st;
	const struct cpu_segment *data[] = { &st.ds, &st.es, &st.ss };

	assert_int_equal(x86_setup_boot_cpu(&f->mem, 0x200000, &st), 0);
	assert_int_equal(st.cs.selector, 0x10);
	assert_int_equal(st.cs.l, 1);
	assert_int_equal(st.cs.db, 0);
	assert_int_equal(st.cs.s, 1);
	assert_int_equal(st.cs.type, 0xb);
	assert_int_equal(st.cs.present, 1);
	assert_int_equal(st.cs.base, 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(data[i]->selector, 0x18);
		assert_int_equal(data[i]->type, 0x3);
		assert_int_equal(data[i]->db, 1);
		assert_int_equal(data[i]->l, 0);
		assert_int_equal(data[i]->base, 0);
		assert_int_equal(data[i]->limit, 0xffffffff);
		assert_int_equal(data[i]->g, 1);
	}
	assert_int_equal(st.tr.type, 0xb);     /* busy TSS */
	assert_int_equal(st.tr.present, 1);
	assert_int_equal(st.tr.s, 0);
	assert_int_equal(st.ldt.type, 0x2);
	assert_int_equal(st.gdt.base, X86_BOOT_GDT);
	assert_int_equal(st.gdt.limit, 31);
	assert_int_equal(st.idt.base, X86_BOOT_IDT);
}

static void gdt_entries(void **state)
{
	struct fixture *f = *state;
	struct cpu_boot_state st;
	uint64_t gdt[4];

	assert_int_equal(x86_setup_boot_cpu(&f->mem, 0x200000, &st), 0);
	assert_int_equal(guest_read(&f->mem, gpa(X86_BOOT_GDT), gdt, sizeof(gdt)), 0);
	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[1], 0);
	assert_int_equal(gdt[2], 0x00af9b000000ffffull); /* __BOOT_CS: 64-bit code */
	assert_int_equal(gdt[3], 0x00cf93000000ffffull); /* __BOOT_DS: flat data */
}

/* Walks the guest's page tables like the MMU would. */
static uint64_t translate(const struct guest_memory *m, uint64_t va)
{
	uint64_t e;

	assert_int_equal(guest_read(m, gpa(X86_PAGE_TABLES + ((va >> 39) & 511) * 8), &e, 8), 0);
	assert_int_equal(e & 0x3, 0x3);
	assert_int_equal(guest_read(m, gpa((e & ~0xfffull) + ((va >> 30) & 511) * 8), &e, 8), 0);
	assert_int_equal(e & 0x83, 0x03);
	assert_int_equal(guest_read(m, gpa((e & ~0xfffull) + ((va >> 21) & 511) * 8), &e, 8), 0);
	assert_int_equal(e & 0x83, 0x83);      /* present, writable, 2 MiB page */
	return (e & ~0x1fffffull) + (va & 0x1fffff);
}

static void page_tables(void **state)
{
	struct fixture *f = *state;
	const uint64_t probes[] = { 0, 0x1234, 0x1000000, 0x3fffffff, 0x40000000,
				    0xbfffffff, 0xe0000000, 0xfee00000, 0xffffffff };
	struct cpu_boot_state st;
	uint64_t pml4[512], pdpt[512], pd0, pd_last;

	assert_int_equal(x86_setup_boot_cpu(&f->mem, 0x200000, &st), 0);
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		assert_int_equal(translate(&f->mem, probes[i]), probes[i]);
	assert_int_equal(guest_read(&f->mem, gpa(X86_PAGE_TABLES), pml4, sizeof(pml4)), 0);
	assert_int_equal(guest_read(&f->mem, gpa(X86_PAGE_TABLES + 0x1000), pdpt, sizeof(pdpt)), 0);
	assert_int_equal(pml4[0], X86_PAGE_TABLES + 0x1003);
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(pml4[i], 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pdpt[i], X86_PAGE_TABLES + 0x2003 + i * 0x1000);
	assert_int_equal(pdpt[4], 0);
	assert_int_equal(guest_read(&f->mem, gpa(X86_PAGE_TABLES + 0x2000), &pd0, 8), 0);
	assert_int_equal(guest_read(&f->mem, gpa(X86_PAGE_TABLES_END - 8), &pd_last, 8), 0);
	assert_int_equal(pd0, 0x83);
	assert_int_equal(pd_last, 0xffe00083);
	/* The tables end before the next boot structure. */
	assert_true(X86_PAGE_TABLES + 6 * 0x1000 <= X86_PAGE_TABLES_END);
	assert_true(X86_ZERO_PAGE + 0x1000 <= X86_PAGE_TABLES);
}

static void no_low_memory(void **state)
{
	struct mem_range r = { gpa(0), 0x8000 }; /* ends before the page tables */
	struct fixture f;
	struct cpu_boot_state st;

	assert_int_equal(fixture_init_ranges(&f, &r, 1), 0);
	assert_int_equal(x86_setup_boot_cpu(&f.mem, 0x1000, &st), -EFBIG);
	fixture_destroy(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(control_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(segments, setup, teardown),
		cmocka_unit_test_setup_teardown(gdt_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(page_tables, setup, teardown),
		cmocka_unit_test(no_low_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Paging in system mode: #PF error codes and CR2, A/D bits, INVLPG, CR3
 * reloads and global pages; fetches from addresses with no RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sys_test.h"

#define RAX 0
#define RBX 3
#define RCX 1
#define RDX 2
#define RSI 6

static int setup(void **state)
{
	*state = sys_new(0);
	return 0;
}

static int setup_user(void **state)
{
	*state = sys_new(1);
	return 0;
}

static int teardown(void **state)
{
	sys_free(*state);
	return 0;
}

/* The #PF handler ran (HLT at HANDLER(14)); error code and faulting RIP. */
static void expect_pf(struct sys_fixture *f, uint64_t stack, uint32_t err, uint64_t addr,
		      uint64_t rip)
{
	assert_int_equal(run(f), EMU_EXIT_HLT);
	assert_int_equal(f->cpu.r[EMU_RIP], HANDLER(14) + 1);
	assert_int_equal(f->cpu.sys.cr2, addr);
	assert_int_equal(f->cpu.r[4], stack - 48);
	assert_int_equal(rd64(f, stack - 48), err);
	assert_int_equal(rd64(f, stack - 40), rip);
}

static void test_not_present(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0x48, 0x8b, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00 };

	*pte(f, 0x9000) = 0;
	put(f, CODE, code, sizeof(code));
	expect_pf(f, STACK, 0, 0x9000, CODE);
}

static void test_write_read_only(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0x89, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00, 0xf4 };

	*pte(f, 0x9000) &= ~PTE_W;
	put(f, CODE, code, sizeof(code));
	expect_pf(f, STACK, 3, 0x9000, CODE);

	/* CR0.WP = 0: the supervisor writes anyway */
	f->cpu.cr0 &= ~0x10000ull;
	emu_tlb_flush(&f->cpu);
	f->cpu.r[EMU_RIP] = CODE;
	f->cpu.r[RAX] = 0x55;
	assert_int_equal(run(f), EMU_EXIT_HLT);
	assert_int_equal(f->cpu.r[EMU_RIP], CODE + 8);
	assert_int_equal(rd64(f, 0x9000) & 0xff, 0x55);
}

/* CPL 3 read of a supervisor page: #PF(P|U) on the TSS.RSP0 stack. */
static void test_user_supervisor(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0x48, 0x8b, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00 };

	*pte(f, 0x9000) &= ~PTE_U;
	put(f, CODE, code, sizeof(code));
	expect_pf(f, STACK0, 5, 0x9000, CODE);
	assert_int_equal(rd64(f, STACK0 - 32), 0x33);   /* CS */
	assert_int_equal(rd64(f, STACK0 - 16), USTACK); /* RSP */
	assert_int_equal(rd64(f, STACK0 - 8), 0x2b);    /* SS */
	assert_int_equal(f->cpu.sys.cpl, 0);
}

static void test_nx_fetch(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0xb8, 0x00, 0x90, 0x00, 0x00, 0xff, 0xe0 };

	*pte(f, 0x9000) |= PTE_NX;
	put(f, CODE, code, sizeof(code));
	expect_pf(f, STACK, 0x11, 0x9000, 0x9000);
}

/* mov eax, va; jmp rax */
static void jump_to(struct sys_fixture *f, uint32_t va)
{
	uint8_t code[] = { 0xb8, 0, 0, 0, 0, 0xff, 0xe0 };

	memcpy(code + 1, &va, 4);
	put(f, CODE, code, sizeof(code));
}

/* An instruction crossing into an NX page faults on that page. */
static void test_nx_fetch_crossing(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t mov[] = { 0xb8, 0x11, 0x22, 0x33, 0x44, 0xf4 }; /* mov eax, imm */

	*pte(f, 0x9000) |= PTE_NX;
	put(f, 0x8ffe, mov, sizeof(mov));
	jump_to(f, 0x8ffe);
	expect_pf(f, STACK, 0x11, 0x9000, 0x8ffe);
}

/*
 * Code at a guest-physical address with no RAM (page 0x9000 mapped past the
 * 8 MiB): the CPU stops at the instruction, no #GP.
 */
static void expect_unbacked(struct sys_fixture *f, uint32_t rip, uint64_t gpa)
{
	*pte(f, 0x9000) = (*pte(f, 0x9000) & 0xfff) | 0x1000000;
	jump_to(f, rip);
	assert_int_equal(run(f), EMU_EXIT_FETCH_UNBACKED);
	assert_int_equal(f->cpu.exit_gpa, gpa);
	assert_int_equal(f->cpu.r[EMU_RIP], rip);
}

static void test_fetch_unbacked(void **state)
{
	expect_unbacked(*state, 0x9010, 0x1000010);
}

/* The same when only the second half of an instruction has no RAM. */
static void test_fetch_unbacked_crossing(void **state)
{
	static const uint8_t part[] = { 0xb8, 0x11 }; /* mov eax, imm32: 2 bytes of 5 */

	put(*state, 0x8ffe, part, sizeof(part));
	expect_unbacked(*state, 0x8ffe, 0x1000000);
}

static void test_reserved_bit(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0x48, 0x8b, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00 };

	*pte(f, 0x9000) |= 1ull << 45;
	put(f, CODE, code, sizeof(code));
	expect_pf(f, STACK, 9, 0x9000, CODE);
}

static void test_accessed_dirty(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = {
		0x89, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00,       /* mov [0x9000], eax */
		0x48, 0x8b, 0x04, 0x25, 0x00, 0xa0, 0x00, 0x00, /* mov rax, [0xa000] */
		0xf4,
	};

	*pte(f, 0x9000) &= ~(PTE_A | PTE_D);
	*pte(f, 0xa000) &= ~(PTE_A | PTE_D);
	wr64(f, 0x1000, rd64(f, 0x1000) & ~PTE_A);
	put(f, CODE, code, sizeof(code));
	assert_int_equal(run(f), EMU_EXIT_HLT);
	assert_int_equal(*pte(f, 0x9000) & (PTE_A | PTE_D), PTE_A | PTE_D);
	assert_int_equal(*pte(f, 0xa000) & (PTE_A | PTE_D), PTE_A);
	assert_true(rd64(f, 0x1000) & PTE_A);
}

/* A stale translation stays until INVLPG; CR3 reloads keep global pages. */
static void test_invlpg_cr3_global(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = {
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00, /* mov rax, [0x9000] */
		0x48, 0x8b, 0x14, 0x25, 0x00, 0xb0, 0x00, 0x00, /* mov rdx, [0xb000] */
		0x48, 0x8b, 0x34, 0x25, 0x00, 0xc0, 0x00, 0x00, /* mov rsi, [0xc000] */
		0xf4,
		0x48, 0x8b, 0x1c, 0x25, 0x00, 0x90, 0x00, 0x00, /* mov rbx, [0x9000] */
		0x0f, 0x01, 0x3c, 0x25, 0x00, 0x90, 0x00, 0x00, /* invlpg [0x9000] */
		0x48, 0x8b, 0x0c, 0x25, 0x00, 0x90, 0x00, 0x00, /* mov rcx, [0x9000] */
		0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8,             /* mov rax, cr3; mov cr3, rax */
		0x48, 0x8b, 0x14, 0x25, 0x00, 0xb0, 0x00, 0x00, /* mov rdx, [0xb000] */
		0x48, 0x8b, 0x34, 0x25, 0x00, 0xc0, 0x00, 0x00, /* mov rsi, [0xc000] */
		0xf4,
	};

	wr64(f, 0x9000, 1);
	wr64(f, 0xb000, 3);
	wr64(f, 0xc000, 4);
	wr64(f, 0xa000, 2);
	*pte(f, 0xb000) |= PTE_G;
	put(f, CODE, code, sizeof(code));
	assert_int_equal(run(f), EMU_EXIT_HLT);
	for (uint64_t va = 0x9000; va <= 0xc000; va += 0x1000)
		if (va != 0xa000)
			*pte(f, va) = (*pte(f, va) & 0xfff) | 0xa000;
	assert_int_equal(run(f), EMU_EXIT_HLT);
	assert_int_equal(f->cpu.r[RBX], 1); /* stale */
	assert_int_equal(f->cpu.r[RCX], 2); /* after INVLPG */
	assert_int_equal(f->cpu.r[RDX], 3); /* global: kept across the CR3 write */
	assert_int_equal(f->cpu.r[RSI], 2); /* non-global: refetched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_not_present, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_supervisor, setup_user, teardown),
		cmocka_unit_test_setup_teardown(test_nx_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nx_fetch_crossing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_unbacked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_unbacked_crossing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accessed_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invlpg_cr3_global, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

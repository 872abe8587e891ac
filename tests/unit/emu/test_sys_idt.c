/* IDT delivery, privilege changes and system instructions in system mode:
 * INT n/IRETQ to user mode, IST and #DF, triple fault, SYSCALL/SYSRET,
 * SWAPGS, MSRs, port I/O, the STI shadow, injected interrupts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sys_test.h"

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

/* Stopped at the HLT of vector v's handler. */
static void at_handler(struct sys_fixture *f, unsigned v)
{
	assert_int_equal(run(f), EMU_EXIT_HLT);
	assert_int_equal(f->cpu.r[EMU_RIP], HANDLER(v) + 1);
}

static void test_boot_state(void **state)
{
	struct sys_fixture *f = *state;

	assert_int_equal(f->cpu.sys.cpl, 0);
	assert_int_equal(f->cpu.mode, EMU_MODE_64);
	assert_int_equal(f->cpu.seg[EMU_SEG_CS].sel, 0x10);
	assert_true(f->cpu.seg[EMU_SEG_CS].attr & EMU_SEG_L);
	assert_int_equal(f->cpu.r[EMU_RIP], CODE);
	assert_true(f->cpu.efer & EMU_EFER_LMA);
}

/* User INT 0x80 through a DPL 3 gate, IRETQ back; then a user HLT (#GP)
 * and INT to a DPL 0 gate (#GP with the IDT error code). */
static void test_int_iret_user(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t user[] = { 0xcd, 0x80, 0xf4 };
	static const uint8_t handler[] = { 0x48, 0xff, 0xc0, 0x48, 0xcf }; /* inc rax; iretq */

	set_gate(f, 0x80, HANDLER(0x80), 3, 0, 1);
	put(f, HANDLER(0x80), handler, sizeof(handler));
	put(f, CODE, user, sizeof(user));
	at_handler(f, 13);
	assert_int_equal(f->cpu.r[0], 1);
	assert_int_equal(f->cpu.sys.cpl, 0);
	assert_int_equal(f->cpu.r[4], STACK0 - 48);
	assert_int_equal(rd64(f, STACK0 - 48), 0);        /* error code */
	assert_int_equal(rd64(f, STACK0 - 40), CODE + 2); /* the HLT */
	assert_int_equal(rd64(f, STACK0 - 32), 0x33);

	/* INT 0x81: gate DPL 0 < CPL 3 */
	f = sys_new(1);
	put(f, CODE, (const uint8_t[]){ 0xcd, 0x81 }, 2);
	at_handler(f, 13);
	assert_int_equal(rd64(f, STACK0 - 48), 0x81 * 8 + 2);
	sys_free(f);
}

/* #PF whose gate is absent: #NP during delivery makes #DF, on IST1. */
static void test_double_fault_ist(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0x48, 0x8b, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00 };

	*pte(f, 0x9000) = 0;
	set_gate(f, 14, HANDLER(14), 0, 0, 0);
	set_gate(f, 8, HANDLER(8), 0, 1, 1);
	put(f, CODE, code, sizeof(code));
	at_handler(f, 8);
	assert_int_equal(f->cpu.r[4], STACK_IST - 48);
	assert_int_equal(rd64(f, STACK_IST - 48), 0);
	assert_int_equal(rd64(f, STACK_IST - 40), CODE);
}

static void test_triple_fault(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0x48, 0x8b, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00 };

	*pte(f, 0x9000) = 0;
	set_gate(f, 14, HANDLER(14), 0, 0, 0);
	set_gate(f, 8, HANDLER(8), 0, 0, 0);
	put(f, CODE, code, sizeof(code));
	assert_int_equal(run(f), EMU_EXIT_SHUTDOWN);
}

/* User SYSCALL to LSTAR with SFMASK applied, SYSRETQ back to CPL 3. */
static void test_syscall_sysret(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t user[] = { 0x0f, 0x05, 0xf4 };
	static const uint8_t entry[] = {
		0x9c, 0x5b,             /* pushfq; pop rbx */
		0x48, 0xff, 0xc0,       /* inc rax */
		0x48, 0x0f, 0x07,       /* sysretq */
	};

	f->cpu.sys.star = 0x20ull << 48 | 0x10ull << 32;
	f->cpu.sys.lstar = 0x22000;
	f->cpu.sys.sfmask = 0x700; /* TF IF DF */
	emu_set_rflags(&f->cpu, 0x602);
	put(f, CODE, user, sizeof(user));
	put(f, 0x22000, entry, sizeof(entry));
	at_handler(f, 13); /* the user HLT after SYSRET */
	assert_int_equal(f->cpu.r[0], 1);
	assert_int_equal(f->cpu.r[1], CODE + 2);
	assert_int_equal(f->cpu.r[11], 0x602);
	assert_int_equal(f->cpu.r[3] & 0x700, 0);
	assert_int_equal(rd64(f, STACK0 - 40), CODE + 2);
	assert_int_equal(rd64(f, STACK0 - 32), 0x33);
	assert_int_equal(rd64(f, STACK0 - 24) & 0x600, 0x600);
	assert_int_equal(rd64(f, STACK0 - 8), 0x2b);
}

static void test_msr_swapgs(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = {
		0xb9, 0x01, 0x01, 0x00, 0xc0, 0xb8, 0x11, 0x11, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30,
		0xb9, 0x02, 0x01, 0x00, 0xc0, 0xb8, 0x22, 0x22, 0x00, 0x00, 0x0f, 0x30,
		0x0f, 0x01, 0xf8,                          /* swapgs */
		0xb9, 0x01, 0x01, 0x00, 0xc0, 0x0f, 0x32,  /* rdmsr GS_BASE */
		0xf4,
		0xb9, 0x45, 0x23, 0x01, 0x00, 0x0f, 0x32,  /* rdmsr 0x12345: #GP */
	};

	put(f, CODE, code, sizeof(code));
	assert_int_equal(run(f), EMU_EXIT_HLT);
	assert_int_equal(f->cpu.r[0], 0x2222);
	assert_int_equal(f->cpu.kernel_gs_base, 0x1111);
	assert_int_equal(f->cpu.segbase[EMU_SB_GS], 0x2222);
	at_handler(f, 13);
	assert_int_equal(rd64(f, STACK - 48), 0);
	assert_int_equal(rd64(f, STACK - 40), CODE + 37 + 5);
}

static void test_pio(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = {
		0x66, 0xba, 0xf8, 0x03, 0xb8, 0x41, 0x00, 0x00, 0x00, 0xee, /* out dx, al */
		0xe4, 0x60, 0xf4,                                           /* in al, 0x60 */
	};

	put(f, CODE, code, sizeof(code));
	assert_int_equal(run(f), EMU_EXIT_HLT);
	assert_int_equal(f->npio, 2);
	assert_int_equal(f->pio_port, 0x60);
	assert_int_equal(f->cpu.r[0], 0x78);

	f = sys_new(1); /* CPL 3 > IOPL 0, the TSS limit covers no bitmap */
	put(f, CODE, (const uint8_t[]){ 0xe6, 0x80 }, 2);
	at_handler(f, 13);
	assert_int_equal(f->npio, 0);
	sys_free(f);
}

/* CPL 3 > IOPL 0 with an I/O bitmap at TSS + 0x68 (as Linux's ioperm()
 * sets up). One covering ports 0-0xff that grants 0x80: out 0x80 passes,
 * 0xcf8 lies past the TSS limit and faults. One reaching 0xcfb that grants
 * 0x80 and 0xcf8-0xcfb: out dx, eax to 0xcf8 passes; in eax, 0x7e (ports
 * 0x7e-0x81, 0x7e denied) faults. */
static void test_pio_bitmap(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = {
		0xe6, 0x80,                   /* out 0x80, al */
		0x66, 0xba, 0xf8, 0x0c, 0xef, /* mov dx, 0xcf8; out dx, eax */
		0xe5, 0x7e,                   /* in eax, 0x7e: #GP */
	};
	uint8_t bitmap[32];

	memset(bitmap, 0xff, sizeof(bitmap));
	bitmap[0x80 / 8] = 0xfe;
	put(f, TSS_BASE + 0x68, bitmap, sizeof(bitmap));
	f->cpu.sys.tr.limit = 0x68 + sizeof(bitmap);
	put(f, CODE, code, sizeof(code));
	at_handler(f, 13);
	assert_int_equal(f->npio, 1); /* 0xcf8 lies past the limit */
	assert_int_equal(f->pio_port, 0x80);
	assert_int_equal(rd64(f, STACK0 - 40), CODE + 6);

	/* a bitmap reaching 0xcfb: the dword access passes, 0x7e faults */
	sys_free(f);
	f = sys_new(1);
	*state = f;
	for (unsigned b = 0; b <= 0xcfb / 8 + 1; b++)
		put(f, TSS_BASE + 0x68 + b, (const uint8_t[]){ 0xff }, 1);
	put(f, TSS_BASE + 0x68 + 0x80 / 8, (const uint8_t[]){ 0xfe }, 1);
	put(f, TSS_BASE + 0x68 + 0xcf8 / 8, (const uint8_t[]){ 0xf0 }, 1); /* 0xcf8-0xcfb */
	f->cpu.sys.tr.limit = 0x68 + 0xcfb / 8 + 1;
	put(f, CODE, code, sizeof(code));
	at_handler(f, 13);
	assert_int_equal(f->npio, 2);
	assert_int_equal(f->pio_port, 0xcf8);
	assert_int_equal(rd64(f, STACK0 - 40), CODE + 7);
}

/* STI runs the next instruction before an interrupt can come. */
static void test_sti_shadow(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t code[] = { 0xfb, 0x90, 0x90, 0xf4 };

	put(f, CODE, code, sizeof(code));
	assert_false(emu_can_take_interrupt(&f->cpu));
	assert_int_equal(emu_step(&f->cpu), EMU_EXIT_NONE);
	assert_int_equal(f->cpu.r[EMU_RIP], CODE + 2);
	assert_true(emu_can_take_interrupt(&f->cpu));
}

/* emu_run never returns inside the shadow: STI in the middle of a block
 * (its next instruction runs in the block), and STI as the last byte of a
 * page (the next instruction, on the next page, runs alone with it). */
static void test_sti_shadow_run(void **state)
{
	struct sys_fixture *f = *state;
	static const uint8_t mid[] = { 0xfb, 0xb0, 0x02, 0xeb, 0xfe }; /* sti; mov al,2; jmp $ */
	static const uint8_t next[] = { 0xb0, 0x01, 0xeb, 0xfe };      /* mov al,1; jmp $ */

	put(f, CODE, mid, sizeof(mid));
	assert_int_equal(emu_run(&f->cpu, 1), EMU_EXIT_NONE);
	assert_int_equal(f->cpu.r[0] & 0xff, 2);
	assert_int_equal(f->cpu.r[EMU_RIP], CODE + 3);
	assert_true(emu_can_take_interrupt(&f->cpu));

	emu_set_rflags(&f->cpu, emu_get_rflags(&f->cpu) & ~(uint64_t)EMU_IF);
	put(f, CODE + 0xfff, (const uint8_t[]){ 0xfb }, 1);
	put(f, CODE + 0x1000, next, sizeof(next));
	f->cpu.r[EMU_RIP] = CODE + 0xfff;
	assert_int_equal(emu_run(&f->cpu, 1), EMU_EXIT_NONE);
	assert_int_equal(f->cpu.r[0] & 0xff, 1);
	assert_int_equal(f->cpu.r[EMU_RIP], CODE + 0x1002);
	assert_true(emu_can_take_interrupt(&f->cpu));
}

static void test_inject(void **state)
{
	struct sys_fixture *f = *state;

	put(f, CODE, (const uint8_t[]){ 0xfb, 0xeb, 0xfe }, 3); /* sti; jmp $ */
	assert_int_equal(emu_run(&f->cpu, 1000), EMU_EXIT_NONE);
	assert_true(emu_can_take_interrupt(&f->cpu));
	emu_inject_interrupt(&f->cpu, 0x30);
	assert_int_equal(f->cpu.r[EMU_RIP], HANDLER(0x30));
	assert_false(emu_can_take_interrupt(&f->cpu));
	assert_int_equal(rd64(f, STACK - 40), CODE + 1);
	at_handler(f, 0x30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_boot_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int_iret_user, setup_user, teardown),
		cmocka_unit_test_setup_teardown(test_double_fault_ist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triple_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syscall_sysret, setup_user, teardown),
		cmocka_unit_test_setup_teardown(test_msr_swapgs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pio_bitmap, setup_user, teardown),
		cmocka_unit_test_setup_teardown(test_sti_shadow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sti_shadow_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inject, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Local APIC registers, priorities, EOI and the x2APIC front end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "apic_test.h"

#define ID 0x20
#define VER 0x30
#define TPR 0x80
#define PPR 0xa0
#define EOI 0xb0
#define LDR 0xd0
#define DFR 0xe0
#define SVR 0xf0
#define ISR 0x100
#define TMR 0x180
#define IRR 0x200
#define ESR 0x280
#define ICR 0x300
#define ICR_HI 0x310
#define LVT_TIMER 0x320
#define LVT_LINT0 0x350
#define LVT_LINT1 0x360
#define LVT_ERR 0x370
#define TDCR 0x3e0

static int setup(void **state)
{
	*state = apic_fixture_new(1);
	return 0;
}

static int setup_enabled(void **state)
{
	*state = apic_fixture_new(0);
	return 0;
}

static int teardown(void **state)
{
	apic_fixture_free(*state);
	return 0;
}

static void test_reset_values(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[2];
	uint64_t base;

	assert_int_equal(lapic_rd(l, ID), 2u << 24);
	assert_int_equal(lapic_rd(l, VER), 0x00050014);
	assert_int_equal(lapic_rd(l, SVR), 0xff);
	assert_int_equal(lapic_rd(l, DFR), 0xffffffff);
	assert_int_equal(lapic_rd(l, LDR), 0);
	assert_int_equal(lapic_rd(l, TPR), 0);
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		assert_int_equal(lapic_rd(l, off), 0x10000);
	assert_int_equal(lapic_rd(l, TDCR), 0);
	assert_int_equal(lapic_rdmsr(l, MSR_IA32_APIC_BASE, &base), 0);
	assert_int_equal(base, 0xfee00800);
	assert_int_equal(lapic_rdmsr(&f->cpu[0], MSR_IA32_APIC_BASE, &base), 0);
	assert_int_equal(base, 0xfee00900); /* BSP */
	assert_true(lapic_mmio_enabled(l));
	assert_int_equal(lapic_base(l), 0xfee00000);
}

static void test_register_writes(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[1];
	uint8_t b;

	lapic_wr(l, SVR, 0xffffffff);
	assert_int_equal(lapic_rd(l, SVR), 0x3ff); /* no EOI-broadcast suppression */
	lapic_wr(l, TPR, 0x1ff);
	assert_int_equal(lapic_rd(l, TPR), 0xff);
	lapic_wr(l, LDR, 0x12345678);
	assert_int_equal(lapic_rd(l, LDR), 0x12000000);
	lapic_wr(l, DFR, 0);
	assert_int_equal(lapic_rd(l, DFR), 0x0fffffff);
	lapic_wr(l, LVT_LINT0, 0xffffffff);
	assert_int_equal(lapic_rd(l, LVT_LINT0), 0x1a7ff);
	lapic_wr(l, LVT_ERR, 0xffffffff);
	assert_int_equal(lapic_rd(l, LVT_ERR), 0x100ff);
	lapic_wr(l, LVT_TIMER, 0xffffffff); /* reserved timer mode 11: mode kept */
	assert_int_equal(lapic_rd(l, LVT_TIMER), 0x100ff);
	lapic_wr(l, LVT_TIMER, 0x000400ff); /* TSC-deadline, unmasked */
	assert_int_equal(lapic_rd(l, LVT_TIMER), 0x000400ff);
	lapic_wr(l, TDCR, 0xffffffff);
	assert_int_equal(lapic_rd(l, TDCR), 0xb);
	lapic_wr(l, ICR_HI, 0xffffffff);
	assert_int_equal(lapic_rd(l, ICR_HI), 0xff000000);
	lapic_wr(l, VER, 0);
	assert_int_equal(lapic_rd(l, VER), 0x00050014);
	lapic_wr(l, PPR, 0xff);
	assert_int_equal(lapic_rd(l, PPR), 0xff); /* TPR is 0xff */
	/* byte read inside a register; unaligned writes are dropped */
	lapic_mmio(l, ID + 3, &b, 1, false);
	assert_int_equal(b, 1);
	lapic_mmio(l, TPR + 1, &b, 1, true);
	assert_int_equal(lapic_rd(l, TPR), 0xff);
	assert_int_equal(lapic_rd(l, 0x3f0), 0); /* reserved */
	lapic_wr(l, ID, 0x07000000);
	assert_int_equal(lapic_rd(l, ID), 0x07000000);
}

static void test_software_disable(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	/* raw fixture: SVR.8 clear, LVT masks cannot be cleared, fixed dropped */
	lapic_wr(l, LVT_LINT0, 0x00000700);
	assert_int_equal(lapic_rd(l, LVT_LINT0), 0x10700);
	assert_false(lapic_accept(l, APIC_DM_FIXED, 0x40, false));
	assert_int_equal(lapic_bit(l, IRR, 0x40), 0);
	assert_true(lapic_accept(l, APIC_DM_NMI, 0, false));
	assert_int_equal(lapic_events(l), LAPIC_EV_NMI);

	lapic_wr(l, SVR, 0x1ff);
	lapic_wr(l, LVT_LINT0, 0x00000700);
	assert_int_equal(lapic_rd(l, LVT_LINT0), 0x700);
	assert_true(lapic_accept(l, APIC_DM_FIXED, 0x40, false));
	assert_int_equal(lapic_bit(l, IRR, 0x40), 1);
	/* disabling masks every LVT; pending IRR is held */
	lapic_wr(l, SVR, 0xff);
	assert_int_equal(lapic_rd(l, LVT_LINT0), 0x10700);
	assert_int_equal(lapic_bit(l, IRR, 0x40), 1);
	assert_int_equal(lapic_pending_vector(l), 0x40);
}

static void test_tpr_ppr(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	lapic_accept(l, APIC_DM_FIXED, 0x45, false);
	lapic_wr(l, TPR, 0x50);
	assert_int_equal(lapic_pending_vector(l), -1);
	assert_false(lapic_events(l) & LAPIC_EV_INTR);
	lapic_wr(l, TPR, 0x4f); /* same class: still blocked */
	assert_int_equal(lapic_pending_vector(l), -1);
	assert_int_equal(lapic_rd(l, PPR), 0x4f);
	lapic_wr(l, TPR, 0x3f);
	assert_int_equal(lapic_pending_vector(l), 0x45);
	assert_true(lapic_events(l) & LAPIC_EV_INTR);
	assert_int_equal(lapic_ack(l), 0x45);
	/* ISR class 4 beats TPR 0x3f */
	assert_int_equal(lapic_rd(l, PPR), 0x40);
	lapic_wr(l, TPR, 0x52);
	assert_int_equal(lapic_rd(l, PPR), 0x52);
	lapic_wr(l, TPR, 0);
	lapic_wr(l, EOI, 0);
	assert_int_equal(lapic_rd(l, PPR), 0);
	/* CR8 is TPR[7:4] */
	lapic_set_cr8(l, 9);
	assert_int_equal(lapic_rd(l, TPR), 0x90);
	assert_int_equal(lapic_get_cr8(l), 9);
}

static void test_priority_and_eoi(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	lapic_accept(l, APIC_DM_FIXED, 0x31, false);
	lapic_accept(l, APIC_DM_FIXED, 0x81, false);
	lapic_accept(l, APIC_DM_FIXED, 0x50, false);
	lapic_accept(l, APIC_DM_FIXED, 0x8f, false);
	assert_int_equal(lapic_ack(l), 0x8f);
	/* same class as the one in service: not delivered */
	assert_int_equal(lapic_pending_vector(l), -1);
	assert_int_equal(lapic_bit(l, ISR, 0x8f), 1);
	assert_int_equal(lapic_bit(l, IRR, 0x8f), 0);
	lapic_wr(l, EOI, 0);
	assert_int_equal(lapic_bit(l, ISR, 0x8f), 0);
	assert_int_equal(lapic_ack(l), 0x81);
	lapic_wr(l, EOI, 0);
	assert_int_equal(lapic_ack(l), 0x50);
	/* a higher vector nests; EOI retires the highest ISR bit first */
	lapic_accept(l, APIC_DM_FIXED, 0x60, false);
	assert_int_equal(lapic_ack(l), 0x60);
	lapic_wr(l, EOI, 0);
	assert_int_equal(lapic_bit(l, ISR, 0x60), 0);
	assert_int_equal(lapic_bit(l, ISR, 0x50), 1);
	lapic_wr(l, EOI, 0);
	assert_int_equal(lapic_ack(l), 0x31);
	lapic_wr(l, EOI, 0);
	assert_int_equal(lapic_ack(l), -1);
	assert_int_equal(lapic_events(l), 0);
	lapic_wr(l, EOI, 0); /* nothing in service: harmless */
}

static void test_tmr(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	lapic_accept(l, APIC_DM_FIXED, 0x70, true);
	assert_int_equal(lapic_bit(l, TMR, 0x70), 1);
	assert_int_equal(lapic_ack(l), 0x70);
	lapic_wr(l, EOI, 0);
	assert_int_equal(lapic_bit(l, TMR, 0x70), 1); /* TMR stays until re-accepted */
	lapic_accept(l, APIC_DM_FIXED, 0x70, false);
	assert_int_equal(lapic_bit(l, TMR, 0x70), 0);
}

static void test_esr(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	lapic_wr(l, LVT_ERR, 0xfe);
	assert_true(lapic_accept(l, APIC_DM_FIXED, 5, false)); /* illegal vector */
	assert_int_equal(lapic_bit(l, IRR, 5), 0);
	assert_int_equal(lapic_rd(l, ESR), 0); /* not latched yet */
	lapic_wr(l, ESR, 0);
	assert_int_equal(lapic_rd(l, ESR), 0x40);
	assert_int_equal(lapic_pending_vector(l), 0xfe);
	lapic_ipi(l, 0, 0x4000 | 7); /* send illegal vector */
	lapic_wr(l, ESR, 0);
	assert_int_equal(lapic_rd(l, ESR), 0x20);
	lapic_wr(l, ESR, 0);
	assert_int_equal(lapic_rd(l, ESR), 0);
}

static void test_x2apic(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[3];
	uint64_t v = 0;

	assert_int_equal(lapic_rdmsr(l, 0x802, &v), -1); /* not in x2APIC mode */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_APIC_BASE, 0xfee00400), -1); /* EXTD without EN */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_APIC_BASE, 0xfee00c01), -1); /* reserved bit */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_APIC_BASE, 0xfee00c00), 0);
	assert_false(lapic_mmio_enabled(l));
	lapic_mmio(l, VER, &v, 4, false);
	assert_int_equal(v, 0); /* the page is gone */
	assert_int_equal(lapic_rdmsr(l, 0x802, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(lapic_rdmsr(l, 0x80d, &v), 0);
	assert_int_equal(v, 1u << 3); /* cluster 0, bit 3 */
	assert_int_equal(lapic_rdmsr(l, 0x803, &v), 0);
	assert_int_equal(v, 0x00050014);
	assert_int_equal(lapic_rdmsr(l, 0x80e, &v), -1); /* no DFR */
	assert_int_equal(lapic_rdmsr(l, 0x831, &v), -1); /* no ICR high */
	assert_int_equal(lapic_rdmsr(l, 0x80b, &v), -1); /* EOI is write-only */
	assert_int_equal(lapic_rdmsr(l, 0x8ff, &v), -1);
	assert_int_equal(lapic_wrmsr(l, 0x802, 5), -1);  /* ID read-only */
	assert_int_equal(lapic_wrmsr(l, 0x80d, 5), -1);  /* LDR read-only */
	assert_int_equal(lapic_wrmsr(l, 0x808, 0x100), -1); /* reserved TPR bits */
	assert_int_equal(lapic_wrmsr(l, 0x80b, 1), -1);  /* EOI takes 0 */
	assert_int_equal(lapic_wrmsr(l, 0x80f, 0x1ff), 0);
	assert_int_equal(lapic_wrmsr(l, 0x808, 0x20), 0);
	assert_int_equal(lapic_rdmsr(l, 0x80a, &v), 0);
	assert_int_equal(v, 0x20);
	/* self IPI */
	assert_int_equal(lapic_wrmsr(l, 0x83f, 0x55), 0);
	assert_int_equal(lapic_pending_vector(l), 0x55);
	assert_int_equal(lapic_ack(l), 0x55);
	assert_int_equal(lapic_rdmsr(l, 0x810 + 2, &v), 0); /* ISR bits 95:64 */
	assert_int_equal(v, 1u << (0x55 - 64));
	assert_int_equal(lapic_wrmsr(l, 0x80b, 0), 0);
	/* x2APIC -> xAPIC directly is not allowed; through disabled it is */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_APIC_BASE, 0xfee00800), -1);
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_APIC_BASE, 0xfee00000), 0);
	assert_false(lapic_accept(l, APIC_DM_NMI, 0, false)); /* hardware-disabled */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_APIC_BASE, 0xfee00c00), -1);
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_APIC_BASE, 0xfee00800), 0);
	assert_true(lapic_mmio_enabled(l));
	assert_int_equal(lapic_rd(l, SVR), 0xff); /* reset by the disable */
}

static void test_msr_routing(void **state)
{
	struct apic_fixture *f = *state;
	uint64_t v;

	(void)f;
	assert_true(lapic_msr_owned(0x1b));
	assert_true(lapic_msr_owned(0x6e0));
	assert_true(lapic_msr_owned(0x830));
	assert_false(lapic_msr_owned(0x900));
	assert_false(lapic_msr_owned(0x10));
	assert_int_equal(lapic_rdmsr(&f->cpu[0], 0x10, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_software_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tpr_ppr, setup_enabled, teardown),
		cmocka_unit_test_setup_teardown(test_priority_and_eoi, setup_enabled, teardown),
		cmocka_unit_test_setup_teardown(test_tmr, setup_enabled, teardown),
		cmocka_unit_test_setup_teardown(test_esr, setup_enabled, teardown),
		cmocka_unit_test_setup_teardown(test_x2apic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msr_routing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* IOAPIC registers, edge and level pins, remote IRR, EOI and resampling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "apic_test.h"

#define EOI 0xb0
#define IRR 0x200
#define TMR 0x180

#define LEVEL IOAPIC_RTE_LEVEL
#define MASKED IOAPIC_RTE_MASKED
#define RIRR IOAPIC_RTE_REMOTE_IRR
#define DEST(id) ((uint64_t)(id) << 56)

static int setup(void **state)
{
	*state = apic_fixture_new(0);
	return 0;
}

static int teardown(void **state)
{
	apic_fixture_free(*state);
	return 0;
}

static uint64_t rte(struct apic_fixture *f, unsigned pin)
{
	return ioapic_rd(&f->io, 0x10 + 2 * pin) | (uint64_t)ioapic_rd(&f->io, 0x11 + 2 * pin) << 32;
}

/* Takes the interrupt on cpu and EOIs it; returns the vector or -1. */
static int service(struct lapic *l)
{
	int v = lapic_ack(l);

	if (v >= 0)
		lapic_wr(l, EOI, 0);
	return v;
}

static void test_registers(void **state)
{
	struct apic_fixture *f = *state;
	uint32_t sel;

	assert_int_equal(ioapic_rd(&f->io, 0), NCPUS << 24);
	assert_int_equal(ioapic_rd(&f->io, 1), 0x00170011);
	assert_int_equal(ioapic_rd(&f->io, 2), NCPUS << 24);
	ioapic_wr(&f->io, 0, 0xffffffff);
	assert_int_equal(ioapic_rd(&f->io, 0), 0x0f000000);
	ioapic_wr(&f->io, 1, 0);
	assert_int_equal(ioapic_rd(&f->io, 1), 0x00170011);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		assert_int_equal(rte(f, pin), MASKED);
	/* reserved bits, delivery status and remote IRR are read-only */
	ioapic_wr(&f->io, 0x10 + 2 * 23, 0xffffffff);
	ioapic_wr(&f->io, 0x11 + 2 * 23, 0xffffffff);
	assert_int_equal(rte(f, 23), 0xff0000000001afffull);
	assert_int_equal(ioapic_rd(&f->io, 0x10 + 2 * 24), 0); /* past the table */
	assert_int_equal(ioapic_rd(&f->io, 0x03), 0);
	sel = 0x12;
	ioapic_mmio(&f->io, 0, &sel, 4, true);
	sel = 0;
	ioapic_mmio(&f->io, 0, &sel, 4, false);
	assert_int_equal(sel, 0x12);
	assert_int_equal(ioapic_set_irq(&f->io, 24, 1), -22);
}

static void test_gsi_routing(void **state)
{
	(void)state;
	assert_int_equal(ioapic_gsi_to_pin(0), 2);
	assert_int_equal(ioapic_gsi_to_pin(1), 1);
	assert_int_equal(ioapic_gsi_to_pin(2), -1);
	assert_int_equal(ioapic_gsi_to_pin(4), 4);
	assert_int_equal(ioapic_gsi_to_pin(16), 16);
	assert_int_equal(ioapic_gsi_to_pin(23), 23);
	assert_int_equal(ioapic_gsi_to_pin(24), -1);
}

static void test_edge(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[1];

	ioapic_route(&f->io, 4, 0x34 | DEST(1));
	ioapic_set_irq(&f->io, 4, 1);
	assert_int_equal(lapic_bit(l, TMR, 0x34), 0);
	assert_int_equal(service(l), 0x34);
	ioapic_set_irq(&f->io, 4, 1); /* no new edge */
	assert_int_equal(service(l), -1);
	ioapic_set_irq(&f->io, 4, 0);
	ioapic_set_irq(&f->io, 4, 1);
	assert_int_equal(service(l), 0x34);
	assert_int_equal(rte(f, 4) & RIRR, 0);
	assert_int_equal(f->eoi_count, 0); /* edge EOIs are not broadcast */
	assert_int_equal(service(&f->cpu[0]), -1);
}

static void test_masked(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	/* a masked edge is lost */
	ioapic_route(&f->io, 3, 0x33 | MASKED);
	ioapic_set_irq(&f->io, 3, 1);
	ioapic_route(&f->io, 3, 0x33);
	assert_int_equal(service(l), -1);
	/* a masked level line fires once unmasked */
	ioapic_route(&f->io, 16, 0x61 | LEVEL | MASKED);
	ioapic_set_irq(&f->io, 16, 1);
	assert_int_equal(lapic_pending_vector(l), -1);
	assert_int_equal(rte(f, 16) & RIRR, 0);
	ioapic_route(&f->io, 16, 0x61 | LEVEL);
	assert_int_equal(rte(f, 16) & RIRR, RIRR);
	assert_int_equal(lapic_pending_vector(l), 0x61);
}

static void test_level_eoi(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[2];

	ioapic_route(&f->io, 17, 0x71 | LEVEL | DEST(2));
	ioapic_set_irq(&f->io, 17, 1);
	assert_int_equal(rte(f, 17) & RIRR, RIRR);
	assert_int_equal(lapic_bit(l, TMR, 0x71), 1);
	assert_int_equal(lapic_ack(l), 0x71);
	/* still asserted but remote IRR set: no second message */
	ioapic_set_irq(&f->io, 17, 1);
	assert_int_equal(lapic_bit(l, IRR, 0x71), 0);
	/* EOI: remote IRR cleared, resample hook, line still up -> again */
	lapic_wr(l, EOI, 0);
	assert_int_equal(f->eoi_count, 1);
	assert_int_equal(f->eoi_pin[0], 17);
	assert_int_equal(rte(f, 17) & RIRR, RIRR);
	assert_int_equal(lapic_ack(l), 0x71);
	/* deasserted by the time of the EOI: remote IRR clears, no message */
	ioapic_set_irq(&f->io, 17, 0);
	lapic_wr(l, EOI, 0);
	assert_int_equal(f->eoi_count, 2);
	assert_int_equal(rte(f, 17) & RIRR, 0);
	assert_int_equal(lapic_pending_vector(l), -1);
	/* asserting again delivers again */
	ioapic_set_irq(&f->io, 17, 1);
	assert_int_equal(service(l), 0x71);
}

static void test_resample_deasserts(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	/* irqfd-style: the hook drops the line; the source re-raises if needed */
	f->eoi_deassert = 1;
	ioapic_route(&f->io, 20, 0x90 | LEVEL);
	ioapic_set_irq(&f->io, 20, 1);
	assert_int_equal(service(l), 0x90);
	assert_int_equal(f->eoi_count, 1);
	assert_int_equal(rte(f, 20) & RIRR, 0);
	assert_int_equal(lapic_pending_vector(l), -1);
	ioapic_set_irq(&f->io, 20, 1);
	assert_int_equal(service(l), 0x90);
	assert_int_equal(f->eoi_count, 2);
}

static void test_shared_vector_and_edge_switch(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];

	/* two level pins on one vector: one EOI clears both */
	ioapic_route(&f->io, 18, 0xa0 | LEVEL);
	ioapic_route(&f->io, 19, 0xa0 | LEVEL);
	ioapic_set_irq(&f->io, 18, 1);
	ioapic_set_irq(&f->io, 19, 1);
	assert_int_equal(rte(f, 19) & RIRR, RIRR);
	f->eoi_deassert = 1;
	assert_int_equal(service(l), 0xa0);
	assert_int_equal(f->eoi_count, 2);
	assert_int_equal(rte(f, 18) & RIRR, 0);
	assert_int_equal(rte(f, 19) & RIRR, 0);
	/* a stuck remote IRR goes when the pin is switched to edge (Linux) */
	f->eoi_deassert = 0;
	ioapic_set_irq(&f->io, 18, 1);
	assert_int_equal(rte(f, 18) & RIRR, RIRR);
	ioapic_route(&f->io, 18, 0xa0 | MASKED);
	assert_int_equal(rte(f, 18) & RIRR, 0);
}

static void test_destinations(void **state)
{
	struct apic_fixture *f = *state;

	/* logical flat: LDR bits 1 and 3 set on CPUs 1 and 3 */
	lapic_wr(&f->cpu[1], 0xd0, 0x02000000);
	lapic_wr(&f->cpu[3], 0xd0, 0x08000000);
	ioapic_route(&f->io, 5, 0x45 | IOAPIC_RTE_DEST_LOGICAL | DEST(0x0a));
	ioapic_set_irq(&f->io, 5, 1);
	assert_int_equal(lapic_pending_vector(&f->cpu[0]), -1);
	assert_int_equal(lapic_pending_vector(&f->cpu[1]), 0x45);
	assert_int_equal(lapic_pending_vector(&f->cpu[2]), -1);
	assert_int_equal(lapic_pending_vector(&f->cpu[3]), 0x45);
	/* lowest priority: one CPU only, the lowest-numbered */
	ioapic_route(&f->io, 6, 0x46 | 1u << 8 | IOAPIC_RTE_DEST_LOGICAL | DEST(0x0a));
	ioapic_set_irq(&f->io, 6, 1);
	assert_int_equal(lapic_bit(&f->cpu[1], IRR, 0x46), 1);
	assert_int_equal(lapic_bit(&f->cpu[3], IRR, 0x46), 0);
	/* NMI delivery mode */
	ioapic_route(&f->io, 7, 4u << 8 | DEST(2));
	ioapic_set_irq(&f->io, 7, 1);
	assert_int_equal(lapic_events(&f->cpu[2]), LAPIC_EV_NMI);
	/* a message nobody takes leaves remote IRR clear */
	ioapic_route(&f->io, 21, 0x50 | LEVEL | DEST(9));
	ioapic_set_irq(&f->io, 21, 1);
	assert_int_equal(rte(f, 21) & RIRR, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
		cmocka_unit_test(test_gsi_routing),
		cmocka_unit_test_setup_teardown(test_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resample_deasserts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_vector_and_edge_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destinations, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

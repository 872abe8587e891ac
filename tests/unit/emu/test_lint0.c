/* The 8259 pair on a LAPIC's LINT0, wired as accel-emu.so wires the boot
 * CPU: ExtINT delivery through the INTA callback, LVT0 masking, the
 * hardware-disabled APIC as a plain INTR pin, the virtual-wire reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "accel/emu/lapic.h"
#include "accel/emu/pic.h"

#define LVT0 0x350
#define LVT1 0x360
#define TPR 0x80
#define SVR 0xf0
#define EOI 0xb0
#define LVT_MASKED (1u << 16)
#define DM_EXTINT 0x700u
#define DM_NMI 0x400u

struct fixture {
	uint64_t now;
	struct emu_timebase tb;
	struct lapic cpu;
	struct pic pic;
	unsigned wakes;
};

static uint64_t fake_now(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

static void int_changed(void *opaque, bool level)
{
	lapic_set_lint0(&((struct fixture *)opaque)->cpu, level);
}

static int inta(void *opaque)
{
	return pic_intack(&((struct fixture *)opaque)->pic);
}

static void wake(void *opaque)
{
	((struct fixture *)opaque)->wakes++;
}

static uint32_t rd(struct fixture *f, unsigned off)
{
	uint32_t v = 0;

	lapic_mmio(&f->cpu, off, &v, 4, false);
	return v;
}

static void wr(struct fixture *f, unsigned off, uint32_t v)
{
	lapic_mmio(&f->cpu, off, &v, 4, true);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct pic_config pc = { .output = int_changed, .opaque = f };
	struct lapic_config lc = { .bsp = true, .tb = &f->tb, .wake = wake, .wake_opaque = f,
				   .inta = inta, .inta_opaque = f };

	emu_timebase_init(&f->tb, fake_now, f);
	assert_int_equal(lapic_init(&f->cpu, &lc), 0);
	lapic_virtual_wire(&f->cpu);
	assert_int_equal(pic_init(&f->pic, &pc), 0);
	/* Linux's init_8259A(0), IRQ 0 unmasked */
	static const uint8_t init[][2] = {
		{ 0x21, 0xff }, { 0x20, 0x11 }, { 0x21, 0x30 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x38 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0xfa }, { 0xa1, 0xff },
	};
	for (unsigned i = 0; i < sizeof(init) / sizeof(init[0]); i++)
		pic_write(&f->pic, init[i][0], init[i][1]);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pic_destroy(&f->pic);
	lapic_destroy(&f->cpu);
	free(f);
	return 0;
}

static void tick(struct fixture *f)
{
	pic_set_irq(&f->pic, 0, 1);
	pic_set_irq(&f->pic, 0, 0);
}

/* The reset state accel-kvm also leaves: LINT0 ExtINT, LINT1 NMI. */
static void test_virtual_wire(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, LVT0), DM_EXTINT);
	assert_int_equal(rd(f, LVT1), DM_NMI);
}

/* As KVM: ExtINT reaches the CPU with the APIC still software-disabled,
 * ignores the TPR, and is acknowledged at the 8259. */
static void test_extint(void **state)
{
	struct fixture *f = *state;

	assert_false(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	tick(f);
	assert_true(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	assert_true(f->wakes > 0);
	wr(f, SVR, 0x1ff);
	wr(f, TPR, 0xf0);
	assert_true(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	assert_int_equal(lapic_ack(&f->cpu), 0x30);
	assert_false(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	assert_int_equal(lapic_pending_vector(&f->cpu), -1); /* nothing in the LAPIC's IRR */
	pic_write(&f->pic, 0x20, 0x20); /* the 8259's EOI, not the LAPIC's */
	tick(f);
	assert_int_equal(lapic_ack(&f->cpu), 0x30);
}

/* Linux's check_timer masks LVT0 before routing the timer to the IOAPIC. */
static void test_lvt0_masked(void **state)
{
	struct fixture *f = *state;

	wr(f, SVR, 0x1ff);
	wr(f, LVT0, LVT_MASKED | DM_EXTINT);
	tick(f);
	assert_false(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	wr(f, LVT0, 0); /* fixed mode: LINT0 is not an ExtINT input */
	assert_false(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	wr(f, LVT0, DM_EXTINT); /* the request waited in the 8259 */
	assert_true(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	assert_int_equal(lapic_ack(&f->cpu), 0x30);
	/* software disable masks LVT0 again */
	wr(f, SVR, 0xff);
	pic_write(&f->pic, 0x20, 0x20);
	tick(f);
	assert_false(lapic_events(&f->cpu) & LAPIC_EV_INTR);
}

/* With IA32_APIC_BASE.EN clear, LINT0 is the CPU's INTR pin. */
static void test_apic_disabled(void **state)
{
	struct fixture *f = *state;

	wr(f, LVT0, LVT_MASKED);
	assert_int_equal(lapic_wrmsr(&f->cpu, MSR_IA32_APIC_BASE, LAPIC_DEFAULT_BASE | APIC_BASE_BSP),
			 0);
	tick(f);
	assert_true(lapic_events(&f->cpu) & LAPIC_EV_INTR);
	assert_int_equal(lapic_ack(&f->cpu), 0x30);
	assert_int_equal(lapic_ack(&f->cpu), -1); /* INT went down with the INTA */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_virtual_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lvt0_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apic_disabled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Local APIC timer on a fake clock: one-shot, periodic, TSC-deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "apic_test.h"

#define LVT_TIMER 0x320
#define TMICT 0x380
#define TMCCT 0x390
#define TDCR 0x3e0
#define IRR 0x200
#define EOI 0xb0

#define PERIODIC (1u << 17)
#define TSC_DEADLINE (2u << 17)
#define MASKED (1u << 16)
#define VEC 0xec

/* ns per tick at divide-by-1 */
#define TICK_NS (EMU_NSEC_PER_SEC / EMU_APIC_BUS_HZ)

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

/* Advances the fake clock, runs the check, and takes a timer interrupt. */
static int tick(struct apic_fixture *f, struct lapic *l, uint64_t ns)
{
	int v;

	f->now += ns;
	lapic_timer_check(l, f->now);
	v = lapic_ack(l);
	if (v >= 0)
		lapic_wr(l, EOI, 0);
	return v;
}

static void test_oneshot(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];
	uint64_t t0 = f->now;

	lapic_wr(l, TDCR, 0xb); /* divide by 1 */
	lapic_wr(l, LVT_TIMER, VEC);
	assert_int_equal(lapic_timer_deadline(l), UINT64_MAX);
	lapic_wr(l, TMICT, 1000);
	assert_int_equal(lapic_rd(l, TMICT), 1000);
	assert_int_equal(lapic_timer_deadline(l), t0 + 1000 * TICK_NS);
	assert_int_equal(lapic_rd(l, TMCCT), 1000);
	f->now += 250 * TICK_NS;
	assert_int_equal(lapic_rd(l, TMCCT), 750);
	assert_int_equal(lapic_timer_check(l, f->now), t0 + 1000 * TICK_NS);
	assert_int_equal(tick(f, l, 749 * TICK_NS), -1);
	assert_int_equal(tick(f, l, TICK_NS), VEC);
	assert_int_equal(lapic_rd(l, TMCCT), 0);
	assert_int_equal(lapic_timer_deadline(l), UINT64_MAX);
	assert_int_equal(tick(f, l, 100000 * TICK_NS), -1); /* once only */
	/* writing 0 stops a running timer */
	lapic_wr(l, TMICT, 500);
	lapic_wr(l, TMICT, 0);
	assert_int_equal(tick(f, l, 1000 * TICK_NS), -1);
	assert_int_equal(lapic_rd(l, TMCCT), 0);
}

static void test_divide(void **state)
{
	static const struct { uint32_t dcr; unsigned div; } cases[] = {
		{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
		{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
	};
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[1];

	lapic_wr(l, LVT_TIMER, VEC);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t t0 = f->now;

		lapic_wr(l, TDCR, cases[i].dcr);
		lapic_wr(l, TMICT, 100);
		assert_int_equal(lapic_timer_deadline(l), t0 + 100 * cases[i].div * TICK_NS);
		f->now += 10 * cases[i].div * TICK_NS;
		assert_int_equal(lapic_rd(l, TMCCT), 90);
		assert_int_equal(tick(f, l, 90 * cases[i].div * TICK_NS), VEC);
	}
	/* a new divider mid-count keeps the count and changes the rate */
	lapic_wr(l, TDCR, 0xb);
	lapic_wr(l, TMICT, 1000);
	f->now += 400 * TICK_NS;
	lapic_wr(l, TDCR, 0x0); /* /2 */
	assert_int_equal(lapic_rd(l, TMCCT), 600);
	f->now += 200 * TICK_NS;
	assert_int_equal(lapic_rd(l, TMCCT), 500);
	assert_int_equal(tick(f, l, 999 * TICK_NS), -1);
	assert_int_equal(tick(f, l, TICK_NS), VEC);
}

static void test_periodic(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];
	uint64_t t0 = f->now;

	lapic_wr(l, TDCR, 0xb);
	lapic_wr(l, LVT_TIMER, VEC | PERIODIC);
	lapic_wr(l, TMICT, 100);
	for (unsigned k = 1; k <= 5; k++) {
		assert_int_equal(tick(f, l, 99 * TICK_NS), -1);
		assert_int_equal(tick(f, l, TICK_NS), VEC);
		assert_int_equal(lapic_timer_deadline(l), t0 + (k + 1) * 100 * TICK_NS);
		assert_int_equal(lapic_rd(l, TMCCT), 100); /* reloaded */
	}
	f->now += 30 * TICK_NS;
	assert_int_equal(lapic_rd(l, TMCCT), 70);
	/* missed periods coalesce into one interrupt; the phase is kept */
	assert_int_equal(tick(f, l, 1000 * TICK_NS), VEC);
	assert_int_equal(lapic_ack(l), -1);
	assert_int_equal(lapic_timer_deadline(l), t0 + 1600 * TICK_NS);
	/* masked: keeps counting, no interrupt, no wakeups */
	lapic_wr(l, LVT_TIMER, VEC | PERIODIC | MASKED);
	assert_int_equal(lapic_timer_deadline(l), UINT64_MAX);
	assert_int_equal(tick(f, l, 500 * TICK_NS), -1);
	assert_int_equal(lapic_rd(l, TMCCT), 100 - (1530 + 500 - 1500) % 100);
	lapic_wr(l, LVT_TIMER, VEC | PERIODIC);
	assert_int_equal(tick(f, l, 100 * TICK_NS), VEC);
	/* periodic -> one-shot: the current count runs out once more */
	lapic_wr(l, LVT_TIMER, VEC);
	assert_int_equal(tick(f, l, 100 * TICK_NS), VEC);
	assert_int_equal(tick(f, l, 1000 * TICK_NS), -1);
}

static void test_tsc_deadline(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[2];
	uint64_t tsc = emu_tb_tsc(&f->tb, f->now), v;

	/* the MSR is ignored outside TSC-deadline mode */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_TSC_DEADLINE, tsc + 100), 0);
	assert_int_equal(lapic_rdmsr(l, MSR_IA32_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0);
	lapic_wr(l, LVT_TIMER, VEC | TSC_DEADLINE);
	lapic_wr(l, TMICT, 1000); /* ignored in this mode */
	assert_int_equal(lapic_rd(l, TMICT), 0);
	assert_int_equal(lapic_timer_deadline(l), UINT64_MAX);

	tsc += 10 * EMU_TSC_HZ / 1000; /* 10 ms */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_TSC_DEADLINE, tsc), 0);
	assert_int_equal(lapic_timer_deadline(l), f->now + 10000000);
	assert_int_equal(lapic_rdmsr(l, MSR_IA32_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, tsc);
	assert_int_equal(lapic_rd(l, TMCCT), 0);
	assert_int_equal(tick(f, l, 9999999), -1);
	assert_int_equal(tick(f, l, 1), VEC);
	assert_int_equal(lapic_rdmsr(l, MSR_IA32_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0); /* cleared on expiry */
	assert_int_equal(lapic_timer_deadline(l), UINT64_MAX);
	/* a deadline already past fires on the write */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_TSC_DEADLINE, 1), 0);
	assert_int_equal(lapic_pending_vector(l), VEC);
	assert_int_equal(tick(f, l, 0), VEC);
	/* writing 0 disarms */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_TSC_DEADLINE, emu_tb_tsc(&f->tb, f->now) + 5), 0);
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_TSC_DEADLINE, 0), 0);
	assert_int_equal(tick(f, l, 1000000), -1);
	/* leaving TSC-deadline mode disarms */
	assert_int_equal(lapic_wrmsr(l, MSR_IA32_TSC_DEADLINE, emu_tb_tsc(&f->tb, f->now) + 5), 0);
	lapic_wr(l, LVT_TIMER, VEC);
	assert_int_equal(tick(f, l, 1000000), -1);
	lapic_wr(l, LVT_TIMER, VEC | TSC_DEADLINE);
	assert_int_equal(lapic_rdmsr(l, MSR_IA32_TSC_DEADLINE, &v), 0);
	assert_int_equal(v, 0);
}

static void test_masked_oneshot(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[3];

	/* an expiry while masked is not replayed on unmask */
	lapic_wr(l, TDCR, 0xb);
	lapic_wr(l, LVT_TIMER, VEC | MASKED);
	lapic_wr(l, TMICT, 100);
	assert_int_equal(lapic_timer_deadline(l), UINT64_MAX);
	f->now += 200 * TICK_NS;
	lapic_wr(l, LVT_TIMER, VEC);
	assert_int_equal(tick(f, l, 0), -1);
	assert_int_equal(lapic_rd(l, TMCCT), 0);
	/* software disable masks the timer */
	lapic_wr(l, TMICT, 100);
	lapic_wr(l, 0xf0, 0xff);
	assert_int_equal(lapic_rd(l, LVT_TIMER), VEC | MASKED);
	assert_int_equal(lapic_timer_deadline(l), UINT64_MAX);
}

static void test_timebase(void **state)
{
	struct emu_timebase tb;
	uint64_t a, b;

	(void)state;
	emu_timebase_init(&tb, NULL, NULL);
	a = emu_tb_now(&tb);
	b = emu_tb_now(&tb);
	assert_true(b >= a && a >= tb.tsc_base_ns);
	assert_int_equal(emu_tb_tsc(&tb, tb.tsc_base_ns + 1000), 1000 * EMU_TSC_HZ / EMU_NSEC_PER_SEC);
	assert_int_equal(emu_tb_tsc(&tb, tb.tsc_base_ns - 1), 0);
	assert_int_equal(emu_tb_tsc_to_ns(&tb, 3), tb.tsc_base_ns + 2); /* rounded up */
	assert_int_equal(emu_scale(UINT64_MAX, 3, 2, 0), UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_oneshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tsc_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masked_oneshot, setup, teardown),
		cmocka_unit_test(test_timebase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

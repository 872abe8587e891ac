/* IPIs between four local APICs, INIT/SIPI, MSIs, and cross-thread wakeups. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "apic_test.h"

#define LDR 0xd0
#define DFR 0xe0
#define IRR 0x200
#define TMR 0x180
#define ESR 0x280
#define ICR 0x300

#define FIXED(v) (0x4000u | (v))
#define LOGICAL (1u << 11)
#define SH_SELF (1u << 18)
#define SH_ALL (2u << 18)
#define SH_OTHERS (3u << 18)

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

/* Bit i set if CPU i has vector pending in IRR; clears them. */
static unsigned who(struct apic_fixture *f, unsigned vector)
{
	unsigned mask = 0;

	for (unsigned i = 0; i < NCPUS; i++) {
		if (lapic_bit(&f->cpu[i], IRR, vector)) {
			mask |= 1u << i;
			assert_int_equal(lapic_ack(&f->cpu[i]), (int)vector);
			lapic_wr(&f->cpu[i], 0xb0, 0);
		}
	}
	return mask;
}

static void test_physical(void **state)
{
	struct apic_fixture *f = *state;

	lapic_ipi(&f->cpu[0], 2u << 24, FIXED(0x40));
	assert_int_equal(who(f, 0x40), 1u << 2);
	lapic_ipi(&f->cpu[3], 0u << 24, FIXED(0x41));
	assert_int_equal(who(f, 0x41), 1u << 0);
	lapic_ipi(&f->cpu[0], 0xffu << 24, FIXED(0x42)); /* broadcast */
	assert_int_equal(who(f, 0x42), 0xf);
	lapic_ipi(&f->cpu[0], 7u << 24, FIXED(0x43)); /* nobody */
	assert_int_equal(who(f, 0x43), 0);
	assert_int_equal(lapic_rd(&f->cpu[0], ICR) & 0x1000, 0); /* delivered: idle */
	assert_int_equal(lapic_rd(&f->cpu[0], ICR), FIXED(0x43));
	assert_int_equal(f->wakes, 6); /* one per accepting LAPIC */
}

static void test_shorthands(void **state)
{
	struct apic_fixture *f = *state;

	lapic_ipi(&f->cpu[1], 3u << 24, FIXED(0x50) | SH_SELF);
	assert_int_equal(who(f, 0x50), 1u << 1);
	lapic_ipi(&f->cpu[1], 0, FIXED(0x51) | SH_ALL);
	assert_int_equal(who(f, 0x51), 0xf);
	lapic_ipi(&f->cpu[1], 0, FIXED(0x52) | SH_OTHERS);
	assert_int_equal(who(f, 0x52), 0xd);
}

static void test_logical_flat(void **state)
{
	struct apic_fixture *f = *state;

	for (unsigned i = 0; i < NCPUS; i++)
		lapic_wr(&f->cpu[i], LDR, (1u << i) << 24);
	lapic_ipi(&f->cpu[0], 0x06u << 24, FIXED(0x60) | LOGICAL);
	assert_int_equal(who(f, 0x60), 0x6);
	lapic_ipi(&f->cpu[0], 0xffu << 24, FIXED(0x61) | LOGICAL);
	assert_int_equal(who(f, 0x61), 0xf);
	/* lowest priority: the lowest-numbered of the set */
	lapic_ipi(&f->cpu[0], 0x0cu << 24, 0x4000 | 1u << 8 | 0x62 | LOGICAL);
	assert_int_equal(who(f, 0x62), 0x4);
	/* level-triggered fixed IPI sets TMR */
	lapic_ipi(&f->cpu[0], 0x08u << 24, 0xc000 | 0x63 | LOGICAL);
	assert_int_equal(lapic_bit(&f->cpu[3], TMR, 0x63), 1);
}

static void test_logical_cluster(void **state)
{
	struct apic_fixture *f = *state;

	/* clusters 1 and 2, two CPUs each */
	for (unsigned i = 0; i < NCPUS; i++) {
		lapic_wr(&f->cpu[i], DFR, 0x0fffffff);
		lapic_wr(&f->cpu[i], LDR, ((1 + i / 2) << 4 | 1u << (i % 2)) << 24);
	}
	lapic_ipi(&f->cpu[0], 0x13u << 24, FIXED(0x70) | LOGICAL);
	assert_int_equal(who(f, 0x70), 0x3);
	lapic_ipi(&f->cpu[0], 0x22u << 24, FIXED(0x71) | LOGICAL);
	assert_int_equal(who(f, 0x71), 0x8);
	lapic_ipi(&f->cpu[0], 0x31u << 24, FIXED(0x72) | LOGICAL);
	assert_int_equal(who(f, 0x72), 0);
	lapic_ipi(&f->cpu[0], 0xf1u << 24, FIXED(0x73) | LOGICAL); /* all clusters */
	assert_int_equal(who(f, 0x73), 0x5);
}

static void test_init_sipi_nmi(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *ap = &f->cpu[1];
	uint8_t vec = 0;

	lapic_wr(ap, 0x80, 0x30);
	lapic_accept(ap, APIC_DM_FIXED, 0x80, false);
	/* INIT assert (level, assert): resets the target's LAPIC */
	lapic_ipi(&f->cpu[0], 1u << 24, 0x4500 | 0x8000);
	assert_int_equal(lapic_events(ap), LAPIC_EV_INIT);
	assert_int_equal(lapic_rd(ap, 0x80), 0);
	assert_int_equal(lapic_rd(ap, 0xf0), 0xff);
	assert_int_equal(lapic_bit(ap, IRR, 0x80), 0);
	assert_int_equal(lapic_rd(ap, 0x20), 1u << 24); /* ID kept */
	/* INIT de-assert (level, de-assert): no effect */
	lapic_ipi(&f->cpu[0], 0, 0x0500 | 0x8000 | SH_ALL);
	assert_int_equal(lapic_events(&f->cpu[2]), 0);
	/* SIPI twice, as Linux does */
	lapic_ipi(&f->cpu[0], 1u << 24, 0x4600 | 0x9a);
	lapic_ipi(&f->cpu[0], 1u << 24, 0x4600 | 0x9b);
	assert_int_equal(lapic_events(ap), LAPIC_EV_INIT | LAPIC_EV_SIPI);
	assert_int_equal(lapic_take(ap, LAPIC_EV_INIT, NULL), LAPIC_EV_INIT);
	assert_int_equal(lapic_take(ap, LAPIC_EV_INIT | LAPIC_EV_SIPI, &vec), LAPIC_EV_SIPI);
	assert_int_equal(vec, 0x9b);
	assert_int_equal(lapic_events(ap), 0);
	/* SIPI works on a software-disabled APIC; fixed does not */
	lapic_ipi(&f->cpu[0], 1u << 24, FIXED(0x44));
	assert_int_equal(lapic_bit(ap, IRR, 0x44), 0);
	/* NMI to all but self */
	lapic_ipi(&f->cpu[0], 0, 0x4400 | SH_OTHERS);
	assert_int_equal(lapic_events(&f->cpu[0]), 0);
	for (unsigned i = 1; i < NCPUS; i++)
		assert_int_equal(lapic_take(&f->cpu[i], LAPIC_EV_NMI, NULL), LAPIC_EV_NMI);
}

static void test_x2apic_ipi(void **state)
{
	struct apic_fixture *f = *state;

	for (unsigned i = 0; i < NCPUS; i++) {
		assert_int_equal(lapic_wrmsr(&f->cpu[i], MSR_IA32_APIC_BASE,
					     0xfee00c00 | (i ? 0 : 0x100)), 0);
		assert_int_equal(lapic_wrmsr(&f->cpu[i], 0x80f, 0x1ff), 0);
	}
	/* physical: 32-bit destination in ICR[63:32] */
	assert_int_equal(lapic_wrmsr(&f->cpu[0], 0x830, 3ull << 32 | FIXED(0x80)), 0);
	assert_int_equal(who(f, 0x80), 0x8);
	assert_int_equal(lapic_wrmsr(&f->cpu[0], 0x830, 0xffffffffull << 32 | FIXED(0x81)), 0);
	assert_int_equal(who(f, 0x81), 0xf);
	/* logical: cluster 0, CPUs 1 and 2 */
	assert_int_equal(lapic_wrmsr(&f->cpu[0], 0x830, 0x6ull << 32 | FIXED(0x82) | LOGICAL), 0);
	assert_int_equal(who(f, 0x82), 0x6);
	assert_int_equal(lapic_wrmsr(&f->cpu[0], 0x830, 0x10006ull << 32 | FIXED(0x83) | LOGICAL), 0);
	assert_int_equal(who(f, 0x83), 0);
	/* the IOAPIC's 8-bit destination reaches x2APIC IDs too */
	ioapic_route(&f->io, 9, 0x84 | 2ull << 56);
	ioapic_set_irq(&f->io, 9, 1);
	assert_int_equal(who(f, 0x84), 0x4);
}

static void test_msi(void **state)
{
	struct apic_fixture *f = *state;
	struct apic_msg m;

	assert_int_equal(apic_msi_decode(0xfee02000, 0x4041, &m), 0);
	assert_int_equal(m.dest, 2);
	assert_int_equal(m.vector, 0x41);
	assert_int_equal(m.mode, APIC_DM_FIXED);
	assert_false(m.logical);
	assert_false(m.level);
	assert_int_equal(apic_msi_decode(0xfee0300c, 0xc142, &m), 0); /* RH, logical, lowest */
	assert_int_equal(m.dest, 3);
	assert_true(m.logical);
	assert_int_equal(m.mode, APIC_DM_LOWEST);
	assert_false(m.level); /* MSIs are edge */
	assert_int_equal(apic_msi_decode(0xfec00000, 0x41, &m), -22);
	assert_int_equal(apic_msi_decode(0xfee00000, 0x341, &m), -22); /* reserved mode */

	assert_int_equal(apic_bus_msi(&f->bus, 0xfee01000, 0x4051), 1);
	assert_int_equal(who(f, 0x51), 0x2);
	assert_int_equal(apic_bus_msi(&f->bus, 0xfeeff000, 0x52), NCPUS);
	assert_int_equal(who(f, 0x52), 0xf);
	assert_int_equal(apic_bus_msi(&f->bus, 0xfee03000, 0x400), 1); /* NMI */
	assert_int_equal(lapic_events(&f->cpu[3]), LAPIC_EV_NMI);
	assert_int_equal(apic_bus_msi(&f->bus, 0x1000, 0x41), -22);
}

struct sender {
	struct apic_fixture *f;
	unsigned from, n;
};

static void *send_many(void *arg)
{
	struct sender *s = arg;

	for (unsigned i = 0; i < s->n; i++)
		apic_bus_msi(&s->f->bus, 0xfee00000, 0x40 + s->from * 0x10 + (i & 7));
	return NULL;
}

/* Two threads post while the owner takes: nothing is lost or corrupted. */
static void test_concurrent_delivery(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];
	struct sender s[2] = { { f, 0, 20000 }, { f, 1, 20000 } };
	pthread_t t[2];
	unsigned seen[256] = { 0 };

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, send_many, &s[i]), 0);
	for (unsigned k = 0; k < 200000; k++) {
		int v = lapic_ack(l);

		if (v >= 0) {
			seen[v]++;
			lapic_wr(l, 0xb0, 0);
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	while (lapic_events(l) & LAPIC_EV_INTR) {
		seen[lapic_ack(l)]++;
		lapic_wr(l, 0xb0, 0);
	}
	for (unsigned v = 0x40; v < 0x58; v++) {
		if ((v & 0xf) < 8)
			assert_true(seen[v] > 0);
	}
	assert_int_equal(lapic_pending_vector(l), -1);
	for (unsigned off = 0x100; off < 0x180; off += 0x10)
		assert_int_equal(lapic_rd(l, off), 0); /* ISR empty */
}

static void *ipi_later(void *arg)
{
	struct apic_fixture *f = arg;

	usleep(20000);
	lapic_ipi(&f->cpu[1], 0, FIXED(0x99));
	return NULL;
}

/* Whether the armed HLT's eventfd was signalled (taking the count). */
static bool woken(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t cnt;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return read(efd, &cnt, sizeof(cnt)) == sizeof(cnt);
}

static void test_halt_arm(void **state)
{
	struct apic_fixture *f = *state;
	struct lapic *l = &f->cpu[0];
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_t t;

	assert_true(efd >= 0);
	/* a kick before the wait is not lost: do not sleep */
	lapic_kick(l);
	assert_false(lapic_halt_arm(l, true, efd));
	lapic_halt_disarm(l); /* and it is taken */
	assert_true(lapic_halt_arm(l, true, efd));
	/* an interrupt from another thread signals the armed sleeper */
	assert_int_equal(pthread_create(&t, NULL, ipi_later, f), 0);
	assert_true(woken(efd, 5000));
	pthread_join(t, NULL);
	lapic_halt_disarm(l);
	assert_int_equal(lapic_events(l) & LAPIC_EV_INTR, LAPIC_EV_INTR);
	/* with IF=0 a pending fixed interrupt does not end HLT; NMI does */
	assert_true(lapic_halt_arm(l, false, efd));
	lapic_accept(l, APIC_DM_NMI, 0, false);
	assert_true(woken(efd, 5000));
	lapic_halt_disarm(l);
	assert_false(lapic_halt_arm(l, false, efd)); /* the NMI is still there */
	lapic_halt_disarm(l);
	lapic_take(l, LAPIC_EV_NMI, NULL);
	/* disarmed: a kick no longer signals the fd */
	lapic_kick(l);
	assert_false(woken(efd, 0));
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_physical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shorthands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logical_flat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logical_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_sipi_nmi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x2apic_ipi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_halt_arm, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The 8254 PIT on a fake clock: Linux's periodic (mode 2) and one-shot
 * (mode 4) clock events and its shutdown, mode 0, latches and read-back,
 * access modes, and channel 2 behind port 0x61 as the TSC calibration and
 * the speaker use it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "accel/emu/pit.h"

#define CH0 0x40
#define CH2 0x42
#define CMD 0x43
#define P61 0x61
#define LATCH_250HZ 4773 /* Linux's PIT_LATCH for HZ=250 */

struct fixture {
	uint64_t now;
	struct emu_timebase tb;
	struct pit pit;
};

static uint64_t fake_now(void *opaque)
{
	return ((struct fixture *)opaque)->now;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->now = 1000000000ull; /* an arbitrary start */
	emu_timebase_init(&f->tb, fake_now, f);
	assert_int_equal(pit_init(&f->pit, &f->tb), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pit_destroy(&f->pit);
	free(f);
	return 0;
}

/* ns from a load until `ticks` ticks have passed (rounded up, as the PIT). */
static uint64_t ticks_ns(uint64_t ticks)
{
	return (ticks * EMU_NSEC_PER_SEC + PIT_HZ - 1) / PIT_HZ;
}

static void program(struct pit *p, uint8_t cw, uint16_t port, uint32_t count)
{
	pit_write(p, CMD, cw);
	pit_write(p, port, (uint8_t)count);
	pit_write(p, port, (uint8_t)(count >> 8));
}

/* Counter latch, then LSB and MSB. */
static unsigned latched_count(struct pit *p, unsigned ch)
{
	unsigned lo, hi;

	pit_write(p, CMD, (uint8_t)(ch << 6));
	lo = pit_read(p, (uint16_t)(CH0 + ch));
	hi = pit_read(p, (uint16_t)(CH0 + ch));
	return lo | hi << 8;
}

/* Advances the clock and polls as the boot vCPU does: fires seen. */
static unsigned advance(struct fixture *f, uint64_t ns, uint64_t step)
{
	unsigned fired = 0;

	for (uint64_t t = 0; t < ns; t += step) {
		f->now += step < ns - t ? step : ns - t;
		fired += pit_check(&f->pit, f->now);
	}
	return fired;
}

static void test_idle(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pit_deadline(&f->pit), PIT_NONE);
	assert_int_equal(advance(f, 1000000000ull, 1000000), 0);
	assert_int_equal(pit_read(&f->pit, P61) & 0x0f, 0);
	assert_int_equal(pit_read(&f->pit, CMD), 0);
}

/* pit_set_periodic: 0x34, LATCH: an edge every LATCH ticks. */
static void test_periodic(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;
	uint64_t t0 = f->now, k;

	program(p, 0x34, CH0, LATCH_250HZ);
	assert_int_equal(pit_deadline(p), t0 + ticks_ns(LATCH_250HZ));
	assert_int_equal(latched_count(p, 0), LATCH_250HZ);
	f->now = t0 + ticks_ns(1000);
	assert_int_equal(latched_count(p, 0), LATCH_250HZ - 1000);
	assert_false(pit_check(p, f->now));
	f->now = t0 + ticks_ns(LATCH_250HZ) - 1;
	assert_false(pit_check(p, f->now));
	f->now++;
	assert_true(pit_check(p, f->now));
	assert_false(pit_check(p, f->now)); /* once */
	assert_int_equal(pit_deadline(p), t0 + ticks_ns(2 * LATCH_250HZ));
	/* to one second, polled every 100 us: edges 2..249 */
	assert_int_equal(advance(f, t0 + 1000000000ull - f->now, 100000), 248);
	/* ten periods unpolled coalesce into one edge, keeping the phase */
	f->now += 10 * ticks_ns(LATCH_250HZ);
	assert_true(pit_check(p, f->now));
	assert_false(pit_check(p, f->now));
	k = (pit_deadline(p) - t0) * PIT_HZ / EMU_NSEC_PER_SEC / LATCH_250HZ;
	assert_int_equal(pit_deadline(p), t0 + ticks_ns(k * LATCH_250HZ));
	assert_true(pit_deadline(p) > f->now);
	assert_true(pit_deadline(p) - f->now <= ticks_ns(LATCH_250HZ));
}

/* pit_set_oneshot (0x38: mode 4) then pit_next_event(delta): one edge
 * after delta + 1 ticks. */
static void test_oneshot_mode4(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;
	uint64_t t0;

	pit_write(p, CMD, 0x38);
	assert_int_equal(pit_deadline(p), PIT_NONE);
	t0 = f->now;
	pit_write(p, CH0, 0x10);
	pit_write(p, CH0, 0x00); /* 16 ticks */
	assert_int_equal(pit_deadline(p), t0 + ticks_ns(17));
	assert_int_equal(advance(f, ticks_ns(17) - 1, 100), 0);
	assert_int_equal(advance(f, 1, 1), 1);
	assert_int_equal(pit_deadline(p), PIT_NONE);
	assert_int_equal(advance(f, ticks_ns(200000), 1000000), 0);
	/* the next event */
	t0 = f->now;
	program(p, 0x38, CH0, 1000);
	assert_int_equal(pit_deadline(p), t0 + ticks_ns(1001));
}

/* Mode 0: OUT rises once at the terminal count; the count wraps on. */
static void test_mode0(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;
	uint64_t t0 = f->now;

	program(p, 0x30, CH0, 1000);
	assert_int_equal(pit_deadline(p), t0 + ticks_ns(1000));
	f->now = t0 + ticks_ns(999);
	assert_int_equal(latched_count(p, 0), 1);
	pit_write(p, CMD, 0xe2); /* read-back status of channel 0 */
	assert_int_equal(pit_read(p, CH0), 0x30); /* OUT low, mode 0, word */
	assert_int_equal(advance(f, ticks_ns(1) + 1, 1), 1);
	f->now += ticks_ns(1);
	assert_int_equal(latched_count(p, 0), 0xffff);
	pit_write(p, CMD, 0xe2);
	assert_int_equal(pit_read(p, CH0), 0xb0); /* OUT high */
	assert_int_equal(advance(f, ticks_ns(70000), 10000), 0);
}

/* The control word stops the channel: Linux's shutdown (0x30, then 0, 0)
 * leaves one edge 65536 ticks later, then nothing; without a count, none. */
static void test_stop(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;
	uint64_t t0;

	program(p, 0x34, CH0, LATCH_250HZ);
	pit_write(p, CMD, 0x30);
	assert_int_equal(pit_deadline(p), PIT_NONE);
	assert_int_equal(advance(f, 100000000, 1000000), 0);
	t0 = f->now;
	pit_write(p, CH0, 0);
	pit_write(p, CH0, 0);
	assert_int_equal(pit_deadline(p), t0 + ticks_ns(65536));
	assert_int_equal(advance(f, 1000000000, 1000000), 1);
	assert_int_equal(pit_deadline(p), PIT_NONE);
	/* null count until the count is written */
	pit_write(p, CMD, 0x34);
	pit_write(p, CMD, 0xe2);
	assert_int_equal(pit_read(p, CH0) & 0x40, 0x40);
	pit_write(p, CH0, 1);
	pit_write(p, CH0, 1);
	pit_write(p, CMD, 0xe2);
	assert_int_equal(pit_read(p, CH0), 0xb4); /* OUT high, mode 2, word */
}

/* An edge that passed unpolled is not lost when channel 0 is reprogrammed. */
static void test_due_edge_kept(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;

	program(p, 0x30, CH0, 100);
	f->now += ticks_ns(200);
	program(p, 0x30, CH0, 50000);
	assert_int_equal(pit_deadline(p), 0);
	assert_true(pit_check(p, f->now));
	assert_true(pit_deadline(p) > f->now);
	assert_false(pit_check(p, f->now));
}

static void test_access_modes(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;

	pit_write(p, CMD, 0x14); /* LSB only, mode 2 */
	pit_write(p, CH0, 0x80);
	assert_int_equal(pit_read(p, CH0), 0x80);
	assert_int_equal(pit_read(p, CH0), 0x80); /* every read is the LSB */
	pit_write(p, CMD, 0x24); /* MSB only */
	pit_write(p, CH0, 0x02);
	assert_int_equal(pit_read(p, CH0), 0x02);
	f->now += ticks_ns(0x100);
	assert_int_equal(pit_read(p, CH0), 0x01);
	/* word access without a latch: LSB and MSB read live, alternately */
	program(p, 0x34, CH0, 0x1234);
	assert_int_equal(pit_read(p, CH0), 0x34);
	assert_int_equal(pit_read(p, CH0), 0x12);
	/* a latch holds until read, a second latch command is ignored */
	pit_write(p, CMD, 0x00);
	f->now += ticks_ns(0x34);
	pit_write(p, CMD, 0x00);
	assert_int_equal(pit_read(p, CH0), 0x34);
	assert_int_equal(pit_read(p, CH0), 0x12);
	assert_int_equal(latched_count(p, 0), 0x1200);
	/* read-back of count and status: status first */
	pit_write(p, CMD, 0xc2);
	assert_int_equal(pit_read(p, CH0), 0xb4);
	assert_int_equal(pit_read(p, CH0), 0x00);
	assert_int_equal(pit_read(p, CH0), 0x12);
	/* mode 6 is mode 2 */
	pit_write(p, CMD, 0x3c);
	pit_write(p, CMD, 0xe2);
	assert_int_equal(pit_read(p, CH0), 0xf4); /* OUT high, null count, mode 2 */
}

/* Linux's pit_calibrate_tsc(): gate high, speaker off, channel 2 in mode 0,
 * then poll port 0x61 bit 5 until the count ends. */
static void test_port61_calibration(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;
	unsigned latch = PIT_HZ / 20, polls = 0;
	uint64_t t0;

	pit_write(p, P61, (uint8_t)((pit_read(p, P61) & ~0x02) | 0x01));
	assert_int_equal(pit_read(p, P61) & 0x0f, 0x01);
	t0 = f->now;
	program(p, 0xb0, CH2, latch);
	assert_int_equal(pit_deadline(p), PIT_NONE); /* channel 2 raises no IRQ */
	while (!(pit_read(p, P61) & 0x20) && polls < 100000) {
		f->now += 1000;
		polls++;
	}
	assert_true(f->now - t0 >= ticks_ns(latch));
	assert_true(f->now - t0 < ticks_ns(latch) + 1000);
	/* quick_pit_calibrate reads the live MSB: it falls with the count */
	program(p, 0xb0, CH2, 0xffff);
	f->now += ticks_ns(0x300);
	(void)pit_read(p, CH2);
	assert_int_equal(pit_read(p, CH2), 0xfc);
}

/* Gate low pauses modes 0 and 2; modes 2 and 3 restart on the rising gate. */
static void test_gate(void **state)
{
	struct fixture *f = *state;
	struct pit *p = &f->pit;

	pit_write(p, P61, 0x01);
	program(p, 0xb0, CH2, 1000);
	f->now += ticks_ns(400);
	pit_write(p, P61, 0x00);
	f->now += ticks_ns(5000);
	assert_int_equal(latched_count(p, 2), 600);
	assert_false(pit_read(p, P61) & 0x20);
	pit_write(p, P61, 0x01);
	f->now += ticks_ns(599);
	assert_false(pit_read(p, P61) & 0x20);
	f->now += ticks_ns(1);
	assert_true(pit_read(p, P61) & 0x20);
	/* the speaker's square wave: OUT high half the period */
	program(p, 0xb6, CH2, 1000);
	f->now += ticks_ns(100);
	assert_true(pit_read(p, P61) & 0x20);
	f->now += ticks_ns(500);
	assert_false(pit_read(p, P61) & 0x20);
	pit_write(p, P61, 0x00); /* gate low: OUT high */
	assert_true(pit_read(p, P61) & 0x20);
	pit_write(p, P61, 0x03); /* restart from the full count */
	assert_int_equal(latched_count(p, 2), 1000);
	assert_int_equal(pit_read(p, P61) & 0x0f, 0x03);
	/* mode 1: a gate edge triggers the one-shot */
	program(p, 0xb2, CH2, 100);
	assert_true(pit_read(p, P61) & 0x20);
	pit_write(p, P61, 0x00);
	pit_write(p, P61, 0x01);
	f->now += ticks_ns(50);
	assert_false(pit_read(p, P61) & 0x20);
	f->now += ticks_ns(50);
	assert_true(pit_read(p, P61) & 0x20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oneshot_mode4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_due_edge_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port61_calibration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

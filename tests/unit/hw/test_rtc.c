/* The CMOS RTC: time registers in BCD and binary, status bits, NVRAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "core/iobus.h"
#include "core/log.h"
#include "hw/rtc.h"

struct ctx {
	struct logger log;
	struct iobus pio;
	struct cmos_rtc rtc;
};

static int setup(void **state)
{
	static struct ctx c;

	c.log = (struct logger){ LOG_ERROR, -1 };
	assert_int_equal(iobus_init(&c.pio, "pio", &c.log), 0);
	assert_int_equal(cmos_rtc_init(&c.rtc), 0);
	assert_int_equal(iobus_register(&c.pio, 0x70, RTC_PORTS, &cmos_rtc_ops, &c.rtc, "rtc"), 0);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	cmos_rtc_destroy(&c->rtc);
	iobus_destroy(&c->pio);
	return 0;
}

static uint8_t rd(struct ctx *c, uint8_t idx)
{
	uint8_t v = idx;

	iobus_access(&c->pio, 0x70, &v, 1, true);
	iobus_access(&c->pio, 0x71, &v, 1, false);
	return v;
}

static void wr(struct ctx *c, uint8_t idx, uint8_t val)
{
	iobus_access(&c->pio, 0x70, &idx, 1, true);
	iobus_access(&c->pio, 0x71, &val, 1, true);
}

static unsigned from_bcd(uint8_t v)
{
	assert_true((v & 0xf) < 10 && (v >> 4) < 10);
	return (v >> 4) * 10 + (v & 0xf);
}

/* Host UTC minutes since midnight, for a comparison that tolerates a tick. */
static unsigned host_minutes(void)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	return (unsigned)(tm.tm_hour * 60 + tm.tm_min);
}

static void test_time_bcd_and_binary(void **state)
{
	struct ctx *c = *state;
	unsigned before = host_minutes(), got, after;
	time_t now = time(NULL);
	struct tm tm;

	assert_int_equal(rd(c, 0x0a) & 0x80, 0);  /* never "update in progress" */
	assert_int_equal(rd(c, 0x0d) & 0x80, 0x80); /* valid RAM and time */
	assert_true(rd(c, 0x0b) & 0x02);           /* 24-hour mode */
	got = from_bcd(rd(c, 0x04)) * 60 + from_bcd(rd(c, 0x02));
	after = host_minutes();
	assert_true(got == before || got == after);
	gmtime_r(&now, &tm);
	assert_int_equal(from_bcd(rd(c, 0x32)) * 100 + from_bcd(rd(c, 0x09)), tm.tm_year + 1900);
	wr(c, 0x0b, 0x06); /* binary, 24-hour */
	assert_int_equal(rd(c, 0x08), tm.tm_mon + 1);
	assert_true(rd(c, 0x00) < 60);
}

static void test_writes(void **state)
{
	struct ctx *c = *state;
	uint8_t v;

	wr(c, 0x0b, 0x02);
	v = rd(c, 0x09);
	wr(c, 0x09, (uint8_t)(v + 1)); /* time writes are ignored */
	assert_int_equal(rd(c, 0x09), v);
	wr(c, 0x0a, 0xa6);             /* UIP cannot be set */
	assert_int_equal(rd(c, 0x0a), 0x26);
	for (unsigned i = 0x0e; i < 0x80; i++) {
		if (i == 0x32)
			continue; /* century */
		wr(c, (uint8_t)i, (uint8_t)(i ^ 0x5a));
	}
	for (unsigned i = 0x0e; i < 0x80; i++) {
		if (i != 0x32)
			assert_int_equal(rd(c, (uint8_t)i), (uint8_t)(i ^ 0x5a));
	}
	wr(c, 0x80 | 0x20, 0x11); /* bit 7 of the index is the NMI mask */
	assert_int_equal(rd(c, 0x20), 0x11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_time_bcd_and_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The CMOS RTC (see rtc.h). */
#include "hw/rtc.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/iobus.h"

enum {
	R_SEC = 0, R_MIN = 2, R_HOUR = 4, R_WDAY = 6, R_MDAY = 7, R_MON = 8, R_YEAR = 9,
	R_A = 10, R_B = 11, R_C = 12, R_D = 13, R_CENTURY = 0x32,
};

#define B_24H 0x02
#define B_BINARY 0x04
#define D_VRT 0x80   /* valid RAM and time */
#define A_DEFAULT 0x26 /* 32.768 kHz divider, 1024 Hz rate; UIP never set */

static uint8_t to_bcd(unsigned v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

/* A time register as the guest's mode (register B) asks. */
static uint8_t time_reg(const struct cmos_rtc *r, unsigned idx)
{
	time_t now = time(NULL);
	struct tm tm;
	unsigned v, pm = 0;

	gmtime_r(&now, &tm);
	switch (idx) {
	case R_SEC: v = (unsigned)tm.tm_sec; break;
	case R_MIN: v = (unsigned)tm.tm_min; break;
	case R_HOUR:
		v = (unsigned)tm.tm_hour;
		if (!(r->reg[R_B] & B_24H)) {
			pm = v >= 12 ? 0x80 : 0;
			v = v % 12 ? v % 12 : 12;
		}
		break;
	case R_WDAY: v = (unsigned)tm.tm_wday + 1; break;
	case R_MDAY: v = (unsigned)tm.tm_mday; break;
	case R_MON: v = (unsigned)tm.tm_mon + 1; break;
	case R_YEAR: v = (unsigned)tm.tm_year % 100; break;
	default: v = (unsigned)(tm.tm_year + 1900) / 100; break;
	}
	return (uint8_t)((r->reg[R_B] & B_BINARY ? v : to_bcd(v)) | pm);
}

static uint8_t read_reg(struct cmos_rtc *r, unsigned idx)
{
	if (idx <= R_YEAR && idx != 1 && idx != 3 && idx != 5)
		return time_reg(r, idx);
	if (idx == R_CENTURY)
		return time_reg(r, idx);
	if (idx == R_C) { /* read clears the (never raised) flags */
		uint8_t v = r->reg[R_C];

		r->reg[R_C] = 0;
		return v;
	}
	return r->reg[idx];
}

static void write_reg(struct cmos_rtc *r, unsigned idx, uint8_t v)
{
	if (idx <= R_YEAR || idx == R_C || idx == R_D || idx == R_CENTURY)
		return; /* time and status: read-only here */
	if (idx == R_A)
		v &= 0x7f; /* UIP is read-only */
	r->reg[idx] = v;
}

static uint64_t rtc_read(void *dev, uint64_t off, unsigned size)
{
	struct cmos_rtc *r = dev;
	uint64_t v;

	if (off == 0)
		return 0xff; /* the index port is write-only */
	pthread_mutex_lock(&r->lock);
	v = read_reg(r, r->index);
	pthread_mutex_unlock(&r->lock);
	return v | (size > 1 ? ~(uint64_t)0xff : 0);
}

static void rtc_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct cmos_rtc *r = dev;

	(void)size;
	pthread_mutex_lock(&r->lock);
	if (off == 0)
		r->index = value & 0x7f; /* bit 7: the NMI mask, not ours */
	else
		write_reg(r, r->index, (uint8_t)value);
	pthread_mutex_unlock(&r->lock);
}

const struct io_ops cmos_rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

int cmos_rtc_init(struct cmos_rtc *r)
{
	int err = pthread_mutex_init(&r->lock, NULL);

	if (err)
		return -err;
	r->index = 0;
	memset(r->reg, 0, sizeof(r->reg));
	r->reg[R_A] = A_DEFAULT;
	r->reg[R_B] = B_24H;
	r->reg[R_D] = D_VRT;
	return 0;
}

void cmos_rtc_destroy(struct cmos_rtc *r)
{
	pthread_mutex_destroy(&r->lock);
}

/*
 * A minimal MC146818 CMOS RTC at ports 0x70/0x71: the host's UTC time in
 * the time registers, never "update in progress", 114 bytes of NVRAM. No
 * interrupts (alarm, periodic, update) and time writes are ignored.
 * Without it Linux's rtc-cmos probe polls a bus that reads 0xff (UIP set)
 * for a whole second before giving up.
 */
#ifndef HW_RTC_H
#define HW_RTC_H

#include <pthread.h>
#include <stdint.h>

struct io_ops;

#define RTC_PORTS 2

struct cmos_rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t reg[128];
};

int cmos_rtc_init(struct cmos_rtc *r);
void cmos_rtc_destroy(struct cmos_rtc *r);

/* Ports 0x70 (index) and 0x71 (data); dev = the struct cmos_rtc. */
extern const struct io_ops cmos_rtc_ops;

#endif

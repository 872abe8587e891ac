/*
 * The PC's 8254 programmable interval timer for the emu accelerator:
 * channels 0-2 at 0x40-0x42, the control word at 0x43, and port 0x61's
 * timer bits (channel 2 gate in bit 0, speaker data bit 1, refresh toggle
 * in bit 4, channel 2 OUT in bit 5), as KVM's in-kernel PIT with its dummy
 * speaker. Modes 0-5, LSB/MSB/word access, counter latch and read-back
 * commands, status bytes, gates. Counting is binary (the BCD bit is kept in
 * the status but not honoured); a count written while counting takes
 * effect at once in every mode.
 *
 * Nothing ticks: a channel's count and OUT are functions of the time since
 * it was loaded, at PIT_HZ on the timebase's clock. Channel 0's OUT drives
 * ISA IRQ 0; its next rising edge is a deadline (lock-free to read) that the
 * owner polls with pit_check(), which reports an edge that is due (missed
 * periods coalesce into one). A stopped or finished channel 0 has no
 * deadline, so an idle PIT costs one atomic load per check.
 *
 * Threads: any; one mutex, a leaf.
 */
#ifndef EMU_PIT_H
#define EMU_PIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/emu/timebase.h"

#define PIT_HZ 1193182ull
#define PIT_PORT_CH0 0x40
#define PIT_PORT_CMD 0x43
#define PIT_PORT_SPEAKER 0x61
#define PIT_NONE UINT64_MAX

/* One counter. Fields are private to pit.c. */
struct pit_channel {
	uint64_t load_ns;  /* when counting (re)started from `start` */
	uint32_t reload;   /* the count written: 1..65536 */
	uint32_t start;    /* counting element at load_ns (modes 0, 1, 4, 5) */
	uint16_t frozen;   /* counting element while not counting */
	uint16_t latch;    /* latched count */
	uint8_t mode, rw, bcd;
	uint8_t wbyte;     /* LSB of a word being written */
	uint8_t status;    /* latched status byte */
	bool loaded;       /* a count was written since the control word */
	bool counting;     /* loaded, triggered (1, 5) and not gated off */
	bool done;         /* modes 0, 1, 4, 5: terminal count reached before load_ns */
	bool out_idle;     /* OUT while not counting */
	bool gate;
	bool null_count;
	bool write_msb;    /* word access: the next byte written is the MSB */
	bool read_msb;     /* word access: the next byte read is the MSB */
	uint8_t latched;   /* latched count bytes left to read (0, 1, 2) */
	bool status_latched;
};

struct pit {
	pthread_mutex_t lock;
	_Atomic uint64_t deadline; /* 0 if an edge is due, else edge_ns */
	uint64_t edge_ns;          /* channel 0's next rising OUT edge, or PIT_NONE */
	bool due;                  /* an edge passed while channel 0 was reprogrammed */
	struct pit_channel ch[3];
	uint8_t port61;            /* bits 0-3 as written */
	const struct emu_timebase *tb;
};

int pit_init(struct pit *p, const struct emu_timebase *tb);
void pit_destroy(struct pit *p);

static inline bool pit_owns_port(uint16_t port)
{
	return (port >= PIT_PORT_CH0 && port <= PIT_PORT_CMD) || port == PIT_PORT_SPEAKER;
}

/* Byte accesses to the ports pit_owns_port() accepts. */
uint8_t pit_read(struct pit *p, uint16_t port);
void pit_write(struct pit *p, uint16_t port, uint8_t v);

static inline uint64_t pit_deadline(struct pit *p)
{
	return atomic_load_explicit(&p->deadline, memory_order_acquire);
}

/* True if channel 0's OUT rose by now_ns (pulse IRQ 0 once); moves the
 * deadline to the next edge. */
bool pit_check(struct pit *p, uint64_t now_ns);

#endif

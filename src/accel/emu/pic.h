/*
 * The PC's two cascaded 8259A interrupt controllers for the emu accelerator:
 * master at 0x20/0x21, slave at 0xa0/0xa1 on the master's IRQ 2, the edge
 * /level control registers (ELCR) at 0x4d0/0x4d1. ICW1-4, OCW1-3 (IMR,
 * non-specific/specific/rotating EOI, IRR/ISR reads, poll, special mask),
 * auto-EOI, special fully nested mode, spurious IRQ 7/15. As KVM's in-kernel
 * 8259 (which accel-kvm presents): single mode, BCD and the 8080 call
 * address interval are not modelled; byte accesses only.
 *
 * Inputs take logical levels (1 = asserted). An edge input latches IRR on a
 * rising edge; a level input (its ELCR bit) holds IRR while asserted. The
 * master's INT output is reported through the output callback, the
 * interrupt acknowledge (INTA) cycle is pic_intack().
 *
 * Threads: any. One mutex; the output callback runs under it (so levels
 * arrive in order: it must not call back into the PIC); the EOI callback
 * runs without it.
 */
#ifndef EMU_PIC_H
#define EMU_PIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PIC_MASTER_CMD 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_CMD 0xa0
#define PIC_SLAVE_DATA 0xa1
#define PIC_ELCR_MASTER 0x4d0
#define PIC_ELCR_SLAVE 0x4d1
#define PIC_IRQS 16
#define PIC_CASCADE_IRQ 2

struct pic_config {
	/* The master's INT line changed (called with the PIC's lock held). */
	void (*output)(void *opaque, bool level);
	/* The guest ended a level-triggered IRQ (irqfd resampling). Optional. */
	void (*eoi)(void *opaque, unsigned irq);
	void *opaque;
};

/* One 8259A. Fields are private to pic.c. */
struct pic_chip {
	uint8_t irr, isr, imr;
	uint8_t lines;      /* input levels (edge detection) */
	uint8_t elcr, elcr_mask;
	uint8_t base;       /* ICW2: vector of IR0 */
	uint8_t icw;        /* next ICW expected (2..4), 0 when initialised */
	uint8_t prio_add;   /* rotation: IR prio_add has the highest priority */
	bool need_icw4, single;
	bool read_isr, poll, special_mask;
	bool auto_eoi, rotate_auto_eoi, sfnm;
};

struct pic {
	pthread_mutex_t lock;
	struct pic_chip chip[2]; /* master, slave */
	bool output;
	uint16_t eoi_done; /* IRQs ended under the lock, for the EOI callback */
	struct pic_config cfg;
};

int pic_init(struct pic *p, const struct pic_config *cfg);
void pic_destroy(struct pic *p);

static inline bool pic_owns_port(uint16_t port)
{
	return (port & ~1u) == PIC_MASTER_CMD || (port & ~1u) == PIC_SLAVE_CMD ||
	       (port & ~1u) == PIC_ELCR_MASTER;
}

/* Byte accesses to the ports pic_owns_port() accepts. */
uint8_t pic_read(struct pic *p, uint16_t port);
void pic_write(struct pic *p, uint16_t port, uint8_t v);

/* Drives ISA IRQ line irq (0-15; 2 is the cascade and is not a line). */
void pic_set_irq(struct pic *p, unsigned irq, int level);

/* INTA: the vector of the highest-priority request (ISR set, edge IRR
 * cleared, auto-EOI done), or the chip's IRQ 7 vector if none (spurious). */
uint8_t pic_intack(struct pic *p);

/* The INT output now. */
bool pic_output(struct pic *p);

#endif

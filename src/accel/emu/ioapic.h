/*
 * I/O APIC model (82093AA-style, version 0x11: no EOI register) for the emu
 * accelerator. Pins take logical levels (1 = asserted, whatever the
 * programmed polarity, as the GSI level the core drives already means
 * "asserted"). Edge pins send a message on each rising edge while unmasked;
 * level pins send while asserted, unmasked and remote IRR clear, and set
 * remote IRR; the LAPIC's EOI broadcast of the vector clears it, calls the
 * EOI hook (irqfd resampling) and re-sends if the line is still asserted.
 *
 * Threads: ioapic_set_irq() and ioapic_eoi() from any thread; MMIO from
 * vCPU threads. One mutex, held while delivering to LAPICs (order IOAPIC ->
 * LAPIC), never while calling the EOI hook, so the hook may call
 * ioapic_set_irq().
 */
#ifndef EMU_IOAPIC_H
#define EMU_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/emu/apic_bus.h"

#define IOAPIC_DEFAULT_BASE 0xfec00000ull
#define IOAPIC_MMIO_SIZE 0x20
#define IOAPIC_PINS 24
#define IOAPIC_VERSION 0x11

/* Redirection entry bits */
#define IOAPIC_RTE_DEST_LOGICAL (1ull << 11)
#define IOAPIC_RTE_PENDING (1ull << 12)
#define IOAPIC_RTE_ACTIVE_LOW (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56

typedef void ioapic_eoi_fn(void *opaque, unsigned pin);

struct ioapic {
	pthread_mutex_t lock;
	uint32_t regsel;
	uint32_t id;
	uint32_t asserted; /* line levels, bit per pin */
	uint64_t rte[IOAPIC_PINS];
	const struct apic_bus *bus;
	ioapic_eoi_fn *eoi_hook;
	void *eoi_opaque;
};

int ioapic_init(struct ioapic *io, uint8_t id, const struct apic_bus *bus);
void ioapic_destroy(struct ioapic *io);

/* Called (without the IOAPIC lock) for each level pin the guest EOIs, before
 * the line is sampled again. Set before vCPUs run. */
void ioapic_set_eoi_hook(struct ioapic *io, ioapic_eoi_fn *fn, void *opaque);

/* IOREGSEL at 0x00, IOWIN at 0x10. */
void ioapic_mmio(struct ioapic *io, uint64_t offset, void *data, unsigned size, bool is_write);

/* Drives a pin: 0 or -EINVAL. */
int ioapic_set_irq(struct ioapic *io, unsigned pin, int level);

/* EOI broadcast from a LAPIC for a level-triggered vector. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/* The machine's routing (as the MP table and accel-kvm): GSI 0 -> pin 2,
 * GSI 2 -> nothing, others -> the same pin. -1 if not routed. */
static inline int ioapic_gsi_to_pin(unsigned gsi)
{
	if (gsi == 0)
		return 2;
	if (gsi == 2 || gsi >= IOAPIC_PINS)
		return -1;
	return (int)gsi;
}

#endif

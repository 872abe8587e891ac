/*
 * Fixture for the interrupt controller tests: four local APICs and an
 * IOAPIC on one bus, a fake clock, and an EOI hook that records pins.
 */
#ifndef TESTS_UNIT_EMU_APIC_TEST_H
#define TESTS_UNIT_EMU_APIC_TEST_H

#include <stdint.h>

#include "accel/emu/apic_bus.h"
#include "accel/emu/ioapic.h"
#include "accel/emu/lapic.h"
#include "accel/emu/timebase.h"

#define NCPUS 4

struct apic_fixture {
	uint64_t now; /* fake clock, ns */
	struct emu_timebase tb;
	struct lapic cpu[NCPUS];
	struct lapic *ptr[NCPUS];
	struct ioapic io;
	struct apic_bus bus;
	unsigned eoi_count;
	unsigned eoi_pin[16];
	int eoi_deassert; /* the hook deasserts the pin it is called for */
	unsigned wakes;
};

/* Every LAPIC software-enabled (SVR = 0x1ff) unless raw. */
struct apic_fixture *apic_fixture_new(int raw);
void apic_fixture_free(struct apic_fixture *f);

/* Register access by xAPIC offset (MSR 0x800 + off / 16 in x2APIC mode). */
uint32_t lapic_rd(struct lapic *l, unsigned off);
void lapic_wr(struct lapic *l, unsigned off, uint32_t v);
uint32_t ioapic_rd(struct ioapic *io, unsigned reg);
void ioapic_wr(struct ioapic *io, unsigned reg, uint32_t v);
/* Programs a redirection entry (both halves). */
void ioapic_route(struct ioapic *io, unsigned pin, uint64_t rte);
/* Bit `vector` of the 256-bit register at off (ISR 0x100, TMR 0x180, IRR 0x200). */
int lapic_bit(struct lapic *l, unsigned off, unsigned vector);
/* Sends an xAPIC IPI: ICR high then low. */
void lapic_ipi(struct lapic *l, uint32_t hi, uint32_t lo);

#endif

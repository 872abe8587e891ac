/*
 * The APIC "bus": interrupt messages between the IOAPIC, MSIs, and the local
 * APICs, and the EOI broadcast back to the IOAPIC. Delivery is synchronous:
 * a message is in the target's IRR (or its NMI/INIT/SIPI latch) when
 * apic_bus_send() returns.
 *
 * Locks: each LAPIC has a leaf mutex; the IOAPIC's mutex may be held while
 * delivering to a LAPIC (order IOAPIC -> LAPIC); a LAPIC never calls out
 * while holding its own.
 */
#ifndef EMU_APIC_BUS_H
#define EMU_APIC_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct lapic;
struct ioapic;

/* Delivery modes (ICR, IOAPIC redirection entries and MSI data bits 10:8). */
enum apic_dm {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_SIPI = 6,
	APIC_DM_EXTINT = 7,
};

/* ICR destination shorthands (bits 19:18). */
enum apic_shorthand {
	APIC_SH_NONE = 0,
	APIC_SH_SELF = 1,
	APIC_SH_ALL = 2,
	APIC_SH_OTHERS = 3,
};

struct apic_msg {
	uint32_t dest;     /* APIC ID or logical destination */
	uint8_t vector;
	uint8_t mode;      /* enum apic_dm */
	uint8_t shorthand; /* enum apic_shorthand: ICR only */
	bool logical;      /* destination mode */
	bool level;        /* trigger mode: level (sets TMR, EOI is broadcast) */
	bool wide;         /* 32-bit x2APIC destination; else 8 bits (0xff = all) */
};

#define APIC_MSI_BASE 0xfee00000u

struct apic_bus {
	struct lapic **lapic; /* by bus index (= initial APIC ID); entries may be NULL */
	unsigned n;
	struct ioapic *ioapic; /* EOI broadcast target, or NULL */
};

/* Every LAPIC is attached before any vCPU runs; the bus is then read-only. */
void apic_bus_init(struct apic_bus *bus, struct lapic **lapics, unsigned n, struct ioapic *io);

/*
 * Delivers m from src (NULL for the IOAPIC and MSIs; needed for shorthands).
 * Lowest priority goes to the lowest-numbered accepting target. Returns how
 * many LAPICs accepted it. Any thread.
 */
int apic_bus_send(const struct apic_bus *bus, const struct apic_msg *m, const struct lapic *src);

/* A LAPIC's EOI of a level-triggered vector. */
void apic_bus_eoi(const struct apic_bus *bus, uint8_t vector);

/* x86 MSI address/data -> message; -EINVAL if addr is not an MSI address. */
int apic_msi_decode(uint64_t addr, uint32_t data, struct apic_msg *m);

/* Decodes and delivers an MSI: the number of LAPICs reached, or -EINVAL. */
int apic_bus_msi(const struct apic_bus *bus, uint64_t addr, uint32_t data);

#endif

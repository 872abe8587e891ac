/*
 * APIC message routing: IPIs, IOAPIC messages and MSIs to local APICs.
 */
#include "accel/emu/apic_bus.h"

#include <errno.h>

#include "accel/emu/ioapic.h"
#include "accel/emu/lapic.h"

/* MSI address: 0xFEEx_xxxx, destination ID in 19:12, RH bit 3, DM bit 2. */
#define MSI_ADDR_MASK 0xfff00000u
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_DM_LOGICAL (1u << 2)

void apic_bus_init(struct apic_bus *bus, struct lapic **lapics, unsigned n, struct ioapic *io)
{
	bus->lapic = lapics;
	bus->n = n;
	bus->ioapic = io;
}

static bool is_target(const struct apic_msg *m, struct lapic *l, const struct lapic *src)
{
	switch (m->shorthand) {
	case APIC_SH_SELF:
		return l == src;
	case APIC_SH_ALL:
		return true;
	case APIC_SH_OTHERS:
		return l != src;
	default:
		return lapic_match_dest(l, m->dest, m->logical, m->wide);
	}
}

int apic_bus_send(const struct apic_bus *bus, const struct apic_msg *m, const struct lapic *src)
{
	int n = 0;

	for (unsigned i = 0; i < bus->n; i++) {
		struct lapic *l = bus->lapic[i];

		if (!l || !is_target(m, l, src))
			continue;
		if (lapic_accept(l, m->mode, m->vector, m->level)) {
			n++;
			/* Lowest priority: no arbitration, the lowest-numbered target. */
			if (m->mode == APIC_DM_LOWEST)
				break;
		}
	}
	return n;
}

void apic_bus_eoi(const struct apic_bus *bus, uint8_t vector)
{
	if (bus->ioapic)
		ioapic_eoi(bus->ioapic, vector);
}

int apic_msi_decode(uint64_t addr, uint32_t data, struct apic_msg *m)
{
	uint32_t lo = (uint32_t)addr;
	unsigned mode = (data >> 8) & 7;

	if ((lo & MSI_ADDR_MASK) != APIC_MSI_BASE || mode == 3)
		return -EINVAL;
	*m = (struct apic_msg){
		.dest = (lo >> MSI_ADDR_DEST_SHIFT) & 0xff,
		.vector = (uint8_t)data,
		.mode = (uint8_t)mode,
		.logical = lo & MSI_ADDR_DM_LOGICAL,
		.level = false, /* MSIs are edge-triggered (PCI) */
	};
	return 0;
}

int apic_bus_msi(const struct apic_bus *bus, uint64_t addr, uint32_t data)
{
	struct apic_msg m;
	int err = apic_msi_decode(addr, data, &m);

	return err ? err : apic_bus_send(bus, &m, NULL);
}

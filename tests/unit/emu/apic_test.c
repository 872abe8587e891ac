#include "apic_test.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fake_now(void *opaque)
{
	return ((struct apic_fixture *)opaque)->now;
}

static void eoi_hook(void *opaque, unsigned pin)
{
	struct apic_fixture *f = opaque;

	if (f->eoi_count < 16)
		f->eoi_pin[f->eoi_count] = pin;
	f->eoi_count++;
	if (f->eoi_deassert)
		ioapic_set_irq(&f->io, pin, 0);
}

static void wake(void *opaque)
{
	__atomic_fetch_add(&((struct apic_fixture *)opaque)->wakes, 1, __ATOMIC_RELAXED);
}

struct apic_fixture *apic_fixture_new(int raw)
{
	struct apic_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->now = 1000000000ull;
	emu_timebase_init(&f->tb, fake_now, f);
	apic_bus_init(&f->bus, f->ptr, NCPUS, &f->io);
	for (unsigned i = 0; i < NCPUS; i++) {
		struct lapic_config cfg = {
			.index = i, .bsp = i == 0, .bus = &f->bus, .tb = &f->tb,
			.wake = wake, .wake_opaque = f,
		};

		if (lapic_init(&f->cpu[i], &cfg))
			abort();
		f->ptr[i] = &f->cpu[i];
		if (!raw)
			lapic_wr(&f->cpu[i], 0xf0, 0x1ff);
	}
	if (ioapic_init(&f->io, NCPUS, &f->bus))
		abort();
	ioapic_set_eoi_hook(&f->io, eoi_hook, f);
	return f;
}

void apic_fixture_free(struct apic_fixture *f)
{
	for (unsigned i = 0; i < NCPUS; i++)
		lapic_destroy(&f->cpu[i]);
	ioapic_destroy(&f->io);
	free(f);
}

/* Through the page in xAPIC mode, through the MSRs in x2APIC mode. */
uint32_t lapic_rd(struct lapic *l, unsigned off)
{
	uint64_t v64;
	uint32_t v;

	if (!lapic_mmio_enabled(l) && !lapic_rdmsr(l, MSR_X2APIC_FIRST + off / 16, &v64))
		return (uint32_t)v64;
	lapic_mmio(l, off, &v, 4, false);
	return v;
}

void lapic_wr(struct lapic *l, unsigned off, uint32_t v)
{
	if (!lapic_mmio_enabled(l) && !lapic_wrmsr(l, MSR_X2APIC_FIRST + off / 16, v))
		return;
	lapic_mmio(l, off, &v, 4, true);
}

uint32_t ioapic_rd(struct ioapic *io, unsigned reg)
{
	uint32_t v = reg;

	ioapic_mmio(io, 0x00, &v, 4, true);
	ioapic_mmio(io, 0x10, &v, 4, false);
	return v;
}

void ioapic_wr(struct ioapic *io, unsigned reg, uint32_t v)
{
	uint32_t sel = reg;

	ioapic_mmio(io, 0x00, &sel, 4, true);
	ioapic_mmio(io, 0x10, &v, 4, true);
}

void ioapic_route(struct ioapic *io, unsigned pin, uint64_t rte)
{
	ioapic_wr(io, 0x11 + 2 * pin, (uint32_t)(rte >> 32));
	ioapic_wr(io, 0x10 + 2 * pin, (uint32_t)rte);
}

int lapic_bit(struct lapic *l, unsigned off, unsigned vector)
{
	return (lapic_rd(l, off + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

void lapic_ipi(struct lapic *l, uint32_t hi, uint32_t lo)
{
	lapic_wr(l, 0x310, hi);
	lapic_wr(l, 0x300, lo);
}

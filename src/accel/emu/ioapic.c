/*
 * I/O APIC: indirect register window, redirection table, edge and level
 * pins with remote IRR. See ioapic.h for the locking rules.
 */
#include "accel/emu/ioapic.h"

#include <errno.h>
#include <string.h>

#define REG_ID 0x00
#define REG_VERSION 0x01
#define REG_ARB 0x02
#define REG_RTE 0x10 /* + 2 * pin: low dword, + 1: high dword */

#define OFF_REGSEL 0x00
#define OFF_IOWIN 0x10

/* Vector, delivery mode, destination mode, polarity, trigger mode, mask. */
#define RTE_LO_WRITABLE 0x0001afffu
#define RTE_HI_WRITABLE 0xff000000u

int ioapic_init(struct ioapic *io, uint8_t id, const struct apic_bus *bus)
{
	int err;

	memset(io, 0, sizeof(*io));
	err = pthread_mutex_init(&io->lock, NULL);
	if (err)
		return -err;
	io->id = id & 0xf;
	io->bus = bus;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->rte[i] = IOAPIC_RTE_MASKED;
	return 0;
}

void ioapic_destroy(struct ioapic *io)
{
	pthread_mutex_destroy(&io->lock);
}

void ioapic_set_eoi_hook(struct ioapic *io, ioapic_eoi_fn *fn, void *opaque)
{
	pthread_mutex_lock(&io->lock);
	io->eoi_hook = fn;
	io->eoi_opaque = opaque;
	pthread_mutex_unlock(&io->lock);
}

/* Sends pin's message; level pins hold remote IRR until the EOI. */
static void deliver(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];
	struct apic_msg m = {
		.dest = (uint32_t)(e >> IOAPIC_RTE_DEST_SHIFT),
		.vector = (uint8_t)e,
		.mode = (uint8_t)((e >> 8) & 7),
		.logical = e & IOAPIC_RTE_DEST_LOGICAL,
		.level = e & IOAPIC_RTE_LEVEL,
	};

	if (!io->bus || apic_bus_send(io->bus, &m, NULL) <= 0)
		return; /* nobody took it: no remote IRR, nothing to EOI */
	if (m.level)
		io->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
}

/* A level pin that is asserted, unmasked and idle gets (re)sent. */
static void service_level(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];

	if ((e & IOAPIC_RTE_LEVEL) && !(e & (IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR)) &&
	    (io->asserted & (1u << pin)))
		deliver(io, pin);
}

int ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	uint32_t bit = 1u << pin;
	bool rising;

	if (pin >= IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&io->lock);
	rising = level && !(io->asserted & bit);
	if (level)
		io->asserted |= bit;
	else
		io->asserted &= ~bit;
	if (io->rte[pin] & IOAPIC_RTE_LEVEL)
		service_level(io, pin);
	else if (rising && !(io->rte[pin] & IOAPIC_RTE_MASKED))
		deliver(io, pin); /* a masked edge is lost, as on hardware */
	pthread_mutex_unlock(&io->lock);
	return 0;
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	uint32_t pins = 0;
	ioapic_eoi_fn *hook;
	void *opaque;

	pthread_mutex_lock(&io->lock);
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		uint64_t e = io->rte[i];

		if ((uint8_t)e == vector && (e & IOAPIC_RTE_LEVEL) && (e & IOAPIC_RTE_REMOTE_IRR)) {
			io->rte[i] &= ~IOAPIC_RTE_REMOTE_IRR;
			pins |= 1u << i;
		}
	}
	hook = io->eoi_hook;
	opaque = io->eoi_opaque;
	pthread_mutex_unlock(&io->lock);
	if (!pins)
		return;
	/* Resample first: the hook may deassert a line whose source is idle. */
	for (unsigned i = 0; hook && i < IOAPIC_PINS; i++) {
		if (pins & (1u << i))
			hook(opaque, i);
	}
	pthread_mutex_lock(&io->lock);
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		if (pins & (1u << i))
			service_level(io, i);
	}
	pthread_mutex_unlock(&io->lock);
}

static uint32_t reg_read(struct ioapic *io, uint32_t reg)
{
	unsigned pin = (reg - REG_RTE) / 2;

	switch (reg) {
	case REG_ID:
	case REG_ARB:
		return io->id << 24;
	case REG_VERSION:
		return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	default:
		if (reg < REG_RTE || pin >= IOAPIC_PINS)
			return 0;
		return (uint32_t)(io->rte[pin] >> (reg & 1 ? 32 : 0));
	}
}

static void rte_write(struct ioapic *io, unsigned pin, bool high, uint32_t v)
{
	uint64_t e = io->rte[pin];

	if (high) {
		e = (e & 0xffffffffull) | (uint64_t)(v & RTE_HI_WRITABLE) << 32;
	} else {
		e = (e & ~(uint64_t)RTE_LO_WRITABLE) | (v & RTE_LO_WRITABLE);
		/* Remote IRR means nothing for edge pins; Linux clears a stuck
		 * one on EOI-less IOAPICs by switching the pin to edge and back. */
		if (!(e & IOAPIC_RTE_LEVEL))
			e &= ~IOAPIC_RTE_REMOTE_IRR;
	}
	io->rte[pin] = e;
	service_level(io, pin); /* an unmasked, asserted level line fires now */
}

static void reg_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
	unsigned pin = (reg - REG_RTE) / 2;

	if (reg == REG_ID)
		io->id = (v >> 24) & 0xf;
	else if (reg >= REG_RTE && pin < IOAPIC_PINS)
		rte_write(io, pin, reg & 1, v);
	/* version, arbitration and unknown registers are read-only */
}

void ioapic_mmio(struct ioapic *io, uint64_t offset, void *data, unsigned size, bool is_write)
{
	uint32_t v = 0;

	if (size > 4) {
		if (!is_write)
			memset(data, 0, size);
		return;
	}
	memcpy(&v, data, is_write ? size : 0);
	pthread_mutex_lock(&io->lock);
	if (offset == OFF_REGSEL) {
		if (is_write)
			io->regsel = v & 0xff;
		else
			v = io->regsel;
	} else if (offset == OFF_IOWIN && (size == 4 || !is_write)) {
		if (is_write)
			reg_write(io, io->regsel, v);
		else
			v = reg_read(io, io->regsel);
	} else {
		v = 0;
	}
	pthread_mutex_unlock(&io->lock);
	if (!is_write)
		memcpy(data, &v, size);
}

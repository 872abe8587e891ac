/*
 * Local APIC registers: one core indexed by (xAPIC offset >> 4), which is
 * also (x2APIC MSR - 0x800), under two front ends. xAPIC MMIO never faults
 * (bad accesses read 0 and writes are dropped); x2APIC MSRs raise #GP for
 * reserved registers, writes to read-only ones, reads of write-only ones and
 * reserved bits in the 32-bit registers' upper halves.
 *
 * Side effects that reach other LAPICs or the IOAPIC (IPIs, EOI broadcast)
 * are collected under the lock and performed after it is released.
 */
#include "accel/emu/lapic.h"

#include <string.h>

#include "accel/emu/lapic_int.h"

enum {
	REG_ID = 0x02, REG_VERSION = 0x03, REG_TPR = 0x08, REG_APR = 0x09,
	REG_PPR = 0x0a, REG_EOI = 0x0b, REG_RRD = 0x0c, REG_LDR = 0x0d,
	REG_DFR = 0x0e, REG_SVR = 0x0f, REG_ISR = 0x10, REG_TMR = 0x18,
	REG_IRR = 0x20, REG_ESR = 0x28, REG_ICR = 0x30, REG_ICR_HI = 0x31,
	REG_LVT = 0x32, /* timer, thermal, perf, LINT0, LINT1, error */
	REG_TMICT = 0x38, REG_TMCCT = 0x39, REG_TDCR = 0x3e, REG_SELF_IPI = 0x3f,
};

#define SVR_ENABLE (1u << 8)
#define SVR_WRITABLE 0x3ffu    /* vector, enable, focus check (no EOI suppression) */
#define ICR_WRITABLE 0x000ccfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define ICR_DEST_LOGICAL (1u << 11)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)

/* Writable LVT bits, in register order. */
static const uint32_t lvt_writable[LAPIC_NLVT] = {
	[LVT_TIMER] = 0x000700ffu,   /* vector, mask, timer mode */
	[LVT_THERMAL] = 0x000107ffu, /* vector, delivery mode, mask */
	[LVT_PERF] = 0x000107ffu,
	[LVT_LINT0] = 0x0001a7ffu,   /* + polarity, trigger mode */
	[LVT_LINT1] = 0x0001a7ffu,
	[LVT_ERROR] = 0x000100ffu,
};

/* Work left for after the lock is dropped. */
struct post {
	int eoi_vector; /* level-triggered EOI to broadcast, or -1 */
	bool send;
	bool x2;
	uint64_t icr;
};

static bool x2_mode(struct lapic *l)
{
	return atomic_load(&l->state) & LAPIC_ST_X2;
}

bool lapic_mmio_enabled(struct lapic *l)
{
	return (atomic_load(&l->state) & (LAPIC_ST_HW | LAPIC_ST_X2)) == LAPIC_ST_HW;
}

uint64_t lapic_base(struct lapic *l)
{
	uint64_t b;

	pthread_mutex_lock(&l->lock);
	b = l->apic_base & ~0xfffull;
	pthread_mutex_unlock(&l->lock);
	return b;
}

static uint64_t now(struct lapic *l)
{
	return emu_tb_now(l->tb);
}

static int reg_read(struct lapic *l, unsigned reg, uint64_t *out, bool x2)
{
	uint32_t id = atomic_load(&l->id);

	if (reg >= REG_ISR && reg < REG_ISR + 8) {
		*out = l->isr[reg - REG_ISR];
	} else if (reg >= REG_TMR && reg < REG_TMR + 8) {
		*out = l->tmr[reg - REG_TMR];
	} else if (reg >= REG_IRR && reg < REG_IRR + 8) {
		*out = l->irr[reg - REG_IRR];
	} else if (reg >= REG_LVT && reg < REG_LVT + LAPIC_NLVT) {
		*out = l->lvt[reg - REG_LVT];
	} else {
		switch (reg) {
		case REG_ID: *out = x2 ? id : id << 24; break;
		case REG_VERSION: *out = LAPIC_VERSION; break;
		case REG_TPR: *out = l->tpr; break;
		case REG_PPR: *out = lapic_ppr(l); break;
		case REG_LDR: *out = atomic_load(&l->ldr); break;
		case REG_SVR: *out = l->svr; break;
		case REG_ESR: *out = l->esr; break;
		case REG_ICR:
			*out = l->icr_lo | (x2 ? (uint64_t)l->icr_hi << 32 : 0);
			break;
		case REG_TMICT: *out = l->timer.initial; break;
		case REG_TDCR: *out = l->timer.dcr; break;
		case REG_TMCCT: {
			uint64_t t = now(l);

			lapic_timer_update(l, t);
			*out = lapic_timer_current(l, t);
			break;
		}
		case REG_APR: case REG_RRD: case REG_DFR: case REG_ICR_HI:
			if (x2)
				return -1; /* xAPIC only */
			*out = reg == REG_DFR ? atomic_load(&l->dfr) :
			       reg == REG_ICR_HI ? l->icr_hi : 0;
			break;
		default:
			*out = 0; /* reserved, EOI, self IPI: #GP only in x2APIC mode */
			return x2 ? -1 : 0;
		}
	}
	return 0;
}

/* Clears the highest ISR bit; returns it if level-triggered (broadcast). */
static int eoi(struct lapic *l)
{
	int v = lapic_highest(l->isr);

	if (v < 0)
		return -1;
	l->isr[v >> 5] &= ~(1u << (v & 31));
	return l->tmr[v >> 5] & (1u << (v & 31)) ? v : -1;
}

static void write_svr(struct lapic *l, uint32_t v)
{
	l->svr = v & SVR_WRITABLE;
	if (v & SVR_ENABLE) {
		atomic_fetch_or(&l->state, LAPIC_ST_SW);
		return;
	}
	/* Software disable masks every LVT entry. */
	atomic_fetch_and(&l->state, ~LAPIC_ST_SW);
	lapic_timer_write_lvt(l, l->lvt[LVT_TIMER] | LVT_MASKED, now(l));
	for (unsigned i = LVT_THERMAL; i < LAPIC_NLVT; i++)
		l->lvt[i] |= LVT_MASKED;
}

static void write_lvt(struct lapic *l, unsigned idx, uint32_t v)
{
	v &= lvt_writable[idx];
	if (!(atomic_load(&l->state) & LAPIC_ST_SW))
		v |= LVT_MASKED; /* cannot be unmasked while software-disabled */
	if (idx == LVT_TIMER)
		lapic_timer_write_lvt(l, v, now(l));
	else
		l->lvt[idx] = v;
}

static void write_icr(struct lapic *l, uint64_t v, bool x2, struct post *p)
{
	l->icr_lo = (uint32_t)v & ICR_WRITABLE;
	if (x2)
		l->icr_hi = (uint32_t)(v >> 32);
	p->send = true;
	p->x2 = x2;
	p->icr = l->icr_lo | (uint64_t)l->icr_hi << 32;
}

static int write_self_ipi(struct lapic *l, uint64_t v, bool x2)
{
	if (!x2)
		return 0; /* reserved offset in xAPIC mode */
	if (v > 0xff)
		return -1;
	if (v < 16)
		lapic_error(l, ESR_SEND_ILLEGAL);
	else
		lapic_set_irr(l, (uint8_t)v, false);
	return 0;
}

static int write_misc(struct lapic *l, unsigned reg, uint32_t v, bool x2, struct post *p)
{
	switch (reg) {
	case REG_ID:
		if (x2)
			return -1;
		atomic_store(&l->id, v >> 24);
		return 0;
	case REG_TPR:
		if (x2 && v > 0xff)
			return -1;
		l->tpr = v & 0xff;
		return 0;
	case REG_EOI:
		if (x2 && v)
			return -1;
		p->eoi_vector = eoi(l);
		return 0;
	case REG_ESR: /* a write latches the errors seen since the last one */
		if (x2 && v)
			return -1;
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		return 0;
	case REG_SVR:
		write_svr(l, v);
		return 0;
	default:
		return x2 ? -1 : 0;
	}
}

static int reg_write(struct lapic *l, unsigned reg, uint64_t v, bool x2, struct post *p)
{
	uint32_t v32 = (uint32_t)v;

	if (x2 && reg != REG_ICR && (v >> 32))
		return -1;
	if (reg >= REG_LVT && reg < REG_LVT + LAPIC_NLVT) {
		write_lvt(l, reg - REG_LVT, v32);
		return 0;
	}
	switch (reg) {
	case REG_LDR:
	case REG_DFR:
	case REG_ICR_HI:
		if (x2)
			return -1; /* read-only or absent in x2APIC mode */
		if (reg == REG_LDR)
			atomic_store(&l->ldr, v32 & 0xff000000u);
		else if (reg == REG_DFR)
			atomic_store(&l->dfr, v32 | 0x0fffffffu);
		else
			l->icr_hi = v32 & 0xff000000u;
		return 0;
	case REG_ICR:
		write_icr(l, v, x2, p);
		return 0;
	case REG_TMICT:
		lapic_timer_write_initial(l, v32, now(l));
		return 0;
	case REG_TDCR:
		lapic_timer_write_dcr(l, v32, now(l));
		return 0;
	case REG_SELF_IPI:
		return write_self_ipi(l, v, x2);
	default:
		return write_misc(l, reg, v32, x2, p);
	}
}

static void send_ipi(struct lapic *l, uint64_t icr, bool x2)
{
	struct apic_msg m = {
		.vector = (uint8_t)icr,
		.mode = (uint8_t)((icr >> 8) & 7),
		.shorthand = (uint8_t)((icr >> 18) & 3),
		.logical = icr & ICR_DEST_LOGICAL,
		.level = icr & ICR_TRIGGER_LEVEL,
		.dest = x2 ? (uint32_t)(icr >> 32) : (uint32_t)(icr >> 56),
		.wide = x2,
	};

	/* INIT level de-assert only synchronised arbitration IDs: a no-op. */
	if (m.mode == APIC_DM_INIT && m.level && !(icr & ICR_LEVEL_ASSERT))
		return;
	if ((m.mode == APIC_DM_FIXED || m.mode == APIC_DM_LOWEST) && m.vector < 16) {
		pthread_mutex_lock(&l->lock);
		lapic_error(l, ESR_SEND_ILLEGAL);
		lapic_update_events(l);
		pthread_mutex_unlock(&l->lock);
		return;
	}
	if (l->bus)
		apic_bus_send(l->bus, &m, l);
}

static int write_locked(struct lapic *l, unsigned reg, uint64_t v, bool x2)
{
	struct post p = { .eoi_vector = -1 };
	int ret;

	pthread_mutex_lock(&l->lock);
	ret = reg_write(l, reg, v, x2, &p);
	lapic_update_events(l);
	pthread_mutex_unlock(&l->lock);
	if (p.eoi_vector >= 0 && l->bus)
		apic_bus_eoi(l->bus, (uint8_t)p.eoi_vector);
	if (p.send)
		send_ipi(l, p.icr, p.x2);
	return ret;
}

void lapic_mmio(struct lapic *l, uint64_t offset, void *data, unsigned size, bool is_write)
{
	unsigned reg = (unsigned)(offset >> 4) & 0xff, byte = offset & 0xf;
	uint64_t v = 0;

	if (size > 8)
		return;
	if (!is_write) {
		if (byte + size <= 4 && lapic_mmio_enabled(l)) {
			pthread_mutex_lock(&l->lock);
			reg_read(l, reg, &v, false);
			lapic_update_events(l); /* a current-count read may fire the timer */
			pthread_mutex_unlock(&l->lock);
			v = (v & 0xffffffffu) >> (8 * byte);
		}
		memcpy(data, &v, size);
		return;
	}
	if (byte || size < 4 || !lapic_mmio_enabled(l))
		return; /* registers take aligned 32-bit writes */
	memcpy(&v, data, 4);
	write_locked(l, reg, v & 0xffffffffu, false);
}

/* IA32_APIC_BASE: the enable and x2APIC transitions the SDM allows. */
static int write_apic_base(struct lapic *l, uint64_t v)
{
	const uint64_t reserved = 0x2ffull | ~((1ull << 40) - 1);
	uint64_t old = l->apic_base;
	bool en = v & APIC_BASE_EN, x2 = v & APIC_BASE_EXTD;
	bool old_en = old & APIC_BASE_EN, old_x2 = old & APIC_BASE_EXTD;

	if ((v & reserved) || (x2 && !en) || (old_x2 && en && !x2) || (!old_en && x2))
		return -1;
	l->apic_base = (v & ~APIC_BASE_BSP) | (old & APIC_BASE_BSP);
	if (!en) {
		atomic_store(&l->state, 0);
		lapic_soft_reset(l);
		atomic_store(&l->events, 0);
		return 0;
	}
	atomic_fetch_or(&l->state, LAPIC_ST_HW);
	if (x2 && !old_x2) {
		uint32_t id = l->index;

		atomic_store(&l->id, id);
		atomic_store(&l->ldr, (id >> 4) << 16 | 1u << (id & 15));
		atomic_fetch_or(&l->state, LAPIC_ST_X2);
	}
	return 0;
}

int lapic_rdmsr(struct lapic *l, uint32_t msr, uint64_t *val)
{
	int ret = 0;

	*val = 0;
	pthread_mutex_lock(&l->lock);
	if (msr == MSR_IA32_APIC_BASE)
		*val = l->apic_base;
	else if (msr == MSR_IA32_TSC_DEADLINE)
		*val = lapic_timer_read_tsc_deadline(l, now(l));
	else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST && x2_mode(l))
		ret = reg_read(l, msr - MSR_X2APIC_FIRST, val, true);
	else
		ret = -1;
	lapic_update_events(l);
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int lapic_wrmsr(struct lapic *l, uint32_t msr, uint64_t val)
{
	int ret = 0;

	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) {
		if (!x2_mode(l))
			return -1;
		return write_locked(l, msr - MSR_X2APIC_FIRST, val, true);
	}
	pthread_mutex_lock(&l->lock);
	if (msr == MSR_IA32_APIC_BASE)
		ret = write_apic_base(l, val);
	else if (msr == MSR_IA32_TSC_DEADLINE)
		lapic_timer_write_tsc_deadline(l, val, now(l));
	else
		ret = -1;
	lapic_update_events(l);
	pthread_mutex_unlock(&l->lock);
	return ret;
}

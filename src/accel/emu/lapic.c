/*
 * Local APIC: interrupt state (IRR/ISR/TMR, PPR), acceptance of messages
 * from any thread, and the calls the vCPU run loop makes. Registers are in
 * lapic_regs.c, the timer in lapic_timer.c.
 */
#include "accel/emu/lapic.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accel/emu/lapic_int.h"

#define LATCHES (LAPIC_EV_NMI | LAPIC_EV_INIT | LAPIC_EV_SIPI)

static inline void bit_set(uint32_t *r, uint8_t v)
{
	r[v >> 5] |= 1u << (v & 31);
}

static inline void bit_clear(uint32_t *r, uint8_t v)
{
	r[v >> 5] &= ~(1u << (v & 31));
}

int lapic_highest(const uint32_t *bits)
{
	for (int w = 7; w >= 0; w--) {
		if (bits[w])
			return w * 32 + 31 - __builtin_clz(bits[w]);
	}
	return -1;
}

uint32_t lapic_ppr(const struct lapic *l)
{
	int isrv = lapic_highest(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (l->tpr & 0xf0) >= isr_class ? l->tpr & 0xff : isr_class;
}

/* Only a vector whose priority class is above PPR's reaches the CPU. */
static int pending_locked(const struct lapic *l)
{
	int v = lapic_highest(l->irr);

	if (v < 0 || ((uint32_t)v & 0xf0) <= (lapic_ppr(l) & 0xf0))
		return -1;
	return v;
}

/* LINT0 is up and reaches the CPU as ExtINT (KVM's rule: LVT0 alone). */
static bool extint_locked(const struct lapic *l)
{
	if (!l->lint0 || !l->inta)
		return false;
	if (!(atomic_load(&l->state) & LAPIC_ST_HW))
		return true;
	return (l->lvt[LVT_LINT0] & (LVT_MASKED | LVT_DM_MASK)) == LVT_DM_EXTINT;
}

void lapic_update_events(struct lapic *l)
{
	uint32_t ev = atomic_load_explicit(&l->events, memory_order_relaxed) & LATCHES;

	if (extint_locked(l) || pending_locked(l) >= 0)
		ev |= LAPIC_EV_INTR;
	atomic_store_explicit(&l->events, ev, memory_order_release);
}

void lapic_set_irr(struct lapic *l, uint8_t vector, bool level)
{
	bit_set(l->irr, vector);
	if (level)
		bit_set(l->tmr, vector);
	else
		bit_clear(l->tmr, vector);
}

void lapic_error(struct lapic *l, uint32_t esr_bit)
{
	uint32_t lvt = l->lvt[LVT_ERROR];

	l->esr_pending |= esr_bit;
	if (!(lvt & LVT_MASKED) && LVT_VECTOR(lvt) >= 16)
		lapic_set_irr(l, LVT_VECTOR(lvt), false);
}

void lapic_soft_reset(struct lapic *l)
{
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->tpr = 0;
	l->esr = l->esr_pending = 0;
	l->icr_lo = l->icr_hi = 0;
	for (unsigned i = 0; i < LAPIC_NLVT; i++)
		l->lvt[i] = LVT_MASKED;
	l->svr = 0xff;
	atomic_fetch_and(&l->state, ~LAPIC_ST_SW);
	if (!(atomic_load(&l->state) & LAPIC_ST_X2))
		atomic_store(&l->ldr, 0);
	atomic_store(&l->dfr, 0xffffffffu);
	lapic_timer_reset(l);
}

int lapic_init(struct lapic *l, const struct lapic_config *cfg)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->halt_fd = -1;
	l->index = cfg->index;
	l->bus = cfg->bus;
	l->tb = cfg->tb;
	l->wake = cfg->wake;
	l->wake_opaque = cfg->wake_opaque;
	l->inta = cfg->inta;
	l->inta_opaque = cfg->inta_opaque;
	err = pthread_mutex_init(&l->lock, NULL);
	if (err)
		return -err;
	l->apic_base = LAPIC_DEFAULT_BASE | APIC_BASE_EN | (cfg->bsp ? APIC_BASE_BSP : 0);
	atomic_store(&l->id, cfg->index);
	atomic_store(&l->state, LAPIC_ST_HW);
	lapic_soft_reset(l);
	return 0;
}

void lapic_destroy(struct lapic *l)
{
	pthread_mutex_destroy(&l->lock);
}

bool lapic_match_dest(struct lapic *l, uint32_t dest, bool logical, bool wide)
{
	uint32_t st = atomic_load_explicit(&l->state, memory_order_acquire);
	uint32_t ldr, mda, lid;

	if (!(st & LAPIC_ST_HW))
		return false;
	if (dest == (wide ? 0xffffffffu : 0xffu))
		return true;
	if (!logical)
		return dest == atomic_load_explicit(&l->id, memory_order_relaxed);
	ldr = atomic_load_explicit(&l->ldr, memory_order_relaxed);
	if (st & LAPIC_ST_X2) /* cluster in 31:16, one bit per CPU in 15:0 */
		return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	mda = dest & 0xff;
	lid = ldr >> 24;
	if ((atomic_load_explicit(&l->dfr, memory_order_relaxed) >> 28) == 0xf)
		return mda & lid; /* flat */
	/* cluster: 4-bit cluster (15 = all clusters), 4-bit member mask */
	return ((mda >> 4) == 0xf || (mda >> 4) == (lid >> 4)) && (mda & lid & 0xf);
}

static bool accept_locked(struct lapic *l, unsigned mode, uint8_t vector, bool level)
{
	uint32_t st = atomic_load(&l->state);

	if (!(st & LAPIC_ST_HW))
		return false;
	switch (mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (!(st & LAPIC_ST_SW))
			return false; /* a software-disabled APIC takes no fixed interrupts */
		if (vector < 16)
			lapic_error(l, ESR_RECV_ILLEGAL);
		else
			lapic_set_irr(l, vector, level);
		return true;
	case APIC_DM_NMI:
		atomic_fetch_or(&l->events, LAPIC_EV_NMI);
		return true;
	case APIC_DM_INIT:
		/* The whole CPU resets: drop what an INIT discards. */
		lapic_soft_reset(l);
		atomic_fetch_and(&l->events, ~(uint32_t)(LAPIC_EV_NMI | LAPIC_EV_SIPI));
		atomic_fetch_or(&l->events, LAPIC_EV_INIT);
		return true;
	case APIC_DM_SIPI:
		l->sipi_vector = vector;
		atomic_fetch_or(&l->events, LAPIC_EV_SIPI);
		return true;
	default:
		return false; /* SMI; ExtINT messages (the 8259 reaches LINT0 directly) */
	}
}

/* Whatever ends a HLT was posted (lock held): wake an armed sleeper. */
static void halt_notify(struct lapic *l)
{
	uint64_t one = 1;

	if (l->halt_fd >= 0 && write(l->halt_fd, &one, sizeof(one)) < 0)
		return; /* EAGAIN: the count is already non-zero */
}

bool lapic_accept(struct lapic *l, unsigned mode, uint8_t vector, bool level)
{
	bool ok;

	pthread_mutex_lock(&l->lock);
	ok = accept_locked(l, mode, vector, level);
	if (ok) {
		lapic_update_events(l);
		halt_notify(l);
	}
	pthread_mutex_unlock(&l->lock);
	if (ok && l->wake)
		l->wake(l->wake_opaque);
	return ok;
}

void lapic_kick(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	l->kicked = true;
	halt_notify(l);
	pthread_mutex_unlock(&l->lock);
}

void lapic_set_lint0(struct lapic *l, bool level)
{
	bool post;

	pthread_mutex_lock(&l->lock);
	l->lint0 = level;
	lapic_update_events(l);
	post = level && extint_locked(l);
	if (post)
		halt_notify(l);
	pthread_mutex_unlock(&l->lock);
	if (post && l->wake)
		l->wake(l->wake_opaque);
}

void lapic_virtual_wire(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	l->lvt[LVT_LINT0] = LVT_DM_EXTINT;
	l->lvt[LVT_LINT1] = LVT_DM_NMI;
	lapic_update_events(l);
	pthread_mutex_unlock(&l->lock);
}

int lapic_pending_vector(struct lapic *l)
{
	int v;

	pthread_mutex_lock(&l->lock);
	v = pending_locked(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

int lapic_ack(struct lapic *l)
{
	int v;

	pthread_mutex_lock(&l->lock);
	if (extint_locked(l)) {
		/* The 8259 answers the INTA; its INT change comes back through
		 * lapic_set_lint0(), so the lock must be dropped first. */
		pthread_mutex_unlock(&l->lock);
		return l->inta(l->inta_opaque);
	}
	v = pending_locked(l);
	if (v >= 0) {
		bit_clear(l->irr, (uint8_t)v);
		bit_set(l->isr, (uint8_t)v);
		lapic_update_events(l);
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

uint32_t lapic_take(struct lapic *l, uint32_t mask, uint8_t *sipi_vector)
{
	uint32_t ev;

	pthread_mutex_lock(&l->lock);
	ev = atomic_load(&l->events) & mask & LATCHES;
	atomic_fetch_and(&l->events, ~ev);
	if ((ev & LAPIC_EV_SIPI) && sipi_vector)
		*sipi_vector = l->sipi_vector;
	pthread_mutex_unlock(&l->lock);
	return ev;
}

uint64_t lapic_timer_check(struct lapic *l, uint64_t now_ns)
{
	uint64_t d;

	pthread_mutex_lock(&l->lock);
	lapic_timer_update(l, now_ns);
	lapic_update_events(l);
	d = lapic_timer_deadline(l);
	pthread_mutex_unlock(&l->lock);
	return d;
}

static uint32_t halt_mask(bool intr_enabled)
{
	return LATCHES | (intr_enabled ? LAPIC_EV_INTR : 0);
}

uint64_t lapic_get_cr8(struct lapic *l)
{
	uint64_t v;

	pthread_mutex_lock(&l->lock);
	v = l->tpr >> 4;
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_set_cr8(struct lapic *l, uint64_t cr8)
{
	pthread_mutex_lock(&l->lock);
	l->tpr = (uint32_t)(cr8 & 0xf) << 4;
	lapic_update_events(l);
	pthread_mutex_unlock(&l->lock);
}

bool lapic_halt_arm(struct lapic *l, bool intr_enabled, int wake_fd)
{
	bool sleep;

	pthread_mutex_lock(&l->lock);
	sleep = !(atomic_load(&l->events) & halt_mask(intr_enabled)) && !l->kicked;
	if (sleep)
		l->halt_fd = wake_fd;
	pthread_mutex_unlock(&l->lock);
	return sleep;
}

void lapic_halt_disarm(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	l->halt_fd = -1;
	l->kicked = false;
	pthread_mutex_unlock(&l->lock);
}

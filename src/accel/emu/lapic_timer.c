/*
 * Local APIC timer. Nothing ticks: the count is a function of the timebase
 * (count0 at start_ns, falling at EMU_APIC_BUS_HZ >> shift), and the next
 * expiry is a deadline the vCPU loop sleeps towards. Every access first
 * fires an expiry that is due, so that state read back is always current.
 */
#include "accel/emu/lapic_int.h"

#define TIMER_MODE_SHIFT 17
#define TIMER_MODE_MASK (3u << TIMER_MODE_SHIFT)

enum { TM_ONESHOT, TM_PERIODIC, TM_TSC_DEADLINE, TM_RESERVED };

static unsigned timer_mode(uint32_t lvt)
{
	return (lvt & TIMER_MODE_MASK) >> TIMER_MODE_SHIFT;
}

/* Divide configuration bits 3,1,0: 000 = /2 ... 110 = /128, 111 = /1. */
static unsigned dcr_shift(uint32_t dcr)
{
	return ((((dcr & 8) >> 1) | (dcr & 3)) + 1) & 7;
}

static uint64_t ticks_since(const struct lapic_timer *t, uint64_t now)
{
	if (now <= t->start_ns)
		return 0;
	return emu_scale(now - t->start_ns, EMU_APIC_BUS_HZ, EMU_NSEC_PER_SEC, 0) >> t->shift;
}

/* The host time at which `ticks` ticks have elapsed since start_ns. */
static uint64_t tick_time(const struct lapic_timer *t, uint64_t ticks)
{
	uint64_t d;

	if (ticks > (UINT64_MAX >> t->shift))
		return UINT64_MAX;
	d = emu_scale(ticks << t->shift, EMU_NSEC_PER_SEC, EMU_APIC_BUS_HZ, 1);
	return d > UINT64_MAX - t->start_ns ? UINT64_MAX : t->start_ns + d;
}

static void stop(struct lapic_timer *t)
{
	t->running = false;
	t->deadline_ns = UINT64_MAX;
}

void lapic_timer_publish(struct lapic *l)
{
	const struct lapic_timer *t = &l->timer;
	bool live = t->running && !(l->lvt[LVT_TIMER] & LVT_MASKED);

	atomic_store_explicit(&l->wake_deadline, live ? t->deadline_ns : UINT64_MAX,
			      memory_order_release);
}

void lapic_timer_reset(struct lapic *l)
{
	struct lapic_timer *t = &l->timer;

	*t = (struct lapic_timer){ .shift = dcr_shift(0) };
	stop(t);
	lapic_timer_publish(l);
}

/* Periodic: the first reload boundary after now. */
static void next_period(struct lapic_timer *t, uint64_t now)
{
	uint64_t e = ticks_since(t, now), k;

	if (e < t->count0) {
		t->deadline_ns = tick_time(t, t->count0);
		return;
	}
	k = (e - t->count0) / t->initial + 1;
	t->deadline_ns = tick_time(t, t->count0 + k * t->initial);
}

void lapic_timer_update(struct lapic *l, uint64_t now)
{
	struct lapic_timer *t = &l->timer;
	uint32_t lvt = l->lvt[LVT_TIMER];

	if (!t->running || now < t->deadline_ns)
		return;
	/* A masked timer still counts and expires, silently. */
	if (!(lvt & LVT_MASKED)) {
		if (LVT_VECTOR(lvt) < 16)
			lapic_error(l, ESR_RECV_ILLEGAL);
		else
			lapic_set_irr(l, LVT_VECTOR(lvt), false);
	}
	if (timer_mode(lvt) == TM_PERIODIC && t->initial) {
		next_period(t, now);
	} else {
		stop(t);
		t->tsc_deadline = 0;
	}
	lapic_timer_publish(l);
}

uint32_t lapic_timer_current(struct lapic *l, uint64_t now)
{
	const struct lapic_timer *t = &l->timer;
	unsigned mode = timer_mode(l->lvt[LVT_TIMER]);
	uint64_t e;

	if (!t->running || mode == TM_TSC_DEADLINE)
		return 0;
	e = ticks_since(t, now);
	if (e < t->count0)
		return (uint32_t)(t->count0 - e);
	if (mode != TM_PERIODIC || !t->initial)
		return 0;
	return (uint32_t)(t->initial - (e - t->count0) % t->initial);
}

void lapic_timer_write_initial(struct lapic *l, uint32_t v, uint64_t now)
{
	struct lapic_timer *t = &l->timer;

	if (timer_mode(l->lvt[LVT_TIMER]) == TM_TSC_DEADLINE)
		return; /* ignored in TSC-deadline mode */
	lapic_timer_update(l, now);
	t->initial = t->count0 = v;
	t->start_ns = now;
	if (v) {
		t->running = true;
		t->deadline_ns = tick_time(t, v);
	} else {
		stop(t);
	}
	lapic_timer_publish(l);
}

/* A new divider applies from now on; the count carries over. */
void lapic_timer_write_dcr(struct lapic *l, uint32_t v, uint64_t now)
{
	struct lapic_timer *t = &l->timer;
	uint32_t cur;

	lapic_timer_update(l, now);
	cur = lapic_timer_current(l, now);
	t->dcr = v & 0xb;
	t->shift = dcr_shift(t->dcr);
	if (cur) {
		t->count0 = cur;
		t->start_ns = now;
		t->deadline_ns = tick_time(t, cur);
	}
	lapic_timer_publish(l);
}

/* Switching into or out of TSC-deadline mode disarms the timer (SDM). */
void lapic_timer_write_lvt(struct lapic *l, uint32_t v, uint64_t now)
{
	struct lapic_timer *t = &l->timer;
	uint32_t old = l->lvt[LVT_TIMER];

	lapic_timer_update(l, now); /* under the old mask and mode */
	if (timer_mode(v) == TM_RESERVED)
		v = (v & ~TIMER_MODE_MASK) | (old & TIMER_MODE_MASK);
	if ((timer_mode(old) == TM_TSC_DEADLINE) != (timer_mode(v) == TM_TSC_DEADLINE)) {
		stop(t);
		t->initial = t->count0 = 0;
		t->tsc_deadline = 0;
	}
	l->lvt[LVT_TIMER] = v;
	lapic_timer_publish(l);
}

uint64_t lapic_timer_read_tsc_deadline(struct lapic *l, uint64_t now)
{
	if (timer_mode(l->lvt[LVT_TIMER]) != TM_TSC_DEADLINE)
		return 0;
	lapic_timer_update(l, now);
	return l->timer.tsc_deadline;
}

void lapic_timer_write_tsc_deadline(struct lapic *l, uint64_t v, uint64_t now)
{
	struct lapic_timer *t = &l->timer;

	if (timer_mode(l->lvt[LVT_TIMER]) != TM_TSC_DEADLINE)
		return; /* ignored in the other modes */
	t->tsc_deadline = v;
	if (v) {
		t->running = true;
		t->deadline_ns = emu_tb_tsc_to_ns(l->tb, v);
	} else {
		stop(t);
	}
	lapic_timer_publish(l);
	lapic_timer_update(l, now); /* a deadline already past fires at once */
}

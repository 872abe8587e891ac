/*
 * Guest time for the emu accelerator: one monotonic host clock, a fixed TSC
 * frequency and a fixed local APIC timer input clock. Both rates are
 * advertised to the guest (CPUID 15h/16h) so it never calibrates them.
 *
 * CPUID 15h: EAX = 1, EBX = EMU_TSC_HZ / EMU_APIC_BUS_HZ, ECX = EMU_APIC_BUS_HZ
 * (the "core crystal", which Linux also takes as the APIC timer rate).
 * CPUID 16h: EAX = EMU_TSC_HZ / 1 MHz (base and max), ECX = bus MHz.
 */
#ifndef EMU_TIMEBASE_H
#define EMU_TIMEBASE_H

#include <stdint.h>
#include <time.h>

#define EMU_NSEC_PER_SEC 1000000000ull
#define EMU_TSC_HZ 2000000000ull      /* guest TSC: 2 GHz, invariant */
#define EMU_APIC_BUS_HZ 1000000000ull /* LAPIC timer input before its divider */

_Static_assert(EMU_TSC_HZ % EMU_APIC_BUS_HZ == 0, "CPUID 15h needs an integer ratio");

/*
 * The clock every time-dependent model reads. now() is monotonic ns; the
 * tests substitute a fake. The guest TSC reads 0 at tsc_base_ns.
 */
struct emu_timebase {
	uint64_t (*now)(void *opaque);
	void *opaque;
	uint64_t tsc_base_ns;
};

static inline uint64_t emu_host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * EMU_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline uint64_t emu_host_now(void *opaque)
{
	(void)opaque;
	return emu_host_ns();
}

/* now == NULL: the host's CLOCK_MONOTONIC. The guest TSC starts at 0 now. */
static inline void emu_timebase_init(struct emu_timebase *tb, uint64_t (*now)(void *), void *opaque)
{
	tb->now = now ? now : emu_host_now;
	tb->opaque = opaque;
	tb->tsc_base_ns = tb->now(opaque);
}

static inline uint64_t emu_tb_now(const struct emu_timebase *tb)
{
	return tb->now(tb->opaque);
}

/* v * mul / div without overflow, rounded down or up; saturates at 2^64-1. */
static inline uint64_t emu_scale(uint64_t v, uint64_t mul, uint64_t div, int round_up)
{
	__extension__ unsigned __int128 r = (unsigned __int128)v * mul;

	r = (r + (round_up ? div - 1 : 0)) / div;
	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

/* The guest TSC at host time ns. */
static inline uint64_t emu_tb_tsc(const struct emu_timebase *tb, uint64_t ns)
{
	if (ns < tb->tsc_base_ns)
		return 0;
	return emu_scale(ns - tb->tsc_base_ns, EMU_TSC_HZ, EMU_NSEC_PER_SEC, 0);
}

/* The first host time at which the guest TSC reads at least tsc. */
static inline uint64_t emu_tb_tsc_to_ns(const struct emu_timebase *tb, uint64_t tsc)
{
	uint64_t d = emu_scale(tsc, EMU_NSEC_PER_SEC, EMU_TSC_HZ, 1);

	return d > UINT64_MAX - tb->tsc_base_ns ? UINT64_MAX : tb->tsc_base_ns + d;
}

#endif

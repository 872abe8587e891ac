/*
 * MSRs the interpreter leaves to the module: the LAPIC's (APIC base,
 * TSC-deadline, x2APIC), the TSC, kvmclock, and the few identity MSRs a
 * guest reads on the machine accel-kvm presents. Everything else raises #GP
 * (return -1), which Linux probes safely.
 *
 * kvmclock: the guest TSC is the timebase's (EMU_TSC_HZ, starting at 0 at
 * VM creation, the same on every vCPU), so the pvclock record never changes:
 * written once when the guest enables it, system time 0 at TSC 0, a fixed
 * scale, TSC_STABLE set. Linux then takes the TSC rate from it.
 */
#include <string.h>
#include <time.h>

#include "accel/emu/module/emu_mod.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_K7_HWCR 0xc0010015
#define MSR_AMD64_NB_CFG 0xc001001f
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

#define MISC_ENABLE_FAST_STRING 1ull
#define MTRR_DEF_TYPE_WB_ENABLED 0x806ull /* as accel-kvm's guests read it */
#define PVCLOCK_TSC_STABLE 1u
/* HWCR.TscFreqSel: the TSC counts at the P0 rate (it never changes rate);
 * Linux reads HWCR without the safe accessor on AMD family > 10h. */
#define HWCR_TSC_FREQ_SEL (1ull << 24)

/* The guest's view (Linux's pvclock ABI), little-endian. */
struct pvclock_time {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
};

struct pvclock_wall {
	uint32_t version, sec, nsec;
};

/* ns = (tsc << shift) * mul >> 32, mul < 2^32 so the shifted rate must lie in
 * (1 GHz, 2 GHz]: for EMU_TSC_HZ = 2 GHz, shift 0 and mul = 0.5. */
static void pvclock_scale(uint32_t *mul, int8_t *shift)
{
	uint64_t hz = EMU_TSC_HZ;
	int s = 0;

	while (hz > 2 * EMU_NSEC_PER_SEC) {
		hz >>= 1;
		s--;
	}
	while (hz <= EMU_NSEC_PER_SEC) {
		hz <<= 1;
		s++;
	}
	*shift = (int8_t)s;
	*mul = (uint32_t)((EMU_NSEC_PER_SEC << 32) / hz);
}

/* A record is published whole: odd version while writing (pvclock rule). */
static void pvclock_publish(void *dst, const void *src, size_t len)
{
	volatile uint32_t *version = dst;

	*version = 1;
	atomic_thread_fence(memory_order_release);
	memcpy((uint8_t *)dst + 4, (const uint8_t *)src + 4, len - 4);
	atomic_thread_fence(memory_order_release);
	*version = 2;
}

static int kvmclock_system_time(struct accel_vcpu *v, uint64_t val)
{
	struct pvclock_time rec = { .flags = PVCLOCK_TSC_STABLE };
	void *p;

	v->kvmclock = val;
	if (!(val & 1))
		return 0;
	p = emu_ram_ptr(v->vm, val & ~1ull, sizeof(rec));
	if (!p)
		return 0; /* not RAM: nothing to update, as KVM */
	pvclock_scale(&rec.tsc_to_system_mul, &rec.tsc_shift);
	pvclock_publish(p, &rec, sizeof(rec));
	return 0;
}

/* Wall-clock time at system time 0 (the timebase's TSC 0). */
static int kvmclock_wall(struct accel_vcpu *v, uint64_t gpa)
{
	const struct emu_timebase *tb = &v->vm->tb;
	struct pvclock_wall rec = { 0 };
	struct timespec rt;
	uint64_t boot_ns;
	void *p = emu_ram_ptr(v->vm, gpa, sizeof(rec));

	if (!p)
		return 0;
	clock_gettime(CLOCK_REALTIME, &rt);
	boot_ns = (uint64_t)rt.tv_sec * EMU_NSEC_PER_SEC + (uint64_t)rt.tv_nsec -
		  (emu_tb_now(tb) - tb->tsc_base_ns);
	rec.sec = (uint32_t)(boot_ns / EMU_NSEC_PER_SEC);
	rec.nsec = (uint32_t)(boot_ns % EMU_NSEC_PER_SEC);
	pvclock_publish(p, &rec, sizeof(rec));
	return 0;
}

int emu_msr_read(struct accel_vcpu *v, uint32_t msr, uint64_t *val)
{
	if (lapic_msr_owned(msr))
		return lapic_rdmsr(v->lapic, msr, val);
	switch (msr) {
	case MSR_IA32_TSC:
		*val = emu_tb_tsc(&v->vm->tb, emu_tb_now(&v->vm->tb));
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*val = MISC_ENABLE_FAST_STRING;
		return 0;
	case MSR_MTRR_DEF_TYPE:
		*val = MTRR_DEF_TYPE_WB_ENABLED;
		return 0;
	case MSR_K7_HWCR:
		*val = HWCR_TSC_FREQ_SEL;
		return 0;
	case MSR_AMD64_NB_CFG: /* Linux sets EnableCf8ExtCfg on family >= 10h; as KVM: 0 */
		*val = 0;
		return 0;
	case MSR_KVM_SYSTEM_TIME_NEW:
		*val = v->kvmclock;
		return 0;
	case MSR_KVM_WALL_CLOCK_NEW:
		*val = 0;
		return 0;
	default:
		return -1;
	}
}

int emu_msr_write(struct accel_vcpu *v, uint32_t msr, uint64_t val)
{
	if (lapic_msr_owned(msr))
		return lapic_wrmsr(v->lapic, msr, val);
	switch (msr) {
	case MSR_IA32_TSC:           /* one TSC for all vCPUs: writes are dropped */
	case MSR_IA32_MISC_ENABLE:
	case MSR_MTRR_DEF_TYPE:
	case MSR_K7_HWCR:            /* no chicken bits to set: writes are dropped */
	case MSR_AMD64_NB_CFG:
		return 0;
	case MSR_KVM_SYSTEM_TIME_NEW:
		return kvmclock_system_time(v, val);
	case MSR_KVM_WALL_CLOCK_NEW:
		return kvmclock_wall(v, val);
	default:
		return -1;
	}
}

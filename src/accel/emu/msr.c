/*
 * RDMSR/WRMSR: the architectural MSRs live in the CPU (EFER, the SYSCALL
 * MSRs, FS/GS/KERNEL_GS base, TSC_AUX, PAT, SYSENTER, the MTRRs Linux reads);
 * the rest goes to the module's hooks (APIC base, x2APIC 0x800-0x8ff,
 * TSC-deadline, kvmclock, ...). What neither knows raises #GP, which Linux
 * probes with rdmsr_safe. Without hooks (tests) the TSC, MISC_ENABLE and the
 * MTRR default type are kept here.
 */
#include "accel/emu/ops_system.h"
#include "accel/emu/system.h"

enum {
	MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_MTRRCAP = 0xfe,
	MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_EIP = 0x176, MSR_MISC_ENABLE = 0x1a0,
	MSR_MTRR_PHYS0 = 0x200, MSR_MTRR_PHYS7M = 0x20f, MSR_MTRR_FIX64K = 0x250,
	MSR_MTRR_FIX16K0 = 0x258, MSR_MTRR_FIX16K1 = 0x259, MSR_MTRR_FIX4K0 = 0x268,
	MSR_MTRR_FIX4K7 = 0x26f, MSR_PAT = 0x277, MSR_MTRR_DEF = 0x2ff,
	MSR_STAR = 0xc0000081, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK,
	MSR_FS_BASE = 0xc0000100, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_TSC_AUX,
};

#define EFER_VALID (EFER_SCE | EMU_EFER_LME | EMU_EFER_LMA | EFER_NXE)
#define PAT_DEFAULT 0x0007040600070406ull

static uint64_t *mtrr_slot(struct emu_cpu *cpu, uint32_t msr)
{
	if (msr >= MSR_MTRR_PHYS0 && msr <= MSR_MTRR_PHYS7M)
		return &cpu->sys.mtrr_var[msr - MSR_MTRR_PHYS0];
	if (msr == MSR_MTRR_FIX64K)
		return &cpu->sys.mtrr_fixed[0];
	if (msr == MSR_MTRR_FIX16K0 || msr == MSR_MTRR_FIX16K1)
		return &cpu->sys.mtrr_fixed[1 + msr - MSR_MTRR_FIX16K0];
	if (msr >= MSR_MTRR_FIX4K0 && msr <= MSR_MTRR_FIX4K7)
		return &cpu->sys.mtrr_fixed[3 + msr - MSR_MTRR_FIX4K0];
	return NULL;
}

static bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

/* MSRs the CPU itself holds: 1 if msr is one of them. */
static int core_get(struct emu_cpu *cpu, uint32_t msr, uint64_t *v)
{
	uint64_t *m = mtrr_slot(cpu, msr);

	if (m) {
		*v = *m;
		return 1;
	}
	switch (msr) {
	case EMU_MSR_EFER: *v = cpu->efer; return 1;
	case MSR_STAR: *v = cpu->sys.star; return 1;
	case MSR_LSTAR: *v = cpu->sys.lstar; return 1;
	case MSR_CSTAR: *v = cpu->sys.cstar; return 1;
	case MSR_SFMASK: *v = cpu->sys.sfmask; return 1;
	case MSR_FS_BASE: *v = cpu->segbase[EMU_SB_FS]; return 1;
	case MSR_GS_BASE: *v = cpu->segbase[EMU_SB_GS]; return 1;
	case MSR_KERNEL_GS_BASE: *v = cpu->kernel_gs_base; return 1;
	case MSR_TSC_AUX: *v = cpu->sys.tsc_aux; return 1;
	case MSR_PAT: *v = cpu->sys.pat; return 1;
	case MSR_MTRRCAP: *v = 0x508; return 1; /* 8 variable, fixed, WC */
	case MSR_SYSENTER_CS ... MSR_SYSENTER_EIP:
		*v = cpu->sys.sysenter[msr - MSR_SYSENTER_CS];
		return 1;
	}
	return 0;
}

static int set_efer(struct emu_cpu *cpu, uint64_t v)
{
	if ((v & ~EFER_VALID) || ((cpu->cr0 & EMU_CR0_PG) && ((v ^ cpu->efer) & EMU_EFER_LME)))
		return -1;
	v = (v & ~EMU_EFER_LMA) | (cpu->efer & EMU_EFER_LMA); /* LMA is the CPU's */
	if ((v ^ cpu->efer) & EFER_NXE)
		emu_tlb_flush(cpu);
	cpu->efer = v;
	return 1;
}

static int core_set(struct emu_cpu *cpu, uint32_t msr, uint64_t v)
{
	uint64_t *m = mtrr_slot(cpu, msr);

	if (m) {
		*m = v;
		return 1;
	}
	switch (msr) {
	case EMU_MSR_EFER: return set_efer(cpu, v);
	case MSR_STAR: cpu->sys.star = v; return 1;
	case MSR_LSTAR: case MSR_CSTAR: case MSR_FS_BASE: case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
		if (!canonical(v))
			return -1;
		if (msr == MSR_LSTAR)
			cpu->sys.lstar = v;
		else if (msr == MSR_CSTAR)
			cpu->sys.cstar = v;
		else if (msr == MSR_FS_BASE)
			cpu->segbase[EMU_SB_FS] = cpu->seg[EMU_SEG_FS].base = v;
		else if (msr == MSR_GS_BASE)
			cpu->segbase[EMU_SB_GS] = cpu->seg[EMU_SEG_GS].base = v;
		else
			cpu->kernel_gs_base = v;
		return 1;
	case MSR_SFMASK: cpu->sys.sfmask = v & 0xffffffff; return 1;
	case MSR_TSC_AUX: cpu->sys.tsc_aux = v & 0xffffffff; return 1;
	case MSR_PAT:
		for (unsigned k = 0; k < 8; k++) {
			unsigned t = (v >> (8 * k)) & 0xff;

			if (t == 2 || t == 3 || t > 7)
				return -1;
		}
		cpu->sys.pat = v;
		return 1;
	case MSR_MTRRCAP: return -1;
	case MSR_SYSENTER_CS ... MSR_SYSENTER_EIP:
		cpu->sys.sysenter[msr - MSR_SYSENTER_CS] = v;
		return 1;
	}
	return 0;
}

/* Kept here only when the module does not answer (tests, benchmark). */
static int fallback_get(struct emu_cpu *cpu, uint32_t msr, uint64_t *v)
{
	switch (msr) {
	case MSR_TSC: *v = __builtin_ia32_rdtsc() + cpu->tsc_offset; return 0;
	case MSR_MISC_ENABLE: *v = cpu->sys.misc_enable; return 0;
	case MSR_MTRR_DEF: *v = cpu->sys.mtrr_def; return 0;
	}
	return -1;
}

static int fallback_set(struct emu_cpu *cpu, uint32_t msr, uint64_t v)
{
	switch (msr) {
	case MSR_TSC: cpu->tsc_offset = v - __builtin_ia32_rdtsc(); return 0;
	case MSR_MISC_ENABLE: cpu->sys.misc_enable = v; return 0;
	case MSR_MTRR_DEF: cpu->sys.mtrr_def = v & 0xcff; return 0;
	}
	return -1;
}

int emu_msr_get(struct emu_cpu *cpu, uint32_t msr, uint64_t *val)
{
	const struct emu_mem *m = cpu->mem;

	if (core_get(cpu, msr, val))
		return 0;
	if (m->rdmsr && m->rdmsr(m->opaque, msr, val) == 0)
		return 0;
	return fallback_get(cpu, msr, val);
}

int emu_msr_set(struct emu_cpu *cpu, uint32_t msr, uint64_t val)
{
	const struct emu_mem *m = cpu->mem;
	int r = core_set(cpu, msr, val);

	if (r)
		return r > 0 ? 0 : -1;
	if (m->wrmsr && m->wrmsr(m->opaque, msr, val) == 0)
		return 0;
	return fallback_set(cpu, msr, val);
}

/* ECX = MSR; EDX:EAX = value. */
EMU_OP(op_rdmsr)
{
	uint64_t v;

	(void)i;
	need_cpl0(cpu);
	if (emu_msr_get(cpu, (uint32_t)cpu->r[1], &v))
		emu_raise_err(cpu, EMU_GP, 0);
	cpu->r[0] = (uint32_t)v;
	cpu->r[2] = v >> 32;
	return emu_next(cpu, i);
}

EMU_OP(op_wrmsr)
{
	(void)i;
	need_cpl0(cpu);
	if (emu_msr_set(cpu, (uint32_t)cpu->r[1], (uint32_t)cpu->r[0] | cpu->r[2] << 32))
		emu_raise_err(cpu, EMU_GP, 0);
	return emu_next(cpu, i);
}

/* Power-on values (SDM vol. 3 table 9-1). */
void emu_msr_reset(struct emu_cpu *cpu)
{
	cpu->sys.pat = PAT_DEFAULT;
	cpu->sys.misc_enable = 1; /* fast strings */
}

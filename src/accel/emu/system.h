/*
 * System architecture internals (long mode): control-register bits, the
 * page walk and TLB upkeep (paging.c), IDT delivery (exception.c),
 * descriptors and segment loads (segment.c), MSRs (msr.c). See "System" in
 * docs/emu.md.
 */
#ifndef EMU_SYSTEM_H
#define EMU_SYSTEM_H

#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

#define CR0_MP 0x2ull
#define CR0_EM 0x4ull
#define CR0_TS 0x8ull
#define CR0_ET 0x10ull
#define CR0_NE 0x20ull
#define CR0_WP 0x10000ull
#define CR0_AM 0x40000ull
#define CR0_NW 0x20000000ull
#define CR0_CD 0x40000000ull
#define CR4_TSD 0x4ull
#define CR4_DE 0x8ull
#define CR4_PSE 0x10ull
#define CR4_PGE 0x80ull
#define CR4_OSFXSR 0x200ull
#define EFER_SCE 0x1ull
#define EFER_NXE 0x800ull
#define EMU_IOPL 0x3000ull
#define EMU_NT 0x4000ull
#define EMU_RF 0x10000ull
#define EMU_VM 0x20000ull

/* sys.fpu_trap bits */
#define EMU_FPU_SSE_UD 1  /* CR0.EM or !CR4.OSFXSR */
#define EMU_FPU_NM 2      /* CR0.TS */
#define EMU_FPU_X87_NM 4  /* CR0.EM or CR0.TS */

/* Exception vectors not in emu.h */
enum { EMU_NMI_VEC = 2, EMU_OF_VEC = 4, EMU_DF_VEC = 8, EMU_TS = 10, EMU_NP = 11, EMU_SS = 12 };

/* Access kinds for the page walk. */
#define ACC_W 1u
#define ACC_X 2u
#define ACC_SUP 4u  /* implicit supervisor access (IDT, GDT, TSS, delivery stack) */

/* ---- paging.c ---- */
/* Linear -> guest-physical for an access of kind acc (#PF, #GP on a
 * non-canonical address); fills the TLB bookkeeping through *perm:
 * bit 0 read, 1 write, 2 exec allowed at the current CPL. */
uint64_t emu_translate(struct emu_cpu *cpu, uint64_t va, unsigned acc, unsigned *perm);
/* Records what the TLB entry for va now holds (global, supervisor-only, size). */
void emu_tlb_note(struct emu_cpu *cpu, uint64_t va, unsigned perm);
void emu_tlb_invlpg(struct emu_cpu *cpu, uint64_t va);
void emu_tlb_flush_nonglobal(struct emu_cpu *cpu);
/* Entering CPL 3: drop entries filled with supervisor rights. */
void emu_tlb_drop_sup(struct emu_cpu *cpu);
/* Supervisor accesses bypassing the TLB (descriptor tables, TSS, delivery). */
void emu_sys_read(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n);
void emu_sys_write(struct emu_cpu *cpu, uint64_t va, const void *buf, unsigned n);

/* ---- exception.c ---- */
/* After an unwind in system mode: deliver the pending exception through the
 * IDT; false when emu_run must return exit_reason instead. */
bool emu_sys_unwind(struct emu_cpu *cpu);
/* A software interrupt (INT n, INT3, INTO) with RIP already past it. */
EMU_NORETURN void emu_raise_soft(struct emu_cpu *cpu, int vector);
/* CPL changes go through here (TLB entries valid only at CPL 0-2 drop). */
void emu_set_cpl(struct emu_cpu *cpu, unsigned cpl);
/* Recomputes sys.fpu_trap from CR0/CR4. */
void emu_fpu_trap_update(struct emu_cpu *cpu);
void emu_sys_x87_trap(struct emu_cpu *cpu);
void emu_sys_sse_trap(struct emu_cpu *cpu);

/* ---- segment.c ---- */
/* Reads the 8-byte descriptor for sel (GDT or LDT); #GP(sel) past the limit. */
uint64_t emu_desc_read(struct emu_cpu *cpu, uint16_t sel);
/* Hidden part from an 8-byte descriptor. */
void emu_desc_to_seg(uint64_t d, uint16_t sel, struct emu_seg *s);
/* MOV/POP to a data segment register or SS in 64-bit mode, with checks. */
void emu_load_data_seg(struct emu_cpu *cpu, unsigned sreg, uint16_t sel);
/* CS (and CPL) for a far return/IRET to a 64-bit code segment at rpl. */
void emu_load_code_seg(struct emu_cpu *cpu, uint16_t sel, unsigned new_cpl, bool check);
void emu_set_ss_null(struct emu_cpu *cpu, unsigned cpl);

/* ---- msr.c ---- */
/* 0 or -1 (#GP). */
int emu_msr_get(struct emu_cpu *cpu, uint32_t msr, uint64_t *val);
int emu_msr_set(struct emu_cpu *cpu, uint32_t msr, uint64_t val);
/* Power-on values of the MSRs the CPU keeps. */
void emu_msr_reset(struct emu_cpu *cpu);

/* ---- checks every system instruction makes ---- */
static inline void need_cpl0(struct emu_cpu *cpu)
{
	if (cpu->sys.cpl)
		emu_raise_err(cpu, EMU_GP, 0);
}

static inline unsigned iopl(struct emu_cpu *cpu)
{
	return (cpu->rflags >> 12) & 3;
}

/* PUSHF's image, in every mode: RF and VM read as 0. */
static inline uint64_t pushf_image(struct emu_cpu *cpu)
{
	return flags_get(cpu) & ~(EMU_RF | EMU_VM);
}

/* What POPF may change, in every mode: IOPL only at CPL 0, IF only at
 * CPL <= IOPL (the legacy modes run at CPL 0). */
static inline uint64_t popf_mask(struct emu_cpu *cpu, unsigned sz)
{
	uint64_t mask = EMU_ARITH | EMU_TF | EMU_IF | EMU_DF | EMU_IOPL | EMU_NT | EMU_AC | EMU_ID;

	if (sz == 2)
		mask &= 0xffff;
	if (unlikely(cpu->sys.cpl)) {
		mask &= ~EMU_IOPL;
		if (cpu->sys.cpl > iopl(cpu))
			mask &= ~(uint64_t)EMU_IF;
	}
	return mask;
}

#endif

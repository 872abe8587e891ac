/*
 * x87 FPU internals. The state lives in struct emu_cpu (fpr[], fcw, fsw,
 * ftw, fop, fip, fdp: see emu.h). Instructions run on the host FPU with the
 * guest state loaded (x87_host.S), so results are bit-exact with hardware.
 */
#ifndef EMU_X87_H
#define EMU_X87_H

#include "accel/emu/cpu.h"

#define X87_FSW_ES 0x0080u
#define X87_FSW_TOP 0x3800u

/* A waiting x87 (or MMX) instruction with an unmasked exception flag set
 * raises #MF first. Hardware checks the flags, not the ES bit. */
static inline void x87_wait(struct emu_cpu *cpu)
{
	if (unlikely(cpu->fsw & ~cpu->fcw & 0x3f))
		emu_raise(cpu, EMU_MF);
}

/*
 * The x87 part of an FXSAVE image: bytes 0-23 (FCW, FSW, abridged FTW, FOP,
 * FIP, FDP) and 32-159 (ST0-ST7 in stack order); MXCSR (24-31) and the XMM
 * registers are the caller's. rexw selects the 64-bit pointer format. As on
 * AMD processors, FOP/FIP/FDP are stored only when FSW.ES is set (zeros
 * otherwise); FCS/FDS read as 0 (CPUID.7:EBX[13], deprecated).
 */
void emu_x87_fxsave(const struct emu_cpu *cpu, uint8_t *img, bool rexw);
void emu_x87_fxrstor(struct emu_cpu *cpu, const uint8_t *img, bool rexw);

/* x87_host.S */
uint64_t emu_x87_host(void *img, const void *stub, void *mem, uint64_t rflags);
extern const uint8_t emu_x87_reg_stubs[];
extern const uint8_t emu_x87_mem_stubs[];

/* Decoded x87 records: i->op flags, i->sz = memory operand bytes,
 * i->imm = host stub, i->rm = escape & 7 and i->reg = ModRM (for FOP). */
#define X87_LD 0x01      /* reads its memory operand */
#define X87_ST 0x02      /* writes its memory operand */
#define X87_NOWAIT 0x04  /* FNxxx: no #MF check */
#define X87_CTRL 0x08    /* control instruction: FIP/FDP/FOP unchanged */
#define X87_EFL 0x10     /* reads or writes RFLAGS (FCMOVcc, FCOMI) */
#define X87_ENV 0x20     /* FLDENV/FNSTENV/FRSTOR/FNSAVE: pointers in the image */
#define X87_INIT 0x40    /* FNINIT: pointers cleared */
#define X87_O16 0x80     /* 16-bit environment format */

#endif

/*
 * FXSAVE/FXRSTOR (the 512-byte image), LDMXCSR/STMXCSR and EMMS.
 *
 * Image layout (Intel SDM vol. 1, 10.5.1): FCW 0, FSW 2, abridged FTW 4,
 * FOP 6, FIP 8, FDP 16 (REX.W: 64-bit offsets; otherwise 32-bit offset and
 * a selector, stored as 0), MXCSR 24, MXCSR_MASK 28,
 * ST0-ST7 at 32 (16 bytes apart, in stack order), XMM0-15 at 160. Bytes
 * 416-511 are not written.
 */
#include "accel/emu/sse.h"
#include "accel/emu/x87.h"

#define FX_XMM 160
#define FX_USED 416

/* The x87 part is ops_x87.c's (emu_x87_fxsave/fxrstor); SSE adds MXCSR,
 * MXCSR_MASK and the XMM registers. */
static void fx_build(const struct emu_cpu *cpu, uint8_t *img, bool w64)
{
	uint32_t mask = MXCSR_VALID;

	memset(img, 0, FX_USED);
	emu_x87_fxsave(cpu, img, w64);
	memcpy(img + 24, &cpu->mxcsr, 4);
	memcpy(img + 28, &mask, 4);
	memcpy(img + FX_XMM, cpu->xmm, 256);
}

static void fx_load(struct emu_cpu *cpu, const uint8_t *img, bool w64)
{
	emu_x87_fxrstor(cpu, img, w64);
	memcpy(&cpu->mxcsr, img + 24, 4);
	memcpy(cpu->xmm, img + FX_XMM, 256);
}

void emu_fxsave_image(const struct emu_cpu *cpu, uint8_t img[512])
{
	memset(img, 0, 512);
	fx_build(cpu, img, true);
}

void emu_fxrstor_image(struct emu_cpu *cpu, const uint8_t img[512])
{
	fx_load(cpu, img, true);
}

static uint64_t fx_addr(struct emu_cpu *cpu, const struct emu_insn *i)
{
	uint64_t va = ea(cpu, i);

	if (va & 15)
		sse_gp(cpu);
	return va;
}

/* i->sz = 8 with REX.W (FXSAVE64). */
EMU_OP(op_fxsave)
{
	uint8_t img[FX_USED];
	uint64_t va = fx_addr(cpu, i);

	fx_build(cpu, img, i->sz == 8);
	emu_mem_write_buf(cpu, va, img, FX_USED);
	return emu_next(cpu, i);
}

EMU_OP(op_fxrstor)
{
	uint8_t img[FX_USED];
	uint32_t mxcsr;
	uint64_t va = fx_addr(cpu, i);

	emu_mem_read_buf(cpu, va, img, FX_USED);
	memcpy(&mxcsr, img + 24, 4);
	if (mxcsr & ~MXCSR_VALID)
		sse_gp(cpu);
	fx_load(cpu, img, i->sz == 8);
	return emu_next(cpu, i);
}

EMU_OP(op_ldmxcsr)
{
	uint32_t v;

	sse_check(cpu);
	v = (uint32_t)mem_rd(cpu, ea(cpu, i), 4);
	if (v & ~MXCSR_VALID)
		sse_gp(cpu);
	cpu->mxcsr = v;
	return emu_next(cpu, i);
}

EMU_OP(op_stmxcsr)
{
	sse_check(cpu);
	mem_wr(cpu, ea(cpu, i), 4, cpu->mxcsr);
	return emu_next(cpu, i);
}

/* EMMS: every x87 register empty; TOP = 0 as well (as AMD hardware does). */
EMU_OP(op_emms)
{
	(void)i;
	sse_check(cpu);
	cpu->ftw = 0;
	cpu->fsw &= (uint16_t)~0x3800u;
	return emu_next(cpu, i);
}

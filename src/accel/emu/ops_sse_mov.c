/*
 * SSE/SSE2/MMX data movement: full-register moves (aligned and not),
 * scalar and half-register moves, MOVD/MOVQ between GPRs, MMX and XMM,
 * non-temporal stores, sign masks, PEXTRW/PINSRW, MASKMOVQ/MASKMOVDQU.
 */
#include "accel/emu/sse.h"

/* MOVUPS/MOVUPD/MOVDQU load */
EMU_OP(op_movu_load)
{
	uint8_t *d = cpu->xmm[i->xreg].b;

	sse_check(cpu);
	if (i->flags & I_MEM)
		vmem_rd(cpu, ea(cpu, i), d, 16);
	else
		memcpy(d, cpu->xmm[i->rm].b, 16);
	return emu_next(cpu, i);
}

EMU_OP(op_movu_store)
{
	const uint8_t *s = cpu->xmm[i->xreg].b;

	sse_check(cpu);
	if (i->flags & I_MEM)
		vmem_wr(cpu, ea(cpu, i), s, 16);
	else
		memcpy(cpu->xmm[i->rm].b, s, 16);
	return emu_next(cpu, i);
}

/* MOVAPS/MOVAPD/MOVDQA load */
EMU_OP(op_mova_load)
{
	uint8_t *d = cpu->xmm[i->xreg].b;

	sse_check(cpu);
	if (i->flags & I_MEM)
		vmem_rd(cpu, vea_strict(cpu, i), d, 16);
	else
		memcpy(d, cpu->xmm[i->rm].b, 16);
	return emu_next(cpu, i);
}

/* MOVAPS/MOVAPD/MOVDQA store, MOVNTPS/MOVNTPD/MOVNTDQ */
EMU_OP(op_mova_store)
{
	const uint8_t *s = cpu->xmm[i->xreg].b;

	sse_check(cpu);
	if (i->flags & I_MEM)
		vmem_wr(cpu, vea_strict(cpu, i), s, 16);
	else
		memcpy(cpu->xmm[i->rm].b, s, 16);
	return emu_next(cpu, i);
}

/* MOVSS/MOVSD xmm, m32/m64: the rest of the register is cleared. */
EMU_OP(op_movs_load)
{
	uint8_t v[16] = { 0 };

	sse_check(cpu);
	vmem_rd(cpu, ea(cpu, i), v, i->sz);
	memcpy(cpu->xmm[i->xreg].b, v, 16);
	return emu_next(cpu, i);
}

/* MOVSS/MOVSD/MOVLPS/MOVLPD/MOVQ m32/m64, xmm */
EMU_OP(op_movs_store)
{
	sse_check(cpu);
	vmem_wr(cpu, ea(cpu, i), cpu->xmm[i->xreg].b, i->sz);
	return emu_next(cpu, i);
}

/* Register forms of MOVSS/MOVSD: the low element only. */
EMU_OP(op_movss_rr)
{
	sse_check(cpu);
	cpu->xmm[i->xreg].d[0] = cpu->xmm[i->rm].d[0];
	return emu_next(cpu, i);
}

EMU_OP(op_movsd_rr)
{
	sse_check(cpu);
	cpu->xmm[i->xreg].q[0] = cpu->xmm[i->rm].q[0];
	return emu_next(cpu, i);
}

/* MOVLPS/MOVLPD xmm, m64 */
EMU_OP(op_movlo_load)
{
	sse_check(cpu);
	vmem_rd(cpu, ea(cpu, i), &cpu->xmm[i->xreg].q[0], 8);
	return emu_next(cpu, i);
}

/* MOVHPS/MOVHPD xmm, m64 */
EMU_OP(op_movhi_load)
{
	sse_check(cpu);
	vmem_rd(cpu, ea(cpu, i), &cpu->xmm[i->xreg].q[1], 8);
	return emu_next(cpu, i);
}

EMU_OP(op_movlo_store)
{
	sse_check(cpu);
	vmem_wr(cpu, ea(cpu, i), &cpu->xmm[i->xreg].q[0], 8);
	return emu_next(cpu, i);
}

/* MOVHPS/MOVHPD m64, xmm */
EMU_OP(op_movhi_store)
{
	sse_check(cpu);
	vmem_wr(cpu, ea(cpu, i), &cpu->xmm[i->xreg].q[1], 8);
	return emu_next(cpu, i);
}

EMU_OP(op_movhlps)
{
	sse_check(cpu);
	cpu->xmm[i->xreg].q[0] = cpu->xmm[i->rm].q[1];
	return emu_next(cpu, i);
}

EMU_OP(op_movlhps)
{
	sse_check(cpu);
	cpu->xmm[i->xreg].q[1] = cpu->xmm[i->rm].q[0];
	return emu_next(cpu, i);
}

/* MOVD/MOVQ mm/xmm, r/m32/64: zero-extended into the vector register. */
EMU_OP(op_movd_v_g)
{
	uint64_t v;
	uint8_t *d;

	sse_check(cpu);
	v = (i->flags & I_MEM) ? mem_rd(cpu, ea(cpu, i), i->sz) : reg_rd(cpu, i->rm, i->sz);
	d = vreg(cpu, i->xreg, i->sz2);
	memset(d, 0, i->sz2);
	memcpy(d, &v, i->sz);
	vdone(cpu, i);
	return emu_next(cpu, i);
}

/* MOVD/MOVQ r/m32/64, mm/xmm */
EMU_OP(op_movd_g_v)
{
	uint64_t v;

	sse_check(cpu);
	memcpy(&v, vreg(cpu, i->xreg, i->sz2), 8);
	rm_wr(cpu, i, i->sz, v);
	if (i->sz2 == 8)
		mmx_enter(cpu);
	return emu_next(cpu, i);
}

/* MOVQ xmm, xmm/m64 (F3 0F 7E): the high half is cleared. */
EMU_OP(op_movq_x_xm)
{
	uint64_t v[2] = { 0, 0 };

	sse_check(cpu);
	if (i->flags & I_MEM)
		vmem_rd(cpu, ea(cpu, i), v, 8);
	else
		v[0] = cpu->xmm[i->rm].q[0];
	memcpy(cpu->xmm[i->xreg].q, v, 16);
	return emu_next(cpu, i);
}

/* MOVQ xmm/m64, xmm (66 0F D6) */
EMU_OP(op_movq_xm_x)
{
	uint64_t v = cpu->xmm[i->xreg].q[0];

	sse_check(cpu);
	if (i->flags & I_MEM) {
		vmem_wr(cpu, ea(cpu, i), &v, 8);
	} else {
		cpu->xmm[i->rm].q[0] = v;
		cpu->xmm[i->rm].q[1] = 0;
	}
	return emu_next(cpu, i);
}

/* MOVQ mm, mm/m64 */
EMU_OP(op_movq_mm_m)
{
	uint64_t v;

	sse_check(cpu);
	if (i->flags & I_MEM)
		v = mem_rd(cpu, ea(cpu, i), 8);
	else
		v = cpu->fpr[i->rm].mant;
	cpu->fpr[i->xreg].mant = v;
	mmx_written(cpu, i->xreg);
	return emu_next(cpu, i);
}

/* MOVQ mm/m64, mm and MOVNTQ */
EMU_OP(op_movq_m_mm)
{
	uint64_t v = cpu->fpr[i->xreg].mant;

	sse_check(cpu);
	if (i->flags & I_MEM) {
		mem_wr(cpu, ea(cpu, i), 8, v);
		mmx_enter(cpu);
	} else {
		cpu->fpr[i->rm].mant = v;
		mmx_written(cpu, i->rm);
	}
	return emu_next(cpu, i);
}

/* MOVDQ2Q mm, xmm */
EMU_OP(op_movdq2q)
{
	sse_check(cpu);
	cpu->fpr[i->xreg].mant = cpu->xmm[i->rm].q[0];
	mmx_written(cpu, i->xreg);
	return emu_next(cpu, i);
}

/* MOVQ2DQ xmm, mm */
EMU_OP(op_movq2dq)
{
	sse_check(cpu);
	cpu->xmm[i->xreg].q[0] = cpu->fpr[i->rm].mant;
	cpu->xmm[i->xreg].q[1] = 0;
	mmx_enter(cpu);
	return emu_next(cpu, i);
}

/* MOVNTI m32/64, r */
EMU_OP(op_movnti)
{
	mem_wr(cpu, ea(cpu, i), i->sz, reg_rd(cpu, i->reg, i->sz));
	return emu_next(cpu, i);
}

/* Sign masks into a GPR (zero-extended to 64 bits). */
EMU_OP(op_pmovmskb)
{
	const uint8_t *s = vreg(cpu, i->rm, i->sz2);
	uint32_t m = 0;

	sse_check(cpu);
	for (unsigned k = 0; k < i->sz2; k++)
		m |= (uint32_t)(s[k] >> 7) << k;
	reg_wr(cpu, i->reg, 4, m);
	if (i->sz2 == 8)
		mmx_enter(cpu);
	return emu_next(cpu, i);
}

EMU_OP(op_movmskps)
{
	const union emu_xmm *s = &cpu->xmm[i->rm];
	uint32_t m = 0;

	sse_check(cpu);
	for (unsigned k = 0; k < 4; k++)
		m |= (s->d[k] >> 31) << k;
	reg_wr(cpu, i->reg, 4, m);
	return emu_next(cpu, i);
}

EMU_OP(op_movmskpd)
{
	const union emu_xmm *s = &cpu->xmm[i->rm];

	sse_check(cpu);
	reg_wr(cpu, i->reg, 4, (s->q[0] >> 63) | (s->q[1] >> 63) << 1);
	return emu_next(cpu, i);
}

/* PEXTRW r32, mm/xmm, imm8 (register source only) */
EMU_OP(op_pextrw)
{
	uint16_t w;

	sse_check(cpu);
	memcpy(&w, vreg(cpu, i->rm, i->sz2) + 2 * (i->imm & (i->sz2 / 2 - 1)), 2);
	reg_wr(cpu, i->reg, 4, w);
	if (i->sz2 == 8)
		mmx_enter(cpu);
	return emu_next(cpu, i);
}

/* PINSRW mm/xmm, r32/m16, imm8 */
EMU_OP(op_pinsrw)
{
	uint16_t w;

	sse_check(cpu);
	w = (uint16_t)((i->flags & I_MEM) ? mem_rd(cpu, ea(cpu, i), 2) : reg_rd(cpu, i->rm, 2));
	memcpy(vreg(cpu, i->xreg, i->sz2) + 2 * (i->imm & (i->sz2 / 2 - 1)), &w, 2);
	vdone(cpu, i);
	return emu_next(cpu, i);
}

/* MASKMOVQ/MASKMOVDQU: bytes of xreg whose mask byte (rm) has its top bit
 * set go to [rDI]. Done as a read-merge-write of the whole operand, so a
 * fault stores nothing; not atomic against other vCPUs writing the
 * unselected bytes, and MMIO sees every byte written. */
EMU_OP(op_maskmov)
{
	const uint8_t *v = vreg(cpu, i->xreg, i->sz2), *m = vreg(cpu, i->rm, i->sz2);
	uint64_t va = cpu->r[7];
	uint8_t buf[16];

	sse_check(cpu);
	if (i->flags & I_A32)
		va = (uint32_t)va;
	va += cpu->segbase[i->seg];
	vmem_rd(cpu, va, buf, i->sz2);
	for (unsigned k = 0; k < i->sz2; k++)
		if (m[k] & 0x80)
			buf[k] = v[k];
	vmem_wr(cpu, va, buf, i->sz2);
	if (i->sz2 == 8)
		mmx_enter(cpu);
	return emu_next(cpu, i);
}

/*
 * SSE/SSE2/MMX internals: vector register access, operand fetch with the
 * legacy-SSE alignment rule, MMX state transitions, and running an SSE
 * floating-point instruction on the host under the guest's MXCSR.
 *
 * Decoded SSE records (decode_sse.c): xreg = ModRM.reg vector register,
 * rm = r/m vector register index (or a GPR byte offset for GPR operands),
 * reg = GPR byte offset when ModRM.reg names a GPR, sz = bytes of the memory
 * operand (or GPR size), sz2 = vector width (16: XMM, 8: MMX), imm = imm8.
 */
#ifndef EMU_SSE_H
#define EMU_SSE_H

#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

#define MXCSR_FLAGS 0x3fu      /* IE DE ZE OE UE PE */
#define MXCSR_MASKS 0x1f80u
#define MXCSR_MM 0x20000u      /* AMD misaligned SSE mode */
#define MXCSR_VALID 0x2ffffu   /* MXCSR_MASK: DAZ and MM implemented */

/*
 * SSE instructions raise #UD when CR0.EM = 1 or CR4.OSFXSR = 0 and #NM when
 * CR0.TS = 1 (exception.c). fpu_trap stays 0 outside system mode.
 */
void emu_sys_sse_trap(struct emu_cpu *cpu);

static inline void sse_check(struct emu_cpu *cpu)
{
	if (unlikely(cpu->sys.fpu_trap)) /* system mode: CR0.EM/TS, CR4.OSFXSR */
		emu_sys_sse_trap(cpu);
}

/* Vector register n of width w (16: XMM, 8: MMX). */
static inline uint8_t *vreg(struct emu_cpu *cpu, unsigned n, unsigned w)
{
	return w == 16 ? cpu->xmm[n].b : (uint8_t *)&cpu->fpr[n].mant;
}

/* Any MMX instruction but EMMS: TOP = 0, every register valid. */
static inline void mmx_enter(struct emu_cpu *cpu)
{
	cpu->fsw &= (uint16_t)~0x3800u;
	cpu->ftw = 0xff;
}

/* After writing MMX register n: the exponent field reads as all ones. */
static inline void mmx_written(struct emu_cpu *cpu, unsigned n)
{
	mmx_enter(cpu);
	cpu->fpr[n].sexp = 0xffff;
}

static EMU_COLD EMU_NORETURN void sse_gp(struct emu_cpu *cpu)
{
	emu_raise_err(cpu, EMU_GP, 0);
}

/* n bytes at va (no alignment rule). */
static inline void vmem_rd(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);

	if (likely(tlb_hit(e->tag_r, va, n)))
		memcpy(buf, (const void *)(uintptr_t)(va + e->addend), n);
	else
		emu_mem_read_buf(cpu, va, buf, n);
}

static inline void vmem_wr(struct emu_cpu *cpu, uint64_t va, const void *buf, unsigned n)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);

	if (likely(tlb_hit(e->tag_w, va, n)))
		memcpy((void *)(uintptr_t)(va + e->addend), buf, n);
	else
		emu_mem_write_buf(cpu, va, buf, n);
}

/* Legacy SSE: a 16-byte memory operand must be 16-byte aligned (#GP(0))
 * except for the unaligned moves, which call vmem_rd/vmem_wr directly, and
 * unless MXCSR.MM (AMD misaligned SSE mode) is set. */
static inline uint64_t vea(struct emu_cpu *cpu, const struct emu_insn *i, unsigned n)
{
	uint64_t va = ea(cpu, i);

	if (n == 16 && unlikely(va & 15) && !(cpu->mxcsr & MXCSR_MM))
		sse_gp(cpu);
	return va;
}

/* MOVAPS/MOVDQA/MOVNT*: aligned even under MXCSR.MM. */
static inline uint64_t vea_strict(struct emu_cpu *cpu, const struct emu_insn *i)
{
	uint64_t va = ea(cpu, i);

	if (unlikely(va & 15))
		sse_gp(cpu);
	return va;
}

/* The source operand (r/m) into buf: i->sz bytes from memory, the whole
 * register otherwise. Bytes of buf past a memory operand are zero. */
static inline void vsrc(struct emu_cpu *cpu, const struct emu_insn *i, void *buf)
{
	sse_check(cpu);
	if (i->flags & I_MEM) {
		memset(buf, 0, 16);
		vmem_rd(cpu, vea(cpu, i, i->sz), buf, i->sz);
	} else {
		memcpy(buf, vreg(cpu, i->rm, i->sz2), i->sz2);
	}
}

/* After writing the destination vector register (MMX bookkeeping). */
static inline void vdone(struct emu_cpu *cpu, const struct emu_insn *i)
{
	if (i->sz2 == 8)
		mmx_written(cpu, i->xreg);
}

/* ---- host execution of floating-point instructions ---- */

typedef float emu_v4sf __attribute__((vector_size(16)));

/* MXCSR to run a guest operation with: guest control bits, every exception
 * masked (the handler decides about #XM), no flags. */
static inline uint32_t mxcsr_run(const struct emu_cpu *cpu)
{
	return (cpu->mxcsr & ~MXCSR_FLAGS) | MXCSR_MASKS;
}

EMU_NORETURN void sse_xm(struct emu_cpu *cpu, uint32_t raised);

/* Merge the flags an operation raised; #XM if one is unmasked (the
 * destination is then left alone: the caller writes it after this). */
static inline void mxcsr_done(struct emu_cpu *cpu, uint32_t after)
{
	uint32_t raised = after & MXCSR_FLAGS;

	if (unlikely(raised & ~(cpu->mxcsr >> 7)))
		sse_xm(cpu, raised);
	cpu->mxcsr |= raised;
}

/*
 * Runs "insn src, dst" on the host with MXCSR = m; returns the MXCSR after.
 * One asm statement, so that nothing of the compiler's runs in between.
 * dc/sc: constraints of dst (read-write) and src ("x": XMM, "r": GPR).
 */
#define HOST_FP_C(insn, dc, dst, sc, src, m)					\
	({									\
		uint32_t m_in_ = (m), m_out_, m_host_;				\
		__asm__ volatile("stmxcsr %[h]\n\t"				\
				 "ldmxcsr %[i]\n\t"				\
				 insn " %[s], %[d]\n\t"				\
				 "stmxcsr %[o]\n\t"				\
				 "ldmxcsr %[h]"					\
				 : [d] dc(dst), [o] "=m"(m_out_), [h] "=m"(m_host_) \
				 : [s] sc(src), [i] "m"(m_in_));		\
		m_out_;								\
	})

#define HOST_FP(insn, dst, src, m) HOST_FP_C(insn, "+x", dst, "x", src, m)

/* The same with an imm8 (CMPPS and friends). */
#define HOST_FP_IMM(insn, imm, dst, src, m)					\
	({									\
		uint32_t m_in_ = (m), m_out_, m_host_;				\
		__asm__ volatile("stmxcsr %[h]\n\t"				\
				 "ldmxcsr %[i]\n\t"				\
				 insn " %[k], %[s], %[d]\n\t"			\
				 "stmxcsr %[o]\n\t"				\
				 "ldmxcsr %[h]"					\
				 : [d] "+x"(dst), [o] "=m"(m_out_), [h] "=m"(m_host_) \
				 : [s] "x"(src), [i] "m"(m_in_), [k] "i"(imm));	\
		m_out_;								\
	})

/* A handler: xmm[xreg] = insn(xmm[xreg], r/m) run on the host. */
#define SSE_HOST_OP(name, insn)							\
	EMU_OP(op_##name)							\
	{									\
		emu_v4sf d, s;							\
		uint8_t sb[16];							\
		uint32_t m;							\
									\
		vsrc(cpu, i, sb);						\
		memcpy(&s, sb, 16);						\
		memcpy(&d, cpu->xmm[i->xreg].b, 16);				\
		m = HOST_FP(insn, d, s, mxcsr_run(cpu));			\
		mxcsr_done(cpu, m);						\
		memcpy(cpu->xmm[i->xreg].b, &d, 16);				\
		return emu_next(cpu, i);					\
	}

/* ---- handlers (one per instruction form; the decoder picks them) ---- */

#define SSE_DECL(name) EMU_DECL(name)

/* ops_sse_mov.c */
SSE_DECL(op_movu_load); SSE_DECL(op_movu_store); SSE_DECL(op_mova_load);
SSE_DECL(op_mova_store); SSE_DECL(op_movs_load); SSE_DECL(op_movs_store);
SSE_DECL(op_movss_rr); SSE_DECL(op_movsd_rr); SSE_DECL(op_movlo_load);
SSE_DECL(op_movhi_load); SSE_DECL(op_movlo_store); SSE_DECL(op_movhi_store);
SSE_DECL(op_movhlps); SSE_DECL(op_movlhps); SSE_DECL(op_movd_v_g);
SSE_DECL(op_movd_g_v); SSE_DECL(op_movq_x_xm); SSE_DECL(op_movq_xm_x);
SSE_DECL(op_movq_m_mm); SSE_DECL(op_movq_mm_m); SSE_DECL(op_movdq2q);
SSE_DECL(op_movq2dq); SSE_DECL(op_movnti); SSE_DECL(op_pmovmskb);
SSE_DECL(op_movmskps); SSE_DECL(op_movmskpd); SSE_DECL(op_pextrw);
SSE_DECL(op_pinsrw); SSE_DECL(op_maskmov);

/* ops_sse_int.c */
SSE_DECL(op_paddb); SSE_DECL(op_paddw); SSE_DECL(op_paddd); SSE_DECL(op_paddq);
SSE_DECL(op_psubb); SSE_DECL(op_psubw); SSE_DECL(op_psubd); SSE_DECL(op_psubq);
SSE_DECL(op_paddusb); SSE_DECL(op_paddusw); SSE_DECL(op_psubusb); SSE_DECL(op_psubusw);
SSE_DECL(op_paddsb); SSE_DECL(op_paddsw); SSE_DECL(op_psubsb); SSE_DECL(op_psubsw);
SSE_DECL(op_pmullw); SSE_DECL(op_pmulhw); SSE_DECL(op_pmulhuw); SSE_DECL(op_pmuludq);
SSE_DECL(op_pmaddwd); SSE_DECL(op_pminub); SSE_DECL(op_pmaxub); SSE_DECL(op_pminsw);
SSE_DECL(op_pmaxsw); SSE_DECL(op_pavgb); SSE_DECL(op_pavgw); SSE_DECL(op_psadbw);
SSE_DECL(op_pcmpeqb); SSE_DECL(op_pcmpeqw); SSE_DECL(op_pcmpeqd);
SSE_DECL(op_pcmpgtb); SSE_DECL(op_pcmpgtw); SSE_DECL(op_pcmpgtd);
SSE_DECL(op_pand); SSE_DECL(op_pandn); SSE_DECL(op_por); SSE_DECL(op_pxor);

/* ops_sse_shuf.c */
SSE_DECL(op_punpcklbw); SSE_DECL(op_punpcklwd); SSE_DECL(op_punpckldq);
SSE_DECL(op_punpcklqdq); SSE_DECL(op_punpckhbw); SSE_DECL(op_punpckhwd);
SSE_DECL(op_punpckhdq); SSE_DECL(op_punpckhqdq); SSE_DECL(op_packsswb);
SSE_DECL(op_packssdw); SSE_DECL(op_packuswb); SSE_DECL(op_pshufd);
SSE_DECL(op_pshuflw); SSE_DECL(op_pshufhw); SSE_DECL(op_pshufw);
SSE_DECL(op_shufps); SSE_DECL(op_shufpd);
SSE_DECL(op_psrlw); SSE_DECL(op_psrld); SSE_DECL(op_psrlq); SSE_DECL(op_psraw);
SSE_DECL(op_psrad); SSE_DECL(op_psllw); SSE_DECL(op_pslld); SSE_DECL(op_psllq);
SSE_DECL(op_psrlw_i); SSE_DECL(op_psrld_i); SSE_DECL(op_psrlq_i); SSE_DECL(op_psraw_i);
SSE_DECL(op_psrad_i); SSE_DECL(op_psllw_i); SSE_DECL(op_pslld_i); SSE_DECL(op_psllq_i);
SSE_DECL(op_psrldq); SSE_DECL(op_pslldq);

/* ops_sse_fp.c: arithmetic, per packed/scalar single/double */
#define SSE_FP4(n) SSE_DECL(op_##n##ps); SSE_DECL(op_##n##ss); \
	SSE_DECL(op_##n##pd); SSE_DECL(op_##n##sd)
SSE_FP4(add); SSE_FP4(sub); SSE_FP4(mul); SSE_FP4(div); SSE_FP4(min); SSE_FP4(max);
SSE_FP4(sqrt);
SSE_DECL(op_rsqrtps); SSE_DECL(op_rsqrtss); SSE_DECL(op_rcpps); SSE_DECL(op_rcpss);
/* CMPccPS/SS/PD/SD: 8 predicates each */
extern const emu_fn emu_cmpps[8], emu_cmpss[8], emu_cmppd[8], emu_cmpsd[8];

/* ops_sse_cvt.c */
SSE_DECL(op_cvtps2pd); SSE_DECL(op_cvtpd2ps); SSE_DECL(op_cvtss2sd); SSE_DECL(op_cvtsd2ss);
SSE_DECL(op_cvtdq2ps); SSE_DECL(op_cvtps2dq); SSE_DECL(op_cvttps2dq);
SSE_DECL(op_cvtdq2pd); SSE_DECL(op_cvtpd2dq); SSE_DECL(op_cvttpd2dq);
SSE_DECL(op_cvtsi2ss); SSE_DECL(op_cvtsi2sd);
SSE_DECL(op_cvtss2si); SSE_DECL(op_cvttss2si); SSE_DECL(op_cvtsd2si); SSE_DECL(op_cvttsd2si);
SSE_DECL(op_comiss); SSE_DECL(op_ucomiss); SSE_DECL(op_comisd); SSE_DECL(op_ucomisd);

/* ops_fxsave.c */
SSE_DECL(op_fxsave); SSE_DECL(op_fxrstor); SSE_DECL(op_ldmxcsr); SSE_DECL(op_stmxcsr);
SSE_DECL(op_emms);

#endif

/*
 * SSE/SSE2 conversions and the flag-setting compares (COMIS*, UCOMIS*), run
 * on the host under the guest's MXCSR like the arithmetic (ops_sse_fp.c):
 * rounding, out-of-range results (the "integer indefinite") and flags come
 * from the hardware itself.
 *
 * Integer <-> scalar forms: the GPR side's size is i->op (4 or 8); i->sz is
 * the size of a memory operand.
 */
#include "accel/emu/sse.h"

SSE_HOST_OP(cvtps2pd, "cvtps2pd")
SSE_HOST_OP(cvtpd2ps, "cvtpd2ps")
SSE_HOST_OP(cvtss2sd, "cvtss2sd")
SSE_HOST_OP(cvtsd2ss, "cvtsd2ss")
SSE_HOST_OP(cvtdq2ps, "cvtdq2ps")
SSE_HOST_OP(cvtps2dq, "cvtps2dq")
SSE_HOST_OP(cvttps2dq, "cvttps2dq")
SSE_HOST_OP(cvtdq2pd, "cvtdq2pd")
SSE_HOST_OP(cvtpd2dq, "cvtpd2dq")
SSE_HOST_OP(cvttpd2dq, "cvttpd2dq")

/* CVTSI2SS/SD xmm, r/m32/64 */
#define CVT_FROM_INT(name, insn)						\
	EMU_OP(op_##name)							\
	{									\
		emu_v4sf d;							\
		uint32_t m;							\
		uint64_t v;							\
									\
		sse_check(cpu);							\
		v = rm_rd(cpu, i, i->op);					\
		memcpy(&d, cpu->xmm[i->xreg].b, 16);				\
		if (i->op == 8) {						\
			m = HOST_FP_C(insn "q", "+x", d, "r", v, mxcsr_run(cpu)); \
		} else {							\
			uint32_t v32 = (uint32_t)v;				\
									\
			m = HOST_FP_C(insn "l", "+x", d, "r", v32, mxcsr_run(cpu)); \
		}								\
		mxcsr_done(cpu, m);						\
		memcpy(cpu->xmm[i->xreg].b, &d, 16);				\
		return emu_next(cpu, i);					\
	}

CVT_FROM_INT(cvtsi2ss, "cvtsi2ss")
CVT_FROM_INT(cvtsi2sd, "cvtsi2sd")

/* CVT(T)SS2SI/CVT(T)SD2SI r32/64, xmm/m32/64 */
#define CVT_TO_INT(name, insn)							\
	EMU_OP(op_##name)							\
	{									\
		emu_v4sf s;							\
		uint8_t sb[16];							\
		uint32_t m;							\
		uint64_t r;							\
									\
		vsrc(cpu, i, sb);						\
		memcpy(&s, sb, 16);						\
		if (i->op == 8) {						\
			r = 0;							\
			m = HOST_FP_C(insn, "+r", r, "x", s, mxcsr_run(cpu));	\
		} else {							\
			uint32_t r32 = 0;					\
									\
			m = HOST_FP_C(insn, "+r", r32, "x", s, mxcsr_run(cpu));	\
			r = r32;						\
		}								\
		mxcsr_done(cpu, m);						\
		reg_wr(cpu, i->reg, i->op, r);					\
		return emu_next(cpu, i);					\
	}

CVT_TO_INT(cvtss2si, "cvtss2si")
CVT_TO_INT(cvttss2si, "cvttss2si")
CVT_TO_INT(cvtsd2si, "cvtsd2si")
CVT_TO_INT(cvttsd2si, "cvttsd2si")

/* COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the compare (read back
 * with LAHF), OF, SF, AF cleared. */
#define COMI(name, insn)							\
	EMU_OP(op_##name)							\
	{									\
		emu_v4sf a, b;							\
		uint8_t sb[16];							\
		uint32_t m_in, m_out, m_host;					\
		uint64_t f;							\
									\
		vsrc(cpu, i, sb);						\
		memcpy(&b, sb, 16);						\
		memcpy(&a, cpu->xmm[i->xreg].b, 16);				\
		m_in = mxcsr_run(cpu);						\
		__asm__ volatile("stmxcsr %[h]\n\t"				\
				 "ldmxcsr %[i]\n\t"				\
				 insn " %[b], %[a]\n\t"				\
				 "lahf\n\t"					\
				 "stmxcsr %[o]\n\t"				\
				 "ldmxcsr %[h]"					\
				 : "=a"(f), [o] "=m"(m_out), [h] "=m"(m_host)	\
				 : [a] "x"(a), [b] "x"(b), [i] "m"(m_in)	\
				 : "cc");					\
		mxcsr_done(cpu, m_out);						\
		flags_set(cpu, EMU_ARITH, (f >> 8) & (EMU_ZF | EMU_PF | EMU_CF)); \
		return emu_next(cpu, i);					\
	}

COMI(comiss, "comiss")
COMI(ucomiss, "ucomiss")
COMI(comisd, "comisd")
COMI(ucomisd, "ucomisd")

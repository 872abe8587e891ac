/*
 * SSE/SSE2 floating-point arithmetic and compares. Each runs the same
 * instruction on the host under the guest's MXCSR (rounding, DAZ, FTZ), so
 * results, NaN propagation and the exception flags match the hardware bit
 * for bit; exceptions are masked on the host and an unmasked one raises #XM
 * in the guest with the destination unchanged.
 */
#include "accel/emu/sse.h"

EMU_NORETURN void sse_xm(struct emu_cpu *cpu, uint32_t raised)
{
	/* Approximation: every flag the operation raised is recorded. */
	cpu->mxcsr |= raised;
	emu_raise(cpu, EMU_XM);
}

#define FP_OP4(n)								\
	SSE_HOST_OP(n##ps, #n "ps") SSE_HOST_OP(n##ss, #n "ss")				\
	SSE_HOST_OP(n##pd, #n "pd") SSE_HOST_OP(n##sd, #n "sd")

FP_OP4(add)
FP_OP4(sub)
FP_OP4(mul)
FP_OP4(div)
FP_OP4(min)
FP_OP4(max)
FP_OP4(sqrt)
/* Approximations: the guest sees this host's tables. */
SSE_HOST_OP(rsqrtps, "rsqrtps")
SSE_HOST_OP(rsqrtss, "rsqrtss")
SSE_HOST_OP(rcpps, "rcpps")
SSE_HOST_OP(rcpss, "rcpss")

/* CMPccPS/SS/PD/SD: the predicate is part of the handler (imm8 & 7: the
 * legacy encodings define no more; AMD hardware also honours bits 4:3). */
#define FP_CMP(name, insn, p)							\
	static EMU_OP(op_##name##_##p)						\
	{									\
		emu_v4sf d, s;							\
		uint8_t sb[16];							\
		uint32_t m;							\
									\
		vsrc(cpu, i, sb);						\
		memcpy(&s, sb, 16);						\
		memcpy(&d, cpu->xmm[i->xreg].b, 16);				\
		m = HOST_FP_IMM(insn, p, d, s, mxcsr_run(cpu));			\
		mxcsr_done(cpu, m);						\
		memcpy(cpu->xmm[i->xreg].b, &d, 16);				\
		return emu_next(cpu, i);					\
	}

#define FP_CMP8(name)								\
	FP_CMP(name, #name, 0) FP_CMP(name, #name, 1) FP_CMP(name, #name, 2)	\
	FP_CMP(name, #name, 3) FP_CMP(name, #name, 4) FP_CMP(name, #name, 5)	\
	FP_CMP(name, #name, 6) FP_CMP(name, #name, 7)				\
	const emu_fn emu_##name[8] = {						\
		op_##name##_0, op_##name##_1, op_##name##_2, op_##name##_3,	\
		op_##name##_4, op_##name##_5, op_##name##_6, op_##name##_7,	\
	};

FP_CMP8(cmpps)
FP_CMP8(cmpss)
FP_CMP8(cmppd)
FP_CMP8(cmpsd)

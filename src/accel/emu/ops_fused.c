/*
 * Compare-and-branch: a CMP or TEST record followed by a Jcc record run by
 * one handler in the CMP record (fast.c marks the pair with I_END). The lazy flags are set exactly as CMP/TEST sets them, and the
 * condition, fixed per handler, is evaluated from the operands directly.
 * A faulting memory operand leaves RIP at the CMP, nothing changed.
 */
#include "accel/emu/fast.h"

/* The flat memory operand's value, or false on a TLB miss. */
static inline bool fused_mem(struct emu_cpu *cpu, const struct emu_insn *i, unsigned sz,
			     uint64_t *v)
{
	void *p;

	if (!fast_rd(cpu, ea_flat(cpu, i), sz, &p))
		return false;
	*v = ld(p, sz);
	return true;
}

/* The branch condition (0/1), or -1 on a TLB miss (nothing changed). */
static EMU_ALWAYS_INLINE int fused_cond(struct emu_cpu *cpu, const struct emu_insn *i,
				 unsigned form, unsigned sz, unsigned cc)
{
	uint64_t m = sz_mask(sz), a, b, r;
	bool mem = form == FZ_TEST_MI || form == FZ_CMP_RM || form == FZ_CMP_MR ||
		   form == FZ_CMP_MI;
	uint64_t v = 0;

	if (mem && !fused_mem(cpu, i, sz, &v))
		return -1;
	switch (form) {
	case FZ_TEST_RR: r = reg_rd(cpu, i->rm, sz) & reg_rd(cpu, i->reg, sz); goto logic;
	case FZ_TEST_RI: r = reg_rd(cpu, i->rm, sz) & i->imm & m; goto logic;
	case FZ_TEST_MI: r = v & i->imm & m; goto logic;
	case FZ_CMP_RR: a = reg_rd(cpu, i->rm, sz); b = reg_rd(cpu, i->reg, sz); break;
	case FZ_CMP_RRX: a = reg_rd(cpu, i->reg, sz); b = reg_rd(cpu, i->rm, sz); break;
	case FZ_CMP_RI: a = reg_rd(cpu, i->rm, sz); b = i->imm & m; break;
	case FZ_CMP_RM: a = reg_rd(cpu, i->reg, sz); b = v; break;
	case FZ_CMP_MR: a = v; b = reg_rd(cpu, i->reg, sz); break;
	default: a = v; b = i->imm & m; break;
	}
	r = (a - b) & m;
	set_lf(cpu, LF_SUB, sz, r, a, b);
	return cc_sub(cc, sz, a, b, r);
logic:
	set_lf(cpu, LF_LOGIC, sz, r, 0, 0);
	return cc_logic(cc, sz, r);
}

/* On a TLB miss the generic compare runs and falls through to the Jcc
 * record (a complete Jcc of its own). Not taken, the block goes on after
 * the pair. */
#define FUSED(F, SZ, CC)							\
	static EMU_OP(fz_##F##_##SZ##_##CC)					\
	{									\
		int t = fused_cond(cpu, i, F, SZ, CC);				\
		if (t < 0)							\
			return emu_fused_generic(F)(cpu, i);			\
		if (t)								\
			return emu_jcc_taken(cpu, i + 1,			\
					     RIP + i->len + i[1].len + i[1].imm); \
		RIP += i->len + i[1].len;					\
		return i[2].fn(cpu, i + 2);					\
	}

#define FUSED_FORM(F) FOR_CC(FUSED, F, 1) FOR_CC(FUSED, F, 4) FOR_CC(FUSED, F, 8)
FUSED_FORM(FZ_CMP_RR)
FUSED_FORM(FZ_CMP_RRX)
FUSED_FORM(FZ_CMP_RI)
FUSED_FORM(FZ_CMP_RM)
FUSED_FORM(FZ_CMP_MR)
FUSED_FORM(FZ_CMP_MI)
FUSED_FORM(FZ_TEST_RR)
FUSED_FORM(FZ_TEST_RI)
FUSED_FORM(FZ_TEST_MI)

#define FZ_NAME(F, SZ, CC) fz_##F##_##SZ##_##CC,
#define FZ_ROW(F) [F] = { { FOR_CC(FZ_NAME, F, 1) }, { FOR_CC(FZ_NAME, F, 4) }, \
			  { FOR_CC(FZ_NAME, F, 8) } }

const emu_fn emu_fused[FZ_N][FS_N][16] = {
	FZ_ROW(FZ_CMP_RR), FZ_ROW(FZ_CMP_RRX), FZ_ROW(FZ_CMP_RI),
	FZ_ROW(FZ_CMP_RM), FZ_ROW(FZ_CMP_MR), FZ_ROW(FZ_CMP_MI),
	FZ_ROW(FZ_TEST_RR), FZ_ROW(FZ_TEST_RI), FZ_ROW(FZ_TEST_MI),
};

/* Jcc alone, condition fixed: cond_quick() folds to the checks for it. */
#define JCC(CC)									\
	static EMU_OP(jcc_##CC)							\
	{									\
		int t = cond_quick(cpu, CC);					\
		if (t < 0)							\
			return op_jcc(cpu, i);					\
		if (t)								\
			return emu_jcc_taken(cpu, i, RIP + i->len + i->imm);	\
		return emu_next(cpu, i);					\
	}
#define JCC_ONE(X, CC) JCC(CC)
#define JCC_NAME(X, CC) jcc_##CC,
FOR_CC(JCC_ONE, 0)

const emu_fn emu_fast_jcc[16] = { FOR_CC(JCC_NAME, 0) };

/*
 * Compare-and-branch: a CMP, TEST, register ALU or INC/DEC record followed
 * by a Jcc record run by one handler in the first record (fast.c marks the
 * pair with I_END). The lazy flags are set exactly as the first instruction
 * sets them, and the condition, fixed per handler, is evaluated from the
 * operands directly. A faulting memory operand leaves RIP at the CMP,
 * nothing changed.
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

/* CMP/TEST: the branch condition (0/1), or -1 on a TLB miss (nothing changed). */
static EMU_ALWAYS_INLINE int cmp_cond(struct emu_cpu *cpu, const struct emu_insn *i,
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

/* ALU rm(reg) op= reg/imm: written, flags set (a taken branch leaves the
 * block with them live), the condition from the operands. */
static EMU_ALWAYS_INLINE int alu_cond(struct emu_cpu *cpu, const struct emu_insn *i,
				      unsigned form, unsigned sz, unsigned cc)
{
	unsigned op = emu_fused_alu_op(form);
	uint64_t a = reg_rd(cpu, i->rm, sz), b, r;

	b = ((form - FZ_ADD_RR) & 1 ? i->imm : reg_rd(cpu, i->reg, sz)) & sz_mask(sz);
	r = alu_calc(cpu, op, sz, a, b, 0, true);
	reg_wr(cpu, i->rm, sz, r);
	if (op == ALU_ADD)
		return cc_add(cc, sz, a, b, r);
	if (op == ALU_SUB)
		return cc_sub(cc, sz, a, b, r);
	return cc_logic(cc, sz, r);
}

/* INC/DEC rm(reg): CF kept (-1 if that needs the fold); Z/S conditions. */
static EMU_ALWAYS_INLINE int incdec_cond(struct emu_cpu *cpu, const struct emu_insn *i,
					 unsigned form, unsigned sz, unsigned cc)
{
	int cf = cf_quick(cpu);
	uint64_t a = reg_rd(cpu, i->rm, sz), r;

	if (cf < 0)
		return -1;
	r = (form == FZ_DEC ? a - 1 : a + 1) & sz_mask(sz);
	set_lf(cpu, form == FZ_DEC ? LF_DEC : LF_INC, sz, r, a, 1);
	cpu->lf.cf = (bool)cf;
	reg_wr(cpu, i->rm, sz, r);
	return ((cc >> 1) == 2 ? r == 0 : (r >> (sz * 8 - 1)) & 1) ^ (cc & 1);
}

/* The branch condition of a fused record, or -1: the generic handler runs
 * the first instruction instead. */
static EMU_ALWAYS_INLINE int fused_cond(struct emu_cpu *cpu, const struct emu_insn *i,
					unsigned form, unsigned sz, unsigned cc)
{
	if (form == FZ_INC || form == FZ_DEC)
		return incdec_cond(cpu, i, form, sz, cc);
	if (form >= FZ_ADD_RR)
		return alu_cond(cpu, i, form, sz, cc);
	return cmp_cond(cpu, i, form, sz, cc);
}

/* On -1 the generic handler runs the first instruction and falls through
 * to the Jcc record (a complete Jcc of its own). Not taken, the block goes
 * on after the pair. */
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

/* The conditions specialised beyond CMP/TEST (all 16): */
#define CC_ADD(M, ...)								\
	M(__VA_ARGS__, 2) M(__VA_ARGS__, 3) M(__VA_ARGS__, 4) M(__VA_ARGS__, 5)	\
	M(__VA_ARGS__, 8) M(__VA_ARGS__, 9)
#define CC_ZS(M, ...) M(__VA_ARGS__, 4) M(__VA_ARGS__, 5) M(__VA_ARGS__, 8) M(__VA_ARGS__, 9)

#define FUSED_FORM(F) FOR_CC(FUSED, F, 1) FOR_CC(FUSED, F, 4) FOR_CC(FUSED, F, 8)
#define FUSED_FORM48(F, CCS) CCS(FUSED, F, 4) CCS(FUSED, F, 8)
FUSED_FORM(FZ_CMP_RR)
FUSED_FORM(FZ_CMP_RRX)
FUSED_FORM(FZ_CMP_RI)
FUSED_FORM(FZ_CMP_RM)
FUSED_FORM(FZ_CMP_MR)
FUSED_FORM(FZ_CMP_MI)
FUSED_FORM(FZ_TEST_RR)
FUSED_FORM(FZ_TEST_RI)
FUSED_FORM(FZ_TEST_MI)
FUSED_FORM48(FZ_SUB_RR, FOR_CC)
FUSED_FORM48(FZ_SUB_RI, FOR_CC)
FUSED_FORM48(FZ_ADD_RR, CC_ADD)
FUSED_FORM48(FZ_ADD_RI, CC_ADD)
FUSED_FORM48(FZ_AND_RR, CC_ZS)
FUSED_FORM48(FZ_AND_RI, CC_ZS)
FUSED_FORM48(FZ_OR_RR, CC_ZS)
FUSED_FORM48(FZ_OR_RI, CC_ZS)
FUSED_FORM48(FZ_XOR_RR, CC_ZS)
FUSED_FORM48(FZ_XOR_RI, CC_ZS)
FUSED_FORM48(FZ_INC, CC_ZS)
FUSED_FORM48(FZ_DEC, CC_ZS)

#define FZ_NAME(F, SZ, CC) [CC] = fz_##F##_##SZ##_##CC,
#define FZ_ROW(F) [F] = { { FOR_CC(FZ_NAME, F, 1) }, { FOR_CC(FZ_NAME, F, 4) }, \
			  { FOR_CC(FZ_NAME, F, 8) } }
#define FZ_ROW48(F, CCS) [F] = { [FS_4] = { CCS(FZ_NAME, F, 4) }, [FS_8] = { CCS(FZ_NAME, F, 8) } }

const emu_fn emu_fused[FZ_N][FS_N][16] = {
	FZ_ROW(FZ_CMP_RR), FZ_ROW(FZ_CMP_RRX), FZ_ROW(FZ_CMP_RI),
	FZ_ROW(FZ_CMP_RM), FZ_ROW(FZ_CMP_MR), FZ_ROW(FZ_CMP_MI),
	FZ_ROW(FZ_TEST_RR), FZ_ROW(FZ_TEST_RI), FZ_ROW(FZ_TEST_MI),
	FZ_ROW48(FZ_SUB_RR, FOR_CC), FZ_ROW48(FZ_SUB_RI, FOR_CC),
	FZ_ROW48(FZ_ADD_RR, CC_ADD), FZ_ROW48(FZ_ADD_RI, CC_ADD),
	FZ_ROW48(FZ_AND_RR, CC_ZS), FZ_ROW48(FZ_AND_RI, CC_ZS),
	FZ_ROW48(FZ_OR_RR, CC_ZS), FZ_ROW48(FZ_OR_RI, CC_ZS),
	FZ_ROW48(FZ_XOR_RR, CC_ZS), FZ_ROW48(FZ_XOR_RI, CC_ZS),
	FZ_ROW48(FZ_INC, CC_ZS), FZ_ROW48(FZ_DEC, CC_ZS),
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

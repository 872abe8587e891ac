/*
 * Compare-and-branch: a CMP or TEST record followed by a Jcc record run by
 * one handler in the CMP record (fast.c marks it I_END: the block's run ends
 * there). The lazy flags are set exactly as CMP/TEST sets them, and the
 * condition, fixed per handler, is evaluated from the operands directly.
 * A faulting memory operand leaves RIP at the CMP, nothing changed.
 */
#include "accel/emu/fast.h"

/* Condition cc after a - b = r (CMP), all 16. */
static inline bool cc_sub(unsigned cc, unsigned sz, uint64_t a, uint64_t b, uint64_t r)
{
	unsigned top = sz * 8 - 1, sh = 63 - top;
	bool v;

	switch (cc >> 1) {
	case 0: v = (((a ^ b) & (a ^ r)) >> top) & 1; break;
	case 1: v = a < b; break;
	case 2: v = r == 0; break;
	case 3: v = a <= b; break;
	case 4: v = (r >> top) & 1; break;
	case 5: v = !__builtin_parityll(r & 0xff); break;
	case 6: v = (int64_t)(a << sh) < (int64_t)(b << sh); break;
	default: v = (int64_t)(a << sh) <= (int64_t)(b << sh); break;
	}
	return v ^ (cc & 1);
}

/* Condition cc after a logic result r (TEST): CF = OF = 0. */
static inline bool cc_logic(unsigned cc, unsigned sz, uint64_t r)
{
	bool s = (r >> (sz * 8 - 1)) & 1, v;

	switch (cc >> 1) {
	case 0: case 1: v = false; break;
	case 2: case 3: v = r == 0; break;
	case 4: case 6: v = s; break;
	case 5: v = !__builtin_parityll(r & 0xff); break;
	default: v = r == 0 || s; break;
	}
	return v ^ (cc & 1);
}

static inline bool fused_cond(struct emu_cpu *cpu, const struct emu_insn *i,
			      unsigned form, unsigned sz, unsigned cc)
{
	uint64_t m = sz_mask(sz), a, b, r;

	switch (form) {
	case FZ_TEST_RR: r = reg_rd(cpu, i->rm, sz) & reg_rd(cpu, i->reg, sz); goto logic;
	case FZ_TEST_RI: r = reg_rd(cpu, i->rm, sz) & i->imm & m; goto logic;
	case FZ_TEST_MI: r = mem_rd(cpu, ea_flat(cpu, i), sz) & i->imm & m; goto logic;
	case FZ_CMP_RR: a = reg_rd(cpu, i->rm, sz); b = reg_rd(cpu, i->reg, sz); break;
	case FZ_CMP_RRX: a = reg_rd(cpu, i->reg, sz); b = reg_rd(cpu, i->rm, sz); break;
	case FZ_CMP_RI: a = reg_rd(cpu, i->rm, sz); b = i->imm & m; break;
	case FZ_CMP_RM: a = reg_rd(cpu, i->reg, sz); b = mem_rd(cpu, ea_flat(cpu, i), sz); break;
	case FZ_CMP_MR: a = mem_rd(cpu, ea_flat(cpu, i), sz); b = reg_rd(cpu, i->reg, sz); break;
	default: a = mem_rd(cpu, ea_flat(cpu, i), sz); b = i->imm & m; break;
	}
	r = (a - b) & m;
	set_lf(cpu, LF_SUB, sz, r, a, b);
	return cc_sub(cc, sz, a, b, r);
logic:
	set_lf(cpu, LF_LOGIC, sz, r, 0, 0);
	return cc_logic(cc, sz, r);
}

#define FUSED(F, SZ, CC)							\
	static EMU_OP(fz_##F##_##SZ##_##CC)					\
	{									\
		bool t = fused_cond(cpu, i, F, SZ, CC);				\
		RIP += i->len + i[1].len + (t ? i[1].imm : 0);			\
		return 1;							\
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

/* Jcc alone, condition fixed: emu_cond() folds to the checks for it. */
#define JCC(CC)									\
	static EMU_OP(jcc_##CC)							\
	{									\
		RIP += i->len + (emu_cond(cpu, CC) ? i->imm : 0);		\
		return 1;							\
	}
#define JCC_ONE(X, CC) JCC(CC)
#define JCC_NAME(X, CC) jcc_##CC,
FOR_CC(JCC_ONE, 0)

const emu_fn emu_fast_jcc[16] = { FOR_CC(JCC_NAME, 0) };

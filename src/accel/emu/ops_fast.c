/*
 * Specialised handlers for the hottest forms: size and operation fixed at
 * compile time, so the register accessors and lazy-flag updates fold to a
 * few moves. "nf" variants skip the lazy-flag update: fast.c picks them only
 * when the flags are overwritten, before anything could read them, by an
 * instruction of the same block that cannot fault.
 *
 * Nothing here calls out: a TLB miss, a carry or condition that needs the
 * flag fold, hands the record to its generic handler (a tail call, see
 * fast_rd()), so these handlers need no stack frame.
 *
 * RIP-free handlers (register operands only: they never fault nor read
 * RIP) come in two variants, the second named _nr. Along a run of them RIP
 * is left behind: each record's disp says how far it lags (fast.c, I_LAG),
 * the _nr variant leaves it there (I_NOADV) and the last of the run catches
 * up. Their generic fallbacks (register forms: no fault, no RIP read) add
 * len to RIP, so RIP is set first to end where the variant leaves it.
 */
#include "accel/emu/fast.h"

#define F_NEXT(NR) ((NR) ? i[1].fn(cpu, i + 1) : emu_next_lag(cpu, i))
#define F_GENERIC(NR, GEN)							\
	(RIP += (NR) ? -(uint64_t)i->len : (uint64_t)(int64_t)i->disp, (GEN)(cpu, i))

/* Both variants of a RIP-free handler: F(args..., NR, name). */
#define F_BOTH(F, N, ...) F(__VA_ARGS__, 0, N) F(__VA_ARGS__, 1, N##_nr)

/* The carry into OP, or -1 when only the generic handler can get it. */
#define CARRY(OP) ((OP) == ALU_ADC || (OP) == ALU_SBB ? cf_quick(cpu) : 0)

/* Register forms: rm op= reg, rm op= imm, reg op= rm; CMP writes nothing. */
#define ALU_REG(OP, SZ, FL, NR, N)						\
	static EMU_OP(fa_rr_##N)						\
	{									\
		int c = CARRY(OP);						\
		if (c < 0)							\
			return F_GENERIC(NR, emu_alu_r_r[OP]);			\
		uint64_t r = alu_calc(cpu, OP, SZ, reg_rd(cpu, i->rm, SZ),	\
				      reg_rd(cpu, i->reg, SZ), (unsigned)c, FL); \
		if (OP != ALU_CMP)						\
			reg_wr(cpu, i->rm, SZ, r);				\
		return F_NEXT(NR);						\
	}									\
	static EMU_OP(fa_ri_##N)						\
	{									\
		int c = CARRY(OP);						\
		if (c < 0)							\
			return F_GENERIC(NR, emu_alu_r_imm[OP]);		\
		uint64_t r = alu_calc(cpu, OP, SZ, reg_rd(cpu, i->rm, SZ), i->imm, \
				      (unsigned)c, FL);				\
		if (OP != ALU_CMP)						\
			reg_wr(cpu, i->rm, SZ, r);				\
		return F_NEXT(NR);						\
	}									\
	static EMU_OP(fa_rrx_##N)						\
	{									\
		int c = CARRY(OP);						\
		if (c < 0)							\
			return F_GENERIC(NR, op_alu_r_rm);			\
		uint64_t r = alu_calc(cpu, OP, SZ, reg_rd(cpu, i->reg, SZ),	\
				      reg_rd(cpu, i->rm, SZ), (unsigned)c, FL);	\
		if (OP != ALU_CMP)						\
			reg_wr(cpu, i->reg, SZ, r);				\
		return F_NEXT(NR);						\
	}

/* reg op= [flat]; [flat] op= reg/imm (CMP only reads, the others need a
 * writable page). */
#define ALU_MEMS(OP, SZ, FL, N)							\
	static EMU_OP(fa_rm_##N)						\
	{									\
		int c = CARRY(OP);						\
		void *p;							\
		if (c < 0 || !fast_rd(cpu, ea_flat(cpu, i), SZ, &p))		\
			return op_alu_r_rm(cpu, i);				\
		uint64_t r = alu_calc(cpu, OP, SZ, reg_rd(cpu, i->reg, SZ),	\
				      ld(p, SZ), (unsigned)c, FL);		\
		if (OP != ALU_CMP)						\
			reg_wr(cpu, i->reg, SZ, r);				\
		return emu_next(cpu, i);					\
	}									\
	ALU_MEM(OP, SZ, FL, mr_##N, reg_rd(cpu, i->reg, SZ), op_alu_rm_r)	\
	ALU_MEM(OP, SZ, FL, mi_##N, i->imm, op_alu_rm_imm)

#define ALU_MEM(OP, SZ, FL, N, B, GEN)						\
	static EMU_OP(fa_##N)							\
	{									\
		int c = CARRY(OP);						\
		uint64_t va = ea_flat(cpu, i);					\
		void *p;							\
		bool hit = OP == ALU_CMP ? fast_rd(cpu, va, SZ, &p) : fast_wr(cpu, va, SZ, &p); \
		if (c < 0 || !hit)						\
			return GEN(cpu, i);					\
		uint64_t r = alu_calc(cpu, OP, SZ, ld(p, SZ), B, (unsigned)c, FL); \
		if (OP != ALU_CMP)						\
			st(p, SZ, r);						\
		return emu_next(cpu, i);					\
	}

#define ALU_ONE(OP, SZ, FL, N) F_BOTH(ALU_REG, N, OP, SZ, FL) ALU_MEMS(OP, SZ, FL, N)
#define ALU_OP(OP, name)							\
	ALU_ONE(OP, 4, false, name##_4_nf)					\
	ALU_ONE(OP, 4, true, name##_4)						\
	ALU_ONE(OP, 8, false, name##_8_nf)					\
	ALU_ONE(OP, 8, true, name##_8)

ALU_OP(ALU_ADD, add)
ALU_OP(ALU_OR, or)
ALU_OP(ALU_ADC, adc)
ALU_OP(ALU_SBB, sbb)
ALU_OP(ALU_AND, and)
ALU_OP(ALU_SUB, sub)
ALU_OP(ALU_XOR, xor)
ALU_OP(ALU_CMP, cmp)

#define ALU_ROW(form, name, X)							\
	{ { form##_##name##_4_nf##X, form##_##name##_4##X },			\
	  { form##_##name##_8_nf##X, form##_##name##_8##X } }
#define ALU_FORM(form, X)							\
	{									\
		[ALU_ADD] = ALU_ROW(form, add, X), [ALU_OR] = ALU_ROW(form, or, X), \
		[ALU_ADC] = ALU_ROW(form, adc, X), [ALU_SBB] = ALU_ROW(form, sbb, X), \
		[ALU_AND] = ALU_ROW(form, and, X), [ALU_SUB] = ALU_ROW(form, sub, X), \
		[ALU_XOR] = ALU_ROW(form, xor, X), [ALU_CMP] = ALU_ROW(form, cmp, X), \
	}

const emu_fn emu_fast_alu[2][FA_N][8][2][2] = {
	{
		[FA_RR] = ALU_FORM(fa_rr, ),
		[FA_RI] = ALU_FORM(fa_ri, ),
		[FA_RRX] = ALU_FORM(fa_rrx, ),
		[FA_RM] = ALU_FORM(fa_rm, ),
		[FA_MR] = ALU_FORM(fa_mr, ),
		[FA_MI] = ALU_FORM(fa_mi, ),
	}, {
		[FA_RR] = ALU_FORM(fa_rr, _nr),
		[FA_RI] = ALU_FORM(fa_ri, _nr),
		[FA_RRX] = ALU_FORM(fa_rrx, _nr),
	},
};

/* ---- moves ---- */

#define MOV_REG(SZ, NR, N)							\
	static EMU_OP(mov_rr_##N)						\
	{									\
		reg_wr(cpu, i->rm, SZ, reg_rd(cpu, i->reg, SZ));		\
		return F_NEXT(NR);						\
	}									\
	static EMU_OP(movi_r_##N)						\
	{									\
		reg_wr(cpu, i->rm, SZ, i->imm);					\
		return F_NEXT(NR);						\
	}

#define MOV_SZ(SZ)								\
	F_BOTH(MOV_REG, SZ, SZ)							\
	static EMU_OP(mov_rm_##SZ)						\
	{									\
		void *p;							\
		if (!fast_rd(cpu, ea_flat(cpu, i), SZ, &p))			\
			return op_mov_r_rm(cpu, i);				\
		reg_wr(cpu, i->reg, SZ, ld(p, SZ));				\
		return emu_next(cpu, i);					\
	}									\
	static EMU_OP(mov_mr_##SZ)						\
	{									\
		void *p;							\
		if (!fast_wr(cpu, ea_flat(cpu, i), SZ, &p))			\
			return op_mov_rm_r(cpu, i);				\
		st(p, SZ, reg_rd(cpu, i->reg, SZ));				\
		return emu_next(cpu, i);					\
	}									\
	static EMU_OP(movi_m_##SZ)						\
	{									\
		void *p;							\
		if (!fast_wr(cpu, ea_flat(cpu, i), SZ, &p))			\
			return op_mov_rm_imm(cpu, i);				\
		st(p, SZ, i->imm);						\
		return emu_next(cpu, i);					\
	}

/* LEA: the offset alone (a segment prefix has no effect on it) */
#define LEA(SZ)									\
	static EMU_OP(lea_##SZ)							\
	{									\
		reg_wr(cpu, i->reg, SZ, ea_flat(cpu, i));			\
		return emu_next(cpu, i);					\
	}

MOV_SZ(1)
MOV_SZ(4)
MOV_SZ(8)
LEA(4)
LEA(8)

const emu_fn emu_fast_mov_rr[2][FS_N] = { { mov_rr_1, mov_rr_4, mov_rr_8 },
					   { mov_rr_1_nr, mov_rr_4_nr, mov_rr_8_nr } };
const emu_fn emu_fast_movi_r[2][FS_N] = { { movi_r_1, movi_r_4, movi_r_8 },
					   { movi_r_1_nr, movi_r_4_nr, movi_r_8_nr } };
const emu_fn emu_fast_mov_rm[FS_N] = { mov_rm_1, mov_rm_4, mov_rm_8 };
const emu_fn emu_fast_mov_mr[FS_N] = { mov_mr_1, mov_mr_4, mov_mr_8 };
const emu_fn emu_fast_movi_m[FS_N] = { movi_m_1, movi_m_4, movi_m_8 };
const emu_fn emu_fast_lea[FS_N] = { NULL, lea_4, lea_8 };

/* MOVZX/MOVSX into a 32- or 64-bit register (both write all 64 bits). */
#define MOVX_REG(S, SZ2, SZ, NR, N)						\
	static EMU_OP(movx_r_##N)						\
	{									\
		uint64_t v = reg_rd(cpu, i->rm, SZ2);				\
		reg_wr(cpu, i->reg, SZ, S ? (uint64_t)sext(v, SZ2) : v);	\
		return F_NEXT(NR);						\
	}

#define MOVX(S, SZ2, SZ, N)							\
	F_BOTH(MOVX_REG, N, S, SZ2, SZ)						\
	static EMU_OP(movx_m_##N)						\
	{									\
		void *p;							\
		if (!fast_rd(cpu, ea_flat(cpu, i), SZ2, &p))			\
			return S ? op_movsx(cpu, i) : op_movzx(cpu, i);		\
		uint64_t v = ld(p, SZ2);					\
		reg_wr(cpu, i->reg, SZ, S ? (uint64_t)sext(v, SZ2) : v);	\
		return emu_next(cpu, i);					\
	}

#define MOVX_SZ2(S, SZ2, N) MOVX(S, SZ2, 4, N##_4) MOVX(S, SZ2, 8, N##_8)
MOVX_SZ2(0, 1, z1)
MOVX_SZ2(0, 2, z2)
MOVX_SZ2(1, 1, s1)
MOVX_SZ2(1, 2, s2)
MOVX_SZ2(1, 4, s4)

/* [nr][mem]: no _nr variant with memory */
#define MOVX_ROW(N)								\
	{ { { movx_r_##N##_4, movx_m_##N##_4 }, { movx_r_##N##_8, movx_m_##N##_8 } }, \
	  { { movx_r_##N##_4_nr, NULL }, { movx_r_##N##_8_nr, NULL } } }
const emu_fn emu_fast_movx[2][3][2][2][2] = {
	{ MOVX_ROW(z1), MOVX_ROW(z2) },
	{ MOVX_ROW(s1), MOVX_ROW(s2), MOVX_ROW(s4) },
};

/* ---- INC/DEC, shifts, TEST on registers ---- */

/* INC/DEC keep CF: with live flags it is carried into the lazy record. */
#define INCDEC(D, SZ, FL, NR, N)						\
	static EMU_OP(incdec_##N)						\
	{									\
		int cf = FL ? cf_quick(cpu) : 0;				\
		if (cf < 0)							\
			return F_GENERIC(NR, op_incdec);			\
		uint64_t a = reg_rd(cpu, i->rm, SZ);				\
		uint64_t r = (D ? a - 1 : a + 1) & sz_mask(SZ);			\
		if (FL) {							\
			set_lf(cpu, D ? LF_DEC : LF_INC, SZ, r, a, 1);		\
			cpu->lf.cf = (bool)cf;					\
		}								\
		reg_wr(cpu, i->rm, SZ, r);					\
		return F_NEXT(NR);						\
	}

#define INCDEC_D(D, N)								\
	F_BOTH(INCDEC, N##4nf, D, 4, false) F_BOTH(INCDEC, N##4, D, 4, true)	\
	F_BOTH(INCDEC, N##8nf, D, 8, false) F_BOTH(INCDEC, N##8, D, 8, true)
INCDEC_D(0, i)
INCDEC_D(1, d)

#define INCDEC_ROW(N, X) { { incdec_##N##4nf##X, incdec_##N##4##X },		\
			   { incdec_##N##8nf##X, incdec_##N##8##X } }
const emu_fn emu_fast_incdec[2][2][2][2] = {
	{ INCDEC_ROW(i, ), INCDEC_ROW(d, ) },
	{ INCDEC_ROW(i, _nr), INCDEC_ROW(d, _nr) },
};

enum { SH_ROL, SH_ROR, SH_SHL, SH_SHR, SH_SAR };

/* The count is imm & (width - 1), nonzero (fast.c checks). */
#define SHIFT(K, SZ, FL, NR, N)							\
	static EMU_OP(shift_##N)						\
	{									\
		unsigned c = (unsigned)i->imm & (SZ * 8 - 1);			\
		uint64_t a = reg_rd(cpu, i->rm, SZ), r;				\
		switch (K) {							\
		case SH_ROL: r = (a << c) | (a >> (SZ * 8 - c)); break;		\
		case SH_ROR: r = (a >> c) | (a << (SZ * 8 - c)); break;		\
		case SH_SHL: r = a << c; break;					\
		case SH_SHR: r = a >> c; break;					\
		default: r = (uint64_t)(sext(a, SZ) >> c); break;		\
		}								\
		r &= sz_mask(SZ);						\
		if (FL)								\
			set_lf(cpu, K == SH_SHL ? LF_SHL : K == SH_SHR ? LF_SHR : LF_SAR, \
			       SZ, r, a, c);					\
		reg_wr(cpu, i->rm, SZ, r);					\
		return F_NEXT(NR);						\
	}

#define SHIFT_K(K, N)								\
	F_BOTH(SHIFT, N##4nf, K, 4, false) F_BOTH(SHIFT, N##4, K, 4, true)	\
	F_BOTH(SHIFT, N##8nf, K, 8, false) F_BOTH(SHIFT, N##8, K, 8, true)
F_BOTH(SHIFT, rol4nf, SH_ROL, 4, false) F_BOTH(SHIFT, rol8nf, SH_ROL, 8, false)
F_BOTH(SHIFT, ror4nf, SH_ROR, 4, false) F_BOTH(SHIFT, ror8nf, SH_ROR, 8, false)
SHIFT_K(SH_SHL, shl)
SHIFT_K(SH_SHR, shr)
SHIFT_K(SH_SAR, sar)

#define SHIFT_ROWS(X)								\
	{									\
		[SH_ROL] = { { shift_rol4nf##X, NULL }, { shift_rol8nf##X, NULL } }, \
		[SH_ROR] = { { shift_ror4nf##X, NULL }, { shift_ror8nf##X, NULL } }, \
		[SH_SHL] = { { shift_shl4nf##X, shift_shl4##X }, { shift_shl8nf##X, shift_shl8##X } }, \
		[SH_SHR] = { { shift_shr4nf##X, shift_shr4##X }, { shift_shr8nf##X, shift_shr8##X } }, \
		[SH_SAR] = { { shift_sar4nf##X, shift_sar4##X }, { shift_sar8nf##X, shift_sar8##X } }, \
	}
const emu_fn emu_fast_shift[2][5][2][2] = { SHIFT_ROWS(), SHIFT_ROWS(_nr) };

#define TEST(SZ, NR, N)								\
	static EMU_OP(test_rr_##N)						\
	{									\
		set_lf(cpu, LF_LOGIC, SZ,					\
		       reg_rd(cpu, i->rm, SZ) & reg_rd(cpu, i->reg, SZ), 0, 0);	\
		return F_NEXT(NR);						\
	}									\
	static EMU_OP(test_ri_##N)						\
	{									\
		set_lf(cpu, LF_LOGIC, SZ,					\
		       reg_rd(cpu, i->rm, SZ) & i->imm & sz_mask(SZ), 0, 0);	\
		return F_NEXT(NR);						\
	}

F_BOTH(TEST, 1, 1)
F_BOTH(TEST, 4, 4)
F_BOTH(TEST, 8, 8)

const emu_fn emu_fast_test[2][2][FS_N] = {
	{ { test_rr_1, test_rr_4, test_rr_8 }, { test_ri_1, test_ri_4, test_ri_8 } },
	{ { test_rr_1_nr, test_rr_4_nr, test_rr_8_nr }, { test_ri_1_nr, test_ri_4_nr, test_ri_8_nr } },
};

/* SETcc and CMOVcc, condition fixed (cond_quick() folds to the checks for
 * it). CMOVcc reads its source even when false (a memory operand may
 * fault) and a 32-bit one zero-extends the destination either way. */
#define SETCC_R(CC, NR, N)							\
	static EMU_OP(setcc_r_##N)						\
	{									\
		int t = cond_quick(cpu, CC);					\
		if (t < 0)							\
			return F_GENERIC(NR, op_setcc);				\
		reg_wr(cpu, i->rm, 1, (unsigned)t);				\
		return F_NEXT(NR);						\
	}

#define SETCC(X, CC)								\
	F_BOTH(SETCC_R, CC, CC)							\
	static EMU_OP(setcc_m_##CC)						\
	{									\
		int t = cond_quick(cpu, CC);					\
		void *p;							\
		if (t < 0 || !fast_wr(cpu, ea_flat(cpu, i), 1, &p))		\
			return op_setcc(cpu, i);				\
		st(p, 1, (unsigned)t);						\
		return emu_next(cpu, i);					\
	}

#define CMOV_R(SZ, CC, NR, N)							\
	static EMU_OP(cmov_r_##N)						\
	{									\
		int t = cond_quick(cpu, CC);					\
		if (t < 0)							\
			return F_GENERIC(NR, op_cmovcc);			\
		reg_wr(cpu, i->reg, SZ, reg_rd(cpu, t ? i->rm : i->reg, SZ));	\
		return F_NEXT(NR);						\
	}

#define CMOV(SZ, CC)								\
	F_BOTH(CMOV_R, SZ##_##CC, SZ, CC)					\
	static EMU_OP(cmov_m_##SZ##_##CC)					\
	{									\
		int t = cond_quick(cpu, CC);					\
		void *p;							\
		if (t < 0 || !fast_rd(cpu, ea_flat(cpu, i), SZ, &p))		\
			return op_cmovcc(cpu, i);				\
		reg_wr(cpu, i->reg, SZ, t ? ld(p, SZ) : reg_rd(cpu, i->reg, SZ)); \
		return emu_next(cpu, i);					\
	}

FOR_CC(SETCC, 0)
FOR_CC(CMOV, 4)
FOR_CC(CMOV, 8)

#define SETCC_NAME(M, CC) setcc_##M##_##CC,
#define SETCC_NAME_NR(M, CC) setcc_##M##_##CC##_nr,
#define CMOV_NAME(M, SZ, CC) cmov_##M##_##SZ##_##CC,
#define CMOV_NAME_NR(M, SZ, CC) cmov_##M##_##SZ##_##CC##_nr,
const emu_fn emu_fast_setcc[2][2][16] = {
	{ { FOR_CC(SETCC_NAME, r) }, { FOR_CC(SETCC_NAME, m) } },
	{ { FOR_CC(SETCC_NAME_NR, r) } },
};
const emu_fn emu_fast_cmov[2][2][2][16] = {
	{ { { FOR_CC(CMOV_NAME, r, 4) }, { FOR_CC(CMOV_NAME, m, 4) } },
	  { { FOR_CC(CMOV_NAME, r, 8) }, { FOR_CC(CMOV_NAME, m, 8) } } },
	{ { { FOR_CC(CMOV_NAME_NR, r, 4) } }, { { FOR_CC(CMOV_NAME_NR, r, 8) } } },
};

/* IMUL r, r/m (and r, r/m, imm) whose flags are dead: the low half only. */
#define IMUL_R(SZ, NR, N)							\
	static EMU_OP(imul2_r_##N)						\
	{									\
		reg_wr(cpu, i->reg, SZ, reg_rd(cpu, i->reg, SZ) * reg_rd(cpu, i->rm, SZ)); \
		return F_NEXT(NR);						\
	}									\
	static EMU_OP(imul3_r_##N)						\
	{									\
		reg_wr(cpu, i->reg, SZ, reg_rd(cpu, i->rm, SZ) * i->imm);	\
		return F_NEXT(NR);						\
	}

#define IMUL(SZ)								\
	F_BOTH(IMUL_R, SZ, SZ)							\
	static EMU_OP(imul2_m_##SZ)						\
	{									\
		void *p;							\
		if (!fast_rd(cpu, ea_flat(cpu, i), SZ, &p))			\
			return op_imul2(cpu, i);				\
		reg_wr(cpu, i->reg, SZ, reg_rd(cpu, i->reg, SZ) * ld(p, SZ));	\
		return emu_next(cpu, i);					\
	}									\
	static EMU_OP(imul3_m_##SZ)						\
	{									\
		void *p;							\
		if (!fast_rd(cpu, ea_flat(cpu, i), SZ, &p))			\
			return op_imul3(cpu, i);				\
		reg_wr(cpu, i->reg, SZ, ld(p, SZ) * i->imm);			\
		return emu_next(cpu, i);					\
	}

IMUL(4)
IMUL(8)

const emu_fn emu_fast_imul[2][2][2][2] = {
	{ { { imul2_r_4, imul2_m_4 }, { imul2_r_8, imul2_m_8 } },
	  { { imul3_r_4, imul3_m_4 }, { imul3_r_8, imul3_m_8 } } },
	{ { { imul2_r_4_nr, NULL }, { imul2_r_8_nr, NULL } },
	  { { imul3_r_4_nr, NULL }, { imul3_r_8_nr, NULL } } },
};

/* ---- stack ---- */

EMU_OP(op_fast_push64)
{
	uint64_t sp = RSP - 8;
	void *p;

	if (!fast_wr(cpu, sp, 8, &p))
		return op_push_r(cpu, i);
	st(p, 8, cpu->r[i->reg >> 3]);
	RSP = sp;
	return emu_next(cpu, i);
}

EMU_OP(op_fast_pop64)
{
	void *p;

	if (!fast_rd(cpu, RSP, 8, &p))
		return op_pop_r(cpu, i);
	RSP += 8;
	cpu->r[i->reg >> 3] = ld(p, 8); /* after RSP: POP RSP loads the value */
	return emu_next(cpu, i);
}

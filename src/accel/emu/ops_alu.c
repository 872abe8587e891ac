/* ADD/OR/ADC/SBB/AND/SUB/XOR/CMP, TEST, INC/DEC, NOT, NEG. */
#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

/* The generic forms always set the lazy flags. */
static inline uint64_t alu(struct emu_cpu *cpu, unsigned op, unsigned sz,
			   uint64_t a, uint64_t b, unsigned c)
{
	return alu_calc(cpu, op, sz, a, b, c, true);
}

/* r/m (memory) op= b, with LOCK done as a compare-and-swap loop. */
static void alu_mem(struct emu_cpu *cpu, const struct emu_insn *i, uint64_t b)
{
	unsigned sz = i->sz, c = alu_carry(cpu, i->op);
	uint64_t va = ea(cpu, i), old, r;
	struct emu_rmw m;
	void *p;

	if (i->op == ALU_CMP) {
		alu(cpu, ALU_CMP, sz, mem_rd(cpu, va, sz), b, 0);
		return;
	}
	p = rmw_begin(cpu, &m, va, sz);
	old = ld(p, sz);
	if (i->flags & I_LOCK) {
		do
			r = alu(cpu, i->op, sz, old, b, c);
		while (!cas(p, sz, &old, r));
	} else {
		st(p, sz, alu(cpu, i->op, sz, old, b, c));
	}
	rmw_end(cpu, &m);
}

/* Register forms specialised per operation: the hottest handlers. */
#define ALU_REG_OPS(name, OP)							\
	static EMU_OP(op_##name##_r_r)						\
	{									\
		unsigned sz = i->sz;						\
		uint64_t r = alu(cpu, OP, sz, reg_rd(cpu, i->rm, sz),		\
				 reg_rd(cpu, i->reg, sz), alu_carry(cpu, OP));	\
		if (OP != ALU_CMP)						\
			reg_wr(cpu, i->rm, sz, r);				\
		return emu_next(cpu, i);					\
	}									\
	static EMU_OP(op_##name##_r_imm)					\
	{									\
		unsigned sz = i->sz;						\
		uint64_t r = alu(cpu, OP, sz, reg_rd(cpu, i->rm, sz), i->imm,	\
				 alu_carry(cpu, OP));				\
		if (OP != ALU_CMP)						\
			reg_wr(cpu, i->rm, sz, r);				\
		return emu_next(cpu, i);					\
	}

ALU_REG_OPS(add, ALU_ADD)
ALU_REG_OPS(or, ALU_OR)
ALU_REG_OPS(adc, ALU_ADC)
ALU_REG_OPS(sbb, ALU_SBB)
ALU_REG_OPS(and, ALU_AND)
ALU_REG_OPS(sub, ALU_SUB)
ALU_REG_OPS(xor, ALU_XOR)
ALU_REG_OPS(cmp, ALU_CMP)

const emu_fn emu_alu_r_r[8] = {
	op_add_r_r, op_or_r_r, op_adc_r_r, op_sbb_r_r,
	op_and_r_r, op_sub_r_r, op_xor_r_r, op_cmp_r_r,
};

const emu_fn emu_alu_r_imm[8] = {
	op_add_r_imm, op_or_r_imm, op_adc_r_imm, op_sbb_r_imm,
	op_and_r_imm, op_sub_r_imm, op_xor_r_imm, op_cmp_r_imm,
};

EMU_OP(op_alu_rm_r)
{
	alu_mem(cpu, i, reg_rd(cpu, i->reg, i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_alu_rm_imm)
{
	alu_mem(cpu, i, i->imm);
	return emu_next(cpu, i);
}

EMU_OP(op_alu_r_rm)
{
	unsigned sz = i->sz;
	uint64_t b = rm_rd(cpu, i, sz);
	uint64_t r = alu(cpu, i->op, sz, reg_rd(cpu, i->reg, sz), b, alu_carry(cpu, i->op));

	if (i->op != ALU_CMP)
		reg_wr(cpu, i->reg, sz, r);
	return emu_next(cpu, i);
}

EMU_OP(op_test_rm_r)
{
	uint64_t r = rm_rd(cpu, i, i->sz) & reg_rd(cpu, i->reg, i->sz);

	set_lf(cpu, LF_LOGIC, i->sz, r, 0, 0);
	return emu_next(cpu, i);
}

EMU_OP(op_test_rm_imm)
{
	uint64_t r = rm_rd(cpu, i, i->sz) & i->imm & sz_mask(i->sz);

	set_lf(cpu, LF_LOGIC, i->sz, r, 0, 0);
	return emu_next(cpu, i);
}

/* Unary read-modify-write on r/m; LOCK via compare-and-swap. */
#define UNARY_RMW(expr, flags_stmt)					\
	do {								\
		unsigned sz = i->sz;					\
		uint64_t m = sz_mask(sz), a, r;				\
		if (!(i->flags & I_MEM)) {				\
			a = reg_rd(cpu, i->rm, sz);			\
			r = (expr) & m;					\
			flags_stmt;					\
			reg_wr(cpu, i->rm, sz, r);			\
		} else {						\
			struct emu_rmw rm_;				\
			void *p = rmw_begin(cpu, &rm_, ea(cpu, i), sz);	\
			a = ld(p, sz);					\
			if (i->flags & I_LOCK) {			\
				do					\
					r = (expr) & m;			\
				while (!cas(p, sz, &a, r));		\
			} else {					\
				r = (expr) & m;				\
				st(p, sz, r);				\
			}						\
			flags_stmt;					\
			rmw_end(cpu, &rm_);				\
		}							\
	} while (0)

EMU_OP(op_incdec)
{
	bool cf = get_cf(cpu);

	if (i->op == 0)
		UNARY_RMW(a + 1, set_lf(cpu, LF_INC, sz, r, a, 1));
	else
		UNARY_RMW(a - 1, set_lf(cpu, LF_DEC, sz, r, a, 1));
	cpu->lf.cf = cf;
	return emu_next(cpu, i);
}

EMU_OP(op_not)
{
	UNARY_RMW(~a, (void)0);
	return emu_next(cpu, i);
}

EMU_OP(op_neg)
{
	UNARY_RMW(0 - a, set_lf(cpu, LF_SUB, sz, r, 0, a));
	return emu_next(cpu, i);
}

/* Instruction handlers, by file. The decoder picks one per record. */
#ifndef EMU_OPS_H
#define EMU_OPS_H

#include "accel/emu/cpu.h"

#define EMU_DECL(name) int name(struct emu_cpu *cpu, const struct emu_insn *i)

/* ALU ops in opcode order (i->op) */
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

/*
 * One ALU operation on operands of size sz (a already of that size, b
 * masked here); c is the carry in of ADC/SBB. Sets the lazy flags when fl
 * (the flagless fast handlers pass false). With op, sz and fl constant it
 * folds to the operation alone.
 */
static inline uint64_t alu_calc(struct emu_cpu *cpu, unsigned op, unsigned sz,
				uint64_t a, uint64_t b, unsigned c, bool fl)
{
	uint64_t m = sz_mask(sz), r;
	unsigned lf = LF_LOGIC;

	b &= m;
	switch (op) {
	case ALU_ADD: r = a + b; lf = LF_ADD; break;
	case ALU_ADC: r = a + b + c; lf = LF_ADD; break;
	case ALU_SBB: r = a - b - c; lf = c ? LF_SBB : LF_SUB; break;
	case ALU_SUB: case ALU_CMP: r = a - b; lf = LF_SUB; break;
	case ALU_OR: r = a | b; break;
	case ALU_AND: r = a & b; break;
	default: r = a ^ b; break;
	}
	r &= m;
	if (fl)
		set_lf(cpu, lf, sz, r, a, b);
	return r;
}

/* The carry into op: CF for ADC/SBB, else 0. */
static inline unsigned alu_carry(struct emu_cpu *cpu, unsigned op)
{
	return (op == ALU_ADC || op == ALU_SBB) ? get_cf(cpu) : 0;
}

/* ops_alu.c */
EMU_DECL(op_alu_rm_r);
EMU_DECL(op_alu_r_rm);
EMU_DECL(op_alu_rm_imm);
extern const emu_fn emu_alu_r_r[8];   /* per ALU op */
extern const emu_fn emu_alu_r_imm[8];
EMU_DECL(op_test_rm_r);
EMU_DECL(op_test_rm_imm);
EMU_DECL(op_incdec);
EMU_DECL(op_not);
EMU_DECL(op_neg);

/* ops_mov.c */
EMU_DECL(op_mov_rm_r);
EMU_DECL(op_mov_r_rm);
EMU_DECL(op_mov_r_r);
EMU_DECL(op_mov_r_m);
EMU_DECL(op_mov_m_r);
EMU_DECL(op_mov_rm_imm);
EMU_DECL(op_mov_acc_moffs);
EMU_DECL(op_mov_moffs_acc);
EMU_DECL(op_lea);
EMU_DECL(op_movzx);
EMU_DECL(op_movsx);
EMU_DECL(op_xchg);
EMU_DECL(op_cmpxchg);
EMU_DECL(op_cmpxchg16b);
EMU_DECL(op_xadd);
EMU_DECL(op_cbw);
EMU_DECL(op_cwd);
EMU_DECL(op_bswap);
EMU_DECL(op_cmovcc);
EMU_DECL(op_setcc);

/* ops_shift.c */
EMU_DECL(op_shift);
EMU_DECL(op_shxd);

/* ops_muldiv.c */
EMU_DECL(op_mul);
EMU_DECL(op_imul1);
EMU_DECL(op_imul2);
EMU_DECL(op_imul3);
EMU_DECL(op_div);
EMU_DECL(op_idiv);

/* ops_bit.c */
EMU_DECL(op_bt);
EMU_DECL(op_bsf);
EMU_DECL(op_bsr);
EMU_DECL(op_tzcnt);
EMU_DECL(op_lzcnt);
EMU_DECL(op_popcnt);

/* ops_ctrl.c */
EMU_DECL(op_jcc);
EMU_DECL(op_jmp);
EMU_DECL(op_jmp_rm);
EMU_DECL(op_call);
EMU_DECL(op_call_rm);
EMU_DECL(op_ret);
EMU_DECL(op_jrcxz);
EMU_DECL(op_loop);
EMU_DECL(op_push_r);
EMU_DECL(op_pop_r);
EMU_DECL(op_push_imm);
EMU_DECL(op_push_rm);
EMU_DECL(op_pop_rm);
EMU_DECL(op_pushf);
EMU_DECL(op_popf);
EMU_DECL(op_lahf);
EMU_DECL(op_sahf);
EMU_DECL(op_flagop);
EMU_DECL(op_leave);
EMU_DECL(op_nop);
EMU_DECL(op_cpuid);
EMU_DECL(op_rdtsc);
EMU_DECL(op_rdtscp);
EMU_DECL(op_hlt);
EMU_DECL(op_ud);
EMU_DECL(op_int3);

/* ops_string.c */
EMU_DECL(op_movs);
EMU_DECL(op_stos);
EMU_DECL(op_lods);
EMU_DECL(op_scas);
EMU_DECL(op_cmps);

/* ops_x87.c */
EMU_DECL(op_x87_reg);
EMU_DECL(op_x87_mem);
EMU_DECL(op_fnstsw_ax);
EMU_DECL(op_fnstsw_m);
EMU_DECL(op_fnstcw);
EMU_DECL(op_fwait);

#endif

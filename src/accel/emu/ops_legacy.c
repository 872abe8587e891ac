/*
 * Handlers for the legacy modes where the meaning depends on the mode: the
 * stack (SS base, SP or ESP by SS.B), near branches (EIP wraps to the
 * operand size; RIP holds the linear CS.base + EIP), far transfers and
 * segment loads, descriptor tables, control registers and EFER.
 * Exceptions here are reported like any other (the system code treats them
 * as fatal outside 64-bit mode, see docs/emu.md).
 */
#include "accel/emu/legacy.h"
#include "accel/emu/system.h"

/* ---- instruction pointer: RIP is linear in legacy modes ---- */

static uint64_t cs_base(const struct emu_cpu *cpu)
{
	return cpu->segbase[EMU_SB_CS];
}

static uint64_t next_eip(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	return RIP + i->len - cs_base(cpu);
}

/* Near transfer: the new EIP wraps to the operand size. */
static int near_to(struct emu_cpu *cpu, uint64_t eip, unsigned sz)
{
	RIP = cs_base(cpu) + (sz == 2 ? (uint16_t)eip : (uint32_t)eip);
	return 1;
}

/* ---- stack: SS base, SP or ESP ---- */

static bool stk32(const struct emu_cpu *cpu)
{
	return cpu->seg[EMU_SEG_SS].attr & EMU_SEG_DB;
}

static uint64_t sp_get(const struct emu_cpu *cpu)
{
	return stk32(cpu) ? (uint32_t)RSP : (uint16_t)RSP;
}

static void sp_set(struct emu_cpu *cpu, uint64_t sp)
{
	if (stk32(cpu))
		RSP = (uint32_t)sp;
	else
		reg_wr(cpu, 4 * 8, 2, sp);
}

static uint64_t sp_wrap(const struct emu_cpu *cpu, uint64_t sp)
{
	return stk32(cpu) ? (uint32_t)sp : (uint16_t)sp;
}

static void lpush(struct emu_cpu *cpu, unsigned sz, uint64_t v)
{
	uint64_t sp = sp_wrap(cpu, sp_get(cpu) - sz);

	mem_wr(cpu, cpu->segbase[EMU_SB_SS] + sp, sz, v);
	sp_set(cpu, sp);
}

static uint64_t lpop(struct emu_cpu *cpu, unsigned sz)
{
	uint64_t sp = sp_get(cpu), v = mem_rd(cpu, cpu->segbase[EMU_SB_SS] + sp, sz);

	sp_set(cpu, sp_wrap(cpu, sp + sz));
	return v;
}

EMU_OP(op_l_push_r)
{
	lpush(cpu, i->sz, reg_rd(cpu, i->reg, i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_l_pop_r)
{
	uint64_t v = lpop(cpu, i->sz);

	reg_wr(cpu, i->reg, i->sz, v);
	return emu_next(cpu, i);
}

EMU_OP(op_l_push_imm)
{
	lpush(cpu, i->sz, i->imm);
	return emu_next(cpu, i);
}

EMU_OP(op_l_push_rm)
{
	lpush(cpu, i->sz, rm_rd(cpu, i, i->sz));
	return emu_next(cpu, i);
}

/* POP r/m: a memory destination's address uses the incremented SP. */
EMU_OP(op_l_pop_rm)
{
	uint64_t old = RSP, v = lpop(cpu, i->sz), popped = RSP;

	if (i->flags & I_MEM) {
		uint64_t va = ea(cpu, i);

		RSP = old; /* a fault leaves SP as it was */
		mem_wr(cpu, va, i->sz, v);
		RSP = popped;
	} else {
		reg_wr(cpu, i->rm, i->sz, v);
	}
	return emu_next(cpu, i);
}

EMU_OP(op_l_push_sreg)
{
	lpush(cpu, i->sz, cpu->seg[i->op].sel);
	return emu_next(cpu, i);
}

EMU_OP(op_l_pop_sreg)
{
	uint64_t sp = sp_get(cpu), v = mem_rd(cpu, cpu->segbase[EMU_SB_SS] + sp, i->sz);

	emu_load_sreg(cpu, i->op, (uint16_t)v);
	sp_set(cpu, sp_wrap(cpu, sp + i->sz));
	return emu_next(cpu, i);
}

/* PUSHA: AX CX DX BX, SP as before the first push, BP SI DI. */
EMU_OP(op_l_pusha)
{
	uint64_t sp0 = reg_rd(cpu, 4 * 8, i->sz);

	for (unsigned r = 0; r < 8; r++)
		lpush(cpu, i->sz, r == 4 ? sp0 : reg_rd(cpu, r * 8, i->sz));
	return emu_next(cpu, i);
}

/* POPA: the reverse; the saved SP is skipped. */
EMU_OP(op_l_popa)
{
	for (unsigned r = 8; r-- > 0;) {
		uint64_t v = lpop(cpu, i->sz);

		if (r != 4)
			reg_wr(cpu, r * 8, i->sz, v);
	}
	return emu_next(cpu, i);
}

EMU_OP(op_l_pushf)
{
	lpush(cpu, i->sz, pushf_image(cpu));
	return emu_next(cpu, i);
}

/* Ends the block: TF and IF changes take effect at the next instruction. */
EMU_OP(op_l_popf)
{
	uint64_t v = lpop(cpu, i->sz);

	flags_set(cpu, popf_mask(cpu, i->sz), v);
	RIP += i->len;
	return 1;
}

EMU_OP(op_l_leave)
{
	uint64_t bp = sp_wrap(cpu, cpu->r[5]);
	uint64_t v = mem_rd(cpu, cpu->segbase[EMU_SB_SS] + bp, i->sz);

	sp_set(cpu, sp_wrap(cpu, bp + i->sz));
	reg_wr(cpu, 5 * 8, i->sz, v);
	return emu_next(cpu, i);
}

/* ---- near branches ---- */

EMU_OP(op_l_jcc)
{
	if (!emu_cond(cpu, i->op)) {
		RIP += i->len;
		return 1;
	}
	return near_to(cpu, next_eip(cpu, i) + i->imm, i->sz);
}

EMU_OP(op_l_jmp)
{
	return near_to(cpu, next_eip(cpu, i) + i->imm, i->sz);
}

EMU_OP(op_l_call)
{
	uint64_t ret = next_eip(cpu, i);

	lpush(cpu, i->sz, ret);
	return near_to(cpu, ret + i->imm, i->sz);
}

EMU_OP(op_l_ret)
{
	uint64_t eip = lpop(cpu, i->sz);

	sp_set(cpu, sp_wrap(cpu, sp_get(cpu) + i->imm));
	return near_to(cpu, eip, i->sz);
}

EMU_OP(op_l_jmp_rm)
{
	return near_to(cpu, rm_rd(cpu, i, i->sz), i->sz);
}

EMU_OP(op_l_call_rm)
{
	uint64_t target = rm_rd(cpu, i, i->sz);

	lpush(cpu, i->sz, next_eip(cpu, i));
	return near_to(cpu, target, i->sz);
}

/* The count register is CX or ECX by address size. */
static uint64_t count_get(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	return (i->flags & I_A16) ? (uint16_t)cpu->r[1] : (uint32_t)cpu->r[1];
}

/* LOOPNE (op 0), LOOPE (1), LOOP (2). */
EMU_OP(op_l_loop)
{
	uint64_t c = count_get(cpu, i) - 1;
	bool take;

	reg_wr(cpu, 8, (i->flags & I_A16) ? 2 : 4, c);
	take = count_get(cpu, i) != 0;
	if (i->op == 0)
		take = take && !emu_cond(cpu, 4);
	else if (i->op == 1)
		take = take && emu_cond(cpu, 4);
	if (!take) {
		RIP += i->len;
		return 1;
	}
	return near_to(cpu, next_eip(cpu, i) + i->imm, i->sz);
}

EMU_OP(op_l_jcxz)
{
	if (count_get(cpu, i)) {
		RIP += i->len;
		return 1;
	}
	return near_to(cpu, next_eip(cpu, i) + i->imm, i->sz);
}

/* ---- far transfers (same privilege level only) ---- */

EMU_OP(op_l_jmpf_ptr)
{
	emu_far_jump(cpu, (uint16_t)i->disp, i->imm);
	return 1;
}

EMU_OP(op_l_callf_ptr)
{
	uint64_t ret = next_eip(cpu, i);

	lpush(cpu, i->sz, cpu->seg[EMU_SEG_CS].sel);
	lpush(cpu, i->sz, ret);
	emu_far_jump(cpu, (uint16_t)i->disp, i->imm);
	return 1;
}

/* m16:16 or m16:32: offset first, then the selector. */
static uint64_t far_ptr_rd(struct emu_cpu *cpu, const struct emu_insn *i, uint16_t *sel)
{
	uint64_t a = ea(cpu, i), off = mem_rd(cpu, a, i->sz);

	*sel = (uint16_t)mem_rd(cpu, a + i->sz, 2);
	return off;
}

EMU_OP(op_l_jmpf_m)
{
	uint16_t sel;
	uint64_t off = far_ptr_rd(cpu, i, &sel);

	emu_far_jump(cpu, sel, off);
	return 1;
}

EMU_OP(op_l_callf_m)
{
	uint16_t sel;
	uint64_t off = far_ptr_rd(cpu, i, &sel), ret = next_eip(cpu, i);

	lpush(cpu, i->sz, cpu->seg[EMU_SEG_CS].sel);
	lpush(cpu, i->sz, ret);
	emu_far_jump(cpu, sel, off);
	return 1;
}

EMU_OP(op_l_retf)
{
	uint64_t eip = lpop(cpu, i->sz), cs = lpop(cpu, i->sz);

	sp_set(cpu, sp_wrap(cpu, sp_get(cpu) + i->imm));
	emu_far_jump(cpu, (uint16_t)cs, eip);
	return 1;
}

/* ---- segment registers ---- */

/* To memory always 16 bits; to a register zero-extended to the operand size. */
EMU_OP(op_l_mov_rm_sreg)
{
	uint16_t sel = cpu->seg[i->op].sel;

	if (i->flags & I_MEM)
		mem_wr(cpu, ea(cpu, i), 2, sel);
	else
		reg_wr(cpu, i->rm, i->sz, sel);
	return emu_next(cpu, i);
}

EMU_OP(op_l_mov_sreg_rm)
{
	emu_load_sreg(cpu, i->op, (uint16_t)rm_rd(cpu, i, 2));
	return emu_next(cpu, i);
}

/* LES/LDS/LSS/LFS/LGS r, m16:16/32. */
EMU_OP(op_l_lxs)
{
	uint16_t sel;
	uint64_t off = far_ptr_rd(cpu, i, &sel);

	emu_load_sreg(cpu, i->op, sel);
	reg_wr(cpu, i->reg, i->sz, off);
	return emu_next(cpu, i);
}

/* LEA: the offset only, wrapped to the address size. */
EMU_OP(op_l_lea)
{
	uint64_t a = cpu->r[i->base] + (cpu->r[i->index] << i->scale) + (int64_t)i->disp;

	reg_wr(cpu, i->reg, i->sz, (i->flags & I_A16) ? (uint16_t)a : (uint32_t)a);
	return emu_next(cpu, i);
}

/* ---- system ---- */

/* LGDT/LIDT: limit, then a 32-bit base (24 bits with a 16-bit operand). */
static void load_dtr(struct emu_cpu *cpu, const struct emu_insn *i, struct emu_dtr *t)
{
	uint64_t a = ea(cpu, i);
	uint16_t limit = (uint16_t)mem_rd(cpu, a, 2);
	uint64_t base = mem_rd(cpu, a + 2, 4);

	t->limit = limit;
	t->base = i->sz == 2 ? base & 0xffffff : base;
}

EMU_OP(op_l_lgdt)
{
	load_dtr(cpu, i, &cpu->gdtr);
	return emu_next(cpu, i);
}

EMU_OP(op_l_lidt)
{
	load_dtr(cpu, i, &cpu->idtr);
	return emu_next(cpu, i);
}

/* LMSW: CR0 bits 0-3; it can set PE but never clear it. */
EMU_OP(op_l_lmsw)
{
	uint64_t v = rm_rd(cpu, i, 2);

	emu_legacy_set_cr(cpu, 0, (cpu->cr0 & ~0xeull) | (v & 0xf));
	RIP += i->len;
	return 1;
}

EMU_OP(op_l_mov_from_cr)
{
	reg_wr(cpu, i->rm, 4, emu_legacy_get_cr(cpu, i->op));
	return emu_next(cpu, i);
}

/* Ends the block: the mode or the translation may change. */
EMU_OP(op_l_mov_to_cr)
{
	emu_legacy_set_cr(cpu, i->op, reg_rd(cpu, i->rm, 4));
	RIP += i->len;
	return 1;
}

/* MSRs (EFER included) as in long mode: msr.c. */
EMU_OP(op_l_rdmsr)
{
	uint64_t v;

	(void)i;
	if (emu_msr_get(cpu, (uint32_t)cpu->r[1], &v))
		emu_raise_err(cpu, EMU_GP, 0);
	cpu->r[0] = (uint32_t)v;
	cpu->r[2] = v >> 32;
	return emu_next(cpu, i);
}

EMU_OP(op_l_wrmsr)
{
	if (emu_msr_set(cpu, (uint32_t)cpu->r[1], (uint32_t)cpu->r[0] | (cpu->r[2] << 32)))
		emu_raise_err(cpu, EMU_GP, 0);
	RIP += i->len;
	return 1;
}

EMU_OP(op_l_cli)
{
	(void)i;
	cpu->rflags &= ~(uint64_t)EMU_IF;
	return emu_next(cpu, i);
}

/* Ends the block (decoder): an interrupt may only enter after the next one. */
EMU_OP(op_l_sti)
{
	(void)i;
	cpu->rflags |= EMU_IF;
	return emu_next(cpu, i);
}

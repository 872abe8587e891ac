/*
 * The forms translated inline (jit_int.h), recognised by their handler:
 * mostly the specialised ones of ops_fast.c (fast.c has checked their
 * preconditions: flat memory operands, sizes), and a few generic ones whose
 * records are checked here. Each does what its handler does, with the
 * record's fields as constants; memory accesses probe the TLB inline and
 * leave the rest (misses, MMIO, faults) to the handler through a slow path.
 */
#include "accel/emu/fast.h"
#include "accel/emu/jit_int.h"

static const uint8_t fs_bytes[FS_N] = { 1, 4, 8 };

/* The index of fn among the n handlers at tab, or -1. */
static int find(emu_fn fn, const emu_fn *tab, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		if (tab[k] == fn)
			return (int)k;
	return -1;
}

/* Guest register at byte offset off = the low sz bytes of h (32-bit
 * writes zero-extend, 8/16-bit ones merge: reg_wr()). */
static void reg_store(struct emit *e, unsigned h, unsigned off, unsigned sz)
{
	if (sz == 4) {
		x_rr(e, 4, 0x89, h, h); /* mov h32, h32 */
		sz = 8;
	}
	x_store(e, h, H_RBX, (int32_t)off, sz);
}

/* RAX = the effective address of a record without 32/16-bit addressing:
 * ea_flat(), plus the segment base with an override; RIP lags by pend.
 * False (nothing emitted) if the displacement would not fit. */
static bool emit_ea(struct jit_ctx *c, const struct emu_insn *i)
{
	int64_t disp = (int64_t)i->disp + (i->base == EMU_RIP ? c->pend : 0);
	struct emit *e = &c->e;

	if (!fits32(disp))
		return false;
	if (i->base != EMU_ZERO)
		x_load(e, H_RAX, H_RBX, i->base * 8, 8);
	else
		x_rr(e, 4, 0x31, H_RAX, H_RAX); /* xor eax, eax */
	if (i->index != EMU_ZERO) {
		x_load(e, H_RCX, H_RBX, i->index * 8, 8);
		x_mem(e, 8, (const uint8_t[]){ 0x8d }, 1, H_RAX, H_RAX, H_RCX, i->scale, (int32_t)disp);
	} else if (disp) {
		x_mem(e, 8, (const uint8_t[]){ 0x8d }, 1, H_RAX, H_RAX, X_NOINDEX, 0, (int32_t)disp);
	}
	if (i->seg) /* add rax, segbase */
		x_mem(e, 8, (const uint8_t[]){ 0x03 }, 1, H_RAX, H_RBX, X_NOINDEX, 0,
		      CPU_OFF(segbase) + i->seg * 8);
	return true;
}

static bool mov_reg(struct jit_ctx *c, const struct emu_insn *i)
{
	int k;

	if ((k = find(i->fn, &emu_fast_mov_rr[0][0], 2 * FS_N)) >= 0) {
		x_load(&c->e, H_RAX, H_RBX, i->reg, fs_bytes[k % FS_N]);
		reg_store(&c->e, H_RAX, i->rm, fs_bytes[k % FS_N]);
		return true;
	}
	if ((k = find(i->fn, &emu_fast_movi_r[0][0], 2 * FS_N)) >= 0) {
		x_imm(&c->e, H_RAX, i->imm);
		reg_store(&c->e, H_RAX, i->rm, fs_bytes[k % FS_N]);
		return true;
	}
	if ((k = find(i->fn, emu_fast_lea, FS_N)) >= 0) {
		if (!emit_ea(c, i))
			return false;
		reg_store(&c->e, H_RAX, i->reg, fs_bytes[k]);
		return true;
	}
	return false;
}

/* The three memory moves: a load into reg, a store of reg, a store of imm. */
enum mov_kind { MOV_LOAD, MOV_STORE, MOV_STORE_IMM };

static bool emit_mov_mem(struct jit_ctx *c, const struct emu_insn *i, unsigned sz,
			 enum mov_kind kind)
{
	struct emit *e = &c->e;

	if (!emit_ea(c, i))
		return false;
	jit_probe(c, i, 1, sz, kind != MOV_LOAD);
	if (kind == MOV_LOAD) {
		x_load(e, H_RAX, H_RAX, 0, sz);
		reg_store(e, H_RAX, i->reg, sz);
	} else {
		if (kind == MOV_STORE)
			x_load(e, H_RCX, H_RBX, i->reg, sz);
		else
			x_imm(e, H_RCX, i->imm);
		x_store(e, H_RCX, H_RAX, 0, sz);
	}
	jit_resume(c);
	return true;
}

/* The specialised flat forms (1/4/8 bytes). */
static bool mov_mem(struct jit_ctx *c, const struct emu_insn *i)
{
	static const emu_fn *const tab[3] = { emu_fast_mov_rm, emu_fast_mov_mr, emu_fast_movi_m };

	for (unsigned kind = MOV_LOAD; kind <= MOV_STORE_IMM; kind++) {
		int k = find(i->fn, tab[kind], FS_N);

		if (k >= 0)
			return emit_mov_mem(c, i, fs_bytes[k], kind);
	}
	return false;
}

/* The generic MOV forms with a memory operand addressed in 64 bits (those
 * with a segment override: per-CPU data through GS). */
static bool mov_generic(struct jit_ctx *c, const struct emu_insn *i)
{
	enum mov_kind kind;

	if (i->fn == op_mov_r_m || i->fn == op_mov_r_rm)
		kind = MOV_LOAD;
	else if (i->fn == op_mov_rm_r || i->fn == op_mov_m_r)
		kind = MOV_STORE;
	else if (i->fn == op_mov_rm_imm)
		kind = MOV_STORE_IMM;
	else
		return false;
	if (!(i->flags & I_MEM) || (i->flags & (I_A32 | I_RIPX | I_A16)) ||
	    (i->sz != 1 && i->sz != 2 && i->sz != 4 && i->sz != 8))
		return false;
	return emit_mov_mem(c, i, i->sz, kind);
}

/* MOVZX/MOVSX to a 32/64-bit register */
static bool movx(struct jit_ctx *c, const struct emu_insn *i)
{
	static const uint8_t src_bytes[3] = { 1, 2, 4 };
	int k = find(i->fn, &emu_fast_movx[0][0][0][0][0], 2 * 3 * 2 * 2 * 2);
	struct emit *e = &c->e;
	unsigned mem, dst, src, sx;

	if (k < 0)
		return false;
	mem = (unsigned)k & 1;
	dst = k >> 1 & 1 ? 8 : 4;
	src = src_bytes[(unsigned)(k >> 3) % 3];
	sx = (unsigned)(k >> 3) / 3;
	if (mem) {
		if (!emit_ea(c, i))
			return false;
		jit_probe(c, i, 1, src, false);
	}
	if (sx)
		x_load_sx(e, H_RAX, mem ? H_RAX : H_RBX, mem ? 0 : i->rm, src);
	else
		x_load(e, H_RAX, mem ? H_RAX : H_RBX, mem ? 0 : i->rm, src);
	reg_store(e, H_RAX, i->reg, dst);
	if (mem)
		jit_resume(c);
	return true;
}

/* PUSH/POP of a 64-bit register (op_fast_push64/pop64). */
static bool push_pop(struct jit_ctx *c, const struct emu_insn *i)
{
	struct emit *e = &c->e;
	int32_t rsp = 4 * 8, reg = (int32_t)(i->reg >> 3) * 8;

	if (i->fn == op_fast_push64) {
		x_load(e, H_RAX, H_RBX, rsp, 8);
		x_mem(e, 8, (const uint8_t[]){ 0x8d }, 1, H_RAX, H_RAX, X_NOINDEX, 0, -8);
		jit_probe(c, i, 1, 8, true);
		x_load(e, H_RCX, H_RBX, reg, 8); /* before RSP moves: PUSH RSP stores the old one */
		x_store(e, H_RCX, H_RAX, 0, 8);
		x_add_cpu(e, rsp, -8);
	} else if (i->fn == op_fast_pop64) {
		x_load(e, H_RAX, H_RBX, rsp, 8);
		jit_probe(c, i, 1, 8, false);
		x_load(e, H_RCX, H_RAX, 0, 8);
		x_add_cpu(e, rsp, 8);
		x_store(e, H_RCX, H_RBX, reg, 8); /* after RSP: POP RSP loads the value */
	} else {
		return false;
	}
	jit_resume(c);
	return true;
}

/* Where store_lf() takes lf.a and lf.b from: a host register, or a
 * constant (LF_CONST). Only moves: host flags stay as they were. */
#define LF_CONST (-1)

/* lf = { op, sz, res = RDX, a, b } */
static void store_lf(struct emit *e, unsigned op, unsigned sz, int a_reg, int b_reg,
		     int32_t b)
{
	const int32_t at[2] = { CPU_OFF(lf.a), CPU_OFF(lf.b) };
	const int reg[2] = { a_reg, b_reg };
	const int32_t konst[2] = { 0, b };

	x_store(e, H_RDX, H_RBX, CPU_OFF(lf.res), 8);
	for (unsigned k = 0; k < 2; k++) {
		if (reg[k] != LF_CONST) {
			x_store(e, (unsigned)reg[k], H_RBX, at[k], 8);
		} else { /* mov qword [lf.x], simm32 */
			x_mem(e, 8, (const uint8_t[]){ 0xc7 }, 1, 0, H_RBX, X_NOINDEX, 0, at[k]);
			put4(e, (uint32_t)konst[k]);
		}
	}
	x_mem(e, 2, (const uint8_t[]){ 0xc7 }, 1, 0, H_RBX, X_NOINDEX, 0, CPU_OFF(lf.op));
	put1(e, (uint8_t)op); /* lf.op, then lf.sz */
	put1(e, (uint8_t)sz);
}

/* An ALU instruction to translate: operation, size, form (FA_*), whether
 * its lazy flags are stored, whether it is LOCKed. */
struct alu_form {
	unsigned op, sz, form;
	bool fl, lock;
};

/* The specialised handlers (ops_fast.c), or the generic memory forms with
 * 64-bit addressing (a segment override, LOCK), but ADC/SBB. */
static bool alu_form(const struct emu_insn *i, struct alu_form *f)
{
	int k = find(i->fn, &emu_fast_alu[0][0][0][0][0], 2 * FA_N * 8 * 2 * 2);

	if (k >= 0) {
		*f = (struct alu_form){ .op = (unsigned)k >> 2 & 7, .sz = k >> 1 & 1 ? 8 : 4,
					.form = (unsigned)(k >> 5) % FA_N, .fl = k & 1 };
	} else if ((i->fn == op_alu_r_rm || i->fn == op_alu_rm_r || i->fn == op_alu_rm_imm) &&
		   (i->flags & I_MEM) && !(i->flags & (I_A32 | I_RIPX | I_A16)) &&
		   (i->sz == 1 || i->sz == 2 || i->sz == 4 || i->sz == 8)) {
		*f = (struct alu_form){ .op = i->op & 7, .sz = i->sz, .fl = true,
					.form = i->fn == op_alu_r_rm ? FA_RM :
						i->fn == op_alu_rm_r ? FA_MR : FA_MI,
					.lock = i->flags & I_LOCK };
	} else {
		return false;
	}
	return f->op != ALU_ADC && f->op != ALU_SBB;
}

/* [RSI] op= RCX under LOCK: RAX the old value, RDX the new (a CMPXCHG
 * loop, as alu_mem() does it). */
static void locked_rmw(struct emit *e, uint8_t op, unsigned sz)
{
	uintptr_t again;

	x_load(e, H_RAX, H_RSI, 0, sz);
	again = here_rx(e);
	x_rr(e, 8, 0x89, H_RAX, H_RDX);                     /* mov rdx, rax */
	x_rr(e, sz, op, H_RCX, H_RDX);                      /* op edx, ecx */
	put1(e, 0xf0);                                      /* lock cmpxchg [rsi], edx */
	x_mem(e, sz, (const uint8_t[]){ 0x0f, (uint8_t)(sz == 1 ? 0xb0 : 0xb1) }, 2, H_RDX,
	      H_RSI, X_NOINDEX, 0, 0);
	x_jcc(e, 0x5, again);
}

/* ALU forms (alu_calc(): the lazy flags unless dead); memory forms keep
 * the host address in RSI. */
static bool alu(struct jit_ctx *c, const struct emu_insn *i)
{
	static const uint8_t host_op[8] = { [ALU_ADD] = 0x01, [ALU_OR] = 0x09, [ALU_AND] = 0x21,
					     [ALU_SUB] = 0x29, [ALU_XOR] = 0x31, [ALU_CMP] = 0x29 };
	static const uint8_t lf_op[8] = { [ALU_ADD] = LF_ADD, [ALU_OR] = LF_LOGIC,
					   [ALU_AND] = LF_LOGIC, [ALU_SUB] = LF_SUB,
					   [ALU_XOR] = LF_LOGIC, [ALU_CMP] = LF_SUB };
	struct emit *e = &c->e;
	struct alu_form f;
	bool to_mem, from_mem;
	uint8_t op;

	if (!alu_form(i, &f))
		return false;
	op = (uint8_t)(host_op[f.op] - (f.sz == 1));
	to_mem = f.form == FA_MR || f.form == FA_MI;
	from_mem = f.form == FA_RM;
	if (to_mem || from_mem) {
		if (!emit_ea(c, i))
			return false;
		jit_probe(c, i, 1, f.sz, to_mem && f.op != ALU_CMP);
		x_rr(e, 8, 0x89, H_RAX, H_RSI); /* mov rsi, rax */
	}
	/* b, then a */
	if (f.form == FA_RI || f.form == FA_MI)
		x_imm(e, H_RCX, i->imm & sz_mask(f.sz));
	else if (from_mem)
		x_load(e, H_RCX, H_RSI, 0, f.sz);
	else
		x_load(e, H_RCX, H_RBX, f.form == FA_RRX ? i->rm : i->reg, f.sz);
	if (f.lock && to_mem) {
		locked_rmw(e, op, f.sz);
	} else {
		if (to_mem)
			x_load(e, H_RAX, H_RSI, 0, f.sz);
		else
			x_load(e, H_RAX, H_RBX, f.form == FA_RR || f.form == FA_RI ? i->rm : i->reg,
			       f.sz);
		x_rr(e, 8, 0x89, H_RAX, H_RDX);  /* mov rdx, rax */
		x_rr(e, f.sz, op, H_RCX, H_RDX); /* op edx/rdx, ecx/rcx */
		if (f.op != ALU_CMP && to_mem)
			x_store(e, H_RDX, H_RSI, 0, f.sz);
	}
	if (f.fl)
		store_lf(e, lf_op[f.op], f.sz, H_RAX, H_RCX, 0);
	if (f.op != ALU_CMP && !to_mem)
		reg_store(e, H_RDX, f.form == FA_RRX || f.form == FA_RM ? i->reg : i->rm, f.sz);
	if (to_mem || from_mem)
		jit_resume(c);
	return true;
}

/* Shifts and rotates of a register by a constant; INC/DEC with dead flags
 * (live ones carry CF: left to the handler). */
static bool shift_incdec(struct jit_ctx *c, const struct emu_insn *i)
{
	static const uint8_t digit[5] = { 0, 1, 4, 5, 7 }; /* ROL ROR SHL SHR SAR */
	static const uint8_t lf_op[5] = { 0, 0, LF_SHL, LF_SHR, LF_SAR };
	struct emit *e = &c->e;
	int k = find(i->fn, &emu_fast_shift[0][0][0][0], 2 * 5 * 2 * 2);
	unsigned sz, fl, kind, cnt;

	if (k >= 0) {
		fl = (unsigned)k & 1;
		sz = k >> 1 & 1 ? 8 : 4;
		kind = (unsigned)(k >> 2) % 5;
		cnt = (unsigned)i->imm & (sz * 8 - 1);
		x_load(e, H_RAX, H_RBX, i->rm, sz);
		x_rr(e, 8, 0x89, H_RAX, H_RDX);      /* mov rdx, rax */
		x_rr(e, sz, 0xc1, digit[kind], H_RDX);
		put1(e, (uint8_t)cnt);
		if (fl)
			store_lf(e, lf_op[kind], sz, H_RAX, LF_CONST, (int32_t)cnt);
		reg_store(e, H_RDX, i->rm, sz);
		return true;
	}
	k = find(i->fn, &emu_fast_incdec[0][0][0][0], 2 * 2 * 2 * 2);
	if (k < 0 || (k & 1))
		return false;
	sz = k >> 1 & 1 ? 8 : 4;
	x_load(e, H_RAX, H_RBX, i->rm, sz);
	x_rr(e, sz, 0x83, k >> 2 & 1 ? 5 : 0, H_RAX); /* sub/add rax, 1 */
	put1(e, 1);
	reg_store(e, H_RAX, i->rm, sz);
	return true;
}

/* TEST register forms: only the lazy flags change. */
static bool test_reg(struct jit_ctx *c, const struct emu_insn *i)
{
	struct emit *e = &c->e;
	int k = find(i->fn, &emu_fast_test[0][0][0], 2 * 2 * FS_N);
	unsigned sz;

	if (k < 0)
		return false;
	sz = fs_bytes[(unsigned)k % FS_N];
	x_load(e, H_RDX, H_RBX, i->rm, sz);
	if ((k / FS_N) & 1)
		x_imm(e, H_RCX, i->imm & sz_mask(sz));
	else
		x_load(e, H_RCX, H_RBX, i->reg, sz);
	x_rr(e, 8, 0x21, H_RCX, H_RDX);          /* and rdx, rcx */
	store_lf(e, LF_LOGIC, sz, LF_CONST, LF_CONST, 0);
	return true;
}

/* JMP/CALL rel and RET (ops_ctrl.c), which end their block. */
static bool branch(struct jit_ctx *c, const struct emu_insn *i)
{
	struct emit *e = &c->e;
	int32_t rsp = 4 * 8;
	int64_t rel = (int64_t)i->len + (int64_t)i->imm;

	if (i->fn == op_jmp || i->fn == op_call) {
		if (!fits32(rel + c->pend) || !fits32((int64_t)c->pend + i->len))
			return false;
		if (i->fn == op_call) {
			x_load(e, H_RAX, H_RBX, rsp, 8);
			x_mem(e, 8, (const uint8_t[]){ 0x8d }, 1, H_RAX, H_RAX, X_NOINDEX, 0, -8);
			jit_probe(c, i, 1, 8, true);
			x_load(e, H_RCX, H_RBX, CPU_RIP, 8); /* the return address */
			x_mem(e, 8, (const uint8_t[]){ 0x8d }, 1, H_RCX, H_RCX, X_NOINDEX, 0,
			      (int32_t)(c->pend + i->len));
			x_store(e, H_RCX, H_RAX, 0, 8);
			x_add_cpu(e, rsp, -8);
		}
		jit_branch(c, rel, 0);
	} else if (i->fn == op_ret) {
		x_load(e, H_RAX, H_RBX, rsp, 8);
		jit_probe(c, i, 1, 8, false);
		x_load(e, H_RCX, H_RAX, 0, 8);
		x_add_cpu(e, rsp, (int32_t)(8 + i->imm));
		x_store(e, H_RCX, H_RBX, CPU_RIP, 8);
		c->pend = 0;
		jit_branch(c, 0, 0);
	} else {
		return false;
	}
	if (i->fn != op_jmp)
		jit_resume(c); /* not reached: the slow path's handler leaves */
	return true;
}

bool emu_jit_inline(struct jit_ctx *c, const struct emu_insn *i)
{
	if (i->fn == op_nop)
		return true;
	return mov_reg(c, i) || mov_mem(c, i) || mov_generic(c, i) || movx(c, i) ||
	       push_pop(c, i) || alu(c, i) || shift_incdec(c, i) || test_reg(c, i) ||
	       branch(c, i);
}

/* A fused pair's operand: a register, the immediate or the memory value
 * (already in RSI), into h. */
enum { OPD_RM, OPD_REG, OPD_IMM, OPD_MEM };

static void operand(struct emit *e, unsigned h, unsigned kind, const struct emu_insn *i,
		    unsigned sz)
{
	switch (kind) {
	case OPD_RM: x_load(e, h, H_RBX, i->rm, sz); break;
	case OPD_REG: x_load(e, h, H_RBX, i->reg, sz); break;
	case OPD_IMM: x_imm(e, h, i->imm & sz_mask(sz)); break;
	default: x_rr(e, 8, 0x89, H_RSI, h); break;
	}
}

/* [form]: operands a and b, the host ALU op (r/m, r) and the lazy-flag op */
static const struct {
	uint8_t a, b, op, lf;
} fused_forms[FZ_N] = {
	[FZ_CMP_RR] = { OPD_RM, OPD_REG, 0x29, LF_SUB },
	[FZ_CMP_RRX] = { OPD_REG, OPD_RM, 0x29, LF_SUB },
	[FZ_CMP_RI] = { OPD_RM, OPD_IMM, 0x29, LF_SUB },
	[FZ_CMP_RM] = { OPD_REG, OPD_MEM, 0x29, LF_SUB },
	[FZ_CMP_MR] = { OPD_MEM, OPD_REG, 0x29, LF_SUB },
	[FZ_CMP_MI] = { OPD_MEM, OPD_IMM, 0x29, LF_SUB },
	[FZ_TEST_RR] = { OPD_RM, OPD_REG, 0x21, LF_LOGIC },
	[FZ_TEST_RI] = { OPD_RM, OPD_IMM, 0x21, LF_LOGIC },
	[FZ_TEST_MI] = { OPD_MEM, OPD_IMM, 0x21, LF_LOGIC },
	[FZ_ADD_RR] = { OPD_RM, OPD_REG, 0x01, LF_ADD },
	[FZ_ADD_RI] = { OPD_RM, OPD_IMM, 0x01, LF_ADD },
	[FZ_SUB_RR] = { OPD_RM, OPD_REG, 0x29, LF_SUB },
	[FZ_SUB_RI] = { OPD_RM, OPD_IMM, 0x29, LF_SUB },
	[FZ_AND_RR] = { OPD_RM, OPD_REG, 0x21, LF_LOGIC },
	[FZ_AND_RI] = { OPD_RM, OPD_IMM, 0x21, LF_LOGIC },
	[FZ_OR_RR] = { OPD_RM, OPD_REG, 0x09, LF_LOGIC },
	[FZ_OR_RI] = { OPD_RM, OPD_IMM, 0x09, LF_LOGIC },
	[FZ_XOR_RR] = { OPD_RM, OPD_REG, 0x31, LF_LOGIC },
	[FZ_XOR_RI] = { OPD_RM, OPD_IMM, 0x31, LF_LOGIC },
};

/*
 * Compare-and-branch pairs (ops_fused.c) but INC/DEC: the first
 * instruction's host twin of the same size sets the host flags the guest's
 * would have, and the host Jcc of the same condition tests them; the lazy
 * flags are stored as the handler stores them.
 */
bool emu_jit_inline_pair(struct jit_ctx *c, const struct emu_insn *i)
{
	int k = find(i->fn, &emu_fused[0][0][0], FZ_N * FS_N * 16);
	struct emit *e = &c->e;
	unsigned form, sz, cc;
	int64_t rel;
	bool mem, test, alu;
	uint8_t *skip;

	if (k < 0)
		return false;
	cc = (unsigned)k & 15;
	sz = fs_bytes[(unsigned)(k >> 4) % FS_N];
	form = (unsigned)(k >> 4) / FS_N;
	rel = (int64_t)i[0].len + i[1].len + (int64_t)i[1].imm;
	if (form == FZ_INC || form == FZ_DEC || !fits32(rel + c->pend))
		return false;
	mem = fused_forms[form].a == OPD_MEM || fused_forms[form].b == OPD_MEM;
	test = form >= FZ_TEST_RR && form <= FZ_TEST_MI;
	alu = form >= FZ_ADD_RR;
	if (mem) {
		if (!emit_ea(c, i))
			return false;
		jit_probe(c, i, 2, sz, false);
		x_load(e, H_RSI, H_RAX, 0, sz);
	}
	operand(e, H_RAX, fused_forms[form].a, i, sz);
	operand(e, H_RCX, fused_forms[form].b, i, sz);
	x_rr(e, 8, 0x89, H_RAX, H_RDX);                                  /* mov rdx, rax */
	x_rr(e, sz, (uint8_t)(fused_forms[form].op - (sz == 1)), H_RCX, H_RDX); /* op rdx, rcx */
	/* moves only from here to the Jcc: the host flags stay */
	if (test) /* TEST stores a = b = 0 (cmp_cond()) */
		store_lf(e, fused_forms[form].lf, sz, LF_CONST, LF_CONST, 0);
	else
		store_lf(e, fused_forms[form].lf, sz, H_RAX, H_RCX, 0);
	if (alu)
		reg_store(e, H_RDX, i->rm, sz);
	skip = x_jcc(e, cc ^ 1, 0);
	jit_branch(c, rel, i[1].sz2);
	x_patch(e, skip, here_rx(e));
	if (mem)
		jit_resume(c);
	return true;
}

/*
 * Specialised handlers (ops_fast.c, ops_fused.c) and the pass that picks
 * them (fast.c). A specialised handler does exactly what the generic one
 * does for the records it is chosen for, with sizes and operations fixed at
 * compile time; fast.c checks the preconditions each one states.
 */
#ifndef EMU_FAST_H
#define EMU_FAST_H

#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

/*
 * Effective address of a record with no segment override, no 32-bit
 * addressing and no RIP-relative overflow (flat_ea() in fast.c says which).
 */
static inline uint64_t ea_flat(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	return cpu->r[i->base] + (cpu->r[i->index] << i->scale) + (int64_t)i->disp;
}

/*
 * On a TLB hit for a read (write) of [va, va+sz), true with *p the host
 * address. On a miss a fast handler hands its record to the generic
 * handler (a tail call that takes the slow path, faults included), so the
 * fast path itself makes no call and needs no stack frame.
 */
static inline bool fast_rd(struct emu_cpu *cpu, uint64_t va, unsigned sz, void **p)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);

	*p = (void *)(uintptr_t)(va + e->addend);
	return likely(tlb_hit(e->tag_r, va, sz));
}

static inline bool fast_wr(struct emu_cpu *cpu, uint64_t va, unsigned sz, void **p)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);

	*p = (void *)(uintptr_t)(va + e->addend);
	return likely(tlb_hit(e->tag_w, va, sz));
}

/* The end of a RIP-free handler that catches RIP up: disp is how far it
 * lagged behind the record (I_LAG). */
static inline int emu_next_lag(struct emu_cpu *cpu, const struct emu_insn *i)
{
	RIP += (uint64_t)(int64_t)i->disp + i->len;
	return i[1].fn(cpu, i + 1);
}

/* Size index of the specialised tables: 1, 4, 8 bytes (2: none). */
enum { FS_1, FS_4, FS_8, FS_N };

/*
 * The tables of RIP-free handlers (register operands only) have a leading
 * [nr] index: 0 the handler that catches RIP up, 1 the one that leaves it
 * behind along a run of them (ops_fast.c); NULL where no such handler.
 */

/* ALU forms, [nr][form][op (ALU_*)][size 4/8][flags live]; no _nr for memory. */
enum {
	FA_RR,   /* rm (reg) op= reg:  emu_alu_r_r */
	FA_RI,   /* rm (reg) op= imm:  emu_alu_r_imm */
	FA_RRX,  /* reg op= rm (reg):  op_alu_r_rm, register form */
	FA_RM,   /* reg op= [flat]:    op_alu_r_rm, memory form */
	FA_MR,   /* [flat] op= reg:    op_alu_rm_r */
	FA_MI,   /* [flat] op= imm:    op_alu_rm_imm */
	FA_N
};
extern const emu_fn emu_fast_alu[2][FA_N][8][2][2];

/* Moves (sizes 1/4/8 where meaningful; [FS_1] NULL if not) */
extern const emu_fn emu_fast_mov_rr[2][FS_N], emu_fast_movi_r[2][FS_N];
extern const emu_fn emu_fast_mov_rm[FS_N], emu_fast_mov_mr[FS_N];
extern const emu_fn emu_fast_movi_m[FS_N], emu_fast_lea[FS_N];
/* MOVZX/MOVSX to a 32/64-bit register: [signed][source 1/2/4][nr][dest 4/8][mem] */
extern const emu_fn emu_fast_movx[2][3][2][2][2];
/* INC/DEC register, [nr][dec][size 4/8][flags live] */
extern const emu_fn emu_fast_incdec[2][2][2][2];
/* Shifts/rotates of a register by a fixed nonzero count:
 * [nr][ROL, ROR, SHL, SHR, SAR][size 4/8][flags live]; rotates only dead. */
extern const emu_fn emu_fast_shift[2][5][2][2];
/* TEST register forms, [nr][imm][size] */
extern const emu_fn emu_fast_test[2][2][FS_N];
/* SETcc r/m8 per condition, [nr][mem][cc]; CMOVcc r, r/m, [nr][size 4/8][mem][cc] */
extern const emu_fn emu_fast_setcc[2][2][16];
extern const emu_fn emu_fast_cmov[2][2][2][16];
/* IMUL r, r/m [, imm] with dead flags: [nr][imm][size 4/8][mem] */
extern const emu_fn emu_fast_imul[2][2][2][2];
EMU_DECL(op_fast_push64);
EMU_DECL(op_fast_pop64);

/* Compare-and-branch pairs (ops_fused.c): a CMP, TEST, register ALU or
 * INC/DEC record followed by a Jcc record, run as one; [form][size][cc],
 * NULL where not specialised (ALU forms: 4/8 bytes; SUB all conditions,
 * ADD C/Z/S, logic and INC/DEC Z/S, and their negations). */
enum {
	FZ_CMP_RR,  /* cmp rm(reg), reg */
	FZ_CMP_RRX, /* cmp reg, rm(reg) */
	FZ_CMP_RI,  /* cmp rm(reg), imm */
	FZ_CMP_RM,  /* cmp reg, [flat] */
	FZ_CMP_MR,  /* cmp [flat], reg */
	FZ_CMP_MI,  /* cmp [flat], imm */
	FZ_TEST_RR,
	FZ_TEST_RI,
	FZ_TEST_MI,
	FZ_ADD_RR,  /* op rm(reg), reg and op rm(reg), imm */
	FZ_ADD_RI,
	FZ_SUB_RR,
	FZ_SUB_RI,
	FZ_AND_RR,
	FZ_AND_RI,
	FZ_OR_RR,
	FZ_OR_RI,
	FZ_XOR_RR,
	FZ_XOR_RI,
	FZ_INC,     /* inc/dec rm(reg) */
	FZ_DEC,
	FZ_N
};
extern const emu_fn emu_fused[FZ_N][FS_N][16];

/* The ALU op of a register ALU fused form (FZ_ADD_RR..FZ_XOR_RI). */
static inline unsigned emu_fused_alu_op(unsigned form)
{
	static const uint8_t op[] = { ALU_ADD, ALU_SUB, ALU_AND, ALU_OR, ALU_XOR };

	return op[(form - FZ_ADD_RR) / 2];
}

/* The generic handler of a fused record's first instruction alone (it
 * falls through to the Jcc record, which holds a complete Jcc). */
static inline emu_fn emu_fused_generic(unsigned form)
{
	if (form >= FZ_ADD_RR && form <= FZ_XOR_RI)
		return ((form - FZ_ADD_RR) & 1 ? emu_alu_r_imm : emu_alu_r_r)[emu_fused_alu_op(form)];
	switch (form) {
	case FZ_INC: case FZ_DEC: return op_incdec;
	case FZ_CMP_RR: return emu_alu_r_r[ALU_CMP];
	case FZ_CMP_RI: return emu_alu_r_imm[ALU_CMP];
	case FZ_CMP_RRX: case FZ_CMP_RM: return op_alu_r_rm;
	case FZ_CMP_MR: return op_alu_rm_r;
	case FZ_CMP_MI: return op_alu_rm_imm;
	case FZ_TEST_RR: return op_test_rm_r;
	default: return op_test_rm_imm;
	}
}
/* Jcc alone, per condition. */
extern const emu_fn emu_fast_jcc[16];

/* M(args..., cc) for the 16 condition codes. */
#define FOR_CC(M, ...)								\
	M(__VA_ARGS__, 0) M(__VA_ARGS__, 1) M(__VA_ARGS__, 2) M(__VA_ARGS__, 3)	\
	M(__VA_ARGS__, 4) M(__VA_ARGS__, 5) M(__VA_ARGS__, 6) M(__VA_ARGS__, 7)	\
	M(__VA_ARGS__, 8) M(__VA_ARGS__, 9) M(__VA_ARGS__, 10) M(__VA_ARGS__, 11) \
	M(__VA_ARGS__, 12) M(__VA_ARGS__, 13) M(__VA_ARGS__, 14) M(__VA_ARGS__, 15)

#endif

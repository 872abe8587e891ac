/*
 * The decoded-instruction record and the handler convention.
 *
 * A handler executes one decoded instruction with RIP still pointing at it.
 * Dispatch is threaded: a handler that falls through ends with
 * emu_next() (cpu.h), which adds len to RIP and tail-calls the next record's
 * handler; one that has set RIP itself (branches, REP chunks, anything that
 * must end the block) returns 1, which goes back to the run loop (every
 * block ends with such a record). Faults never return: they unwind to the
 * run loop through emu_raise().
 */
#ifndef EMU_INSN_H
#define EMU_INSN_H

#include <stdint.h>

struct emu_cpu;
struct emu_insn;

typedef int (*emu_fn)(struct emu_cpu *cpu, const struct emu_insn *i);

/* emu_insn.flags */
#define I_MEM 0x01    /* r/m operand is memory */
#define I_LOCK 0x02
#define I_REP 0x04    /* F3 */
#define I_REPNE 0x08  /* F2 */
#define I_A32 0x10    /* 32-bit addressing */
#define I_END 0x20    /* ends the block (decoder internal) */
#define I_RIPX 0x40   /* RIP-relative whose disp + len overflowed 32 bits */
#define I_A16 0x80    /* 16-bit addressing (legacy modes): offsets wrap at 64 KiB */
/* Register-only records of RIP-free fast handlers (fast.c) reuse two
 * addressing bits: I_LAG: disp is how far RIP lags behind the record;
 * I_NOADV: the handler leaves RIP there (the next record catches up). */
#define I_LAG I_RIPX
#define I_NOADV I_A16

struct emu_insn {
	emu_fn fn;
	uint64_t imm;   /* immediate, sign- or zero-extended as the form needs */
	int32_t disp;   /* displacement; RIP-relative already includes len */
	uint8_t len;
	uint8_t sz;     /* operand size in bytes */
	uint8_t reg;    /* ModRM.reg operand: byte offset into cpu->r (AH = 1) */
	uint8_t rm;     /* r/m register operand: byte offset into cpu->r */
	uint8_t base;   /* slot index (EMU_ZERO: none, EMU_RIP) */
	uint8_t index;  /* slot index (EMU_ZERO: none) */
	uint8_t scale;
	uint8_t seg;    /* 0, 1 = FS, 2 = GS */
	uint8_t flags;
	uint8_t op;     /* sub-operation: ALU op, condition code, group digit */
	uint8_t sz2;    /* second size (MOVZX/MOVSX source, string, SSE); Jcc: the
			 * records after it in its block (emu_jcc_taken) */
	uint8_t xreg;   /* SSE: ModRM.reg xmm index */
};

/* A record of a RIP-free run: its address bits are I_LAG/I_NOADV. */
static inline int emu_insn_in_rip_run(const struct emu_insn *i)
{
	return !(i->flags & I_MEM) && (i->flags & I_LAG);
}

/* Decode one instruction from bytes (at most avail of them valid).
 * Returns its length, or 0 if more bytes are needed (never for avail >= 15).
 * Unknown encodings decode to a record whose handler raises #UD. */
unsigned emu_decode(struct emu_insn *i, const uint8_t *bytes, unsigned avail);
/* The same in a given EMU_MODE_* (decode16.c); EMU_MODE_64 is emu_decode. */
unsigned emu_decode_mode(struct emu_insn *i, const uint8_t *bytes, unsigned avail, unsigned mode);

#endif

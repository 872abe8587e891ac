/*
 * Internal helpers every handler uses: register file access by size, lazy
 * flags, effective addresses, exceptions. Everything here is inline: these
 * are the per-instruction fast paths.
 */
#ifndef EMU_CPU_H
#define EMU_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "accel/emu/emu.h"
#include "accel/emu/insn.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define EMU_NORETURN __attribute__((noreturn))
#define EMU_COLD __attribute__((cold, noinline))

/* Handler definition: every handler has the same signature. */
#define EMU_OP(name) int name(struct emu_cpu *cpu, const struct emu_insn *i)

/* Raise an exception: unwinds to the run loop (RIP = faulting instruction). */
EMU_NORETURN void emu_raise(struct emu_cpu *cpu, int vector);
EMU_NORETURN void emu_raise_err(struct emu_cpu *cpu, int vector, uint32_t err);
/* Leave the run loop with reason (enum emu_exit), RIP as the handler set it. */
EMU_NORETURN void emu_exit_now(struct emu_cpu *cpu, int reason);

/* ---- sizes ---- */

static inline uint64_t sz_mask(unsigned sz)
{
	return sz == 8 ? ~0ull : (1ull << (sz * 8)) - 1;
}

static inline uint64_t sz_sign(unsigned sz)
{
	return 1ull << (sz * 8 - 1);
}

static inline int64_t sext(uint64_t v, unsigned sz)
{
	unsigned sh = 64 - sz * 8;

	return (int64_t)(v << sh) >> sh;
}

/* Load/store sz bytes at a host pointer (little-endian host). */
static inline uint64_t ld(const void *p, unsigned sz)
{
	switch (sz) {
	case 1: return *(const uint8_t *)p;
	case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
	default: { uint64_t v; memcpy(&v, p, 8); return v; }
	}
}

static inline void st(void *p, unsigned sz, uint64_t v)
{
	switch (sz) {
	case 1: *(uint8_t *)p = (uint8_t)v; break;
	case 2: { uint16_t w = (uint16_t)v; memcpy(p, &w, 2); break; }
	case 4: { uint32_t w = (uint32_t)v; memcpy(p, &w, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

/* ---- registers: operands are byte offsets into cpu->r ---- */

static inline uint64_t reg_rd(const struct emu_cpu *cpu, unsigned off, unsigned sz)
{
	return ld((const uint8_t *)cpu->r + off, sz);
}

/* 32-bit writes zero-extend; 8/16-bit writes merge. */
static inline void reg_wr(struct emu_cpu *cpu, unsigned off, unsigned sz, uint64_t v)
{
	uint8_t *p = (uint8_t *)cpu->r + off;

	if (sz == 4)
		st(p, 8, (uint32_t)v);
	else
		st(p, sz, v);
}

#define RIP (cpu->r[EMU_RIP])
#define RSP (cpu->r[4])

/*
 * A Jcc does not end its block: not taken, the block goes on; taken, it
 * leaves with RIP at the target, and the rest of the block (counted into
 * icount when the block was entered) does not run.
 */
static inline int emu_jcc_taken(struct emu_cpu *cpu, const struct emu_insn *jcc, uint64_t rip)
{
	cpu->icount -= jcc->sz2;
	RIP = rip;
	return 1;
}

/* Fall through: step RIP past i and run the next record (a tail call, so
 * the run loop is only re-entered at a block's end). */
static inline int emu_next(struct emu_cpu *cpu, const struct emu_insn *i)
{
	RIP += i->len;
	return i[1].fn(cpu, i + 1);
}

/* ---- effective address ---- */

static inline uint64_t ea(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	uint64_t a = cpu->r[i->base] + (cpu->r[i->index] << i->scale) + (int64_t)i->disp;

	if (unlikely(i->flags & (I_A32 | I_RIPX | I_A16))) {
		if (i->flags & I_RIPX)
			a += i->len;
		if (i->flags & I_A32)
			a = (uint32_t)a;
		if (i->flags & I_A16)
			a = (uint16_t)a;
	}
	return a + cpu->segbase[i->seg];
}

/* ---- lazy flags ---- */

uint64_t emu_lf_arith(const struct emu_lflags *lf);
bool emu_lf_cf(const struct emu_lflags *lf);

static inline void set_lf(struct emu_cpu *cpu, unsigned op, unsigned sz,
			  uint64_t res, uint64_t a, uint64_t b)
{
	cpu->lf.op = (uint8_t)op;
	cpu->lf.sz = (uint8_t)sz;
	cpu->lf.res = res;
	cpu->lf.a = a;
	cpu->lf.b = b;
}

/* Fold the lazy state into rflags. */
static inline uint64_t flags_get(struct emu_cpu *cpu)
{
	if (cpu->lf.op != LF_NONE) {
		cpu->rflags = (cpu->rflags & ~(uint64_t)EMU_ARITH) | emu_lf_arith(&cpu->lf);
		cpu->lf.op = LF_NONE;
	}
	return cpu->rflags;
}

/* Replace the arithmetic flags selected by mask. */
static inline void flags_set(struct emu_cpu *cpu, uint64_t mask, uint64_t val)
{
	uint64_t f = flags_get(cpu);

	cpu->rflags = (f & ~mask) | (val & mask);
}

#define EMU_ALWAYS_INLINE inline __attribute__((always_inline))

/*
 * CF when it needs no call: 0 or 1, else -1 (SBB, shifts). Fast handlers
 * hand their record to the generic handler on -1, so their own path keeps
 * no stack frame. SUB/CMP/NEG: a and b are of the operation's size.
 */
static EMU_ALWAYS_INLINE int cf_quick(const struct emu_cpu *cpu)
{
	const struct emu_lflags *lf = &cpu->lf;

	/* tests, not a switch: no jump table, the usual cases first */
	if (lf->op == LF_SUB)
		return lf->a < lf->b;
	if (lf->op == LF_ADD)
		return (((lf->a & lf->b) | ((lf->a | lf->b) & ~lf->res)) >> (lf->sz * 8 - 1)) & 1;
	if (lf->op == LF_NONE)
		return cpu->rflags & EMU_CF;
	if (lf->op == LF_LOGIC)
		return 0;
	if (lf->op == LF_INC || lf->op == LF_DEC)
		return lf->cf;
	return -1;
}

static inline bool get_cf(const struct emu_cpu *cpu)
{
	int cf = cf_quick(cpu);

	return cf >= 0 ? cf : emu_lf_cf(&cpu->lf);
}

/* Condition cc (0..15 as in Jcc) after a - b = r of size sz (CMP, SUB). */
static EMU_ALWAYS_INLINE bool cc_sub(unsigned cc, unsigned sz, uint64_t a, uint64_t b, uint64_t r)
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

/* ... after a + b (+ carry in) = r (ADD, ADC). */
static EMU_ALWAYS_INLINE bool cc_add(unsigned cc, unsigned sz, uint64_t a, uint64_t b, uint64_t r)
{
	unsigned top = sz * 8 - 1;
	bool c = (((a & b) | ((a | b) & ~r)) >> top) & 1, o = (((a ^ r) & (b ^ r)) >> top) & 1;
	bool s = (r >> top) & 1, v;

	switch (cc >> 1) {
	case 0: v = o; break;
	case 1: v = c; break;
	case 2: v = r == 0; break;
	case 3: v = c || r == 0; break;
	case 4: v = s; break;
	case 5: v = !__builtin_parityll(r & 0xff); break;
	case 6: v = s != o; break;
	default: v = r == 0 || s != o; break;
	}
	return v ^ (cc & 1);
}

/* ... after a logic result r (AND, OR, XOR, TEST): CF = OF = 0. */
static EMU_ALWAYS_INLINE bool cc_logic(unsigned cc, unsigned sz, uint64_t r)
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

/* ... from the folded arithmetic flags f. */
static EMU_ALWAYS_INLINE bool cc_flags(unsigned cc, uint64_t f)
{
	bool v;

	switch (cc >> 1) {
	case 0: v = f & EMU_OF; break;
	case 1: v = f & EMU_CF; break;
	case 2: v = f & EMU_ZF; break;
	case 3: v = f & (EMU_CF | EMU_ZF); break;
	case 4: v = f & EMU_SF; break;
	case 5: v = f & EMU_PF; break;
	case 6: v = !(f & EMU_SF) != !(f & EMU_OF); break;
	default: v = (f & EMU_ZF) || (!(f & EMU_SF) != !(f & EMU_OF)); break;
	}
	return v ^ (cc & 1);
}

/*
 * Condition cc from the lazy state when that needs no call: 0 or 1, else -1
 * (then emu_cond_slow folds). With cc constant, each case is a few
 * instructions. ZF and SF come from the result whatever the operation.
 */
static EMU_ALWAYS_INLINE int cond_quick(const struct emu_cpu *cpu, unsigned cc)
{
	const struct emu_lflags *lf = &cpu->lf;

	if (lf->op == LF_SUB)
		return cc_sub(cc, lf->sz, lf->a, lf->b, lf->res);
	if (lf->op == LF_LOGIC)
		return cc_logic(cc, lf->sz, lf->res);
	if (lf->op == LF_ADD)
		return cc_add(cc, lf->sz, lf->a, lf->b, lf->res);
	if (lf->op == LF_NONE)
		return cc_flags(cc, cpu->rflags);
	if ((cc >> 1) == 2)
		return (lf->res == 0) ^ (cc & 1);
	if ((cc >> 1) == 4)
		return ((lf->res >> (lf->sz * 8 - 1)) & 1) ^ (cc & 1);
	return -1;
}

bool emu_cond_slow(struct emu_cpu *cpu, unsigned cc);

/* Condition codes 0..15 as in Jcc. */
static inline bool emu_cond(struct emu_cpu *cpu, unsigned cc)
{
	int r = cond_quick(cpu, cc);

	return r >= 0 ? r : emu_cond_slow(cpu, cc);
}

#endif

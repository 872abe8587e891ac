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

/* CF alone; inline for what ADC/SBB chains follow (SUB/CMP/NEG: a and b
 * are of the operation's size; ADD/ADC: carry out of the top bit). */
static inline bool get_cf(const struct emu_cpu *cpu)
{
	const struct emu_lflags *lf = &cpu->lf;

	if (lf->op == LF_SUB)
		return lf->a < lf->b;
	if (lf->op == LF_ADD)
		return (((lf->a & lf->b) | ((lf->a | lf->b) & ~lf->res)) >> (lf->sz * 8 - 1)) & 1;
	if (lf->op == LF_NONE)
		return cpu->rflags & EMU_CF;
	return emu_lf_cf(lf);
}

bool emu_cond_slow(struct emu_cpu *cpu, unsigned cc);

/* Condition codes 0..15 as in Jcc; CMP and logic results without folding. */
static inline bool emu_cond(struct emu_cpu *cpu, unsigned cc)
{
	const struct emu_lflags *lf = &cpu->lf;
	bool r;

	if (lf->op == LF_SUB) {
		unsigned sh = 64 - lf->sz * 8;

		switch (cc >> 1) {
		case 1: r = lf->a < lf->b; break;
		case 2: r = lf->res == 0; break;
		case 3: r = lf->a <= lf->b; break;
		case 4: r = (lf->res >> (lf->sz * 8 - 1)) & 1; break;
		case 6: r = (int64_t)(lf->a << sh) < (int64_t)(lf->b << sh); break;
		case 7: r = (int64_t)(lf->a << sh) <= (int64_t)(lf->b << sh); break;
		default: return emu_cond_slow(cpu, cc);
		}
		return r ^ (cc & 1);
	}
	if (lf->op == LF_LOGIC) {
		switch (cc >> 1) {
		case 0: case 1: r = false; break;
		case 2: case 3: r = lf->res == 0; break;
		case 4: case 6: r = (lf->res >> (lf->sz * 8 - 1)) & 1; break;
		case 7: r = lf->res == 0 || ((lf->res >> (lf->sz * 8 - 1)) & 1); break;
		default: return emu_cond_slow(cpu, cc);
		}
		return r ^ (cc & 1);
	}
	/* ZF and SF come from the result alone whatever the operation (ADD +
	 * JNZ closes most counted loops). */
	if (lf->op != LF_NONE && ((cc >> 1) == 2 || (cc >> 1) == 4)) {
		r = (cc >> 1) == 2 ? lf->res == 0 : (lf->res >> (lf->sz * 8 - 1)) & 1;
		return r ^ (cc & 1);
	}
	return emu_cond_slow(cpu, cc);
}

#endif

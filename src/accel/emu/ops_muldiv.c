/* MUL/IMUL (one, two and three operands), DIV/IDIV with #DE. */
#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

static void set_cf_of(struct emu_cpu *cpu, bool v)
{
	flags_set(cpu, EMU_CF | EMU_OF, v ? EMU_CF | EMU_OF : 0);
}

/* Store a double-width result: AX for bytes, rDX:rAX otherwise. */
static void put_wide(struct emu_cpu *cpu, unsigned sz, u128 v)
{
	if (sz == 1) {
		reg_wr(cpu, 0, 2, (uint64_t)v);
	} else {
		reg_wr(cpu, 0, sz, (uint64_t)v);
		reg_wr(cpu, 2 * 8, sz, (uint64_t)(v >> (sz * 8)));
	}
}

EMU_OP(op_mul)
{
	unsigned sz = i->sz;
	u128 p = (u128)reg_rd(cpu, 0, sz) * rm_rd(cpu, i, sz);

	put_wide(cpu, sz, p);
	set_cf_of(cpu, (p >> (sz * 8)) != 0);
	return emu_next(cpu, i);
}

EMU_OP(op_imul1)
{
	unsigned sz = i->sz;
	s128 p = (s128)sext(reg_rd(cpu, 0, sz), sz) * sext(rm_rd(cpu, i, sz), sz);

	put_wide(cpu, sz, (u128)p);
	set_cf_of(cpu, p != sext((uint64_t)p & sz_mask(sz), sz));
	return emu_next(cpu, i);
}

static uint64_t imul_trunc(struct emu_cpu *cpu, unsigned sz, uint64_t a, uint64_t b)
{
	s128 p = (s128)sext(a, sz) * sext(b, sz);

	set_cf_of(cpu, p != sext((uint64_t)p & sz_mask(sz), sz));
	return (uint64_t)p;
}

EMU_OP(op_imul2)
{
	unsigned sz = i->sz;
	uint64_t b = rm_rd(cpu, i, sz);

	reg_wr(cpu, i->reg, sz, imul_trunc(cpu, sz, reg_rd(cpu, i->reg, sz), b));
	return emu_next(cpu, i);
}

EMU_OP(op_imul3)
{
	unsigned sz = i->sz;

	reg_wr(cpu, i->reg, sz, imul_trunc(cpu, sz, rm_rd(cpu, i, sz), i->imm & sz_mask(sz)));
	return emu_next(cpu, i);
}

/* The double-width dividend: AX for bytes, rDX:rAX otherwise. */
static u128 get_wide(const struct emu_cpu *cpu, unsigned sz)
{
	if (sz == 1)
		return reg_rd(cpu, 0, 2);
	return ((u128)reg_rd(cpu, 2 * 8, sz) << (sz * 8)) | reg_rd(cpu, 0, sz);
}

static void put_divres(struct emu_cpu *cpu, unsigned sz, uint64_t q, uint64_t r)
{
	if (sz == 1) {
		reg_wr(cpu, 0, 2, (q & 0xff) | ((r & 0xff) << 8));
	} else {
		reg_wr(cpu, 0, sz, q);
		reg_wr(cpu, 2 * 8, sz, r);
	}
}

EMU_OP(op_div)
{
	unsigned sz = i->sz;
	uint64_t d = rm_rd(cpu, i, sz);
	u128 n = get_wide(cpu, sz), q;

	if (!d)
		emu_raise(cpu, EMU_DE);
	if (sz == 8 && (uint64_t)(n >> 64) >= d)
		emu_raise(cpu, EMU_DE); /* quotient wider than 64 bits */
	q = n / d;
	if (q > sz_mask(sz))
		emu_raise(cpu, EMU_DE);
	put_divres(cpu, sz, (uint64_t)q, (uint64_t)(n % d));
	return emu_next(cpu, i);
}

EMU_OP(op_idiv)
{
	unsigned sz = i->sz, bits = sz * 8;
	s128 d = sext(rm_rd(cpu, i, sz), sz), n, q;
	u128 w = get_wide(cpu, sz);

	if (!d)
		emu_raise(cpu, EMU_DE);
	n = (s128)(w << (128 - 2 * bits)) >> (128 - 2 * bits);
	if (n == (s128)((u128)1 << 127) && d == -1) /* the one 128-bit overflow */
		emu_raise(cpu, EMU_DE);
	q = n / d;
	if (q > (s128)(sz_mask(sz) >> 1) || q < -(s128)(sz_mask(sz) >> 1) - 1)
		emu_raise(cpu, EMU_DE);
	put_divres(cpu, sz, (uint64_t)q, (uint64_t)(n % d));
	return emu_next(cpu, i);
}

/* Shifts and rotates (group 2), SHLD/SHRD. */
#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

enum { ROL, ROR, RCL, RCR, SHL, SHR, SAL, SAR };

static uint64_t szp_flags(uint64_t r, unsigned sz)
{
	uint64_t f = 0;

	if (!__builtin_parityll(r & 0xff))
		f |= EMU_PF;
	if (!r)
		f |= EMU_ZF;
	if (r & sz_sign(sz))
		f |= EMU_SF;
	return f;
}

/* Rotates change CF and OF only (OF meaningful for a count of 1). */
static uint64_t rotate(struct emu_cpu *cpu, unsigned op, unsigned sz, uint64_t a, unsigned c)
{
	unsigned bits = sz * 8;
	uint64_t m = sz_mask(sz), sign = sz_sign(sz), r, cf, of;

	if (op == ROL || op == ROR) {
		unsigned k = c & (bits - 1);

		if (op == ROL) {
			r = k ? ((a << k) | (a >> (bits - k))) & m : a;
			cf = r & 1;
			of = !!(r & sign) ^ cf;
		} else {
			r = k ? ((a >> k) | (a << (bits - k))) & m : a;
			cf = !!(r & sign);
			of = cf ^ !!(r & (sign >> 1));
		}
	} else {
		unsigned k = bits < 32 ? c % (bits + 1) : c;
		unsigned __int128 x = ((unsigned __int128)get_cf(cpu) << bits) | a, y;
		unsigned __int128 xm = ((unsigned __int128)1 << (bits + 1)) - 1;

		if (!k)
			return a;
		if (op == RCL)
			y = ((x << k) | (x >> (bits + 1 - k))) & xm;
		else
			y = ((x >> k) | (x << (bits + 1 - k))) & xm;
		r = (uint64_t)y & m;
		cf = (uint64_t)(y >> bits) & 1;
		if (op == RCL)
			of = !!(r & sign) ^ cf;
		else
			of = !!(r & sign) ^ !!(r & (sign >> 1));
	}
	flags_set(cpu, EMU_CF | EMU_OF, (cf ? EMU_CF : 0) | (of ? EMU_OF : 0));
	return r;
}

static uint64_t shift(struct emu_cpu *cpu, unsigned op, unsigned sz, uint64_t a, unsigned c)
{
	uint64_t m = sz_mask(sz), r;

	switch (op) {
	case SHL:
	case SAL:
		r = (a << c) & m;
		set_lf(cpu, LF_SHL, sz, r, a, c);
		return r;
	case SHR:
		r = a >> c;
		set_lf(cpu, LF_SHR, sz, r, a, c);
		return r;
	case SAR:
		r = (uint64_t)(sext(a, sz) >> c) & m;
		set_lf(cpu, LF_SAR, sz, r, a, c);
		return r;
	default:
		return rotate(cpu, op, sz, a, c);
	}
}

static unsigned count_of(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	unsigned c = i->sz2 == 1 ? (unsigned)cpu->r[1] : (unsigned)i->imm;

	return c & (i->sz == 8 ? 63 : 31);
}

EMU_OP(op_shift)
{
	unsigned sz = i->sz, c = count_of(cpu, i);
	struct emu_rmw m;
	void *p;

	if (!(i->flags & I_MEM)) {
		uint64_t v = reg_rd(cpu, i->rm, sz);

		/* a 32-bit destination is written (zero-extended) even for count 0 */
		reg_wr(cpu, i->rm, sz, c ? shift(cpu, i->op, sz, v, c) : v);
		return emu_next(cpu, i);
	}
	p = rmw_begin(cpu, &m, ea(cpu, i), sz);
	if (c)
		st(p, sz, shift(cpu, i->op, sz, ld(p, sz), c));
	rmw_end(cpu, &m);
	return emu_next(cpu, i);
}

/* SHLD/SHRD: CF is the last bit out of the destination, OF (count 1) a sign
 * change; with 16-bit operands counts above 16 are undefined. */
static uint64_t shxd(struct emu_cpu *cpu, bool right, unsigned sz, uint64_t d, uint64_t s,
		     unsigned c)
{
	unsigned bits = sz * 8;
	uint64_t m = sz_mask(sz), r, cf;
	unsigned __int128 x;

	if (!right) {
		x = ((unsigned __int128)d << bits) | s;
		r = (uint64_t)((x << c) >> bits) & m;
		cf = (uint64_t)(x >> (2 * bits - c)) & 1;
	} else {
		x = ((unsigned __int128)s << bits) | d;
		r = (uint64_t)(x >> c) & m;
		cf = (uint64_t)(x >> (c - 1)) & 1;
	}
	flags_set(cpu, EMU_ARITH, szp_flags(r, sz) | (cf ? EMU_CF : 0) |
		  (((r ^ d) & sz_sign(sz)) ? EMU_OF : 0));
	return r;
}

EMU_OP(op_shxd)
{
	unsigned sz = i->sz;
	unsigned c = (i->sz2 ? (unsigned)cpu->r[1] : (unsigned)i->imm) & (sz == 8 ? 63 : 31);
	uint64_t s = reg_rd(cpu, i->reg, sz);
	struct emu_rmw m;
	void *p;

	if (!(i->flags & I_MEM)) {
		uint64_t v = reg_rd(cpu, i->rm, sz);

		reg_wr(cpu, i->rm, sz, c ? shxd(cpu, i->op, sz, v, s, c) : v);
		return emu_next(cpu, i);
	}
	p = rmw_begin(cpu, &m, ea(cpu, i), sz);
	if (c)
		st(p, sz, shxd(cpu, i->op, sz, ld(p, sz), s, c));
	rmw_end(cpu, &m);
	return emu_next(cpu, i);
}

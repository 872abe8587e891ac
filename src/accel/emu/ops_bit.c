/* BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT, POPCNT. */
#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

enum { BT, BTS, BTR, BTC };

static uint64_t bt_apply(unsigned op, uint64_t v, uint64_t bit)
{
	switch (op) {
	case BTS: return v | bit;
	case BTR: return v & ~bit;
	case BTC: return v ^ bit;
	default: return v;
	}
}

/* CF = the selected bit; ZF unaffected; OF/SF/AF/PF undefined (kept). */
EMU_OP(op_bt)
{
	unsigned sz = i->sz, bits = sz * 8;
	uint64_t off = i->sz2 ? i->imm : reg_rd(cpu, i->reg, sz), bit, v;
	struct emu_rmw m;
	void *p;

	if (!(i->flags & I_MEM)) {
		bit = 1ull << (off & (bits - 1));
		v = reg_rd(cpu, i->rm, sz);
		if (i->op != BT)
			reg_wr(cpu, i->rm, sz, bt_apply(i->op, v, bit));
		flags_set(cpu, EMU_CF, (v & bit) ? EMU_CF : 0);
		return emu_next(cpu, i);
	}
	uint64_t va = ea(cpu, i);

	if (!i->sz2) /* a register offset reaches anywhere in the bit string */
		va += (uint64_t)(sext(off, sz) >> (sz == 8 ? 6 : sz == 4 ? 5 : 4)) * sz;
	bit = 1ull << (off & (bits - 1));
	if (i->op == BT) {
		v = mem_rd(cpu, va, sz);
	} else {
		p = rmw_begin(cpu, &m, va, sz);
		v = ld(p, sz);
		if (i->flags & I_LOCK) {
			while (!cas(p, sz, &v, bt_apply(i->op, v, bit)))
				;
		} else {
			st(p, sz, bt_apply(i->op, v, bit));
		}
		rmw_end(cpu, &m);
	}
	flags_set(cpu, EMU_CF, (v & bit) ? EMU_CF : 0);
	return emu_next(cpu, i);
}

/* BSF/BSR: a zero source sets ZF and leaves the destination alone. */
EMU_OP(op_bsf)
{
	uint64_t v = rm_rd(cpu, i, i->sz);

	if (!v) {
		flags_set(cpu, EMU_ZF, EMU_ZF);
		return emu_next(cpu, i);
	}
	reg_wr(cpu, i->reg, i->sz, (uint64_t)__builtin_ctzll(v));
	flags_set(cpu, EMU_ZF, 0);
	return emu_next(cpu, i);
}

EMU_OP(op_bsr)
{
	uint64_t v = rm_rd(cpu, i, i->sz);

	if (!v) {
		flags_set(cpu, EMU_ZF, EMU_ZF);
		return emu_next(cpu, i);
	}
	reg_wr(cpu, i->reg, i->sz, (uint64_t)(63 - __builtin_clzll(v)));
	flags_set(cpu, EMU_ZF, 0);
	return emu_next(cpu, i);
}

static void cnt_result(struct emu_cpu *cpu, const struct emu_insn *i, uint64_t r, bool zero_src)
{
	reg_wr(cpu, i->reg, i->sz, r);
	flags_set(cpu, EMU_CF | EMU_ZF, (zero_src ? EMU_CF : 0) | (r ? 0 : EMU_ZF));
}

EMU_OP(op_tzcnt)
{
	uint64_t v = rm_rd(cpu, i, i->sz);

	cnt_result(cpu, i, v ? (uint64_t)__builtin_ctzll(v) : i->sz * 8u, !v);
	return emu_next(cpu, i);
}

EMU_OP(op_lzcnt)
{
	uint64_t v = rm_rd(cpu, i, i->sz);

	cnt_result(cpu, i, v ? (uint64_t)(__builtin_clzll(v) - (64 - i->sz * 8)) : i->sz * 8u, !v);
	return emu_next(cpu, i);
}

EMU_OP(op_popcnt)
{
	uint64_t v = rm_rd(cpu, i, i->sz);

	reg_wr(cpu, i->reg, i->sz, (uint64_t)__builtin_popcountll(v));
	flags_set(cpu, EMU_ARITH, v ? 0 : EMU_ZF);
	return emu_next(cpu, i);
}

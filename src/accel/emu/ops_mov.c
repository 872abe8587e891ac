/* Data movement: MOV forms, LEA, MOVZX/MOVSX, XCHG, CMPXCHG*, XADD,
 * CBW/CWD families, BSWAP, CMOVcc, SETcc. */
#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

EMU_OP(op_mov_r_r)
{
	reg_wr(cpu, i->rm, i->sz, reg_rd(cpu, i->reg, i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_mov_r_m)
{
	reg_wr(cpu, i->reg, i->sz, mem_rd(cpu, ea(cpu, i), i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_mov_m_r)
{
	mem_wr(cpu, ea(cpu, i), i->sz, reg_rd(cpu, i->reg, i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_mov_rm_r)
{
	rm_wr(cpu, i, i->sz, reg_rd(cpu, i->reg, i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_mov_r_rm)
{
	reg_wr(cpu, i->reg, i->sz, rm_rd(cpu, i, i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_mov_rm_imm)
{
	rm_wr(cpu, i, i->sz, i->imm);
	return emu_next(cpu, i);
}

static uint64_t moffs_addr(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	uint64_t a = i->imm;

	if (i->flags & I_A32)
		a = (uint32_t)a;
	return a + cpu->segbase[i->seg];
}

EMU_OP(op_mov_acc_moffs)
{
	reg_wr(cpu, 0, i->sz, mem_rd(cpu, moffs_addr(cpu, i), i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_mov_moffs_acc)
{
	mem_wr(cpu, moffs_addr(cpu, i), i->sz, reg_rd(cpu, 0, i->sz));
	return emu_next(cpu, i);
}

/* LEA: the offset only, no segment base. */
EMU_OP(op_lea)
{
	uint64_t a = cpu->r[i->base] + (cpu->r[i->index] << i->scale) + (int64_t)i->disp;

	if (i->flags & I_RIPX)
		a += i->len;
	if (i->flags & I_A32)
		a = (uint32_t)a;
	reg_wr(cpu, i->reg, i->sz, a);
	return emu_next(cpu, i);
}

EMU_OP(op_movzx)
{
	reg_wr(cpu, i->reg, i->sz, rm_rd(cpu, i, i->sz2));
	return emu_next(cpu, i);
}

EMU_OP(op_movsx)
{
	reg_wr(cpu, i->reg, i->sz, (uint64_t)sext(rm_rd(cpu, i, i->sz2), i->sz2));
	return emu_next(cpu, i);
}

static uint64_t xchg_atomic(void *p, unsigned sz, uint64_t v)
{
	switch (sz) {
	case 1: return __atomic_exchange_n((uint8_t *)p, (uint8_t)v, __ATOMIC_SEQ_CST);
	case 2: return __atomic_exchange_n((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST);
	case 4: return __atomic_exchange_n((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST);
	default: return __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_SEQ_CST);
	}
}

/* XCHG with memory is always locked. */
EMU_OP(op_xchg)
{
	unsigned sz = i->sz;
	uint64_t v = reg_rd(cpu, i->reg, sz), old;

	if (i->flags & I_MEM) {
		struct emu_rmw m;
		void *p = rmw_begin(cpu, &m, ea(cpu, i), sz);

		old = xchg_atomic(p, sz, v);
		rmw_end(cpu, &m);
	} else {
		old = reg_rd(cpu, i->rm, sz);
		reg_wr(cpu, i->rm, sz, v);
	}
	reg_wr(cpu, i->reg, sz, old);
	return emu_next(cpu, i);
}

EMU_OP(op_cmpxchg)
{
	unsigned sz = i->sz;
	uint64_t acc = reg_rd(cpu, 0, sz), src = reg_rd(cpu, i->reg, sz), cur;

	if (i->flags & I_MEM) {
		struct emu_rmw m;
		void *p = rmw_begin(cpu, &m, ea(cpu, i), sz);

		cur = acc;
		/* A failing CMPXCHG writes the old value back inside its locked
		 * cycle: invisible, so nothing is stored here. A plain store of
		 * it would undo another vCPU's store in between (a lost spinlock
		 * release). rmw_begin() already checked write access. */
		cas(p, sz, &cur, src);
		rmw_end(cpu, &m);
	} else {
		cur = reg_rd(cpu, i->rm, sz);
		if (cur == acc)
			reg_wr(cpu, i->rm, sz, src);
	}
	set_lf(cpu, LF_SUB, sz, (acc - cur) & sz_mask(sz), acc, cur);
	if (cur != acc)
		reg_wr(cpu, 0, sz, cur);
	return emu_next(cpu, i);
}

static bool cas16(void *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi)
{
	bool ok;

	/* the host instruction: the only way to a 16-byte atomic without libatomic */
	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(*lo), "+d"(*hi)
			 : "b"(nlo), "c"(nhi)
			 : "memory");
	return ok;
}

/* CMPXCHG8B (sz 8) and CMPXCHG16B (sz 16): only ZF changes. */
EMU_OP(op_cmpxchg16b)
{
	uint64_t va = ea(cpu, i);
	struct emu_rmw m;
	bool ok;

	if (i->sz == 16) {
		uint64_t lo = cpu->r[0], hi = cpu->r[2];
		void *p;

		if (va & 15)
			emu_raise_err(cpu, EMU_GP, 0);
		p = mem_wptr(cpu, va, 16);
		if (!p) {
			uint64_t cur[2];

			emu_mem_read_buf(cpu, va, cur, 16);
			ok = cur[0] == lo && cur[1] == hi;
			if (ok)
				emu_mem_write_buf(cpu, va, (uint64_t[2]){ cpu->r[3], cpu->r[1] }, 16);
			lo = cur[0];
			hi = cur[1];
		} else {
			ok = cas16(p, &lo, &hi, cpu->r[3], cpu->r[1]);
		}
		cpu->r[0] = lo;
		cpu->r[2] = hi;
	} else {
		uint64_t old = (uint32_t)cpu->r[0] | (cpu->r[2] << 32);
		void *p = rmw_begin(cpu, &m, va, 8);

		ok = cas(p, 8, &old, (uint32_t)cpu->r[3] | (cpu->r[1] << 32));
		rmw_end(cpu, &m);
		if (!ok) {
			cpu->r[0] = (uint32_t)old;
			cpu->r[2] = old >> 32;
		}
	}
	flags_set(cpu, EMU_ZF, ok ? EMU_ZF : 0);
	return emu_next(cpu, i);
}

EMU_OP(op_xadd)
{
	unsigned sz = i->sz;
	uint64_t src = reg_rd(cpu, i->reg, sz), m = sz_mask(sz), old;

	if (i->flags & I_MEM) {
		struct emu_rmw rm;
		void *p = rmw_begin(cpu, &rm, ea(cpu, i), sz);

		old = ld(p, sz);
		if (i->flags & I_LOCK) {
			while (!cas(p, sz, &old, (old + src) & m))
				;
		} else {
			st(p, sz, (old + src) & m);
		}
		rmw_end(cpu, &rm);
		reg_wr(cpu, i->reg, sz, old);
	} else {
		old = reg_rd(cpu, i->rm, sz);
		reg_wr(cpu, i->reg, sz, old);
		reg_wr(cpu, i->rm, sz, (old + src) & m);
	}
	set_lf(cpu, LF_ADD, sz, (old + src) & m, old, src);
	return emu_next(cpu, i);
}

EMU_OP(op_cbw)
{
	unsigned half = i->sz / 2;

	reg_wr(cpu, 0, i->sz, (uint64_t)sext(reg_rd(cpu, 0, half), half));
	return emu_next(cpu, i);
}

EMU_OP(op_cwd)
{
	uint64_t a = reg_rd(cpu, 0, i->sz);

	reg_wr(cpu, 2 * 8, i->sz, (a & sz_sign(i->sz)) ? ~0ull : 0);
	return emu_next(cpu, i);
}

EMU_OP(op_bswap)
{
	uint64_t v = reg_rd(cpu, i->rm, i->sz);

	if (i->sz == 8)
		v = __builtin_bswap64(v);
	else if (i->sz == 4)
		v = __builtin_bswap32((uint32_t)v);
	else
		v = 0; /* undefined for 16-bit; hardware gives 0 */
	reg_wr(cpu, i->rm, i->sz, v);
	return emu_next(cpu, i);
}

/* The source is read (and may fault) whatever the condition; a 32-bit
 * destination is zero-extended even when nothing moves. */
EMU_OP(op_cmovcc)
{
	uint64_t v = rm_rd(cpu, i, i->sz);

	if (emu_cond(cpu, i->op))
		reg_wr(cpu, i->reg, i->sz, v);
	else if (i->sz == 4)
		reg_wr(cpu, i->reg, 4, reg_rd(cpu, i->reg, 4));
	return emu_next(cpu, i);
}

EMU_OP(op_setcc)
{
	rm_wr(cpu, i, 1, emu_cond(cpu, i->op));
	return emu_next(cpu, i);
}

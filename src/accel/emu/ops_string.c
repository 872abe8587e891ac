/*
 * MOVS/STOS/LODS/SCAS/CMPS with REP/REPE/REPNE. A REP instruction runs in
 * chunks and re-executes itself (RIP unchanged) until done, so that a long
 * copy stays interruptible; forward MOVS/STOS within RAM pages go in bulk.
 */
#include "accel/emu/mem.h"
#include "accel/emu/ops.h"

#define REP_CHUNK 65536 /* elements per execution of a REP instruction */

enum { S_MOVS, S_STOS, S_LODS, S_SCAS, S_CMPS };

static inline uint64_t areg(const struct emu_cpu *cpu, const struct emu_insn *i, unsigned n)
{
	return (i->flags & I_A32) ? (uint32_t)cpu->r[n] : cpu->r[n];
}

static inline void aset(struct emu_cpu *cpu, const struct emu_insn *i, unsigned n, uint64_t v)
{
	cpu->r[n] = (i->flags & I_A32) ? (uint32_t)v : v;
}

static inline int64_t delta(const struct emu_cpu *cpu, unsigned sz)
{
	return (cpu->rflags & EMU_DF) ? -(int64_t)sz : (int64_t)sz;
}

/* One element; source DS:rSI takes segment overrides, destination ES:rDI not. */
static void one(struct emu_cpu *cpu, const struct emu_insn *i, unsigned kind)
{
	unsigned sz = i->sz;
	int64_t d = delta(cpu, sz);
	uint64_t si = areg(cpu, i, 6), di = areg(cpu, i, 7), a, b;

	switch (kind) {
	case S_MOVS:
		mem_wr(cpu, di, sz, mem_rd(cpu, si + cpu->segbase[i->seg], sz));
		aset(cpu, i, 6, si + d);
		aset(cpu, i, 7, di + d);
		break;
	case S_STOS:
		mem_wr(cpu, di, sz, reg_rd(cpu, 0, sz));
		aset(cpu, i, 7, di + d);
		break;
	case S_LODS:
		reg_wr(cpu, 0, sz, mem_rd(cpu, si + cpu->segbase[i->seg], sz));
		aset(cpu, i, 6, si + d);
		break;
	case S_SCAS:
		a = reg_rd(cpu, 0, sz);
		b = mem_rd(cpu, di, sz);
		set_lf(cpu, LF_SUB, sz, (a - b) & sz_mask(sz), a, b);
		aset(cpu, i, 7, di + d);
		break;
	default:
		a = mem_rd(cpu, si + cpu->segbase[i->seg], sz);
		b = mem_rd(cpu, di, sz);
		set_lf(cpu, LF_SUB, sz, (a - b) & sz_mask(sz), a, b);
		aset(cpu, i, 6, si + d);
		aset(cpu, i, 7, di + d);
		break;
	}
}

static unsigned page_left(uint64_t va)
{
	return (unsigned)(EMU_PAGE_SIZE - (va & ~EMU_PAGE_MASK));
}

/* Forward MOVS/STOS over plain RAM, up to a page at a time: elements done. */
static uint64_t bulk(struct emu_cpu *cpu, const struct emu_insn *i, unsigned kind, uint64_t n)
{
	unsigned sz = i->sz;
	uint64_t di = cpu->r[7], si = cpu->r[6] + cpu->segbase[i->seg];
	uint64_t bytes = n * sz, k;
	uint8_t *dst, *src = NULL;

	if (bytes > page_left(di))
		bytes = page_left(di);
	if (kind == S_MOVS && bytes > page_left(si))
		bytes = page_left(si);
	k = bytes / sz;
	if (!k || !(dst = emu_mem_ptr_slow(cpu, di, (unsigned)(k * sz), true)))
		return 0;
	if (kind == S_MOVS) {
		src = emu_mem_ptr_slow(cpu, si, (unsigned)(k * sz), false);
		/* element order matters when the destination overlaps just ahead */
		if (!src || (dst > src && dst < src + k * sz))
			return 0;
		memmove(dst, src, k * sz);
		cpu->r[6] += k * sz;
	} else if (sz == 1) {
		memset(dst, (int)cpu->r[0], k);
	} else {
		for (uint64_t e = 0; e < k; e++)
			st(dst + e * sz, sz, cpu->r[0]);
	}
	cpu->r[7] += k * sz;
	cpu->r[1] -= k;
	return k;
}

static int string_op(struct emu_cpu *cpu, const struct emu_insn *i, unsigned kind)
{
	bool cmp = kind == S_SCAS || kind == S_CMPS;
	uint64_t done = 0;

	if (!(i->flags & (I_REP | I_REPNE))) {
		one(cpu, i, kind);
		return emu_next(cpu, i);
	}
	while (done < REP_CHUNK) {
		uint64_t c = areg(cpu, i, 1);

		if (!c)
			goto finished;
		if ((kind == S_MOVS || kind == S_STOS) && !(i->flags & I_A32) &&
		    !(cpu->rflags & EMU_DF) && c > 1) {
			uint64_t k = bulk(cpu, i, kind, c);

			if (k) {
				done += k;
				continue;
			}
		}
		one(cpu, i, kind);
		aset(cpu, i, 1, c - 1);
		done++;
		if (cmp && emu_cond(cpu, 4) != !(i->flags & I_REPNE))
			goto finished;
	}
	return 1; /* not finished: run again */
finished:
	RIP += i->len;
	return 1;
}

EMU_OP(op_movs) { return string_op(cpu, i, S_MOVS); }
EMU_OP(op_stos) { return string_op(cpu, i, S_STOS); }
EMU_OP(op_lods) { return string_op(cpu, i, S_LODS); }
EMU_OP(op_scas) { return string_op(cpu, i, S_SCAS); }
EMU_OP(op_cmps) { return string_op(cpu, i, S_CMPS); }

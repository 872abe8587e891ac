/*
 * Port I/O: IN/OUT (imm8 or DX) and INS/OUTS with REP, through the
 * emu_mem.pio hook. At CPL > IOPL the TSS's I/O permission bitmap decides
 * (Linux's ioperm() and iopl() grant ports through it); a port it does not
 * grant raises #GP(0).
 */
#include "accel/emu/system.h"
#include "accel/emu/ops_system.h"

#define REP_CHUNK 4096 /* elements per run: a REP stays interruptible */

/* Every bit of the access's ports must be clear in the bitmap, and both
 * bytes read for it within the TSS limit. */
static void io_check(struct emu_cpu *cpu, uint16_t port, unsigned sz)
{
	const struct emu_seg *tr = &cpu->sys.tr;
	uint16_t base, bits;
	uint32_t at;

	if (cpu->sys.cpl <= iopl(cpu))
		return;
	if (!cpu->sys.on || tr->limit < 0x67)
		emu_raise_err(cpu, EMU_GP, 0);
	emu_sys_read(cpu, tr->base + 0x66, &base, sizeof(base));
	at = (uint32_t)base + port / 8u;
	if (at + 1 > tr->limit)
		emu_raise_err(cpu, EMU_GP, 0);
	emu_sys_read(cpu, tr->base + at, &bits, sizeof(bits));
	if ((bits >> (port & 7u)) & ((1u << sz) - 1))
		emu_raise_err(cpu, EMU_GP, 0);
}

static uint32_t port_in(struct emu_cpu *cpu, uint16_t port, unsigned sz)
{
	const struct emu_mem *m = cpu->mem;
	uint32_t v = ~0u;

	if (m->pio)
		m->pio(m->opaque, port, &v, sz, false);
	return v & (uint32_t)sz_mask(sz);
}

static void port_out(struct emu_cpu *cpu, uint16_t port, unsigned sz, uint32_t v)
{
	const struct emu_mem *m = cpu->mem;

	if (m->pio)
		m->pio(m->opaque, port, &v, sz, true);
}

static uint16_t port_of(const struct emu_cpu *cpu, const struct emu_insn *i)
{
	return (i->op & 2) ? (uint16_t)cpu->r[2] : (uint16_t)i->imm;
}

EMU_OP(op_in)
{
	io_check(cpu, port_of(cpu, i), i->sz);
	reg_wr(cpu, 0, i->sz, port_in(cpu, port_of(cpu, i), i->sz));
	return emu_next(cpu, i);
}

EMU_OP(op_out)
{
	io_check(cpu, port_of(cpu, i), i->sz);
	port_out(cpu, port_of(cpu, i), i->sz, (uint32_t)reg_rd(cpu, 0, i->sz));
	return emu_next(cpu, i);
}

static uint64_t areg(const struct emu_cpu *cpu, const struct emu_insn *i, unsigned n)
{
	if (i->flags & I_A16)
		return (uint16_t)cpu->r[n];
	return (i->flags & I_A32) ? (uint32_t)cpu->r[n] : cpu->r[n];
}

/* 16-bit addressing updates only the low word (SI, DI, CX). */
static void aset(struct emu_cpu *cpu, const struct emu_insn *i, unsigned n, uint64_t v)
{
	if (i->flags & I_A16)
		cpu->r[n] = (cpu->r[n] & ~0xffffull) | (uint16_t)v;
	else
		cpu->r[n] = (i->flags & I_A32) ? (uint32_t)v : v;
}

/* INS always stores through ES, which has no base in 64-bit mode. */
static uint64_t es_base(const struct emu_cpu *cpu)
{
	return cpu->mode == EMU_MODE_64 ? 0 : cpu->segbase[EMU_SB_ES];
}

/* One element: the memory side first, so a fault leaves the port untouched
 * for OUTS; INS reads the port only once the store cannot fault. */
static void ins_one(struct emu_cpu *cpu, const struct emu_insn *i)
{
	uint64_t di = areg(cpu, i, 7);
	uint64_t la = di + es_base(cpu);
	int64_t d = (cpu->rflags & EMU_DF) ? -(int64_t)i->sz : i->sz;
	void *p = mem_wptr(cpu, la, i->sz);
	uint32_t v;

	if (!p) { /* MMIO or crossing: probe with a read, then store */
		mem_rd(cpu, la, i->sz);
		v = port_in(cpu, (uint16_t)cpu->r[2], i->sz);
		mem_wr(cpu, la, i->sz, v);
	} else {
		st(p, i->sz, port_in(cpu, (uint16_t)cpu->r[2], i->sz));
	}
	aset(cpu, i, 7, di + d);
}

static void outs_one(struct emu_cpu *cpu, const struct emu_insn *i)
{
	uint64_t si = areg(cpu, i, 6);
	int64_t d = (cpu->rflags & EMU_DF) ? -(int64_t)i->sz : i->sz;
	uint32_t v = (uint32_t)mem_rd(cpu, si + cpu->segbase[i->seg], i->sz);

	port_out(cpu, (uint16_t)cpu->r[2], i->sz, v);
	aset(cpu, i, 6, si + d);
}

static int string_io(struct emu_cpu *cpu, const struct emu_insn *i, bool out)
{
	io_check(cpu, (uint16_t)cpu->r[2], i->sz);
	flags_get(cpu);
	if (!(i->flags & I_REP)) {
		if (out)
			outs_one(cpu, i);
		else
			ins_one(cpu, i);
		return emu_next(cpu, i);
	}
	for (unsigned n = 0; n < REP_CHUNK; n++) {
		uint64_t c = areg(cpu, i, 1);

		if (!c) {
			RIP += i->len;
			return 1;
		}
		if (out)
			outs_one(cpu, i);
		else
			ins_one(cpu, i);
		aset(cpu, i, 1, c - 1);
	}
	return 1; /* not finished: run again */
}

EMU_OP(op_ins) { return string_io(cpu, i, false); }
EMU_OP(op_outs) { return string_io(cpu, i, true); }

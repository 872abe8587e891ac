/*
 * x87 FPU instructions. Each one runs on the host FPU (x87_host.S) with the
 * guest's state loaded from a FNSAVE image and stored back from it: results,
 * the status word (condition codes, exception flags, stack faults, TOP) and
 * the tag word are then exactly what the hardware produces, under the
 * guest's precision and rounding control. What stays here is the guest side:
 * memory operands, the pending-exception (#MF) check, RFLAGS for FCMOVcc and
 * FCOMI, and the last-instruction pointers (FIP/FDP/FOP) the host cannot see.
 */
#include <stddef.h>

#include "accel/emu/mem.h"
#include "accel/emu/ops.h"
#include "accel/emu/x87.h"

/* FNSAVE/FRSTOR image, 32-bit protected-mode format (108 bytes). */
struct x87_img {
	uint16_t fcw, pad0, fsw, pad1, ftw, pad2;
	uint32_t fip, fcs_fop, fdp, fds;
	uint8_t st[8][10];
};

_Static_assert(sizeof(struct x87_img) == 108, "FNSAVE image is 108 bytes");

static unsigned top_of(uint16_t fsw)
{
	return (fsw >> 11) & 7;
}

/* Guest state -> image. Only empty/non-empty of the tags matters to FRSTOR;
 * FNSAVE recomputes the full tags from the register contents. */
static void to_img(const struct emu_cpu *cpu, struct x87_img *m)
{
	unsigned top = top_of(cpu->fsw);
	uint16_t tw = 0;

	memset(m, 0, offsetof(struct x87_img, st));
	m->fcw = cpu->fcw;
	m->fsw = cpu->fsw;
	for (unsigned k = 0; k < 8; k++) {
		const struct emu_fpreg *r = &cpu->fpr[(top + k) & 7];

		if (!(cpu->ftw & (1u << k)))
			tw |= (uint16_t)(3u << (2 * k));
		memcpy(m->st[k], &r->mant, 8);
		memcpy(m->st[k] + 8, &r->sexp, 2);
	}
	m->ftw = tw;
}

static void from_img(struct emu_cpu *cpu, const struct x87_img *m)
{
	unsigned top = top_of(m->fsw);
	uint8_t ftw = 0;

	cpu->fcw = m->fcw;
	cpu->fsw = m->fsw;
	for (unsigned k = 0; k < 8; k++) {
		struct emu_fpreg *r = &cpu->fpr[(top + k) & 7];

		if (((m->ftw >> (2 * k)) & 3) != 3)
			ftw |= (uint8_t)(1u << k);
		memcpy(&r->mant, m->st[k], 8);
		memcpy(&r->sexp, m->st[k] + 8, 2);
	}
	cpu->ftw = ftw;
}

/* RFLAGS for the stub: the guest's arithmetic flags, IF, nothing else. */
static uint64_t host_flags(struct emu_cpu *cpu, const struct emu_insn *i)
{
	if (i->op & X87_EFL)
		return (flags_get(cpu) & EMU_ARITH) | 0x202;
	return 0x202;
}

static void set_pointers(struct emu_cpu *cpu, const struct emu_insn *i, uint64_t off)
{
	cpu->fip = RIP;
	cpu->fop = (uint16_t)(i->rm << 8 | i->reg);
	if (i->flags & I_MEM)
		cpu->fdp = off;
}

EMU_OP(op_x87_reg)
{
	struct x87_img m;
	uint64_t fl;

	if (!(i->op & X87_NOWAIT))
		x87_wait(cpu);
	to_img(cpu, &m);
	fl = emu_x87_host(&m, (const void *)(uintptr_t)i->imm, NULL, host_flags(cpu, i));
	from_img(cpu, &m);
	if (i->op & X87_EFL)
		flags_set(cpu, EMU_ARITH, fl);
	if (i->op & X87_INIT)
		cpu->fip = cpu->fdp = cpu->fop = 0;
	else if (!(i->op & X87_CTRL))
		set_pointers(cpu, i, 0);
	return emu_next(cpu, i);
}

/* The guest's pointers in a stored environment (the host wrote its own). */
static void env_store_pointers(const struct emu_cpu *cpu, const struct emu_insn *i, uint8_t *b)
{
	if (i->op & X87_O16) {
		st(b + 6, 2, cpu->fip);
		st(b + 8, 2, 0);
		st(b + 10, 2, cpu->fdp);
		st(b + 12, 2, 0);
		return;
	}
	st(b + 12, 4, cpu->fip);
	st(b + 16, 4, (uint32_t)(cpu->fop & 0x7ff) << 16);
	st(b + 20, 4, cpu->fdp);
	st(b + 24, 2, 0);
}

static void env_load_pointers(struct emu_cpu *cpu, const struct emu_insn *i, const uint8_t *b)
{
	if (i->op & X87_O16) {
		cpu->fip = ld(b + 6, 2);
		cpu->fdp = ld(b + 10, 2);
		cpu->fop = 0;
		return;
	}
	cpu->fip = ld(b + 12, 4);
	cpu->fop = (uint16_t)((ld(b + 16, 4) >> 16) & 0x7ff);
	cpu->fdp = ld(b + 20, 4);
}

/*
 * A store is suppressed when the instruction raised an unmasked invalid,
 * denormal, divide, overflow or underflow exception (precision still
 * stores). None was pending before: x87_wait() let the instruction run.
 */
static bool store_done(const struct emu_insn *i, const struct x87_img *m)
{
	return (i->op & X87_NOWAIT) || !(m->fsw & ~m->fcw & 0x1f);
}

EMU_OP(op_x87_mem)
{
	uint8_t buf[112] __attribute__((aligned(16)));
	uint64_t va = ea(cpu, i), off = va - cpu->segbase[i->seg];
	struct x87_img m;

	if (!(i->op & X87_NOWAIT))
		x87_wait(cpu);
	if ((i->op & X87_LD) && i->sz <= 8) /* the TLB fast path */
		st(buf, i->sz, mem_rd(cpu, va, i->sz));
	else if (i->op & X87_LD)
		emu_mem_read_buf(cpu, va, buf, i->sz);
	to_img(cpu, &m);
	emu_x87_host(&m, (const void *)(uintptr_t)i->imm, buf, 0x202);
	if ((i->op & X87_ST) && store_done(i, &m)) {
		if (i->op & X87_ENV)
			env_store_pointers(cpu, i, buf);
		if (i->sz <= 8)
			mem_wr(cpu, va, i->sz, ld(buf, i->sz));
		else
			emu_mem_write_buf(cpu, va, buf, i->sz);
	}
	/* Commit only now: a faulting store leaves the FPU as it was. */
	from_img(cpu, &m);
	if ((i->op & (X87_ENV | X87_LD)) == (X87_ENV | X87_LD))
		env_load_pointers(cpu, i, buf);
	else if (!(i->op & X87_CTRL))
		set_pointers(cpu, i, off);
	return emu_next(cpu, i);
}

EMU_OP(op_fnstsw_ax)
{
	reg_wr(cpu, 0, 2, cpu->fsw);
	return emu_next(cpu, i);
}

EMU_OP(op_fnstsw_m)
{
	mem_wr(cpu, ea(cpu, i), 2, cpu->fsw);
	return emu_next(cpu, i);
}

EMU_OP(op_fnstcw)
{
	mem_wr(cpu, ea(cpu, i), 2, cpu->fcw);
	return emu_next(cpu, i);
}

EMU_OP(op_fwait)
{
	x87_wait(cpu);
	return emu_next(cpu, i);
}

/* ---- FXSAVE/FXRSTOR images ---- */

void emu_x87_fxsave(const struct emu_cpu *cpu, uint8_t *img, bool rexw)
{
	unsigned top = top_of(cpu->fsw);
	bool ptrs = cpu->fsw & X87_FSW_ES;

	st(img + 0, 2, cpu->fcw);
	st(img + 2, 2, cpu->fsw);
	img[4] = cpu->ftw;
	img[5] = 0;
	st(img + 6, 2, ptrs ? cpu->fop & 0x7ff : 0);
	st(img + 8, 8, !ptrs ? 0 : rexw ? cpu->fip : (uint32_t)cpu->fip);
	st(img + 16, 8, !ptrs ? 0 : rexw ? cpu->fdp : (uint32_t)cpu->fdp);
	for (unsigned k = 0; k < 8; k++) {
		const struct emu_fpreg *r = &cpu->fpr[(top + k) & 7];
		uint8_t *p = img + 32 + 16 * k;

		st(p, 8, r->mant);
		st(p + 8, 2, r->sexp);
		memset(p + 10, 0, 6);
	}
}

void emu_x87_fxrstor(struct emu_cpu *cpu, const uint8_t *img, bool rexw)
{
	unsigned top;

	cpu->fcw = (uint16_t)ld(img, 2);
	cpu->fsw = (uint16_t)ld(img + 2, 2);
	cpu->ftw = img[4];
	cpu->fop = (uint16_t)(ld(img + 6, 2) & 0x7ff);
	cpu->fip = rexw ? ld(img + 8, 8) : ld(img + 8, 4);
	cpu->fdp = rexw ? ld(img + 16, 8) : ld(img + 16, 4);
	top = top_of(cpu->fsw);
	for (unsigned k = 0; k < 8; k++) {
		struct emu_fpreg *r = &cpu->fpr[(top + k) & 7];
		const uint8_t *p = img + 32 + 16 * k;

		r->mant = ld(p, 8);
		r->sexp = (uint16_t)ld(p + 8, 2);
	}
}

/*
 * Segments in long mode: descriptor reads from the GDT/LDT (implicit
 * supervisor accesses), MOV/POP to segment registers, and the far returns
 * (RETF, IRETQ) with their privilege transitions. Only 64-bit code segments
 * are accepted as CS targets: compatibility mode is not modelled.
 */
#include "accel/emu/ops_system.h"
#include "accel/emu/system.h"

#define D_S (1ull << 44)
#define D_CODE (1ull << 43)
#define D_CONF (1ull << 42)
#define D_RW (1ull << 41)
#define D_P (1ull << 47)
#define D_L (1ull << 53)

static unsigned d_dpl(uint64_t d)
{
	return (d >> 45) & 3;
}

uint64_t emu_desc_read(struct emu_cpu *cpu, uint16_t sel)
{
	const struct emu_dtr *t = &cpu->gdtr;
	struct emu_dtr ldt;
	uint64_t d;

	if (sel & 4) {
		ldt = (struct emu_dtr){ cpu->sys.ldtr.base, (uint16_t)cpu->sys.ldtr.limit };
		if (!(cpu->sys.ldtr.attr & EMU_SEG_P))
			emu_raise_err(cpu, EMU_GP, sel & 0xfffc);
		t = &ldt;
	}
	if ((uint32_t)(sel | 7) > t->limit)
		emu_raise_err(cpu, EMU_GP, sel & 0xfffc);
	emu_sys_read(cpu, t->base + (sel & ~7u), &d, 8);
	return d;
}

void emu_desc_to_seg(uint64_t d, uint16_t sel, struct emu_seg *s)
{
	s->sel = sel;
	s->attr = (uint16_t)((d >> 40) & 0xf0ff);
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	if (s->attr & EMU_SEG_G)
		s->limit = (s->limit << 12) | 0xfff;
}

/* SS after a privilege change in 64-bit mode: a null selector with RPL = CPL. */
void emu_set_ss_null(struct emu_cpu *cpu, unsigned cpl)
{
	struct emu_seg ss = { .sel = (uint16_t)cpl, .attr = (uint16_t)(0x93 | cpl << 5) };

	ss.attr &= (uint16_t)~EMU_SEG_P; /* unusable, but SS.DPL still says CPL */
	emu_seg_set(cpu, EMU_SEG_SS, &ss);
}

/*
 * MOV/POP Sreg (not CS): SDM "MOV" protected-mode checks. A null selector
 * is fine for DS/ES/FS/GS (and for SS at CPL < 3 with RPL = CPL). Loading
 * FS/GS replaces the 64-bit base with the descriptor's (a null one clears
 * it, as on Intel and current AMD parts).
 */
void emu_load_data_seg(struct emu_cpu *cpu, unsigned sreg, uint16_t sel)
{
	unsigned cpl = cpu->sys.cpl, rpl = sel & 3;
	uint32_t err = sel & 0xfffc;
	struct emu_seg s = { .sel = sel };
	uint64_t d;

	if (!(sel & 0xfffc)) {
		if (sreg == EMU_SEG_SS && (cpl == 3 || rpl != cpl))
			emu_raise_err(cpu, EMU_GP, 0);
		if (sreg == EMU_SEG_SS)
			s.attr = (uint16_t)(cpl << 5);
		emu_seg_set(cpu, sreg, &s);
		return;
	}
	d = emu_desc_read(cpu, sel);
	if (!(d & D_S))
		emu_raise_err(cpu, EMU_GP, err);
	if (sreg == EMU_SEG_SS) {
		if (rpl != cpl || d_dpl(d) != cpl || (d & D_CODE) || !(d & D_RW))
			emu_raise_err(cpu, EMU_GP, err);
		if (!(d & D_P))
			emu_raise_err(cpu, EMU_SS, err);
	} else {
		if ((d & D_CODE) && !(d & D_RW))
			emu_raise_err(cpu, EMU_GP, err);
		if ((!(d & D_CODE) || !(d & D_CONF)) && (rpl > d_dpl(d) || cpl > d_dpl(d)))
			emu_raise_err(cpu, EMU_GP, err);
		if (!(d & D_P))
			emu_raise_err(cpu, EMU_NP, err);
	}
	emu_desc_to_seg(d, sel, &s);
	emu_seg_set(cpu, sreg, &s);
}

/* CS for a return to privilege new_cpl (= RPL of sel): checks, then load. */
void emu_load_code_seg(struct emu_cpu *cpu, uint16_t sel, unsigned new_cpl, bool check)
{
	uint32_t err = sel & 0xfffc;
	struct emu_seg s;
	uint64_t d;

	if (!(sel & 0xfffc))
		emu_raise_err(cpu, EMU_GP, 0);
	d = emu_desc_read(cpu, sel);
	if (check) {
		if (!(d & D_S) || !(d & D_CODE) || !(d & D_L))
			emu_raise_err(cpu, EMU_GP, err);
		if ((d & D_CONF) ? d_dpl(d) > new_cpl : d_dpl(d) != new_cpl)
			emu_raise_err(cpu, EMU_GP, err);
		if (!(d & D_P))
			emu_raise_err(cpu, EMU_NP, err);
	}
	emu_desc_to_seg(d, sel, &s);
	emu_seg_set(cpu, EMU_SEG_CS, &s);
	emu_set_cpl(cpu, new_cpl);
}

/* After a return to an outer level: data segments the new CPL may not use
 * become null (SDM "IRET", "RET"). */
static void null_inaccessible(struct emu_cpu *cpu)
{
	static const unsigned regs[] = { EMU_SEG_ES, EMU_SEG_DS, EMU_SEG_FS, EMU_SEG_GS };

	for (unsigned k = 0; k < 4; k++) {
		struct emu_seg *s = &cpu->seg[regs[k]];
		bool conf_code = (s->attr & 0x0c) == 0x0c;
		unsigned dpl = (s->attr >> 5) & 3;

		if ((s->sel & 0xfffc) && (s->attr & 0x10) && !conf_code && dpl < cpu->sys.cpl) {
			struct emu_seg z = { .base = s->base }; /* 64-bit FS/GS keep their base */

			emu_seg_set(cpu, regs[k], &z);
		}
	}
}

/* Pops sz bytes at RSP + off without moving RSP (all checks before commit). */
static uint64_t peek(struct emu_cpu *cpu, unsigned off, unsigned sz)
{
	return mem_rd(cpu, RSP + off, sz);
}

/*
 * The common end of IRET and RETF: CS:RIP and, to an outer level, SS:RSP.
 * sel's RPL is the new CPL; it may not be more privileged than now.
 */
static void far_return(struct emu_cpu *cpu, uint16_t cs, uint64_t rip, bool outer,
		       uint16_t ss, uint64_t rsp)
{
	unsigned rpl = cs & 3;

	if (rpl < cpu->sys.cpl)
		emu_raise_err(cpu, EMU_GP, cs & 0xfffc);
	if (outer && !(ss & 0xfffc) && rpl == 3)
		emu_raise_err(cpu, EMU_GP, 0);
	emu_load_code_seg(cpu, cs, rpl, true);
	if (outer) {
		if (ss & 0xfffc)
			emu_load_data_seg(cpu, EMU_SEG_SS, ss);
		else
			emu_set_ss_null(cpu, rpl);
		RSP = rsp;
		null_inaccessible(cpu);
	}
	RIP = rip;
}

/* RETF [imm16]: osz 8 (REX.W) or 4. */
EMU_OP(op_retf)
{
	unsigned sz = i->sz;
	uint64_t rip = peek(cpu, 0, sz);
	uint16_t cs = (uint16_t)peek(cpu, sz, sz);
	bool outer = (cs & 3) > cpu->sys.cpl;
	uint64_t rsp = 0;
	uint16_t ss = 0;

	if (outer) {
		rsp = peek(cpu, 2 * sz + (unsigned)i->imm, sz);
		ss = (uint16_t)peek(cpu, 3 * sz + (unsigned)i->imm, sz);
	}
	far_return(cpu, cs, rip, outer, ss, rsp);
	if (!outer)
		RSP += 2 * sz + i->imm;
	else
		RSP += i->imm;
	return 1;
}

/* RFLAGS from IRET: IOPL only at CPL 0, IF only at CPL <= IOPL. */
static void iret_flags(struct emu_cpu *cpu, uint64_t v, unsigned sz, unsigned old_cpl)
{
	uint64_t mask = EMU_ARITH | EMU_TF | EMU_DF | EMU_NT | EMU_RF | EMU_AC | EMU_ID |
			EMU_IF | EMU_IOPL;

	flags_get(cpu);
	if (old_cpl > 0)
		mask &= ~EMU_IOPL;
	if (old_cpl > iopl(cpu))
		mask &= ~(uint64_t)EMU_IF;
	if (sz == 4)
		mask &= 0xffffffffull;
	cpu->rflags = ((cpu->rflags & ~mask) | (v & mask) | 2) & ~EMU_VM;
}

/* IRETQ (and IRETD) in 64-bit mode: always pops SS:RSP. Unblocks NMIs. */
EMU_OP(op_iret)
{
	unsigned sz = i->sz, cpl = cpu->sys.cpl;
	uint64_t rip = peek(cpu, 0, sz), fl = peek(cpu, 2 * sz, sz);
	uint16_t cs = (uint16_t)peek(cpu, sz, sz);
	uint64_t rsp = peek(cpu, 3 * sz, sz);
	uint16_t ss = (uint16_t)peek(cpu, 4 * sz, sz);

	if (cpu->rflags & EMU_NT)
		emu_raise_err(cpu, EMU_GP, 0); /* task return: no tasks in long mode */
	if ((cs & 3) == cpl) {
		/* same level: CS and SS reloaded, SS may be null at CPL < 3 */
		emu_load_code_seg(cpu, cs, cpl, true);
		if (ss & 0xfffc)
			emu_load_data_seg(cpu, EMU_SEG_SS, ss);
		else if (cpl == 3)
			emu_raise_err(cpu, EMU_GP, 0);
		else
			emu_set_ss_null(cpu, cpl);
		RSP = rsp;
		RIP = rip;
	} else {
		far_return(cpu, cs, rip, true, ss, rsp);
	}
	iret_flags(cpu, fl, sz, cpl);
	cpu->sys.nmi_blocked = false;
	if (cpu->sys.nmi_pending && cpu->sys.on) {
		cpu->sys.nmi_pending = false;
		cpu->exc = (__typeof__(cpu->exc)){ .vector = EMU_NMI_VEC, .kind = EMU_EV_NMI };
		emu_exit_now(cpu, EMU_EXIT_EXCEPTION);
	}
	return 1;
}

/* MOV Sreg, r/m16 (not CS); a load of SS would open an interrupt shadow
 * (not modelled: Linux does not depend on it in 64-bit mode). */
EMU_OP(op_mov_sreg)
{
	emu_load_data_seg(cpu, i->op, (uint16_t)rm_rd(cpu, i, 2));
	return emu_next(cpu, i);
}

/* MOV r/m, Sreg: a 16-bit store to memory, zero-extended into a register. */
EMU_OP(op_mov_from_sreg)
{
	uint16_t sel = cpu->seg[i->op].sel;

	if (i->flags & I_MEM)
		mem_wr(cpu, ea(cpu, i), 2, sel);
	else
		reg_wr(cpu, i->rm, i->sz == 8 ? 8 : 4, sel);
	return emu_next(cpu, i);
}

/* PUSH FS/GS (0F A0/A8) and POP FS/GS (0F A1/A9): 64 or 16 bits. */
EMU_OP(op_push_sreg)
{
	push(cpu, i->sz, cpu->seg[i->op].sel);
	return emu_next(cpu, i);
}

EMU_OP(op_pop_sreg)
{
	uint64_t v = mem_rd(cpu, RSP, i->sz);

	emu_load_data_seg(cpu, i->op, (uint16_t)v);
	RSP += i->sz;
	return emu_next(cpu, i);
}

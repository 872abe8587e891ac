/*
 * System instructions in 64-bit mode: control and debug registers,
 * descriptor-table registers, LTR/LLDT, SWAPGS, SYSCALL/SYSRET, CLI/STI
 * with the STI interrupt shadow, INT n, INVLPG, cache control. Privileged
 * forms raise #GP(0) at CPL > 0. Facts from the Intel SDM vol. 2 and the
 * AMD APM vols. 2-3.
 */
#include "accel/emu/icache.h"
#include "accel/emu/ops_system.h"
#include "accel/emu/system.h"

#define CR0_FIXED (CR0_ET)
#define CR0_VALID (EMU_CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | \
		   CR0_AM | CR0_NW | CR0_CD | EMU_CR0_PG)
#define CR4_VALID 0x7ffull /* VME..OSXMMEXCPT: nothing beyond what CPUID offers */

static void set_cr0(struct emu_cpu *cpu, uint64_t v)
{
	uint64_t old = cpu->cr0;

	v |= CR0_FIXED;
	if ((v & ~CR0_VALID) || ((v & EMU_CR0_PG) && !(v & EMU_CR0_PE)) ||
	    ((v & CR0_NW) && !(v & CR0_CD)) || !(v & EMU_CR0_PG))
		emu_raise_err(cpu, EMU_GP, 0); /* leaving long mode is not modelled */
	cpu->cr0 = v;
	if ((old ^ v) & (EMU_CR0_PG | CR0_WP | EMU_CR0_PE))
		emu_tlb_flush(cpu);
	emu_fpu_trap_update(cpu);
}

static void set_cr4(struct emu_cpu *cpu, uint64_t v)
{
	uint64_t old = cpu->cr4;

	if ((v & ~CR4_VALID) || !(v & EMU_CR4_PAE))
		emu_raise_err(cpu, EMU_GP, 0);
	cpu->cr4 = v;
	if ((old ^ v) & (CR4_PGE | EMU_CR4_PAE | CR4_PSE))
		emu_tlb_flush(cpu); /* global entries too */
	emu_fpu_trap_update(cpu);
}

static void set_cr(struct emu_cpu *cpu, unsigned n, uint64_t v)
{
	const struct emu_mem *m = cpu->mem;

	switch (n) {
	case 0: set_cr0(cpu, v); break;
	case 2: cpu->sys.cr2 = v; break;
	case 3:
		if (v >> 52) /* MBZ above MAXPHYADDR (no PCID) */
			emu_raise_err(cpu, EMU_GP, 0);
		cpu->cr3 = v;
		emu_tlb_flush_nonglobal(cpu);
		break;
	case 4: set_cr4(cpu, v); break;
	default: /* 8: the LAPIC's TPR */
		if (v >> 4)
			emu_raise_err(cpu, EMU_GP, 0);
		if (m->set_cr8)
			m->set_cr8(m->opaque, v);
		cpu->sys.cr8 = v;
		break;
	}
}

static uint64_t get_cr(struct emu_cpu *cpu, unsigned n)
{
	const struct emu_mem *m = cpu->mem;

	switch (n) {
	case 0: return cpu->cr0;
	case 2: return cpu->sys.cr2;
	case 3: return cpu->cr3;
	case 4: return cpu->cr4;
	default: return m->get_cr8 ? m->get_cr8(m->opaque) : cpu->sys.cr8;
	}
}

static void check_cr(struct emu_cpu *cpu, unsigned n)
{
	if (n == 1 || (n > 4 && n != 8))
		emu_raise(cpu, EMU_UD);
	need_cpl0(cpu);
}

EMU_OP(op_mov_from_cr)
{
	check_cr(cpu, i->op);
	reg_wr(cpu, i->rm, 8, get_cr(cpu, i->op));
	return emu_next(cpu, i);
}

/* Ends the block: paging and FPU checks apply from the next instruction. */
EMU_OP(op_mov_to_cr)
{
	check_cr(cpu, i->op);
	set_cr(cpu, i->op, reg_rd(cpu, i->rm, 8));
	RIP += i->len;
	return 1;
}

/* DR4/DR5 alias DR6/DR7 unless CR4.DE. Values are kept; no debug traps. */
static unsigned dr_index(struct emu_cpu *cpu, unsigned n)
{
	if (n > 7 || ((n == 4 || n == 5) && (cpu->cr4 & CR4_DE)))
		emu_raise(cpu, EMU_UD);
	need_cpl0(cpu);
	return n == 4 || n == 5 ? n + 2 : n;
}

EMU_OP(op_mov_from_dr)
{
	unsigned n = dr_index(cpu, i->op);
	uint64_t v = cpu->sys.dr[n];

	if (n == 6)
		v |= 0xffff0ff0;
	else if (n == 7)
		v |= 0x400;
	reg_wr(cpu, i->rm, 8, v);
	return emu_next(cpu, i);
}

EMU_OP(op_mov_to_dr)
{
	unsigned n = dr_index(cpu, i->op);
	uint64_t v = reg_rd(cpu, i->rm, 8);

	if (n >= 6 && (v >> 32))
		emu_raise_err(cpu, EMU_GP, 0);
	cpu->sys.dr[n] = v;
	RIP += i->len;
	return 1;
}

/* ---- descriptor-table registers ---- */

static void store_dtr(struct emu_cpu *cpu, const struct emu_insn *i, const struct emu_dtr *t)
{
	uint8_t b[10];

	memcpy(b, &t->limit, 2);
	memcpy(b + 2, &t->base, 8);
	emu_mem_write_buf(cpu, ea(cpu, i), b, 10);
}

static void load_dtr(struct emu_cpu *cpu, const struct emu_insn *i, struct emu_dtr *t)
{
	uint8_t b[10];

	need_cpl0(cpu);
	emu_mem_read_buf(cpu, ea(cpu, i), b, 10);
	memcpy(&t->limit, b, 2);
	memcpy(&t->base, b + 2, 8);
}

EMU_OP(op_sgdt) { store_dtr(cpu, i, &cpu->gdtr); return emu_next(cpu, i); }
EMU_OP(op_sidt) { store_dtr(cpu, i, &cpu->idtr); return emu_next(cpu, i); }
EMU_OP(op_lgdt) { load_dtr(cpu, i, &cpu->gdtr); RIP += i->len; return 1; }
EMU_OP(op_lidt) { load_dtr(cpu, i, &cpu->idtr); RIP += i->len; return 1; }

/* SLDT/STR/SMSW: 16 bits to memory, zero-extended to a register. */
static void store_word(struct emu_cpu *cpu, const struct emu_insn *i, uint64_t v)
{
	if (i->flags & I_MEM)
		mem_wr(cpu, ea(cpu, i), 2, v & 0xffff);
	else
		reg_wr(cpu, i->rm, i->sz, i->sz == 2 ? v & 0xffff : v);
}

EMU_OP(op_sldt) { store_word(cpu, i, cpu->sys.ldtr.sel); return emu_next(cpu, i); }
EMU_OP(op_str) { store_word(cpu, i, cpu->sys.tr.sel); return emu_next(cpu, i); }
EMU_OP(op_smsw) { store_word(cpu, i, (i->flags & I_MEM) ? cpu->cr0 & 0xffff : cpu->cr0); return emu_next(cpu, i); }

/* A 16-byte system descriptor of the GDT (LDT type 2, TSS type 9/11). */
static void sys_desc(struct emu_cpu *cpu, uint16_t sel, unsigned type, struct emu_seg *s,
		     uint64_t *lo)
{
	uint32_t err = sel & 0xfffc;
	uint64_t d[2];

	if ((sel & 4) || (uint32_t)(sel | 7) + 8 > cpu->gdtr.limit)
		emu_raise_err(cpu, EMU_GP, err);
	emu_sys_read(cpu, cpu->gdtr.base + (sel & ~7u), d, 16);
	if (((d[0] >> 40) & 0x1f) != type)
		emu_raise_err(cpu, EMU_GP, err);
	if (!((d[0] >> 47) & 1))
		emu_raise_err(cpu, EMU_NP, err);
	emu_desc_to_seg(d[0], sel, s);
	s->base |= d[1] << 32;
	*lo = d[0];
}

EMU_OP(op_lldt)
{
	uint16_t sel = (uint16_t)rm_rd(cpu, i, 2);
	struct emu_seg s = { .sel = sel };
	uint64_t lo;

	need_cpl0(cpu);
	if (sel & 0xfffc)
		sys_desc(cpu, sel, 2, &s, &lo);
	cpu->sys.ldtr = s;
	RIP += i->len;
	return 1;
}

/* LTR marks the descriptor busy in the GDT. */
EMU_OP(op_ltr)
{
	uint16_t sel = (uint16_t)rm_rd(cpu, i, 2);
	struct emu_seg s;
	uint64_t lo;

	need_cpl0(cpu);
	if (!(sel & 0xfffc))
		emu_raise_err(cpu, EMU_GP, 0);
	sys_desc(cpu, sel, 9, &s, &lo);
	lo |= 2ull << 40;
	emu_sys_write(cpu, cpu->gdtr.base + (sel & ~7u), &lo, 8);
	s.attr |= 2;
	cpu->sys.tr = s;
	RIP += i->len;
	return 1;
}

/* LMSW: PE, MP, EM, TS; PE cannot be cleared. */
EMU_OP(op_lmsw)
{
	uint64_t v = rm_rd(cpu, i, 2) & 0xf;

	need_cpl0(cpu);
	set_cr0(cpu, (cpu->cr0 & ~0xeull) | v | (cpu->cr0 & 1));
	RIP += i->len;
	return 1;
}

EMU_OP(op_clts)
{
	(void)i;
	need_cpl0(cpu);
	cpu->cr0 &= ~CR0_TS;
	emu_fpu_trap_update(cpu);
	return emu_next(cpu, i);
}

EMU_OP(op_invlpg)
{
	need_cpl0(cpu);
	emu_tlb_invlpg(cpu, ea(cpu, i));
	RIP += i->len;
	return 1;
}

/* WBINVD/INVD: no caches to write back. */
EMU_OP(op_wbinvd)
{
	(void)i;
	need_cpl0(cpu);
	return emu_next(cpu, i);
}

/* RDPMC: no counters are offered. */
EMU_OP(op_rdpmc)
{
	(void)i;
	emu_raise_err(cpu, EMU_GP, 0);
}

EMU_OP(op_swapgs)
{
	uint64_t t = cpu->segbase[EMU_SB_GS];

	(void)i;
	need_cpl0(cpu);
	cpu->segbase[EMU_SB_GS] = cpu->seg[EMU_SEG_GS].base = cpu->kernel_gs_base;
	cpu->kernel_gs_base = t;
	return emu_next(cpu, i);
}

/* ---- SYSCALL/SYSRET (64-bit forms) ---- */

static void flat_seg(struct emu_cpu *cpu, unsigned sreg, uint16_t sel, uint16_t attr)
{
	struct emu_seg s = { .base = 0, .limit = 0xffffffff, .sel = sel, .attr = attr };

	emu_seg_set(cpu, sreg, &s);
}

EMU_OP(op_syscall)
{
	uint16_t sel = (uint16_t)(cpu->sys.star >> 32);

	if (!(cpu->efer & EFER_SCE))
		emu_raise(cpu, EMU_UD);
	cpu->r[1] = RIP + i->len;
	cpu->r[11] = flags_get(cpu) & ~EMU_RF;
	cpu->rflags &= ~(cpu->sys.sfmask | EMU_RF);
	flat_seg(cpu, EMU_SEG_CS, sel & 0xfffc, 0xa09b); /* 64-bit code, DPL 0 */
	flat_seg(cpu, EMU_SEG_SS, (sel + 8) & 0xfffc, 0xc093);
	emu_set_cpl(cpu, 0);
	RIP = cpu->sys.lstar;
	return 1;
}

/* To 64-bit user code only (REX.W); the 32-bit form would enter
 * compatibility mode, which is not modelled (#UD). */
EMU_OP(op_sysret)
{
	uint16_t sel = (uint16_t)(cpu->sys.star >> 48);

	if (!(cpu->efer & EFER_SCE) || i->sz != 8)
		emu_raise(cpu, EMU_UD);
	need_cpl0(cpu);
	if ((uint64_t)((int64_t)(cpu->r[1] << 16) >> 16) != cpu->r[1])
		emu_raise_err(cpu, EMU_GP, 0); /* non-canonical RCX: fault at CPL 0 */
	cpu->lf.op = LF_NONE;
	cpu->rflags = (cpu->r[11] & 0x3c7fd7) | 2;
	flat_seg(cpu, EMU_SEG_CS, (uint16_t)((sel + 16) | 3), 0xa0fb);
	flat_seg(cpu, EMU_SEG_SS, (uint16_t)((sel + 8) | 3), 0xc0f3);
	emu_set_cpl(cpu, 3);
	RIP = cpu->r[1];
	return 1;
}

/* ---- interrupt flag ---- */

EMU_OP(op_cli)
{
	(void)i;
	if (cpu->sys.cpl > iopl(cpu))
		emu_raise_err(cpu, EMU_GP, 0);
	cpu->rflags &= ~(uint64_t)EMU_IF;
	return emu_next(cpu, i);
}

/*
 * STI: when it sets IF, interrupts wait until the next instruction is done
 * (the interrupt shadow). emu_run only returns at block ends, so the
 * shadow is over whenever it can return (emu_can_take_interrupt() never
 * sees it) if that instruction runs in the same block; when STI is the
 * block's last record (the end record has length 0), it runs here, alone.
 * (STI; HLT returns EMU_EXIT_HLT with IF set, as it should.)
 */
EMU_OP(op_sti)
{
	bool was = cpu->rflags & EMU_IF;

	if (cpu->sys.cpl > iopl(cpu))
		emu_raise_err(cpu, EMU_GP, 0);
	cpu->rflags |= EMU_IF;
	if (was || !cpu->sys.on || i[1].len)
		return emu_next(cpu, i);
	RIP += i->len;
	emu_fast_run_single(cpu, emu_ic_lookup(cpu)->insns);
	cpu->icount++;
	return 1;
}

/* INT n: a software interrupt, RIP past it; the gate's DPL is checked. */
EMU_OP(op_int_n)
{
	RIP += i->len;
	emu_raise_soft(cpu, (int)i->imm);
}

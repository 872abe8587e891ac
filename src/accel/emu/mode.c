/*
 * Mode switches for the legacy modes: segment loads (real mode and GDT
 * descriptors), far jumps, CR0/CR3/CR4/EFER writes with the long-mode
 * activation rules, INIT and SIPI. The decoder's mode (cpu->mode) follows
 * CR0.PE, EFER.LMA and CS.L/CS.D; when it changes every decoded block is
 * dropped, since the same bytes decode differently in another mode (mode
 * changes are a handful per CPU start, so a flush costs nothing).
 */
#include "accel/emu/legacy.h"
#include "accel/emu/system.h"

static const uint8_t sb_slot[EMU_NSEG] = {
	EMU_SB_ES, EMU_SB_CS, EMU_SB_SS, EMU_SB_DS, EMU_SB_FS, EMU_SB_GS,
};

void emu_seg_set(struct emu_cpu *cpu, unsigned sreg, const struct emu_seg *s)
{
	cpu->seg[sreg] = *s;
	cpu->segbase[sb_slot[sreg]] = s->base;
}

uint64_t emu_get_eip(const struct emu_cpu *cpu)
{
	return cpu->mode == EMU_MODE_64 ? RIP : RIP - cpu->segbase[EMU_SB_CS];
}

static unsigned mode_of(const struct emu_cpu *cpu)
{
	uint16_t cs = cpu->seg[EMU_SEG_CS].attr;

	if (!(cpu->cr0 & EMU_CR0_PE))
		return EMU_MODE_16;
	if ((cpu->efer & EMU_EFER_LMA) && (cs & EMU_SEG_L))
		return EMU_MODE_64;
	/* compatibility mode (LMA, CS.L = 0) decodes as 16/32-bit protected */
	return (cs & EMU_SEG_DB) ? EMU_MODE_32 : EMU_MODE_16;
}

void emu_mode_update(struct emu_cpu *cpu)
{
	unsigned m = mode_of(cpu);

	if (m != cpu->mode) {
		cpu->mode = (uint8_t)m;
		emu_icache_flush(cpu);
	}
}

/* A GDT descriptor (no LDT), checked loosely: present, code/data, the kind
 * the register needs. Faults are #GP(selector). */
static void load_desc(struct emu_cpu *cpu, unsigned sreg, uint16_t sel, struct emu_seg *s)
{
	uint32_t err = sel & 0xfffc;
	uint64_t d;
	uint16_t attr;
	bool code;

	if ((sel & 4) || (uint32_t)(sel | 7) > cpu->gdtr.limit)
		emu_raise_err(cpu, EMU_GP, err);
	d = mem_rd(cpu, cpu->gdtr.base + (sel & ~7u), 8);
	attr = (uint16_t)((d >> 40) & 0xf0ff);
	code = attr & 0x08;
	if (!(attr & EMU_SEG_P) || !(attr & 0x10))
		emu_raise_err(cpu, EMU_GP, err);
	if ((sreg == EMU_SEG_CS && !code) || (sreg == EMU_SEG_SS && (code || !(attr & 2))) ||
	    (sreg != EMU_SEG_CS && code && !(attr & 2)))
		emu_raise_err(cpu, EMU_GP, err);
	s->sel = sel;
	s->attr = attr;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	if (attr & EMU_SEG_G)
		s->limit = (s->limit << 12) | 0xfff;
}

void emu_load_sreg(struct emu_cpu *cpu, unsigned sreg, uint16_t sel)
{
	struct emu_seg s = cpu->seg[sreg];

	if (!(cpu->cr0 & EMU_CR0_PE)) {
		/* real mode: limit and attributes stay (as on hardware) */
		s.sel = sel;
		s.base = (uint64_t)sel << 4;
	} else if (!(sel & 0xfffc)) {
		if (sreg == EMU_SEG_CS || (sreg == EMU_SEG_SS && cpu->mode != EMU_MODE_64))
			emu_raise_err(cpu, EMU_GP, 0);
		s = (struct emu_seg){ .sel = sel }; /* null: unusable */
	} else {
		load_desc(cpu, sreg, sel, &s);
	}
	emu_seg_set(cpu, sreg, &s);
}

void emu_far_jump(struct emu_cpu *cpu, uint16_t sel, uint64_t off)
{
	emu_load_sreg(cpu, EMU_SEG_CS, sel);
	emu_mode_update(cpu);
	if (cpu->mode == EMU_MODE_64)
		RIP = off;
	else
		RIP = cpu->segbase[EMU_SB_CS] + (uint32_t)off;
}

static void set_cr0(struct emu_cpu *cpu, uint64_t v)
{
	uint64_t old = cpu->cr0;

	v |= 0x10; /* ET is fixed to 1 */
	if (v >> 32 || ((v & EMU_CR0_PG) && !(v & EMU_CR0_PE)))
		emu_raise_err(cpu, EMU_GP, 0);
	if ((v & EMU_CR0_PG) && !(old & EMU_CR0_PG) && (cpu->efer & EMU_EFER_LME)) {
		if (!(cpu->cr4 & EMU_CR4_PAE))
			emu_raise_err(cpu, EMU_GP, 0);
		cpu->efer |= EMU_EFER_LMA; /* compatibility mode until a 64-bit CS */
	} else if (!(v & EMU_CR0_PG)) {
		cpu->efer &= ~EMU_EFER_LMA;
	}
	cpu->cr0 = v;
	if ((old ^ v) & (EMU_CR0_PG | EMU_CR0_PE | CR0_WP))
		emu_tlb_flush(cpu);
	emu_fpu_trap_update(cpu);
	emu_mode_update(cpu);
}

void emu_legacy_set_cr(struct emu_cpu *cpu, unsigned n, uint64_t v)
{
	switch (n) {
	case 0:
		set_cr0(cpu, v);
		break;
	case 2:
		cpu->sys.cr2 = v;
		break;
	case 3:
		cpu->cr3 = v;
		emu_tlb_flush(cpu);
		break;
	default:
		if ((cpu->efer & EMU_EFER_LMA) && !(v & EMU_CR4_PAE))
			emu_raise_err(cpu, EMU_GP, 0);
		cpu->cr4 = v;
		emu_tlb_flush(cpu);
		emu_fpu_trap_update(cpu);
	}
}

uint64_t emu_legacy_get_cr(struct emu_cpu *cpu, unsigned n)
{
	switch (n) {
	case 0: return cpu->cr0;
	case 2: return cpu->sys.cr2;
	case 3: return cpu->cr3;
	default: return cpu->cr4;
	}
}

/* The state after RESET/INIT (SDM vol. 3, "Processor state after reset"):
 * real mode, CS F000h based at FFFF0000h, IP FFF0h; the x87/SSE state is
 * kept (INIT leaves it alone). */
static void reset_state(struct emu_cpu *cpu)
{
	struct emu_seg data = { .base = 0, .limit = 0xffff, .sel = 0, .attr = 0x93 };
	struct emu_seg code = { .base = 0xffff0000, .limit = 0xffff, .sel = 0xf000, .attr = 0x9b };

	memset(cpu->r, 0, sizeof(cpu->r));
	cpu->lf.op = LF_NONE;
	cpu->rflags = 2;
	cpu->cr0 = 0x60000010; /* CD, NW, ET */
	cpu->cr3 = 0;
	cpu->cr4 = 0;
	cpu->efer = 0;
	cpu->gdtr = (struct emu_dtr){ 0, 0xffff };
	cpu->idtr = (struct emu_dtr){ 0, 0xffff };
	for (unsigned s = 0; s < EMU_NSEG; s++)
		emu_seg_set(cpu, s, s == EMU_SEG_CS ? &code : &data);
	RIP = 0xfffffff0;
	cpu->sys.cr2 = 0;
	cpu->sys.tr = cpu->sys.ldtr = (struct emu_seg){ .limit = 0xffff, .attr = 0x82 };
	cpu->sys.delivering = -1;
	cpu->sys.nmi_blocked = cpu->sys.nmi_pending = cpu->sys.shutdown = false;
	emu_set_cpl(cpu, 0);
	emu_fpu_trap_update(cpu);
	cpu->mode = EMU_MODE_16;
	emu_icache_flush(cpu); /* also the TLB */
}

void emu_cpu_init_signal(struct emu_cpu *cpu)
{
	reset_state(cpu);
	cpu->wait_sipi = true;
}

/* Real mode at CS = vector << 8, IP = 0 (Linux's trampoline entry). */
void emu_cpu_sipi(struct emu_cpu *cpu, uint8_t vector)
{
	struct emu_seg cs = { .base = (uint64_t)vector << 12, .limit = 0xffff,
			      .sel = (uint16_t)(vector << 8), .attr = 0x9b };

	reset_state(cpu);
	emu_seg_set(cpu, EMU_SEG_CS, &cs);
	RIP = cs.base;
	cpu->wait_sipi = false;
}

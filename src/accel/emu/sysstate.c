/*
 * Loading an accelerator-neutral register state (include/splitvm/
 * cpu_state.h, e.g. the Linux 64-bit boot protocol state) into the CPU.
 */
#include <errno.h>

#include "accel/emu/system.h"
#include "splitvm/cpu_state.h"

/* attr layout of struct emu_seg: descriptor bits 40-47 and 52-55. */
static struct emu_seg seg_of(const struct cpu_segment *c)
{
	struct emu_seg s = { .base = c->base, .limit = c->limit, .sel = c->selector };

	if (!c->unusable)
		s.attr = (uint16_t)((c->type & 15) | (c->s & 1) << 4 | (c->dpl & 3) << 5 |
				    (c->present & 1) << 7 | (c->avl & 1) << 12 | (c->l & 1) << 13 |
				    (c->db & 1) << 14 | (c->g & 1) << 15);
	return s;
}

int emu_cpu_load_state(struct emu_cpu *cpu, const struct cpu_boot_state *st)
{
	const struct cpu_segment *segs[EMU_NSEG] = { &st->es, &st->cs, &st->ss,
						     &st->ds, &st->fs, &st->gs };

	for (unsigned k = 0; k < CPU_NR_GPRS; k++)
		cpu->r[k] = st->gpr[k];
	RIP = st->rip;
	emu_set_rflags(cpu, st->rflags);
	for (unsigned k = 0; k < EMU_NSEG; k++) {
		struct emu_seg s = seg_of(segs[k]);

		emu_seg_set(cpu, k, &s);
	}
	cpu->sys.tr = seg_of(&st->tr);
	cpu->sys.ldtr = seg_of(&st->ldt);
	cpu->gdtr = (struct emu_dtr){ st->gdt.base, st->gdt.limit };
	cpu->idtr = (struct emu_dtr){ st->idt.base, st->idt.limit };
	cpu->cr0 = st->cr0 | CR0_ET;
	cpu->sys.cr2 = st->cr2;
	cpu->cr3 = st->cr3;
	cpu->cr4 = st->cr4;
	cpu->efer = st->efer;
	if ((cpu->cr0 & EMU_CR0_PG) && (cpu->efer & EMU_EFER_LME))
		cpu->efer |= EMU_EFER_LMA;
	cpu->sys.cpl = st->cs.dpl & 3;
	cpu->sys.delivering = -1;
	cpu->sys.nmi_blocked = cpu->sys.nmi_pending = cpu->sys.shutdown = false;
	cpu->wait_sipi = false;
	emu_msr_reset(cpu);
	emu_mode_update(cpu);
	emu_icache_flush(cpu); /* also the TLB */
	emu_fpu_trap_update(cpu);
	return 0;
}

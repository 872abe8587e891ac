/*
 * Legacy modes (real mode, 16/32-bit protected mode): the handlers the
 * legacy decoder (decode16.c) picks where an instruction's meaning depends
 * on the mode (stack width, IP wrap, segments), and the mode switches they
 * drive (mode.c). See "Legacy modes" in docs/emu.md.
 */
#ifndef EMU_LEGACY_H
#define EMU_LEGACY_H

#include "accel/emu/ops.h"

/* mode.c */
/* Load a segment register from a selector: base = sel << 4 in real mode,
 * the GDT descriptor in protected mode (#GP(sel) if unusable). */
void emu_load_sreg(struct emu_cpu *cpu, unsigned sreg, uint16_t sel);
/* Far transfer: CS from sel, EIP = off; may switch the mode (then decoded
 * code is dropped: only call from handlers that return 1). */
void emu_far_jump(struct emu_cpu *cpu, uint16_t sel, uint64_t off);
/* Control register writes from the legacy modes (#GP on the combinations
 * the CPU refuses; CR0.PG with EFER.LME activates long mode); paging
 * changes flush the TLB. EFER goes through msr.c like any MSR. */
void emu_legacy_set_cr(struct emu_cpu *cpu, unsigned n, uint64_t v);
uint64_t emu_legacy_get_cr(struct emu_cpu *cpu, unsigned n);

/* ops_legacy.c */
EMU_DECL(op_l_push_r);
EMU_DECL(op_l_pop_r);
EMU_DECL(op_l_push_imm);
EMU_DECL(op_l_push_rm);
EMU_DECL(op_l_pop_rm);
EMU_DECL(op_l_push_sreg);
EMU_DECL(op_l_pop_sreg);
EMU_DECL(op_l_pusha);
EMU_DECL(op_l_popa);
EMU_DECL(op_l_pushf);
EMU_DECL(op_l_popf);
EMU_DECL(op_l_leave);
EMU_DECL(op_l_jcc);
EMU_DECL(op_l_jmp);
EMU_DECL(op_l_call);
EMU_DECL(op_l_ret);
EMU_DECL(op_l_jmp_rm);
EMU_DECL(op_l_call_rm);
EMU_DECL(op_l_loop);
EMU_DECL(op_l_jcxz);
EMU_DECL(op_l_jmpf_ptr);
EMU_DECL(op_l_callf_ptr);
EMU_DECL(op_l_jmpf_m);
EMU_DECL(op_l_callf_m);
EMU_DECL(op_l_retf);
EMU_DECL(op_l_mov_rm_sreg);
EMU_DECL(op_l_mov_sreg_rm);
EMU_DECL(op_l_lxs);
EMU_DECL(op_l_lea);
EMU_DECL(op_l_lgdt);
EMU_DECL(op_l_lidt);
EMU_DECL(op_l_lmsw);
EMU_DECL(op_l_mov_from_cr);
EMU_DECL(op_l_mov_to_cr);
EMU_DECL(op_l_rdmsr);
EMU_DECL(op_l_wrmsr);
EMU_DECL(op_l_cli);
EMU_DECL(op_l_sti);

#endif

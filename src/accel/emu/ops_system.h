/* System instruction handlers (ops_system.c, ops_io.c, segment.c, msr.c)
 * and their decoders (decode_system.c). */
#ifndef EMU_OPS_SYSTEM_H
#define EMU_OPS_SYSTEM_H

#include "accel/emu/ops.h"

struct dstate;
bool dec_system_one(struct dstate *d, struct emu_insn *i, unsigned b);
bool dec_system_0f(struct dstate *d, struct emu_insn *i, unsigned b);

/* ops_system.c */
EMU_DECL(op_mov_from_cr);
EMU_DECL(op_mov_to_cr);
EMU_DECL(op_mov_from_dr);
EMU_DECL(op_mov_to_dr);
EMU_DECL(op_sgdt);
EMU_DECL(op_sidt);
EMU_DECL(op_lgdt);
EMU_DECL(op_lidt);
EMU_DECL(op_sldt);
EMU_DECL(op_str);
EMU_DECL(op_lldt);
EMU_DECL(op_ltr);
EMU_DECL(op_smsw);
EMU_DECL(op_lmsw);
EMU_DECL(op_clts);
EMU_DECL(op_invlpg);
EMU_DECL(op_wbinvd);
EMU_DECL(op_swapgs);
EMU_DECL(op_syscall);
EMU_DECL(op_sysret);
EMU_DECL(op_cli);
EMU_DECL(op_sti);
EMU_DECL(op_int_n);
EMU_DECL(op_rdpmc);

/* ops_io.c */
EMU_DECL(op_in);
EMU_DECL(op_out);
EMU_DECL(op_ins);
EMU_DECL(op_outs);

/* segment.c */
EMU_DECL(op_retf);
EMU_DECL(op_iret);
EMU_DECL(op_mov_sreg);
EMU_DECL(op_mov_from_sreg);
EMU_DECL(op_push_sreg);
EMU_DECL(op_pop_sreg);

/* msr.c */
EMU_DECL(op_rdmsr);
EMU_DECL(op_wrmsr);

#endif

/*
 * Inside the block translator: the state of one translation, shared by
 * jit.c (blocks, calls of handlers, slow paths) and jit_ops.c (the forms
 * translated inline).
 *
 * Guest state stays in struct emu_cpu throughout (H_RBX holds cpu); no host
 * register is live from one guest instruction to the next. RIP in memory
 * may lag behind: pend is how far, at the record being translated; it is
 * caught up before anything that can read RIP (a handler, a slow path,
 * leaving the block).
 */
#ifndef EMU_JIT_INT_H
#define EMU_JIT_INT_H

#include <stddef.h>

#include "accel/emu/cpu.h"
#include "accel/emu/jit_x86.h"

#define JIT_STUBS_MAX 64 /* slow paths per block: at most one per record */

#define CPU_OFF(field) ((int32_t)offsetof(struct emu_cpu, field))
#define CPU_RIP ((int32_t)(EMU_RIP * 8))

/* A memory access's TLB miss: the record's handler runs it, then the
 * translation resumes after the record. */
struct jit_stub {
	uint8_t *jump;                /* rel32 of the jne to the stub */
	const struct emu_insn *insn;
	unsigned m;                   /* records: 1, or 2 for a fused pair */
	uint32_t pend;                /* RIP's lag at the record */
	uintptr_t resume;             /* where the inline code goes on */
};

struct jit_ctx {
	struct emit e;
	struct emu_jit *jit;
	uint32_t pend;
	uintptr_t exit_rx;            /* pop rbx; ret (eax: the block's result) */
	struct jit_stub stub[JIT_STUBS_MAX];
	unsigned nstubs;
};

/* Translates record i (a fused pair: i and i + 1) inline; false if it is
 * not a form translated inline (nothing emitted then). */
bool emu_jit_inline(struct jit_ctx *c, const struct emu_insn *i);
bool emu_jit_inline_pair(struct jit_ctx *c, const struct emu_insn *i);

/* For jit_ops.c: the TLB probe of the access of sz bytes at the address in
 * H_RAX (read or write tags); on a hit H_RAX becomes the host address, on a
 * miss the record's slow path runs. H_RCX, H_RDX are clobbered. */
void jit_probe(struct jit_ctx *c, const struct emu_insn *i, unsigned m, unsigned sz, bool write);
/* Leave the block with RIP = the record's start + rel and 1 (a branch). */
void jit_branch(struct jit_ctx *c, int64_t rel, unsigned uncount);
/* After the record with a probe: its slow path comes back here. */
void jit_resume(struct jit_ctx *c);

#endif

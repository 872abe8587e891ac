/*
 * Translation of hot blocks to host code (see docs/emu.md, "Translated
 * blocks"). A translation has the handler signature: called with the
 * block's first record, it runs the whole block and returns what the
 * block's last handler would (1, or 0 for a handler of the old convention).
 * The decoded records stay the reference: a translation only changes how
 * they are reached, so everything the interpreter does (faults, RIP, icount)
 * it does the same way.
 */
#ifndef EMU_JIT_H
#define EMU_JIT_H

#include "accel/emu/insn.h"

struct emu_jit;

int emu_jit_create(struct emu_jit **out);
void emu_jit_destroy(struct emu_jit *j);
/* Forget every translation (their blocks are gone or un-translated). */
void emu_jit_reset(struct emu_jit *j);
/* A translation of the n records at insns (n >= 1, an end record after
 * them), or NULL when the arena is full. */
emu_fn emu_jit_block(struct emu_jit *j, const struct emu_insn *insns, unsigned n);

#endif

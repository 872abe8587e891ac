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

/*
 * A translation's two successors (as the blocks' links, icache.h): while
 * gen is the cache's gen, a translation whose RIP ends at rip goes on into
 * to (the successor's chain entry) without returning to the run loop. An
 * empty slot holds rip ~0 and the translation's own return as to.
 */
struct emu_jit_links {
	uint32_t gen;
	uint64_t rip[2];
	uintptr_t to[2];
	uintptr_t none;
};

#define EMU_JIT_CODE_DEFAULT (16u << 20) /* bytes of code (and as many of copies) */

int emu_jit_create(struct emu_jit **out, size_t code_size);
void emu_jit_destroy(struct emu_jit *j);
/* Bytes of the arena in use. */
size_t emu_jit_used(const struct emu_jit *j);
/* Forget every translation (their blocks are gone or un-translated). */
void emu_jit_reset(struct emu_jit *j);
/* A translation of the n records at insns (n >= 1, an end record after
 * them), or NULL when the arena is full. */
emu_fn emu_jit_block(struct emu_jit *j, const struct emu_insn *insns, unsigned n);
/* A translation's chain entry, from its entry (jit.c). */
#define EMU_JIT_CHAIN_OFF 9

/* Translation l returned with RIP at rip, whose block has translation to. */
void emu_jit_link(struct emu_jit_links *l, uint32_t gen, uint64_t rip, emu_fn to);

#endif

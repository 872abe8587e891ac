/*
 * Code pages shared by the vCPUs of one VM (SMP). Each vCPU's decode cache
 * and TLB are private; the code map is how a store by one vCPU into code
 * reaches the decoded blocks of the others (cross-modifying code: Linux's
 * text_poke_bp, static keys, module and BPF text).
 *
 * A bitmap marks the RAM pages some vCPU holds decoded blocks of, and a
 * ring of events tells the other vCPUs about pages:
 *
 *  - Decoding a block marks its page first. The first mark (0 -> 1) posts
 *    CM_DECODED: the others drop their write tags for the page, since a tag
 *    installed before the mark lets their stores bypass every check.
 *  - A store that misses the write tag (mem.c's slow path; every store to
 *    a marked page misses) clears the mark, and CM_WRITTEN is posted once
 *    the store is done: the others drop their blocks of the page. The
 *    writer keeps a write tag.
 *  - A vCPU that drops a write tag because of CM_DECODED may have stored
 *    through it after the page was decoded: it posts CM_WRITTEN too.
 *
 * CM_WRITTEN waits in the writer (cpu->code_pending) until its block ends:
 * handlers store after they fill the TLB. Posting asks every other vCPU to
 * leave emu_run at its next block boundary; events are taken when emu_run
 * starts a run and before this vCPU replaces or drops TLB entries (a write
 * tag must not go unreported). So a vCPU runs a store by another into code
 * from its first block boundary after the writer's block ended: x86 only
 * promises cross-modified code after a serializing instruction on the
 * executing CPU, and Linux's text_poke_bp sends IPIs well after its stores.
 */
#ifndef EMU_CODEMAP_H
#define EMU_CODEMAP_H

#include "accel/emu/cpu.h"

void emu_code_sync_slow(struct emu_cpu *cpu);
void emu_code_boundary_slow(struct emu_cpu *cpu);

/* Take the posted events (before TLB entries change). */
static inline void emu_code_sync(struct emu_cpu *cpu)
{
	if (cpu->mem->code)
		emu_code_sync_slow(cpu);
}

/* Between blocks: post this vCPU's stores into code, take the events. */
static inline void emu_code_boundary(struct emu_cpu *cpu)
{
	if (cpu->mem->code)
		emu_code_boundary_slow(cpu);
}

/* Page `page` of RAM region `region` is about to be decoded. */
void emu_code_decoding(struct emu_cpu *cpu, unsigned region, uint64_t page);
/* True if some vCPU may hold the page decoded: no write tag for it. */
bool emu_code_marked(const struct emu_cpu *cpu, unsigned region, uint64_t page);
/* A store to the page outside the write tags (slow path, byte ranges). */
void emu_code_store(struct emu_cpu *cpu, unsigned region, uint64_t page);

#endif

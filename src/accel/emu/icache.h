/*
 * The decoded-instruction cache: blocks of decoded records, keyed by the host
 * address of their first byte (which stands for the guest-physical address:
 * guest RAM is one mapping per region), so blocks survive CR3 switches and
 * are shared by every virtual alias. Each RAM page holding decoded code lists
 * its blocks; a store to such a page (always a TLB slow path, see mem.c)
 * drops them.
 *
 * Blocks chain: each caches its last two successors (linear RIP -> block),
 * so the run loop goes from block to block without a lookup. A link is only
 * good while nothing was dropped or remapped since it was made: every
 * invalidation (page drop, full flush, TLB flush) bumps ic->gen, and a
 * block's links count only if its gen matches.
 */
#ifndef EMU_ICACHE_H
#define EMU_ICACHE_H

#include "accel/emu/cpu.h"

#define EMU_BLOCK_MAX 64 /* records per block, not counting the end record */

struct emu_block;

struct emu_link {
	uint64_t rip;           /* linear RIP of the successor */
	struct emu_block *to;
};

struct emu_block {
	emu_fn entry;                 /* runs the block: its first handler, or its translation */
	const struct emu_insn *insns; /* first record; the block ends with an end record */
	uint8_t n;                    /* instructions (fused pairs count 2) */
	bool translated;              /* entry is a translation */
	uint16_t heat;                /* runs left before it is translated (jit.h) */
	uint32_t gen;                 /* ic gen when link[] was filled */
	struct emu_link link[2];
	uintptr_t key;                /* host address of the first byte; 0 = dropped */
	uint32_t hnext;               /* hash chain: block index + 1 */
	uint32_t pnext;               /* blocks of the same page: block index + 1 */
};

/* The part of the cache the run loop reads inline. */
struct emu_ic_head {
	uint32_t gen; /* bumped by every invalidation; 0 is never used */
};

int emu_ic_create(struct emu_icache **out, const struct emu_mem *mem);
void emu_ic_destroy(struct emu_icache *ic);
void emu_ic_flush(struct emu_icache *ic);
/* Forget RIP -> block shortcuts and links (with every TLB flush). */
void emu_ic_jc_flush(struct emu_icache *ic);

/* The decoded block at RIP (decoding it on a miss). */
struct emu_block *emu_ic_lookup(struct emu_cpu *cpu);

static inline uint32_t emu_ic_gen(const struct emu_icache *ic)
{
	return ((const struct emu_ic_head *)(const void *)ic)->gen;
}

void emu_ic_stats(const struct emu_icache *ic, struct emu_cache_stats *out);
int emu_ic_set_jit_arena(struct emu_icache *ic, size_t code_size);
void emu_ic_set_hot(struct emu_icache *ic, unsigned runs);
/* The translation whose links are l returned to the run loop, which found
 * b at RIP without an invalidation in between: l links to b if b is
 * translated. */
void emu_ic_link_translation(struct emu_cpu *cpu, struct emu_jit_links *l, struct emu_block *b);
/* For a translation's exit whose links missed: the chain entry of the
 * translated block the jump cache holds for RIP, or 0. */
uintptr_t emu_ic_chain_next(struct emu_cpu *cpu);
/* b has run heat times: translate it (jit.h), or let it be if it cannot. */
void emu_ic_hot(struct emu_cpu *cpu, struct emu_block *b);

/* Code-page tracking, by RAM region and page index within it. */
bool emu_ic_page_is_code(const struct emu_icache *ic, unsigned region, uint64_t page);
void emu_ic_invalidate_page(struct emu_icache *ic, unsigned region, uint64_t page);

/* Decoded records rewritten for speed (fast.c): specialised handlers per
 * form, compare-and-branch pairs fused. emu_fast_run_single() runs the
 * record i alone (a fused record's compare only; no fall-through into the
 * next record). */
void emu_fast_block(struct emu_insn *insns, unsigned n);
void emu_fast_run_single(struct emu_cpu *cpu, const struct emu_insn *i);

#endif

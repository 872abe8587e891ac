/*
 * The decoded-instruction cache: blocks of decoded records, keyed by the host
 * address of their first byte (which stands for the guest-physical address:
 * guest RAM is one mapping per region), so blocks survive CR3 switches and
 * are shared by every virtual alias. Each RAM page holding decoded code lists
 * its blocks; a store to such a page (always a TLB slow path, see mem.c)
 * drops them.
 *
 * Blocks chain: each block's tail (the two record slots after its last
 * record) caches its last two successors (linear RIP -> first record), and
 * its handler goes on into the successor itself, so control only comes back
 * to the run loop on a link miss. A link is only good while nothing was
 * dropped or remapped since it was made: every invalidation (page drop, full
 * flush, TLB flush) bumps ic->gen, and a tail's links count only if its gen
 * matches. A link to a kernel-half RIP on a global page is *global*: it only
 * depends on global translations, so the invalidations that spare those (a
 * CR3 write, INVLPG of a user-half address) bump ic->lgen alone, which only
 * the other, *local*, links check. A context switch then keeps the
 * kernel's links.
 */
#ifndef EMU_ICACHE_H
#define EMU_ICACHE_H

#include "accel/emu/cpu.h"

#define EMU_BLOCK_MAX 64 /* records per block, not counting the end record */

struct emu_block;

struct emu_link {
	uint64_t rip;                 /* linear RIP of the successor */
	const struct emu_insn *to;    /* its first record */
};

/*
 * Every block ends with a tail: two record slots that the last record (or a
 * taken Jcc) tail-calls like any next record. Its handler, emu_block_end(),
 * checks the budget and the exit request, then enters the linked successor
 * at RIP; on a miss it returns 1 to the run loop with cpu->tail set, and the
 * loop links the block it looks up. The links sit next to the records just
 * run, so a chained block end touches no other cache line.
 */
struct emu_tail {
	emu_fn fn;                    /* emu_block_end */
	struct emu_block *block;      /* whose tail this is */
	uint32_t gen;                 /* ic gen when link[] was filled (0: never) */
	uint32_t len;                 /* overlays emu_insn.len: 0 (op_sti reads it) */
	struct emu_link link[2];
	uint32_t lgen;                /* ic lgen when the local links were made */
	uint8_t n[2];                 /* instructions of each link's block */
	bool local[2];                /* the link checks lgen, not gen */
	/* A block ending in a CALL: the block at its return address, which a
	 * RET predicted by the return-address stack enters (emu_ret_leave). */
	struct emu_ret_link {
		const struct emu_insn *to;
		uint32_t gen, lgen;   /* as a link's: local checks lgen, else gen */
		uint8_t n;
		bool local;
	} ret;
};

#define EMU_TAIL_SLOTS 3 /* records a tail takes */
_Static_assert(sizeof(struct emu_tail) <= EMU_TAIL_SLOTS * sizeof(struct emu_insn),
	       "a tail fits three record slots");
_Static_assert(__builtin_offsetof(struct emu_tail, len) == __builtin_offsetof(struct emu_insn, len),
	       "a tail reads as a record of length 0");

struct emu_block {
	const struct emu_insn *insns; /* first record; the block ends with its tail */
	struct emu_tail *tail;
	uint32_t n;                   /* instructions (fused pairs count 2) */
	uint32_t hnext;               /* hash chain: block index + 1 */
	uintptr_t key;                /* host address of the first byte; 0 = dropped */
	uint32_t pnext;               /* blocks of the same page: block index + 1 */
};

/* The tail's handler (exec.c). */
int emu_block_end(struct emu_cpu *cpu, const struct emu_insn *i);

static inline uintptr_t emu_stack_pointer(void)
{
	uintptr_t sp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
}

/* A block end may go on into the next block: budget left, no exit
 * requested, stack left (handlers that are not sibling calls deepen it). */
static inline bool emu_may_chain(const struct emu_cpu *cpu)
{
	return cpu->icount < cpu->run_end &&
	       !__atomic_load_n(&cpu->exit_request, __ATOMIC_RELAXED) &&
	       emu_stack_pointer() >= cpu->chain_sp_floor;
}
/* Make t's newest link rip -> b (the run loop, after a miss); global: see
 * above (emu_ic_global()). */
void emu_tail_link(struct emu_tail *t, const struct emu_icache *ic, uint64_t rip,
		   const struct emu_block *b, bool global);

/* The part of the cache the run loop reads inline. */
struct emu_ic_head {
	uint32_t gen;  /* bumped by every invalidation; 0 is never used */
	uint32_t lgen; /* bumped by every invalidation of local links (those too) */
};

int emu_ic_create(struct emu_icache **out, const struct emu_mem *mem);
void emu_ic_destroy(struct emu_icache *ic);
void emu_ic_flush(struct emu_icache *ic);
/* Forget RIP -> block shortcuts and links (with every TLB flush); _local:
 * only those that depend on non-global translations. */
void emu_ic_jc_flush(struct emu_icache *ic);
void emu_ic_jc_flush_local(struct emu_icache *ic);

/* The decoded block at RIP (decoding it on a miss). */
struct emu_block *emu_ic_lookup(struct emu_cpu *cpu);

static inline const struct emu_ic_head *emu_ic_head(const struct emu_icache *ic)
{
	return (const struct emu_ic_head *)(const void *)ic;
}

static inline uint32_t emu_ic_gen(const struct emu_icache *ic)
{
	return emu_ic_head(ic)->gen;
}

/* True if the jump cache holds rip on a global kernel page (after a lookup
 * of rip: whether a link to it can be global). */
bool emu_ic_global(const struct emu_icache *ic, uint64_t rip);

/*
 * Return-address stack. A CALL whose record is its block's last (the next
 * record is a tail, not a single-step copy's end) pushes its return RIP and
 * that tail; a RET popping an entry for its target RIP enters the tail's
 * ret link if it still counts, else goes on through its own tail and leaves
 * the entry to the run loop to link. Retpolines (CALL, then MOV [RSP] and
 * RET to another target) just miss. Entries are checked, never trusted: the
 * RIP must match, and the gen proves the tail was not recycled.
 */
static inline void emu_ras_push(struct emu_cpu *cpu, const struct emu_insn *call, uint64_t ret)
{
	struct emu_ras_entry *e = &cpu->ras[cpu->ras_top++ & (EMU_RAS_SIZE - 1)];

	e->rip = ret;
	e->tail = call + 1;
	/* gen 0 never matches: a single-step copy's end is no tail */
	e->gen = call[1].fn == emu_block_end ? emu_ic_gen(cpu->ic) : 0;
}

static inline int emu_ret_leave(struct emu_cpu *cpu, const struct emu_insn *i)
{
	const struct emu_ras_entry *e = &cpu->ras[--cpu->ras_top & (EMU_RAS_SIZE - 1)];
	const struct emu_ic_head *h = emu_ic_head(cpu->ic);

	if (e->rip == RIP && e->gen == h->gen) {
		const struct emu_ret_link *r = &((const struct emu_tail *)e->tail)->ret;

		if ((r->local ? r->lgen == h->lgen : r->gen == h->gen) && emu_may_chain(cpu)) {
			cpu->icount += r->n;
			return r->to->fn(cpu, r->to);
		}
		cpu->ret_tail = e->tail;
		cpu->ret_rip = RIP;
		cpu->ret_gen = h->gen;
	}
	return emu_leave(cpu, i);
}

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

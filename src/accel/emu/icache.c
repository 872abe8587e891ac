/*
 * Decoded-instruction cache (see icache.h). Fixed arenas allocated once;
 * when either fills up the whole cache is dropped and refilled, which keeps
 * allocation and bookkeeping off the execution path.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/emu/codemap.h"
#include "accel/emu/icache.h"
#include "accel/emu/jit.h"
#include "accel/emu/mem.h"

#define IC_HASH_BITS 15
#define IC_MAX_BLOCKS (1u << 15)
#define IC_MAX_INSNS (1u << 18)
#define IC_JC_BITS 12   /* RIP -> block shortcut entries */

/*
 * The jump cache: linear RIP -> block, skipping the TLB probe and the hash
 * walk when a block is entered other than through a link. Virtual, so it is
 * cleared with the TLB; a hit is still checked against the block's key,
 * which is 0 once the block is dropped.
 */
struct ic_jc {
	uint64_t rip;
	struct emu_block *block;
};

struct emu_icache {
	struct emu_ic_head head;    /* first: read inline by the run loop */
	struct ic_jc jc[1u << IC_JC_BITS];
	uint32_t hash[1u << IC_HASH_BITS];
	struct emu_block blocks[IC_MAX_BLOCKS];
	struct emu_insn insns[IC_MAX_INSNS];
	struct emu_insn scratch[2]; /* an instruction crossing a page: not cached */
	struct emu_block cross;     /* the block around scratch (key 0: never linked) */
	uint64_t cross_rip;         /* what scratch[0] was decoded from (0: nothing) */
	uint8_t cross_bytes[15];
	uint32_t nblocks, ninsns;
	unsigned nregions;
	uint64_t region_first[8];   /* first global page index of each RAM region */
	uint64_t npages;
	uint32_t *page_head;        /* per RAM page: its first block + 1 */
	struct emu_jit *jit;        /* NULL: no translation, records only */
	uint16_t hot;               /* runs before a block is translated (0: never) */
	struct emu_cache_stats stats;
};

static EMU_OP(op_block_end)
{
	(void)cpu;
	(void)i;
	return 1;
}

/* Every link made so far stops counting. */
static void bump_gen(struct emu_icache *ic)
{
	if (++ic->head.gen == 0)
		ic->head.gen = 1; /* 0 marks a block whose links were never filled */
}

/*
 * The cache is big (tens of MiB of address space, touched as code is
 * decoded): a named memfd lets memory figures (/proc/PID/smaps) tell it
 * apart from the VMM's own memory. Anonymous memory if that fails.
 */
static void *map_named(size_t len, const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0 && ftruncate(fd, (off_t)len) == 0)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p;
}

int emu_ic_create(struct emu_icache **out, const struct emu_mem *mem)
{
	struct emu_icache *ic;
	uint64_t pages = 0;

	if (mem->nram > 8)
		return -EINVAL;
	ic = map_named(sizeof(*ic), "splitvm-emu-icache");
	if (ic == MAP_FAILED)
		return -ENOMEM;
	for (unsigned r = 0; r < mem->nram; r++) {
		ic->region_first[r] = pages;
		pages += (mem->ram[r].size + EMU_PAGE_SIZE - 1) >> 12;
	}
	ic->nregions = mem->nram;
	ic->npages = pages;
	ic->page_head = calloc(pages ? pages : 1, sizeof(uint32_t));
	if (!ic->page_head) {
		munmap(ic, sizeof(*ic));
		return -ENOMEM;
	}
	ic->head.gen = 1;
	ic->cross.insns = ic->scratch;
	ic->cross.n = 1;
	if (emu_jit_create(&ic->jit, EMU_JIT_CODE_DEFAULT) < 0)
		ic->jit = NULL;
	ic->hot = EMU_JIT_HOT_DEFAULT;
	*out = ic;
	return 0;
}

void emu_ic_destroy(struct emu_icache *ic)
{
	if (!ic)
		return;
	emu_jit_destroy(ic->jit);
	free(ic->page_head);
	munmap(ic, sizeof(*ic));
}

void emu_ic_jc_flush(struct emu_icache *ic)
{
	memset(ic->jc, 0, sizeof(ic->jc));
	bump_gen(ic); /* links are virtual too */
}

void emu_ic_flush(struct emu_icache *ic)
{
	emu_ic_jc_flush(ic);
	memset(ic->hash, 0, sizeof(ic->hash));
	memset(ic->page_head, 0, ic->npages * sizeof(uint32_t));
	ic->nblocks = 0;
	ic->ninsns = 0;
	ic->cross_rip = 0; /* decoded in what may have been another mode */
	ic->stats.flushes++;
	if (ic->jit)
		emu_jit_reset(ic->jit);
}

static uint32_t hash_of(uintptr_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - IC_HASH_BITS));
}

bool emu_ic_page_is_code(const struct emu_icache *ic, unsigned region, uint64_t page)
{
	return ic->page_head[ic->region_first[region] + page] != 0;
}

static void unhash(struct emu_icache *ic, uint32_t b)
{
	uint32_t *link = &ic->hash[hash_of(ic->blocks[b].key)];

	while (*link && *link != b + 1)
		link = &ic->blocks[*link - 1].hnext;
	if (*link)
		*link = ic->blocks[b].hnext;
	ic->blocks[b].key = 0;
}

/*
 * Dropped blocks keep their slots until the next full flush, so a stale
 * pointer to one (the run loop's current block) stays harmless; bumping gen
 * makes every link to them stop counting.
 */
void emu_ic_invalidate_page(struct emu_icache *ic, unsigned region, uint64_t page)
{
	uint32_t *head = &ic->page_head[ic->region_first[region] + page];

	for (uint32_t b = *head; b; b = ic->blocks[b - 1].pnext)
		unhash(ic, b - 1);
	*head = 0;
	bump_gen(ic);
	ic->stats.page_drops++;
}

/* Where host address hp lies: region and page. False if not RAM. */
static bool locate(const struct emu_cpu *cpu, uintptr_t hp, unsigned *region, uint64_t *page)
{
	const struct emu_mem *m = cpu->mem;

	for (unsigned r = 0; r < m->nram; r++) {
		uintptr_t base = (uintptr_t)m->ram[r].hva;

		if (hp >= base && hp - base < m->ram[r].size) {
			*region = r;
			*page = (hp - base) >> 12;
			return true;
		}
	}
	return false;
}

/*
 * The first instruction crosses into the next page: decode a private copy,
 * not cached (the second page may map elsewhere or change unseen).
 */
static struct emu_block *decode_crossing(struct emu_cpu *cpu)
{
	struct emu_icache *ic = cpu->ic;
	uint8_t buf[15];

	emu_mem_fetch_buf(cpu, RIP, buf, sizeof(buf));
	emu_decode_mode(&ic->scratch[0], buf, sizeof(buf), cpu->mode);
	ic->scratch[1] = (struct emu_insn){ .fn = op_block_end };
	ic->cross.entry = ic->scratch[0].fn;
	ic->cross.heat = UINT16_MAX; /* never translated: see emu_ic_hot */
	ic->cross_rip = RIP;
	memcpy(ic->cross_bytes, buf, sizeof(buf));
	return &ic->cross;
}

/*
 * The last crossing instruction comes back (a hot loop may hold one): reuse
 * its decoding if its bytes are the same. The first page's part is compared
 * first: if it matches, the instruction still needs the second page, so
 * reading that cannot fault where the CPU would not.
 */
static bool crossing_again(struct emu_cpu *cpu)
{
	struct emu_icache *ic = cpu->ic;
	unsigned len = ic->scratch[0].len, first = EMU_PAGE_SIZE - (RIP & ~EMU_PAGE_MASK);
	uint8_t buf[15];

	if (RIP != ic->cross_rip || len <= first)
		return false;
	emu_mem_fetch_buf(cpu, RIP, buf, first);
	if (memcmp(buf, ic->cross_bytes, first))
		return false;
	emu_mem_fetch_buf(cpu, RIP + first, buf + first, len - first);
	return !memcmp(buf + first, ic->cross_bytes + first, len - first);
}

static uint32_t decode_block(struct emu_icache *ic, const uint8_t *code, unsigned avail,
			     unsigned mode)
{
	uint32_t first = ic->ninsns, n = 0;
	unsigned off = 0;

	while (n < EMU_BLOCK_MAX) {
		struct emu_insn *i = &ic->insns[first + n];
		unsigned len = emu_decode_mode(i, code + off, avail - off, mode);

		if (!len)
			break; /* continues on the next page: next block */
		off += len;
		n++;
		if ((i->flags & I_END) || off == avail)
			break;
	}
	ic->insns[first + n] = (struct emu_insn){ .fn = op_block_end };
	emu_fast_block(&ic->insns[first], n);
	ic->ninsns += n + 1;
	return n;
}

/* The jump cache's block for rip, if it has one that is not dropped. */
static inline struct emu_block *jc_block(const struct emu_icache *ic, uint64_t rip)
{
	const struct ic_jc *j = &ic->jc[rip & ((1u << IC_JC_BITS) - 1)];

	return j->rip == rip && j->block && j->block->key ? j->block : NULL;
}

static void remember(struct emu_icache *ic, uint64_t rip, struct emu_block *b)
{
	ic->jc[rip & ((1u << IC_JC_BITS) - 1)] = (struct ic_jc){ rip, b };
}

/* b runs as its records, translated after ic->hot more runs. */
static void untranslated(const struct emu_icache *ic, struct emu_block *b)
{
	b->entry = b->insns->fn;
	b->translated = false;
	b->heat = ic->hot ? ic->hot : UINT16_MAX;
}

static struct emu_block *new_block(struct emu_cpu *cpu, uint8_t *hp)
{
	struct emu_icache *ic = cpu->ic;
	unsigned avail = EMU_PAGE_SIZE - (RIP & ~EMU_PAGE_MASK);
	unsigned region;
	uint64_t page;
	struct emu_block *b;
	uint32_t *head, n;

	if (!locate(cpu, (uintptr_t)hp, &region, &page))
		emu_raise_err(cpu, EMU_GP, 0); /* cannot happen: hp comes from RAM */
	if (ic->nblocks == IC_MAX_BLOCKS || ic->ninsns + EMU_BLOCK_MAX + 1 > IC_MAX_INSNS)
		emu_ic_flush(ic);
	emu_code_decoding(cpu, region, page); /* other vCPUs: before the bytes are read */
	b = &ic->blocks[ic->nblocks];
	n = ic->ninsns;
	b->n = decode_block(ic, hp, avail, cpu->mode);
	if (!b->n) {
		ic->ninsns = n; /* nothing kept: the end record's slot is free again */
		return decode_crossing(cpu);
	}
	b->insns = &ic->insns[n];
	untranslated(ic, b);
	b->gen = 0;
	b->key = (uintptr_t)hp;
	b->hnext = ic->hash[hash_of(b->key)];
	ic->hash[hash_of(b->key)] = ic->nblocks + 1;
	head = &ic->page_head[ic->region_first[region] + page];
	if (!*head) /* stores to the page must now take the slow path */
		emu_tlb_drop_write(cpu, (uintptr_t)hp & EMU_PAGE_MASK);
	b->pnext = *head;
	*head = ic->nblocks + 1;
	ic->nblocks++;
	ic->stats.decoded++;
	remember(ic, RIP, b);
	return b;
}

void emu_ic_stats(const struct emu_icache *ic, struct emu_cache_stats *out)
{
	*out = ic->stats;
	out->jit_bytes = ic->jit ? emu_jit_used(ic->jit) : 0;
}

void emu_ic_set_hot(struct emu_icache *ic, unsigned runs)
{
	ic->hot = (uint16_t)(runs < UINT16_MAX ? runs : UINT16_MAX);
}

void emu_ic_link_translation(struct emu_cpu *cpu, struct emu_jit_links *l, struct emu_block *b)
{
	if (b->translated)
		emu_jit_link(l, emu_ic_gen(cpu->ic), RIP, b->entry);
}

uintptr_t emu_ic_chain_next(struct emu_cpu *cpu)
{
	const struct emu_block *b = jc_block(cpu->ic, RIP);

	if (b && b->translated)
		return (uintptr_t)b->entry + EMU_JIT_CHAIN_OFF;
	return 0;
}

/* The arena is full: every block goes back to its records, and hot ones
 * are translated again as they come (no link into the old ones counts). */
static void jit_restart(struct emu_icache *ic)
{
	emu_jit_reset(ic->jit);
	bump_gen(ic);
	ic->stats.jit_restarts++;
	for (uint32_t k = 0; k < ic->nblocks; k++)
		untranslated(ic, &ic->blocks[k]);
}

int emu_ic_set_jit_arena(struct emu_icache *ic, size_t code_size)
{
	struct emu_jit *j;
	int ret = emu_jit_create(&j, code_size);

	if (ret < 0)
		return ret;
	if (ic->jit)
		jit_restart(ic); /* every block back to its records */
	emu_jit_destroy(ic->jit);
	ic->jit = j;
	return 0;
}

/* Called between blocks, so no translation is running. b may have been
 * dropped (or its slot refilled by a full flush) while it ran. */
void emu_ic_hot(struct emu_cpu *cpu, struct emu_block *b)
{
	struct emu_icache *ic = cpu->ic;
	emu_fn fn;

	b->heat = UINT16_MAX;
	if (!ic->jit || !ic->hot || b == &ic->cross || !b->key || b >= &ic->blocks[ic->nblocks] ||
	    b->translated)
		return;
	fn = emu_jit_block(ic->jit, b->insns, b->n);
	if (!fn) {
		jit_restart(ic);
		return;
	}
	b->entry = fn;
	b->translated = true;
	ic->stats.translated++;
}

static struct emu_block *lookup_slow(struct emu_cpu *cpu)
{
	struct emu_icache *ic = cpu->ic;
	struct emu_tlb_entry *e = tlb_entry(cpu, RIP);
	uint8_t *hp;

	if (likely(e->tag_x == (RIP & EMU_PAGE_MASK))) /* fetch tag: NX, U/S checked */
		hp = (uint8_t *)(uintptr_t)(RIP + e->addend);
	else
		hp = emu_mem_fetch_ptr(cpu, RIP); /* RAM, or the CPU stops */
	if (unlikely(RIP == ic->cross_rip) && crossing_again(cpu))
		return &ic->cross;
	for (uint32_t b = ic->hash[hash_of((uintptr_t)hp)]; b; b = ic->blocks[b - 1].hnext) {
		struct emu_block *blk = &ic->blocks[b - 1];

		if (blk->key == (uintptr_t)hp) {
			remember(ic, RIP, blk);
			return blk;
		}
	}
	return new_block(cpu, hp);
}

struct emu_block *emu_ic_lookup(struct emu_cpu *cpu)
{
	struct emu_block *b = jc_block(cpu->ic, RIP);

	return likely(b) ? b : lookup_slow(cpu);
}

/*
 * Decoded-instruction cache (see icache.h). Fixed arenas allocated once;
 * when either fills up the whole cache is dropped and refilled, which keeps
 * allocation and bookkeeping off the execution path.
 */
#include <errno.h>
#include <stdlib.h>

#include "accel/emu/icache.h"
#include "accel/emu/mem.h"

#define IC_HASH_BITS 15
#define IC_MAX_BLOCKS (1u << 15)
#define IC_MAX_INSNS (1u << 18)
#define IC_BLOCK_MAX 64 /* records per block, not counting the end record */
#define IC_JC_BITS 12   /* RIP -> block shortcut entries */

struct emu_block {
	uintptr_t key;   /* host address of the first byte; 0 = dropped */
	uint32_t first;  /* index of the first record */
	uint32_t n;      /* instructions (the end record not counted) */
	uint32_t hnext;  /* hash chain: block index + 1 */
	uint32_t pnext;  /* blocks of the same page: block index + 1 */
};

/*
 * The jump cache: linear RIP -> block, skipping the TLB probe and the hash
 * walk for hot blocks. Virtual, so it is cleared with the TLB; a hit is
 * still checked against the block's key, which is 0 once the block is dropped.
 */
struct ic_jc {
	uint64_t rip;
	uint32_t block; /* index + 1 */
};

struct emu_icache {
	struct ic_jc jc[1u << IC_JC_BITS];
	uint32_t hash[1u << IC_HASH_BITS];
	struct emu_block blocks[IC_MAX_BLOCKS];
	struct emu_insn insns[IC_MAX_INSNS];
	struct emu_insn scratch[2]; /* an instruction crossing a page: not cached */
	uint32_t nblocks, ninsns;
	unsigned nregions;
	uint64_t region_first[8];   /* first global page index of each RAM region */
	uint64_t npages;
	uint32_t *page_head;        /* per RAM page: its first block + 1 */
};

static EMU_OP(op_block_end)
{
	(void)cpu;
	(void)i;
	return 1;
}

int emu_ic_create(struct emu_icache **out, const struct emu_mem *mem)
{
	struct emu_icache *ic;
	uint64_t pages = 0;

	if (mem->nram > 8)
		return -EINVAL;
	ic = calloc(1, sizeof(*ic));
	if (!ic)
		return -ENOMEM;
	for (unsigned r = 0; r < mem->nram; r++) {
		ic->region_first[r] = pages;
		pages += (mem->ram[r].size + EMU_PAGE_SIZE - 1) >> 12;
	}
	ic->nregions = mem->nram;
	ic->npages = pages;
	ic->page_head = calloc(pages ? pages : 1, sizeof(uint32_t));
	if (!ic->page_head) {
		free(ic);
		return -ENOMEM;
	}
	*out = ic;
	return 0;
}

void emu_ic_destroy(struct emu_icache *ic)
{
	if (!ic)
		return;
	free(ic->page_head);
	free(ic);
}

void emu_ic_jc_flush(struct emu_icache *ic)
{
	memset(ic->jc, 0, sizeof(ic->jc));
}

void emu_ic_flush(struct emu_icache *ic)
{
	emu_ic_jc_flush(ic);
	memset(ic->hash, 0, sizeof(ic->hash));
	memset(ic->page_head, 0, ic->npages * sizeof(uint32_t));
	ic->nblocks = 0;
	ic->ninsns = 0;
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

void emu_ic_invalidate_page(struct emu_icache *ic, unsigned region, uint64_t page)
{
	uint32_t *head = &ic->page_head[ic->region_first[region] + page];

	for (uint32_t b = *head; b; b = ic->blocks[b - 1].pnext)
		unhash(ic, b - 1);
	*head = 0;
}

/* A page starts holding code: stores to it must now take the slow path. */
static void page_becomes_code(struct emu_cpu *cpu, uintptr_t host_page)
{
	for (unsigned k = 0; k < EMU_TLB_SIZE; k++) {
		struct emu_tlb_entry *e = &cpu->tlb[k];

		if (e->tag_w + e->addend == host_page)
			e->tag_w = EMU_TLB_INVALID;
	}
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

/* The first instruction crosses into the next page: decode a private copy. */
static const struct emu_insn *decode_crossing(struct emu_cpu *cpu, unsigned *n)
{
	struct emu_icache *ic = cpu->ic;
	uint8_t buf[15];

	emu_mem_read_buf(cpu, RIP, buf, sizeof(buf));
	emu_decode(&ic->scratch[0], buf, sizeof(buf));
	ic->scratch[1] = (struct emu_insn){ .fn = op_block_end };
	*n = 1;
	return ic->scratch;
}

static uint32_t decode_block(struct emu_icache *ic, const uint8_t *code, unsigned avail)
{
	uint32_t first = ic->ninsns, n = 0;
	unsigned off = 0;

	while (n < IC_BLOCK_MAX) {
		struct emu_insn *i = &ic->insns[first + n];
		unsigned len = emu_decode(i, code + off, avail - off);

		if (!len)
			break; /* continues on the next page: next block */
		off += len;
		n++;
		if ((i->flags & I_END) || off == avail)
			break;
	}
	ic->insns[first + n] = (struct emu_insn){ .fn = op_block_end };
	ic->ninsns += n + 1;
	return n;
}

static const struct emu_insn *new_block(struct emu_cpu *cpu, uint8_t *hp, unsigned *n)
{
	struct emu_icache *ic = cpu->ic;
	unsigned avail = EMU_PAGE_SIZE - (RIP & ~EMU_PAGE_MASK);
	unsigned region;
	uint64_t page;
	struct emu_block *b;
	uint32_t *head;

	if (!locate(cpu, (uintptr_t)hp, &region, &page))
		emu_raise_err(cpu, EMU_GP, 0); /* executing MMIO is not supported */
	if (ic->nblocks == IC_MAX_BLOCKS || ic->ninsns + IC_BLOCK_MAX + 1 > IC_MAX_INSNS)
		emu_ic_flush(ic);
	b = &ic->blocks[ic->nblocks];
	b->first = ic->ninsns;
	b->n = decode_block(ic, hp, avail);
	if (!b->n)
		return decode_crossing(cpu, n);
	b->key = (uintptr_t)hp;
	b->hnext = ic->hash[hash_of(b->key)];
	ic->hash[hash_of(b->key)] = ic->nblocks + 1;
	head = &ic->page_head[ic->region_first[region] + page];
	if (!*head)
		page_becomes_code(cpu, (uintptr_t)hp & EMU_PAGE_MASK);
	b->pnext = *head;
	*head = ic->nblocks + 1;
	ic->jc[RIP & ((1u << IC_JC_BITS) - 1)] = (struct ic_jc){ RIP, ic->nblocks + 1 };
	ic->nblocks++;
	*n = b->n;
	return &ic->insns[b->first];
}

static const struct emu_insn *fetch_slow(struct emu_cpu *cpu, unsigned *n)
{
	struct emu_icache *ic = cpu->ic;
	struct emu_tlb_entry *e = tlb_entry(cpu, RIP);
	uint8_t *hp;

	if (likely(e->tag_r == (RIP & EMU_PAGE_MASK)))
		hp = (uint8_t *)(uintptr_t)(RIP + e->addend);
	else
		hp = emu_mem_ptr_slow(cpu, RIP, 1, false);
	if (unlikely(!hp))
		emu_raise_err(cpu, EMU_GP, 0);
	for (uint32_t b = ic->hash[hash_of((uintptr_t)hp)]; b; b = ic->blocks[b - 1].hnext) {
		const struct emu_block *blk = &ic->blocks[b - 1];

		if (blk->key == (uintptr_t)hp) {
			ic->jc[RIP & ((1u << IC_JC_BITS) - 1)] = (struct ic_jc){ RIP, b };
			*n = blk->n;
			return &ic->insns[blk->first];
		}
	}
	return new_block(cpu, hp, n);
}

const struct emu_insn *emu_ic_fetch(struct emu_cpu *cpu, unsigned *n)
{
	struct emu_icache *ic = cpu->ic;
	const struct ic_jc *j = &ic->jc[RIP & ((1u << IC_JC_BITS) - 1)];

	if (likely(j->rip == RIP && j->block)) {
		const struct emu_block *blk = &ic->blocks[j->block - 1];

		if (likely(blk->key)) {
			*n = blk->n;
			return &ic->insns[blk->first];
		}
	}
	return fetch_slow(cpu, n);
}

/*
 * 4-level paging (long mode): the page walk with 4K/2M/1G pages, NX, WP,
 * U/S, reserved bits and accessed/dirty bits set atomically in the guest's
 * tables; #PF error codes; and the TLB upkeep the walk's results need
 * (global entries, entries only valid at CPL 0-2, large pages for INVLPG).
 * Facts from the Intel SDM vol. 3 ch. 4 and the AMD APM vol. 2 ch. 5.
 */
#include "accel/emu/codemap.h"
#include "accel/emu/icache.h"
#include "accel/emu/system.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_G 0x100ull
#define PTE_NX (1ull << 63)
#define PHYS_MASK 0x000000fffffff000ull /* MAXPHYADDR 40 (CPUID 80000008h) */
#define RSVD_HI 0x000fff0000000000ull

#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define PF_RSVD 8u
#define PF_I 16u

/* perm bits beyond read/write/exec (see emu_translate) */
#define PERM_GLOBAL 8u
#define PERM_SUP 16u   /* what is allowed differs at CPL 3 */
#define PERM_SHIFT 8   /* page size shift in bits 8-15 */

/* Host pointer to a paging-structure entry; NULL outside RAM. */
static uint64_t *entry_ptr(const struct emu_cpu *cpu, uint64_t gpa)
{
	const struct emu_mem *m = cpu->mem;

	for (unsigned r = 0; r < m->nram; r++) {
		uint64_t off = gpa - m->ram[r].base.raw;

		if (gpa >= m->ram[r].base.raw && off + 8 <= m->ram[r].size)
			return (uint64_t *)(void *)(m->ram[r].hva + off);
	}
	return NULL;
}

static EMU_NORETURN void page_fault(struct emu_cpu *cpu, uint64_t va, unsigned acc,
				    bool user, uint32_t err)
{
	if (acc & ACC_W)
		err |= PF_W;
	if (user)
		err |= PF_U;
	if ((acc & ACC_X) && (cpu->efer & EFER_NXE))
		err |= PF_I;
	cpu->exc.addr = va;
	emu_raise_err(cpu, EMU_PF_VEC, err);
}

/* Reserved bits of an entry at level (4 = PML4E ... 1 = PTE). */
static bool reserved(const struct emu_cpu *cpu, uint64_t e, int level)
{
	if (e & RSVD_HI)
		return true;
	if ((e & PTE_NX) && !(cpu->efer & EFER_NXE))
		return true;
	if (!(e & PTE_PS) || level == 1)
		return false;
	if (level == 4)
		return true;
	if (level == 3)
		return e & 0x3fffe000ull;  /* 1G page: bits 29:13 */
	return e & 0x1fe000ull;            /* 2M page: bits 20:13 */
}

static void set_bits(uint64_t *p, uint64_t bits)
{
	if ((__atomic_load_n(p, __ATOMIC_RELAXED) & bits) != bits)
		__atomic_fetch_or(p, bits, __ATOMIC_SEQ_CST);
}

static void check_canonical(struct emu_cpu *cpu, uint64_t va)
{
	if ((uint64_t)((int64_t)(va << 16) >> 16) != va) {
		cpu->exc.addr = va;
		emu_raise_err(cpu, EMU_GP, 0);
	}
}

/*
 * Walks CR3's tables. perm gets what the current privilege may do with the
 * page (bit 0 read, 1 write, 2 exec) plus PERM_* and the page size; write is
 * withheld while D is clear so that the first store comes back to set it.
 */
uint64_t emu_translate(struct emu_cpu *cpu, uint64_t va, unsigned acc, unsigned *perm)
{
	bool user = cpu->sys.cpl == 3 && !(acc & ACC_SUP);
	uint64_t *ptr[4], e = 0, table = cpu->cr3 & PHYS_MASK, all_w = PTE_W, all_u = PTE_U;
	bool nx = false, wp = cpu->cr0 & CR0_WP;
	unsigned shift = 39, n = 0, p_sup, p_user;
	int level;

	if (!(cpu->cr0 & EMU_CR0_PG) || !(cpu->efer & EMU_EFER_LMA)) {
		*perm = 7 | 12 << PERM_SHIFT; /* no paging (legacy paging is not modelled) */
		return va;
	}
	check_canonical(cpu, va);
	for (level = 4; level >= 1; level--, shift -= 9) {
		uint64_t *p = entry_ptr(cpu, table + ((va >> shift) & 511) * 8);

		e = p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0;
		if (!(e & PTE_P))
			page_fault(cpu, va, acc, user, 0);
		if (reserved(cpu, e, level))
			page_fault(cpu, va, acc, user, PF_P | PF_RSVD);
		ptr[n++] = p;
		all_w &= e;
		all_u &= e;
		nx |= (e & PTE_NX) && (cpu->efer & EFER_NXE);
		if (level == 1 || ((e & PTE_PS) && level <= 3))
			break;
		table = e & PHYS_MASK;
	}
	p_user = all_u ? (1 | (all_w ? 2 : 0) | (nx ? 0 : 4)) : 0;
	p_sup = 1 | (all_w || !wp ? 2 : 0) | (nx ? 0 : 4);
	*perm = user ? p_user : p_sup;
	if ((acc & ACC_W) ? !(*perm & 2) : (acc & ACC_X) ? !(*perm & 4) : !(*perm & 1))
		page_fault(cpu, va, acc, user, PF_P);
	for (unsigned k = 0; k + 1 < n; k++)
		set_bits(ptr[k], PTE_A);
	set_bits(ptr[n - 1], (acc & ACC_W) ? PTE_A | PTE_D : PTE_A);
	if (!(acc & ACC_W) && !(e & PTE_D))
		*perm &= ~2u;
	if (!user && p_sup != p_user)
		*perm |= PERM_SUP;
	if ((e & PTE_G) && (cpu->cr4 & CR4_PGE))
		*perm |= PERM_GLOBAL;
	*perm |= shift << PERM_SHIFT;
	{
		uint64_t size = 1ull << shift, base = (shift == 12 ? e & PHYS_MASK
						       : e & PHYS_MASK & ~(size - 1));

		return base | (va & (size - 1));
	}
}

/* ---- TLB bookkeeping ---- */

static void bit_set(uint64_t *map, unsigned k, bool on)
{
	if (on)
		map[k >> 6] |= 1ull << (k & 63);
	else
		map[k >> 6] &= ~(1ull << (k & 63));
}

void emu_tlb_note(struct emu_cpu *cpu, uint64_t va, unsigned perm)
{
	unsigned k = (va >> 12) & (EMU_TLB_SIZE - 1), shift = (perm >> PERM_SHIFT) & 0xff;

	bit_set(cpu->sys.tlb_global, k, perm & PERM_GLOBAL);
	bit_set(cpu->sys.tlb_sup, k, perm & PERM_SUP);
	bit_set(cpu->sys.tlb_large, k, shift > 12);
	cpu->sys.tlb_shift[k] = (uint8_t)shift;
}

/* Callers take the code map's events first (emu_code_sync): a write tag
 * dropped here must not be one another vCPU is waiting to hear about. */
static void drop(struct emu_cpu *cpu, unsigned k)
{
	cpu->tlb[k].tag_r = EMU_TLB_INVALID;
	cpu->tlb[k].tag_w = EMU_TLB_INVALID;
	cpu->tlb[k].tag_x = EMU_TLB_INVALID;
	bit_set(cpu->sys.tlb_global, k, false);
	bit_set(cpu->sys.tlb_sup, k, false);
	bit_set(cpu->sys.tlb_large, k, false);
}

/* Every entry whose bit is set in map. */
static void drop_map(struct emu_cpu *cpu, const uint64_t *map_in)
{
	uint64_t map[EMU_TLB_WORDS];

	memcpy(map, map_in, sizeof(map));
	for (unsigned w = 0; w < EMU_TLB_WORDS; w++) {
		while (map[w]) {
			unsigned b = (unsigned)__builtin_ctzll(map[w]);

			map[w] &= map[w] - 1;
			drop(cpu, w * 64 + b);
		}
	}
}

/* Entering CPL 3: entries filled with supervisor rights go. */
void emu_tlb_drop_sup(struct emu_cpu *cpu)
{
	emu_code_sync(cpu);
	drop_map(cpu, cpu->sys.tlb_sup);
}

/* INVLPG: the entry for va, and every piece of a large page holding va
 * (the TLB keeps 4K pieces of large pages). Decoded blocks are physical and
 * stay; the virtual RIP -> block shortcuts go. */
void emu_tlb_invlpg(struct emu_cpu *cpu, uint64_t va)
{
	uint64_t map[EMU_TLB_WORDS];

	emu_code_sync(cpu);
	drop(cpu, (va >> 12) & (EMU_TLB_SIZE - 1));
	memcpy(map, cpu->sys.tlb_large, sizeof(map));
	for (unsigned w = 0; w < EMU_TLB_WORDS; w++) {
		while (map[w]) {
			unsigned b = (unsigned)__builtin_ctzll(map[w]), k = w * 64 + b;
			uint64_t tag = cpu->tlb[k].tag_r;

			map[w] &= map[w] - 1;
			if (tag == EMU_TLB_INVALID)
				tag = cpu->tlb[k].tag_x;
			if (((tag ^ va) >> cpu->sys.tlb_shift[k]) == 0 || tag == EMU_TLB_INVALID)
				drop(cpu, k);
		}
	}
	if (cpu->ic)
		emu_ic_jc_flush(cpu->ic);
}

/* CR3 write: global entries stay (CR4.PGE). */
void emu_tlb_flush_nonglobal(struct emu_cpu *cpu)
{
	emu_code_sync(cpu);
	for (unsigned k = 0; k < EMU_TLB_SIZE; k++) {
		if (!(cpu->sys.tlb_global[k >> 6] & (1ull << (k & 63))))
			drop(cpu, k);
	}
	if (cpu->ic)
		emu_ic_jc_flush(cpu->ic);
}

/* ---- implicit supervisor accesses, no TLB ---- */

static uint8_t *sys_host(struct emu_cpu *cpu, uint64_t va, unsigned acc)
{
	unsigned perm;
	uint64_t gpa = emu_translate(cpu, va, acc | ACC_SUP, &perm);
	uint64_t *p = entry_ptr(cpu, gpa & ~7ull);

	if (!p) {
		cpu->exc.addr = va;
		emu_raise_err(cpu, EMU_GP, 0);
	}
	return (uint8_t *)p + (gpa & 7);
}

/* Byte by byte across pages: descriptor tables and frames are small. */
void emu_sys_read(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n)
{
	uint8_t *out = buf;

	while (n) {
		unsigned chunk = (unsigned)(EMU_PAGE_SIZE - (va & ~EMU_PAGE_MASK));
		uint8_t *p = sys_host(cpu, va, 0);

		if (chunk > n)
			chunk = n;
		if (chunk > 8 - (va & 7))
			chunk = (unsigned)(8 - (va & 7));
		memcpy(out, p, chunk);
		va += chunk;
		out += chunk;
		n -= chunk;
	}
}

void emu_sys_write(struct emu_cpu *cpu, uint64_t va, const void *buf, unsigned n)
{
	const uint8_t *in = buf;

	while (n) {
		unsigned chunk = (unsigned)(8 - (va & 7));
		uint8_t *p = sys_host(cpu, va, ACC_W);

		if (chunk > n)
			chunk = n;
		memcpy(p, in, chunk);
		va += chunk;
		in += chunk;
		n -= chunk;
	}
}

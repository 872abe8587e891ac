/*
 * Guest memory access from instruction handlers. The inline fast path is one
 * TLB probe; everything else (misses, page-crossing accesses, MMIO, stores
 * to pages holding decoded code) goes to mem.c.
 */
#ifndef EMU_MEM_H
#define EMU_MEM_H

#include "accel/emu/cpu.h"

uint64_t emu_mem_read_slow(struct emu_cpu *cpu, uint64_t va, unsigned sz);
void emu_mem_write_slow(struct emu_cpu *cpu, uint64_t va, unsigned sz, uint64_t v);
/* Host pointer for [va, va+sz) if it is RAM within one page, else NULL. */
void *emu_mem_ptr_slow(struct emu_cpu *cpu, uint64_t va, unsigned sz, bool write);
/*
 * Instruction fetch (execute permission): a host pointer for va, or bytes
 * copied across pages. No RAM behind an address stops the CPU with
 * EMU_EXIT_FETCH_UNBACKED: MMIO is never read as code.
 */
void *emu_mem_fetch_ptr(struct emu_cpu *cpu, uint64_t va);
void emu_mem_fetch_buf(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n);
/* Copy n bytes out of / into guest memory (SSE, FXSAVE). */
void emu_mem_read_buf(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n);
void emu_mem_write_buf(struct emu_cpu *cpu, uint64_t va, const void *buf, unsigned n);
/* Drop this vCPU's write tags for a host page; true if it held any. */
bool emu_tlb_drop_write(struct emu_cpu *cpu, uintptr_t host_page);

_Static_assert(sizeof(struct emu_tlb_entry) == 32, "tlb_entry() scales by 32");

/* The entry's byte offset straight from va (shift and mask: the hot path). */
static inline struct emu_tlb_entry *tlb_entry(struct emu_cpu *cpu, uint64_t va)
{
	uintptr_t off = (va >> (12 - 5)) & ((EMU_TLB_SIZE - 1) << 5);

	return (struct emu_tlb_entry *)((char *)cpu->tlb + off);
}

/*
 * True if [va, va+sz) lies in the page tagged by tag (the entry of va's
 * page): one compare with the page of the last byte, since a crossing
 * access ends in the next page, which never shares an entry with va's.
 */
static inline bool tlb_hit(uint64_t tag, uint64_t va, unsigned sz)
{
	return tag == ((va + sz - 1) & EMU_PAGE_MASK);
}

static inline uint64_t mem_rd(struct emu_cpu *cpu, uint64_t va, unsigned sz)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);

	if (likely(tlb_hit(e->tag_r, va, sz)))
		return ld((const void *)(uintptr_t)(va + e->addend), sz);
	return emu_mem_read_slow(cpu, va, sz);
}

static inline void mem_wr(struct emu_cpu *cpu, uint64_t va, unsigned sz, uint64_t v)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);

	if (likely(tlb_hit(e->tag_w, va, sz)))
		st((void *)(uintptr_t)(va + e->addend), sz, v);
	else
		emu_mem_write_slow(cpu, va, sz, v);
}

static inline void *mem_wptr(struct emu_cpu *cpu, uint64_t va, unsigned sz)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);

	if (likely(tlb_hit(e->tag_w, va, sz)))
		return (void *)(uintptr_t)(va + e->addend);
	return emu_mem_ptr_slow(cpu, va, sz, true);
}

/*
 * Read-modify-write of a memory operand: p is the host location when the
 * operand is plain RAM (then LOCK is done with atomics on it), else a bounce
 * buffer written back by rmw_end().
 */
struct emu_rmw {
	void *p;
	uint64_t va;
	uint64_t tmp;
	unsigned sz;
};

static inline void *rmw_begin(struct emu_cpu *cpu, struct emu_rmw *m, uint64_t va, unsigned sz)
{
	m->va = va;
	m->sz = sz;
	m->p = mem_wptr(cpu, va, sz);
	if (likely(m->p))
		return m->p;
	m->tmp = emu_mem_read_slow(cpu, va, sz);
	return &m->tmp;
}

static inline void rmw_end(struct emu_cpu *cpu, struct emu_rmw *m)
{
	if (unlikely(!m->p))
		emu_mem_write_slow(cpu, m->va, m->sz, m->tmp);
}

/* Atomic compare-and-swap of sz bytes; on failure *old gets the current value. */
static inline bool cas(void *p, unsigned sz, uint64_t *old, uint64_t nv)
{
	switch (sz) {
	case 1: {
		uint8_t o = (uint8_t)*old;
		bool ok = __atomic_compare_exchange_n((uint8_t *)p, &o, (uint8_t)nv, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	case 2: {
		uint16_t o = (uint16_t)*old;
		bool ok = __atomic_compare_exchange_n((uint16_t *)p, &o, (uint16_t)nv, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	case 4: {
		uint32_t o = (uint32_t)*old;
		bool ok = __atomic_compare_exchange_n((uint32_t *)p, &o, (uint32_t)nv, false,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		*old = o;
		return ok;
	}
	default:
		return __atomic_compare_exchange_n((uint64_t *)p, old, nv, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
}

/* Operand fetch for the r/m operand of a decoded instruction. */
static inline uint64_t rm_rd(struct emu_cpu *cpu, const struct emu_insn *i, unsigned sz)
{
	if (i->flags & I_MEM)
		return mem_rd(cpu, ea(cpu, i), sz);
	return reg_rd(cpu, i->rm, sz);
}

static inline void rm_wr(struct emu_cpu *cpu, const struct emu_insn *i, unsigned sz, uint64_t v)
{
	if (i->flags & I_MEM)
		mem_wr(cpu, ea(cpu, i), sz, v);
	else
		reg_wr(cpu, i->rm, sz, v);
}

/* Stack (64-bit mode: RSP, no segment base). */
static inline void push(struct emu_cpu *cpu, unsigned sz, uint64_t v)
{
	uint64_t sp = RSP - sz;

	mem_wr(cpu, sp, sz, v);
	RSP = sp;
}

static inline uint64_t pop(struct emu_cpu *cpu, unsigned sz)
{
	uint64_t v = mem_rd(cpu, RSP, sz);

	RSP += sz;
	return v;
}

#endif

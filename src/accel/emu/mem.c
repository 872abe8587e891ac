/*
 * Memory slow paths: TLB fills, page-crossing accesses, MMIO, and stores to
 * pages holding decoded code. Translation (the page walk, #PF) is paging.c's
 * emu_translate(); a fill installs read, write and fetch tags according to
 * what the current privilege may do with the page.
 */
#include "accel/emu/codemap.h"
#include "accel/emu/icache.h"
#include "accel/emu/system.h"

struct emu_loc {
	uint8_t *hva;       /* host pointer, NULL for MMIO */
	uint64_t gpa;
	unsigned region;
	unsigned perm;      /* emu_translate()'s permissions */
};

static void resolve(struct emu_cpu *cpu, uint64_t va, unsigned acc, struct emu_loc *loc)
{
	const struct emu_mem *m = cpu->mem;
	uint64_t gpa = emu_translate(cpu, va, acc, &loc->perm);

	loc->gpa = gpa;
	loc->hva = NULL;
	for (unsigned r = 0; r < m->nram; r++) {
		uint64_t off = gpa - m->ram[r].base.raw;

		if (gpa >= m->ram[r].base.raw && off < m->ram[r].size) {
			loc->hva = m->ram[r].hva + off;
			loc->region = r;
			return;
		}
	}
	if (acc & ACC_X) { /* not #GP: the guest did nothing wrong that it could handle */
		cpu->exit_gpa = gpa;
		emu_exit_now(cpu, EMU_EXIT_FETCH_UNBACKED);
	}
	if (!m->mmio) {
		cpu->exc.addr = va;
		emu_raise_err(cpu, EMU_GP, 0);
	}
}

static uint64_t page_index(const struct emu_cpu *cpu, const struct emu_loc *loc)
{
	return (loc->gpa - cpu->mem->ram[loc->region].base.raw) >> 12;
}

/* A store to RAM outside the write tags: decoded blocks of the page go,
 * this vCPU's and (through the code map) the other vCPUs'. */
static void store_to_page(struct emu_cpu *cpu, const struct emu_loc *loc)
{
	uint64_t pidx = page_index(cpu, loc);

	if (emu_ic_page_is_code(cpu->ic, loc->region, pidx))
		emu_ic_invalidate_page(cpu->ic, loc->region, pidx);
	emu_code_store(cpu, loc->region, pidx);
}

/*
 * Install a translation; no write tag for pages holding decoded code, this
 * vCPU's or another's (a store to one drops the blocks first, then gets the
 * tag). The code map's events come first: the entry replaced may hold a
 * write tag the others must hear about.
 */
static void tlb_fill(struct emu_cpu *cpu, uint64_t va, const struct emu_loc *loc, unsigned acc)
{
	struct emu_tlb_entry *e = tlb_entry(cpu, va);
	uint64_t page = va & EMU_PAGE_MASK;
	uint64_t pidx = page_index(cpu, loc);
	bool code;

	emu_code_sync(cpu);
	if (acc & ACC_W) {
		store_to_page(cpu, loc);
		code = false;
	} else {
		code = emu_ic_page_is_code(cpu->ic, loc->region, pidx) ||
		       emu_code_marked(cpu, loc->region, pidx);
	}
	e->addend = (uintptr_t)loc->hva - (uintptr_t)va;
	e->tag_r = (loc->perm & 1) ? page : EMU_TLB_INVALID;
	e->tag_w = (loc->perm & 2) && !code ? page : EMU_TLB_INVALID;
	e->tag_x = (loc->perm & 4) ? page : EMU_TLB_INVALID;
	emu_tlb_note(cpu, va, loc->perm);
}

static void mmio(struct emu_cpu *cpu, uint64_t gpa, void *data, unsigned sz, bool write)
{
	cpu->mem->mmio(cpu->mem->opaque, gpa, data, sz, write);
}

static bool crosses(uint64_t va, unsigned sz)
{
	return (va & ~EMU_PAGE_MASK) + sz > EMU_PAGE_SIZE;
}

uint64_t emu_mem_read_slow(struct emu_cpu *cpu, uint64_t va, unsigned sz)
{
	struct emu_loc loc;
	uint64_t v = 0;

	if (crosses(va, sz)) {
		emu_mem_read_buf(cpu, va, &v, sz);
		return v;
	}
	resolve(cpu, va, 0, &loc);
	if (loc.hva) {
		tlb_fill(cpu, va, &loc, 0);
		return ld(loc.hva, sz);
	}
	mmio(cpu, loc.gpa, &v, sz, false);
	return v;
}

void emu_mem_write_slow(struct emu_cpu *cpu, uint64_t va, unsigned sz, uint64_t v)
{
	struct emu_loc loc;

	if (crosses(va, sz)) {
		emu_mem_write_buf(cpu, va, &v, sz);
		return;
	}
	resolve(cpu, va, ACC_W, &loc);
	if (loc.hva) {
		tlb_fill(cpu, va, &loc, ACC_W);
		st(loc.hva, sz, v);
		return;
	}
	mmio(cpu, loc.gpa, &v, sz, true);
}

void *emu_mem_ptr_slow(struct emu_cpu *cpu, uint64_t va, unsigned sz, bool write)
{
	struct emu_loc loc;

	if (crosses(va, sz))
		return NULL;
	resolve(cpu, va, write ? ACC_W : 0, &loc);
	if (!loc.hva)
		return NULL;
	tlb_fill(cpu, va, &loc, write ? ACC_W : 0);
	return loc.hva;
}

/* Instruction fetch: execute permission; the fetch tag is what the decode
 * cache probes. Not RAM: resolve() stops the CPU. */
void *emu_mem_fetch_ptr(struct emu_cpu *cpu, uint64_t va)
{
	struct emu_loc loc;

	resolve(cpu, va, ACC_X, &loc);
	tlb_fill(cpu, va, &loc, ACC_X);
	return loc.hva;
}

/* Byte ranges, page by page; MMIO in naturally sized pieces up to 8 (never
 * for ACC_X: resolve() stops the CPU). */
static void read_pages(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n, unsigned acc)
{
	uint8_t *out = buf;

	while (n) {
		unsigned chunk = EMU_PAGE_SIZE - (va & ~EMU_PAGE_MASK);
		struct emu_loc loc;

		if (chunk > n)
			chunk = n;
		resolve(cpu, va, acc, &loc);
		if (loc.hva) {
			memcpy(out, loc.hva, chunk);
		} else {
			for (unsigned k = 0; k < chunk; k++)
				mmio(cpu, loc.gpa + k, out + k, 1, false);
		}
		va += chunk;
		out += chunk;
		n -= chunk;
	}
}

void emu_mem_read_buf(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n)
{
	read_pages(cpu, va, buf, n, 0);
}

void emu_mem_fetch_buf(struct emu_cpu *cpu, uint64_t va, void *buf, unsigned n)
{
	read_pages(cpu, va, buf, n, ACC_X);
}

/* Resolves every page before storing anything: a fault leaves memory as it was. */
void emu_mem_write_buf(struct emu_cpu *cpu, uint64_t va, const void *buf, unsigned n)
{
	const uint8_t *in = buf;
	struct emu_loc loc[2];
	unsigned chunk[2], np = 0;
	uint64_t a = va;

	while (n && np < 2) {
		chunk[np] = EMU_PAGE_SIZE - (a & ~EMU_PAGE_MASK);
		if (chunk[np] > n)
			chunk[np] = n;
		resolve(cpu, a, ACC_W, &loc[np]);
		a += chunk[np];
		n -= chunk[np];
		np++;
	}
	for (unsigned p = 0; p < np; p++) {
		if (loc[p].hva) {
			store_to_page(cpu, &loc[p]);
			memcpy(loc[p].hva, in, chunk[p]);
		} else {
			for (unsigned k = 0; k < chunk[p]; k++)
				mmio(cpu, loc[p].gpa + k, (void *)(in + k), 1, true);
		}
		in += chunk[p];
	}
	if (n) /* more than two pages: only FXSAVE-sized buffers get here */
		emu_mem_write_buf(cpu, a, in, n);
}

/* The write tags this vCPU holds for a host page go; true if there were any. */
bool emu_tlb_drop_write(struct emu_cpu *cpu, uintptr_t host_page)
{
	bool held = false;

	for (unsigned k = 0; k < EMU_TLB_SIZE; k++) {
		struct emu_tlb_entry *e = &cpu->tlb[k];

		if (e->tag_w + e->addend == host_page) {
			e->tag_w = EMU_TLB_INVALID;
			held = true;
		}
	}
	return held;
}

void emu_tlb_flush(struct emu_cpu *cpu)
{
	emu_code_sync(cpu); /* before write tags go unreported */
	if (cpu->ic)
		emu_ic_jc_flush(cpu->ic);
	for (unsigned k = 0; k < EMU_TLB_SIZE; k++) {
		cpu->tlb[k].tag_r = EMU_TLB_INVALID;
		cpu->tlb[k].tag_w = EMU_TLB_INVALID;
		cpu->tlb[k].tag_x = EMU_TLB_INVALID;
	}
	memset(cpu->sys.tlb_global, 0, sizeof(cpu->sys.tlb_global));
	memset(cpu->sys.tlb_sup, 0, sizeof(cpu->sys.tlb_sup));
	memset(cpu->sys.tlb_large, 0, sizeof(cpu->sys.tlb_large));
}

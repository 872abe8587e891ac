/*
 * The VM's code map (see codemap.h). Marks are bits in a shared bitmap,
 * changed with atomic RMWs; events go into a ring under a mutex (posting is
 * rare: a page becoming code, or a store into code); each vCPU keeps how
 * far it has read (cpu->code_seen). A vCPU that fell more than a ring
 * behind drops all its blocks and write tags instead.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "accel/emu/codemap.h"
#include "accel/emu/icache.h"
#include "accel/emu/mem.h"

#define CM_RING 1024u  /* events a vCPU may fall behind by */
#define CM_BATCH 32u   /* events taken per lock */
#define CM_REGIONS 8u

enum { CM_DECODED, CM_WRITTEN };

struct cm_event {
	uint64_t gp;               /* page: region_first[region] + page */
	const struct emu_cpu *who; /* the poster, which skips its own events */
	unsigned kind;
};

struct emu_codemap {
	_Atomic uint32_t gen;      /* events posted so far (ring[gen % CM_RING] is the last) */
	pthread_mutex_t lock;      /* the ring and gen's updates */
	struct cm_event ring[CM_RING];
	unsigned nregions;
	uint64_t region_first[CM_REGIONS];
	_Atomic uint64_t *marks;   /* a bit per RAM page: some vCPU may hold it decoded */
	unsigned ncpus;
	_Atomic(struct emu_cpu *) *cpus; /* attached vCPUs, asked to exit on a post */
};

int emu_codemap_create(struct emu_codemap **out, const struct guest_ram_region *ram,
		       unsigned nram, unsigned ncpus)
{
	struct emu_codemap *cm;
	uint64_t pages = 0;

	if (nram > CM_REGIONS)
		return -EINVAL;
	cm = calloc(1, sizeof(*cm));
	if (!cm)
		return -ENOMEM;
	for (unsigned r = 0; r < nram; r++) {
		cm->region_first[r] = pages;
		pages += (ram[r].size + EMU_PAGE_SIZE - 1) >> 12;
	}
	cm->nregions = nram;
	cm->ncpus = ncpus;
	cm->marks = calloc(pages / 64 + 1, sizeof(*cm->marks));
	cm->cpus = calloc(ncpus ? ncpus : 1, sizeof(*cm->cpus));
	if (!cm->marks || !cm->cpus || pthread_mutex_init(&cm->lock, NULL)) {
		free(cm->marks);
		free(cm->cpus);
		free(cm);
		return -ENOMEM;
	}
	*out = cm;
	return 0;
}

void emu_codemap_destroy(struct emu_codemap *cm)
{
	if (!cm)
		return;
	pthread_mutex_destroy(&cm->lock);
	free(cm->marks);
	free(cm->cpus);
	free(cm);
}

/* cpu's emu_mem must point at cm; events from before attaching concern
 * nothing this vCPU holds. */
void emu_codemap_attach(struct emu_codemap *cm, unsigned index, struct emu_cpu *cpu)
{
	if (index >= cm->ncpus)
		return;
	cpu->code_seen = atomic_load(&cm->gen);
	atomic_store_explicit(&cm->cpus[index], cpu, memory_order_release);
}

void emu_codemap_detach(struct emu_codemap *cm, unsigned index)
{
	if (index < cm->ncpus)
		atomic_store_explicit(&cm->cpus[index], NULL, memory_order_release);
}

static void post(struct emu_codemap *cm, const struct emu_cpu *who, uint64_t gp, unsigned kind)
{
	uint32_t gen;

	pthread_mutex_lock(&cm->lock);
	gen = atomic_load_explicit(&cm->gen, memory_order_relaxed) + 1;
	cm->ring[gen % CM_RING] = (struct cm_event){ gp, who, kind };
	atomic_store_explicit(&cm->gen, gen, memory_order_release);
	pthread_mutex_unlock(&cm->lock);
	for (unsigned k = 0; k < cm->ncpus; k++) {
		struct emu_cpu *c = atomic_load_explicit(&cm->cpus[k], memory_order_acquire);

		if (c && c != who)
			emu_request_exit(c);
	}
}

static uint64_t mark_bit(uint64_t gp)
{
	return 1ull << (gp & 63);
}

static bool marked(const struct emu_codemap *cm, uint64_t gp)
{
	return atomic_load(&cm->marks[gp >> 6]) & mark_bit(gp);
}

/* Marked before the bytes are read: a store that checks after the mark
 * posts CM_WRITTEN; one through an older tag is reported when the tag goes. */
void emu_code_decoding(struct emu_cpu *cpu, unsigned region, uint64_t page)
{
	struct emu_codemap *cm = cpu->mem->code;
	uint64_t gp;

	if (!cm)
		return;
	gp = cm->region_first[region] + page;
	if (!marked(cm, gp) && !(atomic_fetch_or(&cm->marks[gp >> 6], mark_bit(gp)) & mark_bit(gp)))
		post(cm, cpu, gp, CM_DECODED);
}

bool emu_code_marked(const struct emu_cpu *cpu, unsigned region, uint64_t page)
{
	const struct emu_codemap *cm = cpu->mem->code;

	return cm && marked(cm, cm->region_first[region] + page);
}

/* Posts the CM_WRITTEN events this vCPU holds back. */
static void publish(struct emu_cpu *cpu)
{
	for (unsigned k = 0; k < cpu->code_npending; k++)
		post(cpu->mem->code, cpu, cpu->code_pending[k], CM_WRITTEN);
	cpu->code_npending = 0;
}

/* CM_WRITTEN for gp once the store is done: at the end of this block,
 * which the exit request brings (or now for older ones, if full). */
static void defer_written(struct emu_cpu *cpu, uint64_t gp)
{
	unsigned max = sizeof(cpu->code_pending) / sizeof(cpu->code_pending[0]);

	for (unsigned k = 0; k < cpu->code_npending; k++) {
		if (cpu->code_pending[k] == gp)
			return;
	}
	if (cpu->code_npending == max)
		publish(cpu);
	cpu->code_pending[cpu->code_npending++] = gp;
	emu_request_exit(cpu);
}

void emu_code_store(struct emu_cpu *cpu, unsigned region, uint64_t page)
{
	struct emu_codemap *cm = cpu->mem->code;
	uint64_t gp;

	if (!cm)
		return;
	gp = cm->region_first[region] + page;
	if (marked(cm, gp) && (atomic_fetch_and(&cm->marks[gp >> 6], ~mark_bit(gp)) & mark_bit(gp)))
		defer_written(cpu, gp);
}

/* Region and page of a global page index. */
static void where(const struct emu_codemap *cm, uint64_t gp, unsigned *region, uint64_t *page)
{
	unsigned r = cm->nregions - 1;

	while (r && gp < cm->region_first[r])
		r--;
	*region = r;
	*page = gp - cm->region_first[r];
}

static uintptr_t host_page(const struct emu_cpu *cpu, unsigned region, uint64_t page)
{
	return (uintptr_t)cpu->mem->ram[region].hva + (uintptr_t)(page << 12);
}

static void take(struct emu_cpu *cpu, const struct cm_event *e)
{
	unsigned region;
	uint64_t page;

	if (e->who == cpu)
		return;
	where(cpu->mem->code, e->gp, &region, &page);
	if (e->kind == CM_WRITTEN) {
		if (emu_ic_page_is_code(cpu->ic, region, page))
			emu_ic_invalidate_page(cpu->ic, region, page);
	} else if (emu_tlb_drop_write(cpu, host_page(cpu, region, page))) {
		defer_written(cpu, e->gp);
	}
}

/* The global page of a host page address; false if not RAM. */
static bool gpage_of(const struct emu_cpu *cpu, uintptr_t hp, uint64_t *gp)
{
	const struct emu_mem *m = cpu->mem;

	for (unsigned r = 0; r < m->nram; r++) {
		uintptr_t base = (uintptr_t)m->ram[r].hva;

		if (hp >= base && hp - base < m->ram[r].size) {
			*gp = m->code->region_first[r] + ((hp - base) >> 12);
			return true;
		}
	}
	return false;
}

/* Fell a ring behind: every block goes, and every write tag, reported for
 * the pages that are code now. */
static void take_all(struct emu_cpu *cpu)
{
	struct emu_codemap *cm = cpu->mem->code;

	emu_ic_flush(cpu->ic);
	for (unsigned k = 0; k < EMU_TLB_SIZE; k++) {
		struct emu_tlb_entry *e = &cpu->tlb[k];
		uint64_t gp;

		if (e->tag_w == EMU_TLB_INVALID)
			continue;
		if (gpage_of(cpu, (uintptr_t)(e->tag_w + e->addend), &gp) && marked(cm, gp))
			defer_written(cpu, gp);
		e->tag_w = EMU_TLB_INVALID;
	}
}

/* Copies up to CM_BATCH events after cpu->code_seen; false if they are
 * gone from the ring. */
static bool fetch(struct emu_codemap *cm, struct emu_cpu *cpu, struct cm_event *ev, unsigned *n)
{
	uint32_t gen, seen = cpu->code_seen;
	bool ok;

	pthread_mutex_lock(&cm->lock);
	gen = atomic_load_explicit(&cm->gen, memory_order_relaxed);
	ok = gen - seen <= CM_RING;
	*n = ok ? (gen - seen < CM_BATCH ? gen - seen : CM_BATCH) : 0;
	for (unsigned k = 0; k < *n; k++)
		ev[k] = cm->ring[(seen + 1 + k) % CM_RING];
	cpu->code_seen = ok ? seen + *n : gen;
	pthread_mutex_unlock(&cm->lock);
	return ok;
}

void emu_code_sync_slow(struct emu_cpu *cpu)
{
	struct emu_codemap *cm = cpu->mem->code;
	struct cm_event ev[CM_BATCH];
	unsigned n;

	while (atomic_load_explicit(&cm->gen, memory_order_acquire) != cpu->code_seen) {
		if (!cpu->ic) { /* not initialised yet: holds nothing */
			cpu->code_seen = atomic_load(&cm->gen);
			return;
		}
		if (!fetch(cm, cpu, ev, &n)) {
			take_all(cpu);
			continue;
		}
		for (unsigned k = 0; k < n; k++)
			take(cpu, &ev[k]);
	}
}

/* Events first: dropping a write tag may add to what is published. */
void emu_code_boundary_slow(struct emu_cpu *cpu)
{
	emu_code_sync_slow(cpu);
	publish(cpu);
}

/*
 * The decoded-instruction cache: blocks of decoded records, keyed by the host
 * address of their first byte (which stands for the guest-physical address:
 * guest RAM is one mapping per region), so blocks survive CR3 switches and
 * are shared by every virtual alias. Each RAM page holding decoded code lists
 * its blocks; a store to such a page (always a TLB slow path, see mem.c)
 * drops them.
 */
#ifndef EMU_ICACHE_H
#define EMU_ICACHE_H

#include "accel/emu/cpu.h"

int emu_ic_create(struct emu_icache **out, const struct emu_mem *mem);
void emu_ic_destroy(struct emu_icache *ic);
void emu_ic_flush(struct emu_icache *ic);
/* Forget RIP -> block shortcuts (with every TLB flush). */
void emu_ic_jc_flush(struct emu_icache *ic);

/* The decoded block at RIP (decoding it on a miss); *n = its record count. */
const struct emu_insn *emu_ic_fetch(struct emu_cpu *cpu, unsigned *n);

/* Code-page tracking, by RAM region and page index within it. */
bool emu_ic_page_is_code(const struct emu_icache *ic, unsigned region, uint64_t page);
void emu_ic_invalidate_page(struct emu_icache *ic, unsigned region, uint64_t page);

#endif

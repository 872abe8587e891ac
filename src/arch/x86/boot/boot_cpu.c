/*
 * The boot CPU as the Linux 64-bit boot protocol wants it: long mode with
 * paging, a GDT holding flat __BOOT_CS (0x10, 64-bit code) and __BOOT_DS
 * (0x18, data), CS/DS/ES/SS loaded from them, interrupts off, RSI pointing at
 * the zero page, and the first 4 GiB identity-mapped with 2 MiB pages.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"

#define X86_CR0_PE   (1ull << 0)
#define X86_CR0_ET   (1ull << 4)
#define X86_CR0_PG   (1ull << 31)
#define X86_CR4_PAE  (1ull << 5)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)

#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)

#define GDT_ENTRIES 4
#define PT_PAGES    6 /* PML4, PDPT, 4 page directories */

/* A flat descriptor: base 0, limit 0xfffff in 4 KiB units. */
static uint64_t gdt_flat(uint8_t access, uint8_t flags)
{
	return 0xffffull | (0xfull << 48) | ((uint64_t)access << 40) |
	       ((uint64_t)flags << 52);
}

static struct cpu_segment seg_flat(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
	return (struct cpu_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.s = 1, .dpl = 0, .present = 1, .l = l, .db = db, .g = 1,
	};
}

static int write_gdt(struct guest_memory *mem)
{
	uint64_t gdt[GDT_ENTRIES] = { 0 };
	uint64_t idt[2] = { 0 };
	int err;

	/* access 0x9b: present, code, exec/read, accessed; flags: G, L. */
	gdt[X86_BOOT_CS / 8] = gdt_flat(0x9b, 0xa);
	/* access 0x93: present, data, read/write, accessed; flags: G, D/B. */
	gdt[X86_BOOT_DS / 8] = gdt_flat(0x93, 0xc);
	err = guest_write(mem, gpa(X86_BOOT_GDT), gdt, sizeof(gdt));
	if (!err)
		err = guest_write(mem, gpa(X86_BOOT_IDT), idt, sizeof(idt));
	return err;
}

/* PML4 -> PDPT -> 4 PDs of 2 MiB pages: identity map of [0, 4 GiB). */
static int write_page_tables(struct guest_memory *mem)
{
	uint64_t *pt = gpa_to_hva(mem, gpa(X86_PAGE_TABLES), PT_PAGES * 4096);
	uint64_t *pml4 = pt, *pdpt = pt + 512, *pd = pt + 1024;

	_Static_assert(X86_PAGE_TABLES + PT_PAGES * 4096 <= X86_PAGE_TABLES_END,
		       "page tables do not fit");
	if (!pt)
		return -EFBIG;
	memset(pt, 0, PT_PAGES * 4096);
	pml4[0] = (X86_PAGE_TABLES + 0x1000) | PTE_P | PTE_RW;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (X86_PAGE_TABLES + 0x2000 + i * 0x1000ull) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int x86_setup_boot_cpu(struct guest_memory *mem, uint64_t entry, struct cpu_boot_state *st)
{
	struct cpu_segment ds = seg_flat(X86_BOOT_DS, 0x3, 0, 1);
	int err;

	err = write_gdt(mem);
	if (!err)
		err = write_page_tables(mem);
	if (err)
		return -EFBIG; /* low memory missing: RAM too small */

	memset(st, 0, sizeof(*st));
	st->rip = entry;
	st->rflags = 0x2; /* bit 1 is reserved-one; IF clear */
	st->gpr[CPU_RSI] = X86_ZERO_PAGE;
	st->gpr[CPU_RSP] = X86_BOOT_STACK;
	st->cs = seg_flat(X86_BOOT_CS, 0xb, 1, 0);
	st->ds = st->es = st->ss = st->fs = st->gs = ds;
	/* No TSS or LDT in the GDT: hidden state only, as after a CPU reset. */
	st->tr = (struct cpu_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	st->ldt = (struct cpu_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	st->gdt = (struct cpu_table){ X86_BOOT_GDT, GDT_ENTRIES * 8 - 1 };
	st->idt = (struct cpu_table){ X86_BOOT_IDT, 0 };
	st->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	st->cr3 = X86_PAGE_TABLES;
	st->cr4 = X86_CR4_PAE;
	st->efer = X86_EFER_LME | X86_EFER_LMA;
	return 0;
}

/*
 * The guest RAM layout and the e820 memory map describing it: RAM below the
 * 32-bit PCI hole, the rest from 4 GiB; the EBDA/BIOS area and the ECAM and
 * interrupt controller windows reported as reserved.
 */
#include <errno.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"
#include "core/arch.h"

#define PAGE_SIZE 4096ull

int arch_ram_layout(uint64_t ram_size, struct mem_range *out, unsigned max)
{
	uint64_t low = ram_size < X86_MMIO_HOLE_START ? ram_size : X86_MMIO_HOLE_START;
	uint64_t high = ram_size - low;
	unsigned n = high ? 2 : 1;

	if (ram_size < X86_HIGH_MEM_START || ram_size % PAGE_SIZE)
		return -EINVAL;
	/* High RAM must stay below the 64-bit PCI window. */
	if (high > X86_PCI_MMIO64_START - X86_4G)
		return -EINVAL;
	if (max < n)
		return -ENOSPC;
	out[0] = (struct mem_range){ gpa(0), low };
	if (high)
		out[1] = (struct mem_range){ gpa(X86_4G), high };
	return (int)n;
}

static int e820_add(struct e820_entry *out, unsigned max, unsigned *n,
		    uint64_t addr, uint64_t size, uint32_t type)
{
	if (!size)
		return 0;
	if (*n >= max)
		return -ENOSPC;
	out[(*n)++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	return 0;
}

/*
 * One RAM region. Low memory loses the EBDA and BIOS area: it stays backed
 * (the MP table lives there) but is reported reserved.
 */
static int e820_add_ram(struct e820_entry *out, unsigned max, unsigned *n,
			const struct guest_ram_region *r)
{
	uint64_t start = r->base.raw, end = start + r->size;
	int err;

	if (start >= X86_LOW_RAM_END || end <= X86_LOW_RAM_END)
		return e820_add(out, max, n, start, r->size, E820_RAM);
	err = e820_add(out, max, n, start, X86_LOW_RAM_END - start, E820_RAM);
	if (!err)
		err = e820_add(out, max, n, X86_EBDA_START, X86_HIGH_MEM_START - X86_EBDA_START,
			       E820_RESERVED);
	if (!err && end > X86_HIGH_MEM_START)
		err = e820_add(out, max, n, X86_HIGH_MEM_START, end - X86_HIGH_MEM_START,
			       E820_RAM);
	return err;
}

/* Reserved windows in the 32-bit hole, sorted; never RAM (arch_ram_layout). */
static const struct {
	uint64_t addr, size;
} e820_reserved[] = {
	{ X86_PCI_ECAM_START, X86_PCI_ECAM_SIZE },
	{ X86_IOAPIC_BASE, 0x1000 },
	{ X86_LAPIC_BASE, 0x1000 },
};

int x86_e820_build(const struct guest_memory *mem, struct e820_entry *out, unsigned max)
{
	const unsigned nres = sizeof(e820_reserved) / sizeof(e820_reserved[0]);
	unsigned n = 0, i = 0, j = 0;
	int err = 0;

	/* Merge RAM regions and reserved ranges by address. */
	while (!err && (i < mem->nregions || j < nres)) {
		if (j >= nres || (i < mem->nregions &&
				  mem->regions[i].base.raw < e820_reserved[j].addr)) {
			err = e820_add_ram(out, max, &n, &mem->regions[i++]);
		} else {
			err = e820_add(out, max, &n, e820_reserved[j].addr,
				       e820_reserved[j].size, E820_RESERVED);
			j++;
		}
	}
	return err ? err : (int)n;
}

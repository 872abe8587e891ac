/*
 * The zero page (struct boot_params) and the command line: the kernel's
 * setup header copied as the 64-bit boot protocol asks, then the fields a
 * boot loader owns (type_of_loader, cmd_line_ptr, ramdisk, e820).
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"

int x86_write_cmdline(struct guest_memory *mem, const struct logger *lg, const char *cmdline,
		      const struct x86_kernel *k)
{
	const char *s = cmdline ? cmdline : "";
	size_t len = strlen(s) + 1;
	uint64_t max = (uint64_t)k->setup.hdr.cmdline_size + 1;

	if (max > X86_CMDLINE_MAX)
		max = X86_CMDLINE_MAX;
	if (len > max) {
		log_error(lg, "--append: command line too long: %zu bytes, the kernel takes at most %u",
			  len - 1, (unsigned)(max - 1));
		return -EINVAL;
	}
	return guest_write(mem, gpa(X86_CMDLINE), s, len) ? -EFBIG : 0;
}

void x86_zero_page_fill(struct boot_params *bp, const struct guest_memory *mem,
			const struct x86_kernel *k, const struct x86_initrd *initrd)
{
	struct setup_header *h = &bp->hdr;
	int n;

	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + BOOT_HDR_OFFSET, k->setup.raw, k->hdr_len);
	h->type_of_loader = BOOT_LOADER_UNDEFINED;
	/* KASLR_FLAG is the decompressor's to set, never the loader's. */
	h->loadflags = (uint8_t)((h->loadflags | LOADED_HIGH) & ~KASLR_FLAG);
	h->setup_data = 0;
	h->cmd_line_ptr = (uint32_t)X86_CMDLINE;
	bp->ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE >> 32);
	h->ramdisk_image = (uint32_t)initrd->addr;
	bp->ext_ramdisk_image = (uint32_t)(initrd->addr >> 32);
	h->ramdisk_size = (uint32_t)initrd->size;
	bp->ext_ramdisk_size = (uint32_t)(initrd->size >> 32);
	n = x86_e820_build(mem, bp->e820_table, E820_MAX_ENTRIES_ZP);
	bp->e820_entries = n > 0 ? (uint8_t)n : 0;
}

int x86_write_zero_page(struct guest_memory *mem, const struct x86_kernel *k,
			const struct x86_initrd *initrd)
{
	struct boot_params bp;

	x86_zero_page_fill(&bp, mem, k, initrd);
	return guest_write(mem, gpa(X86_ZERO_PAGE), &bp, sizeof(bp)) ? -EFBIG : 0;
}

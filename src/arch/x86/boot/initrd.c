/*
 * The initrd goes as high as the kernel allows: at the top of RAM below
 * 4 GiB and below initrd_addr_max, above the kernel, page aligned. Only a
 * kernel with XLF_CAN_BE_LOADED_ABOVE_4G gets it above 4 GiB, and only when
 * it does not fit below. It is read from its file straight into guest RAM.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/boot/boot.h"
#include "arch/x86/layout.h"

#define PAGE_MASK 0xfffull

uint64_t initrd_place(uint64_t lo, uint64_t end, uint64_t size)
{
	uint64_t addr;

	if (end < lo || size > end - lo)
		return 0;
	addr = (end - size) & ~PAGE_MASK;
	return addr >= lo ? addr : 0;
}

static uint64_t initrd_find(const struct guest_memory *mem, const struct x86_kernel *k,
			    uint64_t size, uint64_t *limit)
{
	const struct setup_header *h = &k->setup.hdr;
	const struct guest_ram_region *top;
	uint64_t lo = k->hi > X86_HIGH_MEM_START ? k->hi : X86_HIGH_MEM_START;
	uint64_t end = guest_ram_end_below(mem, X86_4G);
	uint64_t addr;

	lo = (lo + PAGE_MASK) & ~PAGE_MASK;
	if (end > (uint64_t)h->initrd_addr_max + 1)
		end = (uint64_t)h->initrd_addr_max + 1;
	*limit = end;
	addr = initrd_place(lo, end, size);
	if (addr || !(h->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) || !mem->nregions)
		return addr;
	top = &mem->regions[mem->nregions - 1];
	if (top->base.raw < X86_4G)
		return 0;
	return initrd_place(top->base.raw, top->base.raw + top->size, size);
}

int x86_load_initrd(struct guest_memory *mem, const struct logger *lg, const char *path,
		    const struct x86_kernel *k, struct x86_initrd *out)
{
	uint64_t size, limit;
	void *dst;
	int fd, err = 0;

	*out = (struct x86_initrd){ 0, 0 };
	fd = boot_open_file(lg, "initrd", path, &size);
	if (fd < 0)
		return fd;
	if (size == 0)
		goto out;
	out->addr = initrd_find(mem, k, size, &limit);
	dst = out->addr ? gpa_to_hva(mem, gpa(out->addr), size) : NULL;
	if (!dst) {
		log_error(lg, "initrd %s: %" PRIu64 " bytes do not fit in guest RAM between the "
			  "kernel's end (0x%" PRIx64 ") and 0x%" PRIx64, path, size, k->hi, limit);
		err = -EFBIG;
		goto out;
	}
	err = pread_full(fd, dst, size, 0);
	if (err) {
		log_error(lg, "initrd %s: read failed: %s", path,
			  strerror(err == -ENODATA ? EIO : -err));
		err = -EIO;
		goto out;
	}
	out->size = size;
	log_info(lg, "initrd %s: %" PRIu64 " bytes at 0x%" PRIx64, path, size, out->addr);
out:
	close(fd);
	if (err)
		*out = (struct x86_initrd){ 0, 0 };
	return err;
}

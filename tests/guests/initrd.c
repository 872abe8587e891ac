/*
 * Finds the initrd through the zero page (ramdisk_image/ramdisk_size and
 * their ext_ high halves) and prints its place, size and FNV-1a hash.
 */
#include "guest.h"

#define ZP_EXT_RAMDISK_IMAGE	0x0c0
#define ZP_EXT_RAMDISK_SIZE	0x0c4
#define ZP_RAMDISK_IMAGE	0x218
#define ZP_RAMDISK_SIZE		0x21c

static uint64_t field64(const uint8_t *zp, unsigned lo, unsigned hi)
{
	return load32(zp + lo) | (uint64_t)load32(zp + hi) << 32;
}

void guest_main(const uint8_t *zero_page)
{
	uint64_t addr = field64(zero_page, ZP_RAMDISK_IMAGE, ZP_EXT_RAMDISK_IMAGE);
	uint64_t size = field64(zero_page, ZP_RAMDISK_SIZE, ZP_EXT_RAMDISK_SIZE);
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)addr;
	uint32_t hash = 2166136261u;

	if (!addr || !size) {
		serial_puts("initrd: none\n");
		guest_reset();
	}
	for (uint64_t i = 0; i < size; i++)
		hash = (hash ^ p[i]) * 16777619u;
	serial_puts("initrd: addr=0x");
	serial_put_hex(addr, 16);
	serial_puts(" size=");
	serial_put_dec(size);
	serial_puts(" fnv1a=0x");
	serial_put_hex(hash, 8);
	serial_puts("\n");
	guest_reset();
}

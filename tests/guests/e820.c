/* Prints the e820 memory map the VMM left in the zero page. */
#include "guest.h"

void guest_main(const uint8_t *zero_page)
{
	unsigned n = zero_page[ZP_E820_ENTRIES];
	const uint8_t *e = zero_page + ZP_E820_TABLE;

	serial_puts("e820: ");
	serial_put_dec(n);
	serial_puts(" entries\n");
	for (unsigned i = 0; i < n && i < 128; i++, e += E820_ENTRY_SIZE) {
		serial_puts("e820: addr=0x");
		serial_put_hex(load64(e), 16);
		serial_puts(" size=0x");
		serial_put_hex(load64(e + 8), 16);
		serial_puts(" type=");
		serial_put_dec(load32(e + 16));
		serial_puts("\n");
	}
	serial_puts("e820: end\n");
	guest_reset();
}

/* Echoes the kernel command line (--append) between brackets. */
#include "guest.h"

void guest_main(const uint8_t *zero_page)
{
	serial_puts("cmdline: [");
	serial_puts(boot_cmdline(zero_page));
	serial_puts("]\n");
	guest_reset();
}

/*
 * Reads COM1 by polling and echoes each byte upper-cased, until a '.'.
 * Proves that console input reaches the guest.
 */
#include "guest.h"

void guest_main(const uint8_t *zero_page)
{
	char c;

	(void)zero_page;
	serial_puts("echo: ready\n");
	do {
		c = serial_getc();
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		serial_putc(c);
	} while (c != '.');
	serial_puts("\necho: done\n");
	guest_reset();
}

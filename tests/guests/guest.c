/* Support routines shared by the guest programs (see guest.h). */
#include "guest.h"

void serial_putc(char c)
{
	while (!(inb(COM1_LSR) & LSR_THRE))
		;
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s);
	}
}

void serial_put_hex(uint64_t v, unsigned digits)
{
	while (digits--)
		serial_putc("0123456789abcdef"[(v >> (digits * 4)) & 0xf]);
}

void serial_put_dec(uint64_t v)
{
	char buf[21];
	int i = sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	serial_puts(&buf[i]);
}

bool serial_can_read(void)
{
	return inb(COM1_LSR) & LSR_DR;
}

char serial_getc(void)
{
	while (!serial_can_read())
		;
	return (char)inb(COM1);
}

const char *boot_cmdline(const uint8_t *zero_page)
{
	uint64_t ptr = load32(zero_page + ZP_CMD_LINE_PTR) |
		(uint64_t)load32(zero_page + ZP_EXT_CMD_LINE_PTR) << 32;

	return ptr ? (const char *)(uintptr_t)ptr : "";
}

void guest_reset(void)
{
	outb(0x64, 0xfe);
	guest_halt();
}

void guest_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/*
 * Support for the freestanding guest programs: port I/O, COM1 output and
 * input by polling, the zero page, and reset through the i8042.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COM1		0x3f8
#define COM1_LSR	(COM1 + 5)
#define LSR_DR		0x01	/* a received byte is waiting */
#define LSR_THRE	0x20	/* the transmit holding register is empty */

/* struct boot_params offsets (Documentation/arch/x86/zero-page.rst). */
#define ZP_EXT_CMD_LINE_PTR	0x0c8
#define ZP_E820_ENTRIES		0x1e8
#define ZP_CMD_LINE_PTR		0x228
#define ZP_E820_TABLE		0x2d0
#define E820_ENTRY_SIZE		20

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Unaligned little-endian loads from guest memory (the zero page is packed). */
static inline uint32_t load32(const volatile void *p)
{
	const volatile uint8_t *b = p;

	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t load64(const volatile void *p)
{
	const volatile uint8_t *b = p;

	return load32(b) | (uint64_t)load32(b + 4) << 32;
}

void serial_putc(char c);
void serial_puts(const char *s);		/* "\n" goes out as "\r\n" */
void serial_put_hex(uint64_t v, unsigned digits);	/* no "0x" */
void serial_put_dec(uint64_t v);
bool serial_can_read(void);
char serial_getc(void);				/* waits for a byte */

/* The kernel command line from the zero page ("" if there is none). */
const char *boot_cmdline(const uint8_t *zero_page);

/* Pulses the CPU reset line through the i8042 controller. */
__attribute__((noreturn)) void guest_reset(void);
/* Halts forever with interrupts off. */
__attribute__((noreturn)) void guest_halt(void);

/* Every program defines this; it is entered with the zero page. */
void guest_main(const uint8_t *zero_page);

#endif

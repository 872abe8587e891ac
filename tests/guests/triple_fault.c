/*
 * Loads an empty IDT and raises #UD: with no handler the CPU double- and
 * then triple-faults, which the VMM must treat as a reset.
 */
#include "guest.h"

void guest_main(const uint8_t *zero_page)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty_idt = { 0, 0 };

	(void)zero_page;
	serial_puts("triple-fault: loading an empty IDT\n");
	__asm__ volatile("lidt %0; ud2" : : "m"(empty_idt));
	serial_puts("triple-fault: still running, which is wrong\n");
	guest_halt();
}

/* Prints one line and resets. */
#include "guest.h"

void guest_main(const uint8_t *zero_page)
{
	(void)zero_page;
	serial_puts("hello: Hello from a splitvm guest!\n");
	guest_reset();
}

/* Never resets: proves the runner's time limit and a clean stop on SIGTERM. */
#include "guest.h"

void guest_main(const uint8_t *zero_page)
{
	(void)zero_page;
	serial_puts("hang: halting forever\n");
	guest_halt();
}

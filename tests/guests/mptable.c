/*
 * Finds the Intel MP floating pointer the way an OS does (the EBDA, the last
 * KiB of base memory, then the BIOS ROM), checks both checksums and counts the
 * enabled processors, I/O APICs and interrupt entries of the MP table.
 */
#include "guest.h"

enum { MP_CPU = 0, MP_BUS, MP_IOAPIC, MP_IOINT, MP_LINT };

static uint8_t sum(const volatile uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

static bool is_sig(const volatile uint8_t *p, const char *sig)
{
	for (int i = 0; i < 4; i++)
		if (p[i] != (uint8_t)sig[i])
			return false;
	return true;
}

static const volatile uint8_t *find_mpf(uintptr_t start, size_t len)
{
	for (uintptr_t a = start; a + 16 <= start + len; a += 16) {
		const volatile uint8_t *p = (const volatile uint8_t *)a;

		if (is_sig(p, "_MP_") && p[8] == 1 && sum(p, 16) == 0)
			return p;
	}
	return NULL;
}

static void fail(const char *why)
{
	serial_puts("mptable: error: ");
	serial_puts(why);
	serial_puts("\n");
	guest_reset();
}

/* Counts entries of each type; returns false if the table is malformed. */
static bool walk(const volatile uint8_t *t, unsigned count[5])
{
	unsigned len = load32(t + 4) & 0xffff;
	const volatile uint8_t *e = t + 44, *end = t + len;
	unsigned n = load32(t + 34) & 0xffff;

	for (unsigned i = 0; i < n; i++) {
		unsigned size = e[0] == MP_CPU ? 20 : 8;

		if (e[0] > MP_LINT || e + size > end)
			return false;
		if (e[0] != MP_CPU || (e[3] & 1))
			count[e[0]]++;
		e += size;
	}
	return true;
}

void guest_main(const uint8_t *zero_page)
{
	uintptr_t ebda = (uintptr_t)(load32((const void *)0x40e) & 0xffff) << 4;
	const volatile uint8_t *mpf = NULL, *table;
	unsigned count[5] = { 0 };

	(void)zero_page;
	if (ebda)
		mpf = find_mpf(ebda, 1024);
	if (!mpf)
		mpf = find_mpf(0x9fc00, 1024);
	if (!mpf)
		mpf = find_mpf(0xf0000, 0x10000);
	if (!mpf)
		fail("no MP floating pointer");
	serial_puts("mptable: floating pointer at 0x");
	serial_put_hex((uintptr_t)mpf, 8);
	serial_puts("\n");

	table = (const volatile uint8_t *)(uintptr_t)load32(mpf + 4);
	if (!table || mpf[11] != 0)
		fail("no MP configuration table");
	if (!is_sig(table, "PCMP"))
		fail("bad configuration table signature");
	if (sum(table, load32(table + 4) & 0xffff) != 0)
		fail("bad configuration table checksum");
	if (!walk(table, count))
		fail("malformed configuration table");

	serial_puts("mptable: ok cpus=");
	serial_put_dec(count[MP_CPU]);
	serial_puts(" ioapics=");
	serial_put_dec(count[MP_IOAPIC]);
	serial_puts(" buses=");
	serial_put_dec(count[MP_BUS]);
	serial_puts(" irqs=");
	serial_put_dec(count[MP_IOINT]);
	serial_puts("\n");
	guest_reset();
}

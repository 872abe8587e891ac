/*
 * Reads PCI configuration space through the 0xcf8/0xcfc mechanism: the host
 * bridge at 00:00.0, and a slot that holds no device (00:1f.0).
 */
#include "guest.h"

#define PCI_ADDR	0xcf8
#define PCI_DATA	0xcfc

static uint32_t pci_read32(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	outl(PCI_ADDR, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc));
	return inl(PCI_DATA);
}

static void show(unsigned dev)
{
	uint32_t id = pci_read32(0, dev, 0, 0x00);

	serial_puts("pci: 00:");
	serial_put_hex(dev, 2);
	serial_puts(".0 id=0x");
	serial_put_hex(id, 8);
	if (id != 0xffffffff) {
		uint32_t class = pci_read32(0, dev, 0, 0x08);

		serial_puts(" vendor=0x");
		serial_put_hex(id & 0xffff, 4);
		serial_puts(" device=0x");
		serial_put_hex(id >> 16, 4);
		serial_puts(" class=0x");
		serial_put_hex(class >> 8, 6);
	}
	serial_puts("\n");
}

void guest_main(const uint8_t *zero_page)
{
	(void)zero_page;
	show(0x00);
	show(0x1f);
	guest_reset();
}

/*
 * The Intel MultiProcessor Specification 1.4 tables: a floating pointer at
 * the start of the EBDA (found by an OS's scan through the BDA pointers),
 * then a configuration table with the CPUs, the buses, the I/O APIC and the
 * interrupt routing of the ISA IRQs and of every PCI device's INTx.
 */
#ifndef ARCH_X86_MPTABLE_H
#define ARCH_X86_MPTABLE_H

#include <stdint.h>

struct guest_memory;
struct pci_host;

#define MP_FLOATING_SIG "_MP_"
#define MP_CONFIG_SIG "PCMP"
#define MP_SPEC_REV 4 /* 1.4 */

enum mp_entry_type { MP_CPU, MP_BUS, MP_IOAPIC, MP_IOINT, MP_LINT };
enum mp_irq_type { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01
#define MP_IRQ_ACTIVE_HIGH 0x01 /* polarity, bits 1:0 */
#define MP_IRQ_LEVEL 0x0c       /* trigger mode, bits 3:2 */
#define MP_APIC_ALL 0xff
#define MP_BUS_PCI 0 /* bus IDs in our table */
#define MP_BUS_ISA 1
#define MP_LAPIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11

struct mp_floating {
	char signature[4];
	uint32_t config;  /* physical address of the configuration table */
	uint8_t length;   /* in 16-byte units: 1 */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5]; /* [0] = 0: a table is present; [1] bit 7 = 0: virtual wire */
} __attribute__((packed));

struct mp_config {
	char signature[4];
	uint16_t length; /* base table, header included */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entries;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_cpu {
	uint8_t type, apic_id, apic_version, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type, bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type, id, version, flags;
	uint32_t addr;
} __attribute__((packed));

/* I/O and local interrupt assignments share this layout. */
struct mp_irq {
	uint8_t type, irq_type;
	uint16_t flags;
	uint8_t src_bus, src_irq; /* PCI: slot << 2 | (pin - 1) */
	uint8_t dst_apic, dst_pin;
} __attribute__((packed));

/* The I/O APIC's ID follows the CPUs' APIC IDs 0..ncpus-1. */
static inline uint8_t mptable_ioapic_id(unsigned ncpus)
{
	return (uint8_t)ncpus;
}

/*
 * Writes the BDA's EBDA pointer and base memory size, the floating pointer
 * and the configuration table (which moves to the BIOS area when it outgrows
 * the EBDA). pci may be NULL. Returns 0 or -errno.
 */
int mptable_write(const struct guest_memory *mem, unsigned ncpus, struct pci_host *pci);

#endif

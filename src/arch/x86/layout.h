/*
 * The guest-physical memory map of the splitvm x86 machine. Boot structures
 * live in low memory; the 32-bit hole holds PCI and the interrupt
 * controllers; RAM beyond the hole continues at 4 GiB.
 */
#ifndef ARCH_X86_LAYOUT_H
#define ARCH_X86_LAYOUT_H

/* Low memory: usable RAM below the EBDA, then the legacy BIOS area. */
#define X86_BOOT_GDT          0x00000500ull  /* boot GDT (4 entries) */
#define X86_BOOT_IDT          0x00000520ull  /* empty IDT */
#define X86_ZERO_PAGE         0x00007000ull  /* struct boot_params */
#define X86_PAGE_TABLES       0x00009000ull  /* PML4, PDPT, 4 PDs: 4 GiB identity */
#define X86_PAGE_TABLES_END   0x0000f000ull
#define X86_BOOT_STACK        0x0008ff00ull  /* initial RSP for non-Linux ELF guests */
#define X86_CMDLINE           0x00020000ull
#define X86_CMDLINE_MAX       0x00010000ull  /* 64 KiB, incl. the NUL */
#define X86_EBDA_START        0x0009fc00ull  /* MP table lives here */
#define X86_LOW_RAM_END       0x0009fc00ull  /* usable RAM ends, EBDA + BIOS follow */
#define X86_BIOS_START        0x000e0000ull  /* reserved up to 1 MiB */
#define X86_HIGH_MEM_START    0x00100000ull  /* 1 MiB: kernels load at or above */

/* The 32-bit hole: RAM below 4 GiB stops here. */
#define X86_MMIO_HOLE_START   0xc0000000ull
#define X86_PCI_MMIO_START    0xc0000000ull  /* 32-bit PCI BAR window */
#define X86_PCI_MMIO_SIZE     0x20000000ull
#define X86_PCI_ECAM_START    0xe0000000ull  /* ECAM, 256 buses */
#define X86_PCI_ECAM_SIZE     0x10000000ull
#define X86_IOAPIC_BASE       0xfec00000ull
#define X86_LAPIC_BASE        0xfee00000ull
#define X86_4G                0x100000000ull
#define X86_PCI_MMIO64_START  0x8000000000ull /* 512 GiB: 64-bit BAR window */
#define X86_PCI_MMIO64_SIZE   0x8000000000ull

/* Port I/O. */
#define X86_PIO_POST          0x80
#define X86_PIO_RTC           0x70   /* 0x70 index, 0x71 data */
#define X86_PIO_I8042_DATA    0x60
#define X86_PIO_I8042_CMD     0x64
#define X86_PIO_COM1          0x3f8
#define X86_IRQ_COM1          4
#define X86_PIO_PCI_CONFIG    0xcf8  /* 0xcf8 address, 0xcfc data */
#define X86_PIO_PCI_IO_START  0xc000 /* PCI I/O BAR window */
#define X86_PIO_PCI_IO_SIZE   0x4000

#define X86_IOAPIC_PINS       24

#endif

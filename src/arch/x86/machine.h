/*
 * The splitvm x86 machine: COM1, the i8042, the POST port, the CMOS RTC,
 * the PCI host and the MP table. The interrupt controllers and the PIT belong to the
 * accelerator.
 */
#ifndef ARCH_X86_MACHINE_H
#define ARCH_X86_MACHINE_H

#include <stdbool.h>

#include "hw/i8042.h"
#include "hw/pci/pci.h"
#include "hw/post.h"
#include "hw/rtc.h"
#include "hw/uart.h"

/* PCI INTx lines: a fixed swizzle onto I/O APIC pins 16..23. */
#define X86_PCI_INTX_GSI_BASE 16
#define X86_PCI_INTX_GSI_COUNT 8

struct arch_machine {
	struct uart com1;
	struct i8042 kbc;
	struct post_port post;
	struct cmos_rtc rtc;
	struct pci_host pci;
	bool pci_ready;
};

#endif

/*
 * What generic code asks of the architecture (implemented under src/arch/).
 * Generic code never names registers or firmware tables; it calls these.
 */
#ifndef CORE_ARCH_H
#define CORE_ARCH_H

#include "core/memory.h"
#include "splitvm/cpu_state.h"

struct pci_host;
struct pci_host_config;
struct vm;

/* Guest RAM ranges for ram_size bytes; returns the count or -errno. */
int arch_ram_layout(uint64_t ram_size, struct mem_range *out, unsigned max);
/* Platform devices and firmware tables; state hangs off vm->arch. */
int arch_machine_init(struct vm *vm);
/* After every device is added, before the vCPUs start (firmware tables). */
int arch_machine_finalize(struct vm *vm);
void arch_machine_destroy(struct vm *vm);
/*
 * The machine's PCI windows (I/O, 32- and 64-bit memory) and INTx lines,
 * into cfg; a device process uses them for its own PCI host so that its
 * BARs start where the VMM's machine would put them.
 */
void arch_pci_windows(struct pci_host_config *cfg);
/* The PCI host devices are added to (before finalize), or NULL. */
struct pci_host *arch_pci_host(struct vm *vm);
/*
 * Loads kernel, initrd and command line from vm->cfg into guest RAM and fills
 * the boot CPU's state. Errors caused by the inputs are logged as one clear
 * line and returned as -EINVAL, -ENOEXEC, -EFBIG, -ENOENT or -EACCES.
 */
int arch_load_guest(struct vm *vm, struct cpu_boot_state *bsp);

#endif

/*
 * The x86 machine: creates the platform devices at the addresses of
 * layout.h, and writes the MP table once every device is in place.
 */
#include "arch/x86/machine.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "core/arch.h"
#include "core/iobus.h"
#include "core/vm.h"

#define X86_PIO_PORT92 0x92

struct machine_range {
	bool mmio;
	uint64_t base, len;
	const struct io_ops *ops;
	size_t dev; /* offset of the device in struct arch_machine */
	const char *name;
};

static const struct machine_range ranges[] = {
	{ false, X86_PIO_COM1, UART_REGS, &uart_ops, offsetof(struct arch_machine, com1), "com1" },
	{ false, X86_PIO_I8042_DATA, 1, &i8042_data_ops, offsetof(struct arch_machine, kbc),
	  "i8042-data" },
	{ false, X86_PIO_I8042_CMD, 1, &i8042_cmd_ops, offsetof(struct arch_machine, kbc),
	  "i8042-cmd" },
	{ false, X86_PIO_PORT92, 1, &i8042_port92_ops, offsetof(struct arch_machine, kbc),
	  "port92" },
	{ false, X86_PIO_POST, 1, &post_port_ops, offsetof(struct arch_machine, post), "post" },
	{ false, X86_PIO_RTC, RTC_PORTS, &cmos_rtc_ops, offsetof(struct arch_machine, rtc), "rtc" },
	{ false, X86_PIO_PCI_CONFIG, 8, &pci_conf1_ops, offsetof(struct arch_machine, pci),
	  "pci-conf1" },
	{ true, X86_PCI_ECAM_START, X86_PCI_ECAM_SIZE, &pci_ecam_ops,
	  offsetof(struct arch_machine, pci), "pci-ecam" },
};

#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

static struct iobus *range_bus(struct vm *vm, const struct machine_range *r)
{
	return r->mmio ? &vm->mmio : &vm->pio;
}

static int register_ranges(struct vm *vm)
{
	for (unsigned i = 0; i < NRANGES; i++) {
		const struct machine_range *r = &ranges[i];
		int err = iobus_register(range_bus(vm, r), r->base, r->len, r->ops,
					 (char *)vm->arch + r->dev, r->name);

		if (err) {
			log_error(&vm->log, "cannot register %s at %#llx: %s", r->name,
				  (unsigned long long)r->base, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int pci_set_gsi(void *opaque, unsigned gsi, int level)
{
	return vm_set_irq(opaque, gsi, level);
}

void arch_pci_windows(struct pci_host_config *cfg)
{
	cfg->io_base = X86_PIO_PCI_IO_START;
	cfg->io_size = X86_PIO_PCI_IO_SIZE;
	cfg->mem32_base = X86_PCI_MMIO_START;
	cfg->mem32_size = X86_PCI_MMIO_SIZE;
	cfg->mem64_base = X86_PCI_MMIO64_START;
	cfg->mem64_size = X86_PCI_MMIO64_SIZE;
	cfg->intx_gsi_base = X86_PCI_INTX_GSI_BASE;
	cfg->intx_gsi_count = X86_PCI_INTX_GSI_COUNT;
}

static int init_pci(struct vm *vm, struct arch_machine *m)
{
	struct pci_host_config cfg = {
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.log = &vm->log,
		.set_irq = pci_set_gsi,
		.irq_opaque = vm,
	};
	int err;

	arch_pci_windows(&cfg);
	err = pci_host_init(&m->pci, &cfg);
	m->pci_ready = err == 0;
	return err;
}

int arch_machine_init(struct vm *vm)
{
	struct arch_machine *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	vm->arch = m;
	err = uart_init(&m->com1, vm, X86_IRQ_COM1);
	if (!err)
		err = i8042_init(&m->kbc, vm);
	if (err)
		goto fail;
	post_port_init(&m->post, vm);
	err = cmos_rtc_init(&m->rtc);
	if (!err)
		err = init_pci(vm, m);
	if (!err)
		err = register_ranges(vm);
	if (err)
		goto fail;
	return 0;
fail:
	arch_machine_destroy(vm);
	return err;
}

int arch_machine_finalize(struct vm *vm)
{
	int err = mptable_write(&vm->mem, vm->ncpus, &vm->arch->pci);

	if (err)
		log_error(&vm->log, "cannot write the MP table: %s", strerror(-err));
	return err;
}

struct pci_host *arch_pci_host(struct vm *vm)
{
	return vm->arch && vm->arch->pci_ready ? &vm->arch->pci : NULL;
}

void arch_machine_destroy(struct vm *vm)
{
	struct arch_machine *m = vm->arch;

	if (!m)
		return;
	for (unsigned i = 0; i < NRANGES; i++)
		iobus_unregister(range_bus(vm, &ranges[i]), ranges[i].base,
				 (char *)m + ranges[i].dev);
	if (m->pci_ready)
		pci_host_destroy(&m->pci);
	i8042_destroy(&m->kbc);
	cmos_rtc_destroy(&m->rtc);
	uart_destroy(&m->com1);
	free(m);
	vm->arch = NULL;
}

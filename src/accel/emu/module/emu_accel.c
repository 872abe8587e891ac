/*
 * accel-emu.so: the entry symbol, the ops table, the probe, and the VM
 * (interrupt controllers, PIT, timebase, irqfd/ioeventfd state).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel/emu/module/emu_mod.h"

void emu_log(const struct accel_vm *vm, enum accel_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!vm || !vm->host || !vm->host->log)
		return;
	va_start(ap, fmt);
	vm->host->log(vm->host->opaque, level, fmt, ap);
	va_end(ap);
}

void *emu_ram_ptr(const struct accel_vm *vm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < vm->host->nram; i++) {
		const struct guest_ram_region *r = &vm->host->ram[i];

		if (gpa >= r->base.raw && len <= r->size && gpa - r->base.raw <= r->size - len)
			return r->hva + (gpa - r->base.raw);
	}
	return NULL;
}

/* The software CPU runs wherever this module loads. */
static int emu_probe(char *why, size_t why_len)
{
	snprintf(why, why_len, "software x86-64 CPU (interpreter), needs no virtualization support");
	return ACCEL_PROBE_OK;
}

static void vm_free(struct accel_vm *vm)
{
	emu_codemap_destroy(vm->code);
	free(vm->vcpu);
	free(vm->lapic_ptrs);
	free(vm->lapic);
	free(vm);
}

/* Every LAPIC exists before any vCPU runs: the bus is then read-only. */
static int vm_init_apics(struct accel_vm *vm)
{
	unsigned i;
	int err;

	apic_bus_init(&vm->bus, vm->lapic_ptrs, vm->ncpus, &vm->ioapic);
	err = ioapic_init(&vm->ioapic, (uint8_t)vm->ncpus, &vm->bus);
	if (err)
		return err;
	for (i = 0; i < vm->ncpus; i++) {
		struct lapic_config cfg = {
			.index = i, .bsp = i == 0, .bus = &vm->bus, .tb = &vm->tb,
			.wake = emu_vcpu_wake, .wake_opaque = &vm->vcpu[i],
			/* the 8259 is wired to the boot CPU's LINT0 */
			.inta = i == 0 ? emu_legacy_inta : NULL, .inta_opaque = vm,
		};

		vm->vcpu[i] = (struct accel_vcpu){ .vm = vm, .index = i, .lapic = &vm->lapic[i] };
		err = lapic_init(&vm->lapic[i], &cfg);
		if (err)
			goto fail;
		vm->lapic_ptrs[i] = &vm->lapic[i];
	}
	lapic_virtual_wire(&vm->lapic[0]); /* as accel-kvm leaves the BSP */
	return 0;
fail:
	while (i-- > 0)
		lapic_destroy(&vm->lapic[i]);
	ioapic_destroy(&vm->ioapic);
	return err;
}

/* SPLITVM_EMU_JIT: "off" or 0 (records only), or the runs after which a
 * block is translated (docs/emu.md, "Translated blocks"); a diagnostic
 * switch. -EINVAL, with one line, for anything else. */
static int jit_hot(struct accel_vm *vm, unsigned *out)
{
	const char *s = getenv("SPLITVM_EMU_JIT");
	char *end;
	unsigned long n;

	*out = EMU_JIT_HOT_DEFAULT;
	if (!s)
		return 0;
	if (!strcmp(s, "off")) {
		*out = 0;
		return 0;
	}
	n = strtoul(s, &end, 10);
	if (!*s || *end || n > 65535 || s[0] == '-') {
		emu_log(vm, ACCEL_LOG_ERROR,
			"emu: SPLITVM_EMU_JIT=%s: expected off or a number of runs, 0 to 65535", s);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

static int emu_vm_create(const struct accel_host *host, struct accel_vm **out)
{
	struct accel_vm *vm;
	int err;

	if (host->ncpus == 0 || host->ncpus > EMU_MAX_CPUS)
		return -EINVAL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->host = host;
	vm->ncpus = host->ncpus;
	err = jit_hot(vm, &vm->jit_hot);
	if (err) {
		free(vm);
		return err;
	}
	vm->lapic = calloc(vm->ncpus, sizeof(*vm->lapic));
	vm->lapic_ptrs = calloc(vm->ncpus, sizeof(*vm->lapic_ptrs));
	vm->vcpu = calloc(vm->ncpus, sizeof(*vm->vcpu));
	if (!vm->lapic || !vm->lapic_ptrs || !vm->vcpu) {
		vm_free(vm);
		return -ENOMEM;
	}
	/* With one vCPU its own decode cache sees every store into code. */
	err = vm->ncpus > 1 ? emu_codemap_create(&vm->code, host->ram, host->nram, vm->ncpus) : 0;
	if (err) {
		vm_free(vm);
		return err;
	}
	emu_timebase_init(&vm->tb, NULL, NULL);
	err = vm_init_apics(vm);
	if (err) {
		vm_free(vm);
		return err;
	}
	err = emu_legacy_init(vm);
	if (err)
		goto fail_apics;
	err = emu_irq_init(vm);
	if (err) {
		emu_log(vm, ACCEL_LOG_ERROR, "emu: cannot start the irqfd thread: %s",
			strerror(-err));
		emu_legacy_fini(vm);
		goto fail_apics;
	}
	*out = vm;
	return 0;
fail_apics:
	for (unsigned i = 0; i < vm->ncpus; i++)
		lapic_destroy(&vm->lapic[i]);
	ioapic_destroy(&vm->ioapic);
	vm_free(vm);
	return err;
}

/* vCPUs are destroyed first (the core's order). */
static void emu_vm_destroy(struct accel_vm *vm)
{
	if (!vm)
		return;
	emu_irq_fini(vm);
	emu_legacy_fini(vm);
	for (unsigned i = 0; i < vm->ncpus; i++)
		lapic_destroy(&vm->lapic[i]);
	ioapic_destroy(&vm->ioapic);
	vm_free(vm);
}

static const struct accel_vm_ops emu_vm_ops = {
	.create = emu_vm_create,
	.destroy = emu_vm_destroy,
	.set_irq = emu_set_irq,
	.signal_msi = emu_signal_msi,
	.add_irqfd = emu_add_irqfd,
	.del_irqfd = emu_del_irqfd,
	.add_ioeventfd = emu_add_ioeventfd,
	.del_ioeventfd = emu_del_ioeventfd,
	.set_msi_irqfd = emu_set_msi_irqfd,
	.del_msi_irqfd = emu_del_msi_irqfd,
};

static const struct accel_ops emu_accel_ops = {
	.abi_version = SPLITVM_ACCEL_ABI_VERSION,
	.size = sizeof(struct accel_ops),
	.name = "emu",
	.description = "software x86-64 CPU (interpreter) with LAPIC/IOAPIC and kvmclock",
	.probe = emu_probe,
	.vm = &emu_vm_ops,
	.vcpu = &emu_vcpu_ops,
};

SPLITVM_ACCEL_MODULE(emu_accel_ops)

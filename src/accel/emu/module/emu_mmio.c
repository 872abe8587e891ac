/*
 * The guest's accesses that leave the interpreter: the emu_mem hooks of one
 * vCPU. MMIO goes to this vCPU's LAPIC page, then the IOAPIC, then the
 * ioeventfds (writes), then the core; ports go to the 8259s and the PIT,
 * then (writes) the ioeventfds, then the core. MSRs, CR8 and RDTSC reach the LAPIC and the timebase.
 */
#include "accel/emu/module/emu_mod.h"

static void hook_mmio(void *opaque, uint64_t addr, void *data, unsigned size, bool is_write)
{
	struct accel_vcpu *v = opaque;
	struct accel_vm *vm = v->vm;
	struct lapic *l = v->lapic;

	if (lapic_mmio_enabled(l) && addr - lapic_base(l) < LAPIC_MMIO_SIZE) {
		lapic_mmio(l, addr - lapic_base(l), data, size, is_write);
		return;
	}
	if (addr - IOAPIC_DEFAULT_BASE < IOAPIC_MMIO_SIZE) {
		ioapic_mmio(&vm->ioapic, addr - IOAPIC_DEFAULT_BASE, data, size, is_write);
		return;
	}
	if (is_write && emu_ioeventfd_write(vm, false, addr, data, size))
		return;
	vm->host->mmio(vm->host->opaque, addr, data, size, is_write);
}

static void hook_pio(void *opaque, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct accel_vcpu *v = opaque;
	const struct accel_host *h = v->vm->host;

	if (emu_legacy_pio(v, port, data, size, is_write))
		return;
	if (is_write && emu_ioeventfd_write(v->vm, true, port, data, size))
		return;
	h->pio(h->opaque, port, data, size, is_write);
}

/* MSRs nobody implements raise #GP; logged at debug level because a guest
 * that reads one without the safe accessor prints a warning and a trace. */
static int hook_rdmsr(void *opaque, uint32_t msr, uint64_t *val)
{
	struct accel_vcpu *v = opaque;
	int r = emu_msr_read(v, msr, val);

	if (r < 0)
		emu_log(v->vm, ACCEL_LOG_DEBUG, "emu: vCPU %u: RDMSR 0x%x: #GP", v->index, msr);
	return r;
}

static int hook_wrmsr(void *opaque, uint32_t msr, uint64_t val)
{
	struct accel_vcpu *v = opaque;
	int r = emu_msr_write(v, msr, val);

	if (r < 0)
		emu_log(v->vm, ACCEL_LOG_DEBUG, "emu: vCPU %u: WRMSR 0x%x <- 0x%llx: #GP", v->index,
			msr, (unsigned long long)val);
	return r;
}

static uint64_t hook_get_cr8(void *opaque)
{
	struct accel_vcpu *v = opaque;

	return lapic_get_cr8(v->lapic);
}

static void hook_set_cr8(void *opaque, uint64_t val)
{
	struct accel_vcpu *v = opaque;

	lapic_set_cr8(v->lapic, val);
}

/* The guest TSC: the timebase's, the same on every vCPU (kvmclock's
 * TSC_STABLE promise) and the one TSC-deadline compares against. */
static uint64_t hook_rdtsc(void *opaque)
{
	struct accel_vcpu *v = opaque;

	return emu_tb_tsc(&v->vm->tb, emu_tb_now(&v->vm->tb));
}

void emu_vcpu_mem_init(struct accel_vcpu *v)
{
	v->mem = (struct emu_mem){
		.ram = v->vm->host->ram,
		.nram = v->vm->host->nram,
		.pio = hook_pio,
		.rdmsr = hook_rdmsr,
		.wrmsr = hook_wrmsr,
		.get_cr8 = hook_get_cr8,
		.set_cr8 = hook_set_cr8,
		.mmio = hook_mmio,
		.rdtsc = hook_rdtsc,
		.opaque = v,
	};
}

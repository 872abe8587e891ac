/*
 * The PC's legacy interrupt controller and timer in accel-emu.so, wired as
 * accel-kvm's in-kernel irqchip and PIT wire them: the 8259 pair's INT on
 * the boot vCPU's LINT0 (ExtINT, acknowledged by that vCPU), the PIT's
 * channel 0 on ISA IRQ 0 (8259 input 0 and IOAPIC pin 2, see emu_irq.c).
 * The boot vCPU runs the PIT: its loop polls the PIT's deadline with its
 * LAPIC timer and a HLT sleeps towards it, so a stopped PIT costs one atomic
 * load per slice and no thread.
 */
#include "accel/emu/module/emu_mod.h"

/* The 8259's INT is LINT0 of the boot vCPU (called under the PIC's lock). */
static void pic_int_changed(void *opaque, bool level)
{
	struct accel_vm *vm = opaque;

	lapic_set_lint0(&vm->lapic[0], level);
}

int emu_legacy_init(struct accel_vm *vm)
{
	struct pic_config cfg = { .output = pic_int_changed, .eoi = emu_irq_pic_eoi, .opaque = vm };
	int err = pic_init(&vm->pic, &cfg);

	if (err)
		return err;
	err = pit_init(&vm->pit, &vm->tb);
	if (err)
		pic_destroy(&vm->pic);
	return err;
}

void emu_legacy_fini(struct accel_vm *vm)
{
	pit_destroy(&vm->pit);
	pic_destroy(&vm->pic);
}

int emu_legacy_inta(void *opaque)
{
	struct accel_vm *vm = opaque;

	return pic_intack(&vm->pic);
}

static void pulse_irq0(struct accel_vm *vm)
{
	emu_set_irq(vm, 0, 1);
	emu_set_irq(vm, 0, 0);
}

void emu_timers_check(struct accel_vcpu *v)
{
	uint64_t now = emu_tb_now(&v->vm->tb);

	lapic_timer_check(v->lapic, now);
	if (v->index == 0 && pit_check(&v->vm->pit, now))
		pulse_irq0(v->vm);
}

uint64_t emu_timers_deadline(struct accel_vcpu *v)
{
	uint64_t d = lapic_timer_deadline(v->lapic), pit;

	if (v->index != 0)
		return d;
	pit = pit_deadline(&v->vm->pit);
	return pit < d ? pit : d;
}

static bool legacy_port(uint16_t port)
{
	return port <= PIC_ELCR_SLAVE && (pic_owns_port(port) || pit_owns_port(port));
}

static uint8_t byte_read(struct accel_vm *vm, uint16_t port)
{
	if (pic_owns_port(port))
		return pic_read(&vm->pic, port);
	if (pit_owns_port(port))
		return pit_read(&vm->pit, port);
	return 0xff;
}

/* A PIT write by another vCPU may bring the boot vCPU's deadline forward:
 * wake it from a HLT so that it sleeps towards the new one. */
static void byte_write(struct accel_vcpu *v, uint16_t port, uint8_t b)
{
	struct accel_vm *vm = v->vm;
	uint64_t before;

	if (pic_owns_port(port)) {
		pic_write(&vm->pic, port, b);
	} else if (pit_owns_port(port)) {
		before = pit_deadline(&vm->pit);
		pit_write(&vm->pit, port, b);
		if (v->index != 0 && pit_deadline(&vm->pit) < before) {
			emu_vcpu_wake(&vm->vcpu[0]);
			lapic_kick(&vm->lapic[0]);
		}
	}
}

/* These are 8-bit ISA devices: a wider access is one byte per port. */
bool emu_legacy_pio(struct accel_vcpu *v, uint16_t port, void *data, unsigned size,
		    bool is_write)
{
	uint8_t *b = data;

	if (!legacy_port(port))
		return false;
	for (unsigned i = 0; i < size; i++) {
		if (is_write)
			byte_write(v, (uint16_t)(port + i), b[i]);
		else
			b[i] = byte_read(v->vm, (uint16_t)(port + i));
	}
	return true;
}

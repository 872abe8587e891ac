/* The MP table as an OS finds and reads it, and the x86 machine as a whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "arch/x86/machine.h"
#include "arch/x86/mptable.h"
#include "core/arch.h"
#include "hw_test.h"

#define MAX_ENTRIES 128

struct parsed {
	struct mp_floating fp;
	struct mp_config hdr;
	uint64_t table;
	unsigned ncpu, nbus, nioapic, nioint, nlint;
	struct mp_cpu cpu[VM_MAX_CPUS];
	struct mp_bus bus[4];
	struct mp_ioapic ioapic;
	struct mp_irq ioint[MAX_ENTRIES], lint[4];
};

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void *guest(struct vm *vm, uint64_t addr, uint64_t len)
{
	void *p = gpa_to_hva(&vm->mem, gpa(addr), len);

	assert_non_null(p);
	return p;
}

/* Linux's search: the first KiB of the EBDA the BDA points at. */
static uint64_t find_floating(struct vm *vm)
{
	uint16_t seg, kib;

	memcpy(&seg, guest(vm, 0x40e, 2), 2);
	memcpy(&kib, guest(vm, 0x413, 2), 2);
	assert_int_equal((uint64_t)seg << 4, X86_EBDA_START);
	assert_int_equal((uint64_t)kib << 10, X86_EBDA_START);
	for (uint64_t a = (uint64_t)seg << 4; a < ((uint64_t)seg << 4) + 1024; a += 16) {
		const uint8_t *p = guest(vm, a, 16);

		if (!memcmp(p, MP_FLOATING_SIG, 4) && sum(p, 16) == 0)
			return a;
	}
	fail_msg("no MP floating pointer");
	return 0;
}

static void parse(struct vm *vm, struct parsed *m)
{
	const uint8_t *e, *end;

	memset(m, 0, sizeof(*m));
	memcpy(&m->fp, guest(vm, find_floating(vm), 16), 16);
	assert_int_equal(m->fp.length, 1);
	assert_int_equal(m->fp.spec_rev, 4);
	assert_int_equal(m->fp.feature[0], 0); /* a table follows */
	assert_int_equal(m->fp.feature[1], 0); /* virtual wire mode */
	m->table = m->fp.config;
	memcpy(&m->hdr, guest(vm, m->table, sizeof(m->hdr)), sizeof(m->hdr));
	assert_memory_equal(m->hdr.signature, MP_CONFIG_SIG, 4);
	assert_int_equal(m->hdr.spec_rev, 4);
	assert_int_equal(m->hdr.lapic, X86_LAPIC_BASE);
	assert_int_equal(m->hdr.ext_length, 0);
	e = guest(vm, m->table, m->hdr.length);
	assert_int_equal(sum(e, m->hdr.length), 0);
	end = e + m->hdr.length;
	e += sizeof(struct mp_config);
	for (unsigned i = 0, last = 0; i < m->hdr.entries; i++) {
		/* Entries come sorted by type. */
		assert_true(e[0] >= last && e[0] <= MP_LINT);
		last = e[0];
		switch (e[0]) {
		case MP_CPU:
			memcpy(&m->cpu[m->ncpu++], e, sizeof(struct mp_cpu));
			e += sizeof(struct mp_cpu);
			continue;
		case MP_BUS:
			memcpy(&m->bus[m->nbus++], e, 8);
			break;
		case MP_IOAPIC:
			memcpy(&m->ioapic, e, 8);
			m->nioapic++;
			break;
		case MP_IOINT:
			memcpy(&m->ioint[m->nioint++], e, 8);
			break;
		default:
			memcpy(&m->lint[m->nlint++], e, 8);
			break;
		}
		e += 8;
	}
	assert_ptr_equal(e, end);
}

/* The I/O interrupt entry for a source bus and IRQ, or NULL. */
static const struct mp_irq *ioint(const struct parsed *m, uint8_t bus, uint8_t src,
				  uint8_t type)
{
	for (unsigned i = 0; i < m->nioint; i++)
		if (m->ioint[i].src_bus == bus && m->ioint[i].src_irq == src &&
		    m->ioint[i].irq_type == type)
			return &m->ioint[i];
	return NULL;
}

static void check_cpus(const struct parsed *m, unsigned n)
{
	assert_int_equal(m->ncpu, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(m->cpu[i].apic_id, i);
		assert_int_equal(m->cpu[i].flags, MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0));
		assert_int_equal(m->cpu[i].apic_version, MP_LAPIC_VERSION);
	}
	assert_int_equal(m->nioapic, 1);
	assert_int_equal(m->ioapic.id, n);
	assert_int_equal(m->ioapic.flags, MP_IOAPIC_ENABLED);
	assert_int_equal(m->ioapic.addr, X86_IOAPIC_BASE);
}

static void write_and_parse(struct hw_fixture *f, unsigned ncpus, struct pci_host *pci,
			    struct parsed *m)
{
	assert_int_equal(mptable_write(&f->vm.mem, ncpus, pci), 0);
	parse(&f->vm, m);
	check_cpus(m, ncpus);
}

static void test_one_cpu(void **state)
{
	struct hw_fixture *f = hw_fixture_new(2 << 20);
	struct parsed *m = malloc(sizeof(*m));

	write_and_parse(f, 1, NULL, m);
	assert_int_equal(find_floating(&f->vm), X86_EBDA_START);
	assert_int_equal(m->table, X86_EBDA_START + 16); /* it fits in the EBDA */
	assert_int_equal(m->nbus, 1);
	assert_memory_equal(m->bus[0].bus_type, "ISA   ", 6);
	free(m);
	hw_fixture_free(f);
}

static void test_four_cpus(void **state)
{
	struct hw_fixture *f = hw_fixture_new(2 << 20);
	struct parsed *m = malloc(sizeof(*m));

	write_and_parse(f, 4, NULL, m);
	assert_int_equal(m->hdr.entries, 4 + 1 + 1 + 16 + 2);
	free(m);
	hw_fixture_free(f);
}

/* 64 processor entries outgrow the EBDA: the table moves, still checksummed. */
static void test_many_cpus(void **state)
{
	struct hw_fixture *f = hw_fixture_new(2 << 20);
	struct parsed *m = malloc(sizeof(*m));

	write_and_parse(f, VM_MAX_CPUS, NULL, m);
	assert_int_equal(m->table, X86_BIOS_START);
	assert_int_equal(find_floating(&f->vm), X86_EBDA_START);
	free(m);
	hw_fixture_free(f);
}

static int no_irq(void *opaque, unsigned gsi, int level)
{
	return 0;
}

static uint64_t no_read(void *dev, uint64_t off, unsigned size)
{
	return 0;
}

static void no_write(void *dev, uint64_t off, uint64_t v, unsigned size)
{
}

static const struct io_ops nop_ops = { no_read, no_write };

static void test_interrupt_entries(void **state)
{
	struct hw_fixture *f = hw_fixture_new(2 << 20);
	struct parsed *m = malloc(sizeof(*m));
	struct pci_host host;
	struct pci_device dev[3];
	const struct mp_irq *e;
	const struct pci_host_config cfg = {
		.pio = &f->vm.pio, .mmio = &f->vm.mmio, .log = &f->vm.log,
		.io_base = X86_PIO_PCI_IO_START, .io_size = X86_PIO_PCI_IO_SIZE,
		.mem32_base = X86_PCI_MMIO_START, .mem32_size = X86_PCI_MMIO_SIZE,
		.intx_gsi_base = X86_PCI_INTX_GSI_BASE, .intx_gsi_count = X86_PCI_INTX_GSI_COUNT,
		.set_irq = no_irq,
	};

	assert_int_equal(pci_host_init(&host, &cfg), 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(pci_device_init(&dev[i], "d", PCI_CFG_SPACE_SIZE, NULL, NULL), 0);
		assert_int_equal(pci_set_bar(&dev[i], 0, PCI_BAR_MEM32, false, 4096, &nop_ops, NULL),
				 0);
	}
	pci_set_intx_pin(&dev[0], 1);
	pci_set_intx_pin(&dev[1], 2);
	assert_int_equal(pci_host_add(&host, &dev[0], 3, 0), 0);
	assert_int_equal(pci_host_add(&host, &dev[1], 3, 1), 0);
	assert_int_equal(pci_host_add(&host, &dev[2], 4, 0), 0); /* no pin: no entry */
	write_and_parse(f, 2, &host, m);

	assert_int_equal(m->nbus, 2);
	assert_int_equal(m->bus[0].bus_id, MP_BUS_PCI);
	assert_memory_equal(m->bus[0].bus_type, "PCI   ", 6);
	assert_int_equal(m->bus[1].bus_id, MP_BUS_ISA);
	assert_memory_equal(m->bus[1].bus_type, "ISA   ", 6);
	/* ISA: the 8259 on pin 0, IRQ 0 on pin 2, IRQ 2 (the cascade) absent. */
	assert_non_null(e = ioint(m, MP_BUS_ISA, 0, MP_EXTINT));
	assert_int_equal(e->dst_pin, 0);
	assert_non_null(e = ioint(m, MP_BUS_ISA, 0, MP_INT));
	assert_int_equal(e->dst_pin, 2);
	assert_int_equal(e->dst_apic, 2);
	assert_null(ioint(m, MP_BUS_ISA, 2, MP_INT));
	for (uint8_t irq = 1; irq < 16; irq++) {
		if (irq == 2)
			continue;
		assert_non_null(e = ioint(m, MP_BUS_ISA, irq, MP_INT));
		assert_int_equal(e->dst_pin, irq);
		assert_int_equal(e->flags, 0); /* ISA defaults: edge, active high */
	}
	/* PCI: slot << 2 | pin - 1, level and active high, on the swizzled pin. */
	assert_non_null(e = ioint(m, MP_BUS_PCI, 3 << 2 | 0, MP_INT));
	assert_int_equal(e->dst_pin, 16 + 3);
	assert_int_equal(e->flags, MP_IRQ_ACTIVE_HIGH | MP_IRQ_LEVEL);
	assert_int_equal(e->dst_pin, dev[0].gsi);
	assert_non_null(e = ioint(m, MP_BUS_PCI, 3 << 2 | 1, MP_INT));
	assert_int_equal(e->dst_pin, 16 + 4);
	assert_int_equal(m->nioint, 16 + 2);
	/* LINT0 is the 8259 (ExtINT), LINT1 the NMI, on every CPU. */
	assert_int_equal(m->nlint, 2);
	assert_int_equal(m->lint[0].irq_type, MP_EXTINT);
	assert_int_equal(m->lint[0].dst_apic, MP_APIC_ALL);
	assert_int_equal(m->lint[0].dst_pin, 0);
	assert_int_equal(m->lint[1].irq_type, MP_NMI);
	assert_int_equal(m->lint[1].dst_pin, 1);

	pci_host_destroy(&host);
	for (unsigned i = 0; i < 3; i++)
		pci_device_destroy(&dev[i]);
	free(m);
	hw_fixture_free(f);
}

/* arch_machine_init puts every device at its layout.h address. */
static void test_machine(void **state)
{
	struct hw_fixture *f = hw_fixture_new(4 << 20);
	struct vm *vm = &f->vm;
	struct parsed *m = malloc(sizeof(*m));

	vm->ncpus = f->cfg.ncpus = 2;
	assert_int_equal(arch_machine_init(vm), 0);
	assert_non_null(arch_pci_host(vm));
	assert_int_equal(inb(vm, X86_PIO_COM1 + 5), 0x60);
	outb(vm, X86_PIO_I8042_CMD, 0xaa);
	assert_int_equal(inb(vm, X86_PIO_I8042_DATA), 0x55);
	pio_out(vm, X86_PIO_PCI_CONFIG, 0x80000000u, 4);
	assert_int_equal(pio_in(vm, X86_PIO_PCI_CONFIG + 4, 4), 0x00081b36);
	assert_int_equal(mmio_in(vm, X86_PCI_ECAM_START, 2), 0x1b36);
	assert_int_equal(arch_machine_finalize(vm), 0);
	parse(vm, m);
	check_cpus(m, 2);
	assert_int_equal(m->nbus, 2);
	outb(vm, X86_PIO_I8042_CMD, 0xfe);
	assert_int_equal(atomic_load(&vm->exit_reason), VM_EXIT_RESET);
	arch_machine_destroy(vm);
	assert_null(vm->arch);
	assert_int_equal(inb(vm, X86_PIO_COM1 + 5), 0xff);
	assert_int_equal(vm->pio.count, 0);
	assert_int_equal(vm->mmio.count, 0);
	free(m);
	hw_fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_cpu),
		cmocka_unit_test(test_four_cpus),
		cmocka_unit_test(test_many_cpus),
		cmocka_unit_test(test_interrupt_entries),
		cmocka_unit_test(test_machine),
	};

	return cmocka_run_group_tests_name("mptable and machine", tests, NULL, NULL);
}

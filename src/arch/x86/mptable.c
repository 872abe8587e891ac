/*
 * MP table (Intel MultiProcessor Specification 1.4). Entries come in the
 * order the specification asks: processors, buses, I/O APICs, I/O interrupt
 * assignments, local interrupt assignments.
 */
#include "arch/x86/mptable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/memory.h"
#include "hw/pci/pci.h"

_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer is 16 bytes");
_Static_assert(sizeof(struct mp_config) == 44, "MP table header is 44 bytes");
_Static_assert(sizeof(struct mp_cpu) == 20, "processor entry is 20 bytes");
_Static_assert(sizeof(struct mp_bus) == 8, "bus entry is 8 bytes");
_Static_assert(sizeof(struct mp_ioapic) == 8, "I/O APIC entry is 8 bytes");
_Static_assert(sizeof(struct mp_irq) == 8, "interrupt entry is 8 bytes");

#define BDA_EBDA_SEGMENT 0x40e /* u16: EBDA address >> 4 */
#define BDA_BASE_MEM_KB 0x413  /* u16: KiB of base memory */
#define EBDA_SIZE 0x400
#define ISA_IRQS 16
#define ISA_CASCADE_IRQ 2
#define ISA_TIMER_PIN 2 /* IRQ 0 reaches the I/O APIC on pin 2, as on PCs */
#define CPU_SIGNATURE 0x600 /* family 6 */
#define CPU_FEATURES 0x201  /* FPU, APIC */

struct mp_builder {
	uint8_t *buf;
	size_t len, cap;
	uint16_t entries;
	uint8_t ioapic;
};

static void *add_entry(struct mp_builder *b, size_t size)
{
	void *p = b->buf + b->len;

	b->len += size; /* cap was computed from the same counts */
	b->entries++;
	return p;
}

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *c = p;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *c++);
	return (uint8_t)-sum;
}

static void add_cpus(struct mp_builder *b, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++) {
		struct mp_cpu *c = add_entry(b, sizeof(*c));

		c->type = MP_CPU;
		c->apic_id = (uint8_t)i;
		c->apic_version = MP_LAPIC_VERSION;
		c->flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0);
		c->signature = CPU_SIGNATURE;
		c->features = CPU_FEATURES;
	}
}

static void add_bus(struct mp_builder *b, uint8_t id, const char type[6])
{
	struct mp_bus *e = add_entry(b, sizeof(*e));

	e->type = MP_BUS;
	e->bus_id = id;
	memcpy(e->bus_type, type, sizeof(e->bus_type));
}

static void add_irq(struct mp_builder *b, enum mp_entry_type type, enum mp_irq_type irq_type,
		    uint16_t flags, uint8_t bus, uint8_t src, uint8_t apic, uint8_t pin)
{
	struct mp_irq *e = add_entry(b, sizeof(*e));

	*e = (struct mp_irq){ (uint8_t)type, (uint8_t)irq_type, flags, bus, src, apic, pin };
}

/* ISA: the 8259 behind pin 0, IRQ 0 on pin 2, the others on their own pin. */
static void add_isa_irqs(struct mp_builder *b)
{
	add_irq(b, MP_IOINT, MP_EXTINT, 0, MP_BUS_ISA, 0, b->ioapic, 0);
	for (unsigned irq = 0; irq < ISA_IRQS; irq++) {
		if (irq == ISA_CASCADE_IRQ)
			continue;
		add_irq(b, MP_IOINT, MP_INT, 0, MP_BUS_ISA, (uint8_t)irq, b->ioapic,
			(uint8_t)(irq == 0 ? ISA_TIMER_PIN : irq));
	}
}

/* One entry per (slot, pin) in use; PCI INTx is level-triggered, active high. */
static unsigned pci_irqs(struct mp_builder *b, struct pci_host *pci)
{
	uint8_t seen[PCI_SLOTS] = { 0 };
	unsigned n = 0;

	for (unsigned devfn = 0; pci && devfn < PCI_DEVFNS; devfn++) {
		struct pci_device *pdev = pci_host_device(pci, devfn);
		unsigned slot = devfn >> 3, pin;

		if (!pdev)
			continue;
		pin = pci_cfg_get(pdev, PCI_INTERRUPT_PIN, 1);
		if (pin < 1 || pin > 4 || (seen[slot] & (1u << pin)))
			continue;
		seen[slot] |= (uint8_t)(1u << pin);
		n++;
		if (b)
			add_irq(b, MP_IOINT, MP_INT, MP_IRQ_ACTIVE_HIGH | MP_IRQ_LEVEL, MP_BUS_PCI,
				(uint8_t)(slot << 2 | (pin - 1)), b->ioapic, (uint8_t)pdev->gsi);
	}
	return n;
}

static void add_local_irqs(struct mp_builder *b)
{
	add_irq(b, MP_LINT, MP_EXTINT, 0, MP_BUS_ISA, 0, MP_APIC_ALL, 0);
	add_irq(b, MP_LINT, MP_NMI, 0, MP_BUS_ISA, 0, MP_APIC_ALL, 1);
}

static void build(struct mp_builder *b, unsigned ncpus, struct pci_host *pci)
{
	struct mp_ioapic *io;

	b->len = sizeof(struct mp_config);
	add_cpus(b, ncpus);
	if (pci)
		add_bus(b, MP_BUS_PCI, "PCI   ");
	add_bus(b, MP_BUS_ISA, "ISA   ");
	io = add_entry(b, sizeof(*io));
	*io = (struct mp_ioapic){ MP_IOAPIC, b->ioapic, MP_IOAPIC_VERSION, MP_IOAPIC_ENABLED,
				  (uint32_t)X86_IOAPIC_BASE };
	add_isa_irqs(b);
	pci_irqs(b, pci);
	add_local_irqs(b);
}

static void fill_header(struct mp_builder *b)
{
	struct mp_config *h = (struct mp_config *)b->buf;

	memcpy(h->signature, MP_CONFIG_SIG, 4);
	h->length = (uint16_t)b->len;
	h->spec_rev = MP_SPEC_REV;
	memcpy(h->oem, "SPLITVM ", sizeof(h->oem));
	memcpy(h->product, "SPLITVM-X86 ", sizeof(h->product));
	h->entries = b->entries;
	h->lapic = (uint32_t)X86_LAPIC_BASE;
	h->checksum = checksum(b->buf, b->len);
}

static int write_bda(const struct guest_memory *mem)
{
	uint16_t seg = (uint16_t)(X86_EBDA_START >> 4);
	uint16_t kib = (uint16_t)(X86_EBDA_START >> 10);
	int err = guest_write(mem, gpa(BDA_EBDA_SEGMENT), &seg, sizeof(seg));

	return err ? err : guest_write(mem, gpa(BDA_BASE_MEM_KB), &kib, sizeof(kib));
}

int mptable_write(const struct guest_memory *mem, unsigned ncpus, struct pci_host *pci)
{
	struct mp_builder b = { .ioapic = mptable_ioapic_id(ncpus) };
	struct mp_floating fp = { .length = 1, .spec_rev = MP_SPEC_REV };
	uint64_t table = X86_EBDA_START + sizeof(fp);
	int err;

	if (ncpus == 0 || ncpus >= MP_APIC_ALL)
		return -EINVAL;
	b.cap = sizeof(struct mp_config) + ncpus * sizeof(struct mp_cpu) +
		2 * sizeof(struct mp_bus) + sizeof(struct mp_ioapic) +
		(ISA_IRQS + pci_irqs(NULL, pci) + 2) * sizeof(struct mp_irq);
	b.buf = calloc(1, b.cap);
	if (!b.buf)
		return -ENOMEM;
	build(&b, ncpus, pci);
	fill_header(&b);
	/* Many CPUs outgrow the 1 KiB EBDA: the table then lives in the BIOS area. */
	if (sizeof(fp) + b.len > EBDA_SIZE)
		table = X86_BIOS_START;
	memcpy(fp.signature, MP_FLOATING_SIG, 4);
	fp.config = (uint32_t)table;
	fp.checksum = checksum(&fp, sizeof(fp));
	err = write_bda(mem);
	if (!err)
		err = guest_write(mem, gpa(table), b.buf, b.len);
	if (!err)
		err = guest_write(mem, gpa(X86_EBDA_START), &fp, sizeof(fp));
	free(b.buf);
	return err;
}

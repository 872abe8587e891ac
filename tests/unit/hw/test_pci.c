/* The PCI host: configuration mechanism #1, ECAM, BARs and INTx. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "hw/pci/pci.h"
#include "hw_test.h"

#define CONF_ADDR 0xcf8
#define CONF_DATA 0xcfc
#define ECAM X86_PCI_ECAM_START

struct tdev;

struct tbar {
	struct tdev *t;
	unsigned idx;
};

struct tdev {
	struct pci_device pci;
	struct tbar bars[PCI_BAR_COUNT + 1];
	unsigned hits, last_bar, last_size;
	uint64_t last_off;
	unsigned cfg_reads, cfg_writes, last_cfg_off, resets;
};

struct ctx {
	struct hw_fixture *f;
	struct pci_host host;
	int level[64];
	unsigned irq_calls;
	struct tdev dev[2];
};

static uint64_t bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct tbar *b = opaque;

	b->t->hits++;
	b->t->last_bar = b->idx;
	b->t->last_off = off;
	b->t->last_size = size;
	return 0xb0 + b->idx;
}

static void bar_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
	bar_read(opaque, off, size);
}

static const struct io_ops tbar_ops = { bar_read, bar_write };

static uint32_t hook_read(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val)
{
	struct tdev *t = pdev->opaque;

	t->cfg_reads++;
	t->last_cfg_off = off;
	return off == 0x44 ? 0x12345678 : val;
}

static void hook_write(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val)
{
	struct tdev *t = pdev->opaque;

	t->cfg_writes++;
	t->last_cfg_off = off;
}

static void hook_reset(struct pci_device *pdev)
{
	struct tdev *t = pdev->opaque;

	t->resets++;
}

static const struct pci_device_ops tdev_ops = { hook_read, hook_write, hook_reset };

static int set_irq(void *opaque, unsigned gsi, int level)
{
	struct ctx *c = opaque;

	c->level[gsi] = level;
	c->irq_calls++;
	return 0;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct hw_fixture *f = hw_fixture_new(1 << 20);
	struct vm *vm = &f->vm;
	struct pci_host_config cfg = {
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.log = &vm->log,
		.io_base = X86_PIO_PCI_IO_START,
		.io_size = X86_PIO_PCI_IO_SIZE,
		.mem32_base = X86_PCI_MMIO_START,
		.mem32_size = X86_PCI_MMIO_SIZE,
		.mem64_base = X86_PCI_MMIO64_START,
		.mem64_size = X86_PCI_MMIO64_SIZE,
		.intx_gsi_base = 16,
		.intx_gsi_count = 8,
		.set_irq = set_irq,
		.irq_opaque = c,
	};

	c->f = f;
	assert_int_equal(pci_host_init(&c->host, &cfg), 0);
	assert_int_equal(iobus_register(&vm->pio, CONF_ADDR, 8, &pci_conf1_ops, &c->host,
					"conf1"), 0);
	assert_int_equal(iobus_register(&vm->mmio, ECAM, X86_PCI_ECAM_SIZE, &pci_ecam_ops,
					&c->host, "ecam"), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	pci_host_destroy(&c->host);
	for (unsigned i = 0; i < 2; i++)
		pci_device_destroy(&c->dev[i].pci);
	hw_fixture_free(c->f);
	free(c);
	return 0;
}

/* IO 32 bytes, MEM32 4 KiB, MEM64 prefetchable 16 KiB at 2..3, ROM 2 KiB, INTA. */
static struct tdev *make_dev(struct ctx *c, unsigned i, int slot)
{
	struct tdev *t = &c->dev[i];
	struct pci_device *p = &t->pci;

	assert_int_equal(pci_device_init(p, "tdev", PCI_CFG_SPACE_SIZE, &tdev_ops, t), 0);
	pci_set_ids(p, 0x1af4, 0x10f0 + i, 0x1af4, 1, 0xff0000, 1);
	for (unsigned b = 0; b <= PCI_BAR_ROM; b++)
		t->bars[b] = (struct tbar){ t, b };
	assert_int_equal(pci_set_bar(p, 0, PCI_BAR_IO, false, 32, &tbar_ops, &t->bars[0]), 0);
	assert_int_equal(pci_set_bar(p, 1, PCI_BAR_MEM32, false, 4096, &tbar_ops, &t->bars[1]), 0);
	assert_int_equal(pci_set_bar(p, 2, PCI_BAR_MEM64, true, 0x4000, &tbar_ops, &t->bars[2]), 0);
	assert_int_equal(pci_set_bar(p, 3, PCI_BAR_IO, false, 32, &tbar_ops, &t->bars[3]), -EBUSY);
	assert_int_equal(pci_set_rom(p, 0x800, &tbar_ops, &t->bars[PCI_BAR_ROM]), 0);
	pci_set_intx_pin(p, 1);
	p->cfg[0xff] = 0x5a;
	pci_cfg_set_wmask(p, 0xfc, 4, 0xff000000);
	assert_int_equal(pci_host_add(&c->host, p, slot, 0), 0);
	return t;
}

static void conf_addr(struct ctx *c, unsigned devfn, unsigned reg)
{
	pio_out(&c->f->vm, CONF_ADDR, 0x80000000u | devfn << 8 | (reg & 0xfc), 4);
}

static uint32_t cfg_rd(struct ctx *c, unsigned devfn, unsigned reg, unsigned size)
{
	conf_addr(c, devfn, reg);
	return pio_in(&c->f->vm, (uint16_t)(CONF_DATA + (reg & 3)), size);
}

static void cfg_wr(struct ctx *c, unsigned devfn, unsigned reg, uint32_t v, unsigned size)
{
	conf_addr(c, devfn, reg);
	pio_out(&c->f->vm, (uint16_t)(CONF_DATA + (reg & 3)), v, size);
}

static void test_conf1_address(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;

	pio_out(vm, CONF_ADDR, 0x80000000u, 4);
	assert_int_equal(pio_in(vm, CONF_ADDR, 4), 0x80000000u);
	/* Reserved bits and the low two bits read as zero. */
	pio_out(vm, CONF_ADDR, 0xffffffffu, 4);
	assert_int_equal(pio_in(vm, CONF_ADDR, 4), 0x80fffffcu);
	/* Byte accesses do not reach the address register (Linux's type 1 probe). */
	pio_out(vm, CONF_ADDR, 0x80000000u, 4);
	pio_out(vm, CONF_ADDR + 3, 0x01, 1);
	assert_int_equal(pio_in(vm, CONF_ADDR, 4), 0x80000000u);
	assert_int_equal(pio_in(vm, CONF_ADDR, 1), 0xff);
}

static void test_host_bridge(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(cfg_rd(c, 0, PCI_VENDOR_ID, 4), 0x00081b36);
	assert_int_equal(cfg_rd(c, 0, PCI_CLASS_REVISION, 4) >> 8, 0x060000);
	assert_int_equal(cfg_rd(c, 0, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(cfg_rd(c, 0, PCI_CLASS_DEVICE, 2), 0x0600);
	assert_int_equal(cfg_rd(c, 0, PCI_DEVICE_ID + 1, 1), 0x00);
	assert_int_equal(cfg_rd(c, 0, PCI_VENDOR_ID + 1, 1), 0x1b);
	assert_int_equal(mmio_in(&c->f->vm, ECAM + PCI_VENDOR_ID, 4), 0x00081b36);
	assert_int_equal(mmio_in(&c->f->vm, ECAM + PCI_CLASS_REVISION, 8) >> 8 & 0xffffff,
			 0x060000);
	/* Past the 256 bytes of a conventional function: zeros. */
	assert_int_equal(mmio_in(&c->f->vm, ECAM + 0x100, 4), 0);
	/* Read-only registers ignore writes. */
	cfg_wr(c, 0, PCI_VENDOR_ID, 0, 4);
	assert_int_equal(cfg_rd(c, 0, PCI_VENDOR_ID, 4), 0x00081b36);
}

static void test_unclaimed(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;

	assert_int_equal(cfg_rd(c, PCI_DEVFN(0x1f, 0), 0, 4), 0xffffffffu);
	assert_int_equal(cfg_rd(c, PCI_DEVFN(0, 1), 0, 4), 0xffffffffu);
	assert_int_equal(cfg_rd(c, PCI_DEVFN(0x1f, 0), 2, 2), 0xffff);
	/* Bus 1 does not exist; neither does anything with the enable bit clear. */
	pio_out(vm, CONF_ADDR, 0x80010000u, 4);
	assert_int_equal(pio_in(vm, CONF_DATA, 4), 0xffffffffu);
	pio_out(vm, CONF_ADDR, 0x00000000u, 4);
	assert_int_equal(pio_in(vm, CONF_DATA, 4), 0xffffffffu);
	assert_int_equal(mmio_in(vm, ECAM + (1u << 20), 4), 0xffffffffu);
	assert_int_equal(mmio_in(vm, ECAM + (PCI_DEVFN(3, 0) << 12), 2), 0xffff);
	cfg_wr(c, PCI_DEVFN(0x1f, 0), PCI_COMMAND, 7, 2); /* dropped */
}

static void test_bar_assignment(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct tdev *t = make_dev(c, 0, -1);
	unsigned d = t->pci.devfn, hits;
	uint32_t rom;

	assert_int_equal(d, PCI_DEVFN(1, 0)); /* the first free slot */
	assert_int_equal(cfg_rd(c, d, PCI_VENDOR_ID, 4), 0x10f01af4);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_0, 4), X86_PIO_PCI_IO_START | 1);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_1, 4), X86_PCI_MMIO_START);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_2, 4), (X86_PCI_MMIO_START + 0x4000) | 0xc);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_3, 4), 0);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_4, 4), 0);
	rom = cfg_rd(c, d, PCI_ROM_ADDRESS, 4);
	assert_int_equal(rom & 1, 0);
	assert_in_range(rom, X86_PCI_MMIO_START, X86_PCI_MMIO_START + X86_PCI_MMIO_SIZE - 1);
	assert_int_equal(cfg_rd(c, d, PCI_COMMAND, 2) & 3, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);

	assert_int_equal(pio_in(vm, X86_PIO_PCI_IO_START + 4, 2), 0xb0);
	assert_int_equal(t->last_off, 4);
	assert_int_equal(t->last_size, 2);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START + 0x10, 4), 0xb1);
	assert_int_equal(t->last_off, 0x10);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START + 0x4008, 8), 0xb2);
	assert_int_equal(t->last_off, 8);
	assert_int_equal(pci_bar_base(&t->pci, 2), X86_PCI_MMIO_START + 0x4000);
	/* The ROM decodes only once enabled. */
	hits = t->hits;
	assert_int_equal(mmio_in(vm, rom, 4), 0xffffffffu);
	assert_int_equal(t->hits, hits);
	cfg_wr(c, d, PCI_ROM_ADDRESS, rom | 1, 4);
	assert_int_equal(mmio_in(vm, rom + 0x7fc, 4), 0xb6);
}

/* Write all ones, read the size mask back, restore: with and without decode. */
static uint32_t size_bar(struct ctx *c, unsigned d, unsigned reg, uint32_t ones)
{
	uint32_t orig = cfg_rd(c, d, reg, 4), mask;

	cfg_wr(c, d, reg, ones, 4);
	mask = cfg_rd(c, d, reg, 4);
	cfg_wr(c, d, reg, orig, 4);
	assert_int_equal(cfg_rd(c, d, reg, 4), orig);
	return mask;
}

static void test_bar_sizing(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct tdev *t = make_dev(c, 0, 2);
	unsigned d = t->pci.devfn;
	uint16_t cmd = (uint16_t)cfg_rd(c, d, PCI_COMMAND, 2);

	cfg_wr(c, d, PCI_COMMAND, cmd & ~3u, 2);
	assert_int_equal(size_bar(c, d, PCI_BASE_ADDRESS_0, ~0u), 0xffffffe1u);
	assert_int_equal(size_bar(c, d, PCI_BASE_ADDRESS_1, ~0u), 0xfffff000u);
	assert_int_equal(size_bar(c, d, PCI_BASE_ADDRESS_2, ~0u), 0xffffc00cu);
	assert_int_equal(size_bar(c, d, PCI_BASE_ADDRESS_3, ~0u), 0xffffffffu);
	assert_int_equal(size_bar(c, d, PCI_BASE_ADDRESS_4, ~0u), 0);
	assert_int_equal(size_bar(c, d, PCI_ROM_ADDRESS, ~1u), 0xfffff800u);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START, 4), 0xffffffffu);
	cfg_wr(c, d, PCI_COMMAND, cmd, 2);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START, 4), 0xb1);

	/* Sizing with decode on never maps the BAR at the all-ones address. */
	cfg_wr(c, d, PCI_BASE_ADDRESS_1, ~0u, 4);
	assert_int_equal(mmio_in(vm, 0xfffff000u, 4), 0xffffffffu);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START, 4), 0xffffffffu);
	cfg_wr(c, d, PCI_BASE_ADDRESS_1, X86_PCI_MMIO_START, 4);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START, 4), 0xb1);
}

static void test_bar_remap(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct tdev *t = make_dev(c, 0, 2);
	unsigned d = t->pci.devfn;
	uint64_t high = X86_PCI_MMIO64_START + 0x10000;

	cfg_wr(c, d, PCI_BASE_ADDRESS_1, 0xd0000000u, 4);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START, 4), 0xffffffffu);
	assert_int_equal(mmio_in(vm, 0xd0000ffc, 4), 0xb1);
	assert_int_equal(pci_bar_base(&t->pci, 1), 0xd0000000u);
	/* Byte writes merge into the register. */
	cfg_wr(c, d, PCI_BASE_ADDRESS_1 + 3, 0xd1, 1);
	assert_int_equal(mmio_in(vm, 0xd1000000, 4), 0xb1);
	cfg_wr(c, d, PCI_BASE_ADDRESS_0, 0xd000, 4);
	assert_int_equal(pio_in(vm, 0xd01f, 1), 0xb0);
	assert_int_equal(pio_in(vm, X86_PIO_PCI_IO_START, 1), 0xff);
	/* Both halves of a 64-bit BAR, as an OS moves it above 4 GiB. */
	cfg_wr(c, d, PCI_BASE_ADDRESS_2, (uint32_t)high, 4);
	cfg_wr(c, d, PCI_BASE_ADDRESS_3, (uint32_t)(high >> 32), 4);
	assert_int_equal(mmio_in(vm, high + 0x3ff8, 8), 0xb2);
	assert_int_equal(pci_bar_base(&t->pci, 2), high);
	/* The decode bits of COMMAND unmap and map again. */
	cfg_wr(c, d, PCI_COMMAND, PCI_COMMAND_IO, 2);
	assert_int_equal(mmio_in(vm, 0xd1000000, 4), 0xffffffffu);
	assert_int_equal(mmio_in(vm, high, 4), 0xffffffffu);
	assert_int_equal(pio_in(vm, 0xd000, 1), 0xb0);
	assert_int_equal(pci_bar_base(&t->pci, 1), 0);
	cfg_wr(c, d, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(pio_in(vm, 0xd000, 1), 0xff);
	assert_int_equal(mmio_in(vm, 0xd1000000, 4), 0xb1);
	assert_int_equal(mmio_in(vm, high, 4), 0xb2);
}

/* A BAR write through ECAM re-registers on the very bus that dispatched it. */
static void test_ecam_moves_bar(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct tdev *t = make_dev(c, 0, 5);
	uint64_t cfg = ECAM + ((uint64_t)t->pci.devfn << 12);

	assert_int_equal(mmio_in(vm, cfg + PCI_VENDOR_ID, 2), 0x1af4);
	mmio_out(vm, cfg + PCI_BASE_ADDRESS_1, 0xd8000000u, 4);
	assert_int_equal(mmio_in(vm, cfg + PCI_BASE_ADDRESS_1, 4), 0xd8000000u);
	assert_int_equal(mmio_in(vm, 0xd8000000u, 4), 0xb1);
	assert_int_equal(mmio_in(vm, X86_PCI_MMIO_START, 4), 0xffffffffu);
}

static void test_byte_at_0xff(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct tdev *t = make_dev(c, 0, 4);
	unsigned d = t->pci.devfn;

	conf_addr(c, d, 0xfc);
	assert_int_equal(pio_in(vm, CONF_DATA + 3, 1), 0x5a);
	pio_out(vm, CONF_DATA + 3, 0x77, 1);
	assert_int_equal(pio_in(vm, CONF_DATA + 3, 1), 0x77);
	assert_int_equal(pio_in(vm, CONF_DATA + 2, 2), 0x7700);
	/* 0xfe is read-only. */
	pio_out(vm, CONF_DATA + 2, 0x1111, 2);
	assert_int_equal(pio_in(vm, CONF_DATA, 4), 0x11000000u);
	assert_int_equal(mmio_in(vm, ECAM + (d << 12) + 0xff, 1), 0x11);
	assert_int_equal(t->last_cfg_off, 0xff);
}

static void test_intx(void **state)
{
	struct ctx *c = *state;
	struct tdev *a = make_dev(c, 0, 3), *b = make_dev(c, 1, 11);
	unsigned d = a->pci.devfn, calls;

	/* Slot 3 INTA and slot 11 INTA swizzle onto the same line. */
	assert_int_equal(a->pci.gsi, 19);
	assert_int_equal(b->pci.gsi, 19);
	assert_int_equal(pci_host_intx_gsi(&c->host, 4, 4), 16 + 7);
	assert_int_equal(cfg_rd(c, d, PCI_INTERRUPT_LINE, 1), 19);
	assert_int_equal(cfg_rd(c, d, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cfg_rd(c, d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
	pci_set_irq(&a->pci, 1);
	assert_int_equal(c->level[19], 1);
	assert_true(cfg_rd(c, d, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci_set_irq(&b->pci, 1);
	pci_set_irq(&a->pci, 0);
	assert_int_equal(c->level[19], 1); /* b still holds the shared line */
	pci_set_irq(&b->pci, 0);
	assert_int_equal(c->level[19], 0);
	/* INTX_DISABLE masks the pin; the status bit still shows the device. */
	pci_set_irq(&a->pci, 1);
	cfg_wr(c, d, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE | 3, 2);
	assert_int_equal(c->level[19], 0);
	assert_true(cfg_rd(c, d, PCI_STATUS, 1) & PCI_STATUS_INTERRUPT);
	cfg_wr(c, d, PCI_COMMAND, 3, 2);
	assert_int_equal(c->level[19], 1);
	calls = c->irq_calls;
	pci_set_irq(&a->pci, 1);
	assert_int_equal(c->irq_calls, calls); /* no edge for an unchanged level */
}

/* Removal unmaps the BARs, frees the slot and lets go of a shared INTx line. */
static void test_remove(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct tdev *a = make_dev(c, 0, 3), *b = make_dev(c, 1, 11);
	uint64_t bar1 = pci_bar_base(&a->pci, 1);
	unsigned d = a->pci.devfn, hits;

	pci_set_irq(&a->pci, 1);
	pci_set_irq(&b->pci, 1);
	pci_host_remove(&c->host, &a->pci);
	assert_null(a->pci.host);
	assert_int_equal(pci_bar_base(&a->pci, 1), 0);
	assert_int_equal(cfg_rd(c, d, PCI_VENDOR_ID, 4), 0xffffffffu);
	hits = a->hits;
	assert_int_equal(mmio_in(vm, bar1, 4), 0xffffffffu);
	assert_int_equal(a->hits, hits);
	assert_int_equal(c->level[19], 1); /* b still holds the line */
	pci_host_remove(&c->host, &b->pci);
	assert_int_equal(c->level[19], 0);
	/* Twice, or the bridge: nothing happens. */
	pci_host_remove(&c->host, &a->pci);
	pci_host_remove(&c->host, &c->host.bridge);
	assert_int_equal(cfg_rd(c, 0, PCI_VENDOR_ID, 4), 0x00081b36);
	/* The slot is free again. */
	assert_int_equal(pci_host_add(&c->host, &a->pci, 3, 0), 0);
	assert_int_equal(cfg_rd(c, d, PCI_VENDOR_ID, 4), 0x10f01af4);
	assert_int_equal(mmio_in(vm, pci_bar_base(&a->pci, 1), 4), 0xb1);
}

/* pci_device_reset(): power-on registers, BARs unmapped, INTx down, the hook. */
static void test_device_reset(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct tdev *t = make_dev(c, 0, 3);
	unsigned d = t->pci.devfn;
	uint64_t bar1 = pci_bar_base(&t->pci, 1);

	cfg_wr(c, d, PCI_ROM_ADDRESS, 0xfebe0001, 4);
	cfg_wr(c, d, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	cfg_wr(c, d, 0xff, 0x77, 1);
	pci_set_irq(&t->pci, 1);
	assert_int_equal(c->level[19], 1);
	pci_device_reset(&t->pci);
	assert_int_equal(t->resets, 1);
	assert_int_equal(cfg_rd(c, d, PCI_COMMAND, 2), 0);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_0, 4), PCI_BASE_ADDRESS_SPACE_IO);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_1, 4), 0);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_2, 4),
			 PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_equal(cfg_rd(c, d, PCI_BASE_ADDRESS_3, 4), 0);
	assert_int_equal(cfg_rd(c, d, PCI_ROM_ADDRESS, 4), 0);
	assert_int_equal(cfg_rd(c, d, PCI_INTERRUPT_LINE, 1), 0);
	assert_int_equal(cfg_rd(c, d, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cfg_rd(c, d, 0xff, 1), 0); /* a writable register */
	assert_int_equal(cfg_rd(c, d, PCI_VENDOR_ID, 4), 0x10f01af4);
	assert_int_equal(c->level[19], 0);
	assert_int_equal(pci_bar_base(&t->pci, 1), 0);
	assert_int_equal(mmio_in(vm, bar1, 4), 0xffffffffu);
	/* Programmed again, it decodes again. */
	cfg_wr(c, d, PCI_BASE_ADDRESS_1, (uint32_t)bar1, 4);
	cfg_wr(c, d, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(mmio_in(vm, bar1, 4), 0xb1);
}

static void test_capabilities_and_hooks(void **state)
{
	struct ctx *c = *state;
	struct tdev *t = &c->dev[0];
	struct pci_device *p = &t->pci;
	int cap1, cap2;
	unsigned d;

	assert_int_equal(pci_device_init(p, "caps", PCI_CFG_SPACE_EXP_SIZE, &tdev_ops, t), 0);
	pci_set_ids(p, 0x1af4, 0x1041, 0x1af4, 1, 0x020000, 1);
	cap1 = pci_add_capability(p, PCI_CAP_ID_VNDR, 16);
	cap2 = pci_add_capability(p, PCI_CAP_ID_MSIX, 12);
	assert_int_equal(cap1, 0x40);
	assert_int_equal(cap2, 0x50);
	pci_cfg_set_wmask(p, cap2 + PCI_MSIX_FLAGS, 2,
			  PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(pci_find_capability(p, PCI_CAP_ID_MSIX), 0x50);
	assert_int_equal(pci_find_capability(p, PCI_CAP_ID_MSI), 0);
	assert_int_equal(pci_host_add(&c->host, p, 6, 0), 0);

	d = p->devfn;
	assert_true(cfg_rd(c, d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg_rd(c, d, PCI_CAPABILITY_LIST, 1), 0x40);
	assert_int_equal(cfg_rd(c, d, 0x40, 2), 0x5000 | PCI_CAP_ID_VNDR);
	cfg_wr(c, d, cap2 + PCI_MSIX_FLAGS, 0xffff, 2);
	assert_int_equal(cfg_rd(c, d, cap2 + PCI_MSIX_FLAGS, 2),
			 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	assert_int_equal(t->last_cfg_off, cap2 + PCI_MSIX_FLAGS);
	assert_true(t->cfg_writes >= 1);
	/* The read hook has the last word. */
	assert_int_equal(cfg_rd(c, d, 0x44, 4), 0x12345678);
	/* A 4 KiB function answers in its extended space through ECAM. */
	mmio_out(&c->f->vm, ECAM + (d << 12) + 0x800, 0xffffffff, 4);
	assert_int_equal(mmio_in(&c->f->vm, ECAM + (d << 12) + 0x800, 4), 0);
	assert_int_equal(t->last_cfg_off, 0x800);
}

static void test_multifunction(void **state)
{
	struct ctx *c = *state;
	struct tdev *a = make_dev(c, 0, 7);
	struct pci_device *p = &c->dev[1].pci;

	assert_int_equal(cfg_rd(c, a->pci.devfn, PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(pci_device_init(p, "fn1", PCI_CFG_SPACE_SIZE, NULL, NULL), 0);
	pci_set_ids(p, 0x1af4, 0x1234, 0, 0, 0x078000, 0);
	assert_int_equal(pci_host_add(&c->host, p, 7, 0), -EBUSY);
	assert_int_equal(pci_host_add(&c->host, p, 7, 1), 0);
	assert_int_equal(cfg_rd(c, a->pci.devfn, PCI_HEADER_TYPE, 1), PCI_HEADER_MULTI_FUNCTION);
	assert_int_equal(cfg_rd(c, PCI_DEVFN(7, 1), PCI_DEVICE_ID, 2), 0x1234);
	assert_ptr_equal(pci_host_device(&c->host, PCI_DEVFN(7, 1)), p);
}

static void test_bad_bars(void **state)
{
	struct ctx *c = *state;
	struct pci_device *p = &c->dev[0].pci;

	assert_int_equal(pci_device_init(p, "bad", PCI_CFG_SPACE_SIZE, NULL, NULL), 0);
	assert_int_equal(pci_set_bar(p, 0, PCI_BAR_MEM32, false, 0x1800, &tbar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(p, 5, PCI_BAR_MEM64, false, 0x1000, &tbar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(p, 6, PCI_BAR_IO, false, 16, &tbar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(p, 0, PCI_BAR_IO, false, 2, &tbar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_rom(p, 0x400, &tbar_ops, NULL), -EINVAL);
	assert_int_equal(pci_set_bar(p, 0, PCI_BAR_MEM32, false, 1ull << 30, &tbar_ops, NULL), 0);
	assert_int_equal(pci_set_bar(p, 1, PCI_BAR_MEM32, false, 1ull << 30, &tbar_ops, NULL), 0);
	/* The 512 MiB window cannot hold these. */
	assert_int_equal(pci_host_add(&c->host, p, -1, 0), -ENOSPC);
	assert_null(pci_host_device(&c->host, PCI_DEVFN(1, 0)));
}

struct race {
	struct ctx *c;
	struct tdev *t;
	_Atomic bool stop;
};

/* A vCPU using the device while another moves its BAR and toggles decoding. */
static void *race_user(void *arg)
{
	struct race *r = arg;
	struct vm *vm = &r->c->f->vm;

	while (!atomic_load(&r->stop)) {
		uint64_t base = pci_bar_base(&r->t->pci, 1);

		mmio_in(vm, base ? base : X86_PCI_MMIO_START, 4);
		mmio_in(vm, 0xd0000000u, 4);
		pci_set_irq(&r->t->pci, 1);
		pci_set_irq(&r->t->pci, 0);
	}
	return NULL;
}

static void test_concurrent_bar_moves(void **state)
{
	struct ctx *c = *state;
	struct vm *vm = &c->f->vm;
	struct race r = { c, make_dev(c, 0, 2), false };
	uint64_t cfg = ECAM + ((uint64_t)r.t->pci.devfn << 12);
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, race_user, &r), 0);
	for (unsigned i = 0; i < 2000; i++) {
		mmio_out(vm, cfg + PCI_BASE_ADDRESS_1, i & 1 ? 0xd0000000u : X86_PCI_MMIO_START, 4);
		mmio_out(vm, cfg + PCI_COMMAND, i % 3 ? 3 : 1, 2);
		mmio_out(vm, cfg + PCI_COMMAND, i % 5 ? 3 : PCI_COMMAND_INTX_DISABLE | 3, 2);
	}
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(c->level[r.t->pci.gsi], 0);
	assert_int_equal(mmio_in(vm, 0xd0000000u, 4), 0xb1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conf1_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unclaimed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_assignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_remap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecam_moves_bar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_at_0xff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities_and_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multifunction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_bar_moves, setup, teardown),
	};

	return cmocka_run_group_tests_name("pci", tests, NULL, NULL);
}

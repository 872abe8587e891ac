/*
 * The virtio PCI transport driven as a driver would: capabilities found in
 * config space, registers reached through the BARs on the MMIO bus, a stub
 * virtio device behind it.
 */
#include <errno.h>
#include <linux/virtio_ids.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define VIRTIO_PCI_NO_LEGACY
#include <linux/virtio_pci.h>

#include "arch/x86/layout.h"
#include "hw/device.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio_pci.h"
#include "hw_test.h"
#include "splitvm/accel.h"

#define NQ 2
#define QMAX 256
#define CFG_SIZE 8
#define GSI_BASE 16
#define FEAT_LO 5   /* a device feature in the low word */
#define FEAT_HI 36  /* and one in the high word (unassigned: test only) */

struct ctx {
	struct hw_fixture *f;
	struct pci_host host;
	struct dev_host dh;
	struct virtio_dev vdev;
	int level[64];
	unsigned nmsi;
	uint64_t msi_addr[64];
	uint32_t msi_data[64];
	struct accel_ioeventfd ioev[16];
	unsigned nioev, ioev_adds, ioev_dels;
	int ioev_err;
	unsigned notified[NQ], resets;
	bool refuse_features;
	bool destroyed;
	/* What the driver found. */
	struct pci_device *pdev;
	uint64_t common, isr, devcfg, notify;
	uint32_t mult;
	unsigned cfg_cap, msix_cap;
};

/* ---- host services ---- */

static int set_irq(void *opaque, unsigned gsi, int level)
{
	struct ctx *c = opaque;

	c->level[gsi] = level;
	return 0;
}

static int signal_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct ctx *c = opaque;

	if (c->nmsi < 64) {
		c->msi_addr[c->nmsi] = addr;
		c->msi_data[c->nmsi] = data;
	}
	c->nmsi++;
	return 0;
}

static int add_ioev(void *opaque, const struct accel_ioeventfd *ev)
{
	struct ctx *c = opaque;

	c->ioev_adds++;
	if (c->ioev_err)
		return c->ioev_err;
	assert_true(c->nioev < 16);
	c->ioev[c->nioev++] = *ev;
	return 0;
}

static int del_ioev(void *opaque, const struct accel_ioeventfd *ev)
{
	struct ctx *c = opaque;

	c->ioev_dels++;
	for (unsigned i = 0; i < c->nioev; i++) {
		if (c->ioev[i].addr == ev->addr && c->ioev[i].fd == ev->fd) {
			c->ioev[i] = c->ioev[--c->nioev];
			return 0;
		}
	}
	fail_msg("del of an ioeventfd never added: %#llx", (unsigned long long)ev->addr);
	return -ENOENT;
}

/* ---- the stub device ---- */

static bool stub_features_ok(struct virtio_dev *vdev, uint64_t features)
{
	struct ctx *c = vdev->opaque;

	return !c->refuse_features;
}

static void stub_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct ctx *c = vdev->opaque;

	c->notified[vq->index]++;
}

static void stub_reset(struct virtio_dev *vdev)
{
	struct ctx *c = vdev->opaque;

	c->resets++;
}

static void stub_config_write(struct virtio_dev *vdev, unsigned off, const void *data,
			      unsigned size)
{
	memcpy(vdev->config + off, data, size);
}

static const struct virtio_dev_ops stub_ops = {
	.features_ok = stub_features_ok,
	.queue_notify = stub_notify,
	.reset = stub_reset,
	.config_write = stub_config_write,
};

/* ---- fixture ---- */

static struct ctx *new_ctx(bool ioeventfd)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct hw_fixture *f = hw_fixture_new(1 << 20);
	struct pci_host_config cfg = {
		.pio = &f->vm.pio,
		.mmio = &f->vm.mmio,
		.log = &f->vm.log,
		.io_base = X86_PIO_PCI_IO_START,
		.io_size = X86_PIO_PCI_IO_SIZE,
		.mem32_base = X86_PCI_MMIO_START,
		.mem32_size = X86_PCI_MMIO_SIZE,
		.mem64_base = X86_PCI_MMIO64_START,
		.mem64_size = X86_PCI_MMIO64_SIZE,
		.intx_gsi_base = GSI_BASE,
		.intx_gsi_count = 8,
		.set_irq = set_irq,
		.irq_opaque = c,
	};

	c->f = f;
	assert_int_equal(pci_host_init(&c->host, &cfg), 0);
	c->dh = (struct dev_host){
		.log = &f->vm.log,
		.mem = &f->vm.mem,
		.loop = &f->vm.loop,
		.pci = &c->host,
		.opaque = c,
		.signal_msi = signal_msi,
		.add_ioeventfd = ioeventfd ? add_ioev : NULL,
		.del_ioeventfd = ioeventfd ? del_ioev : NULL,
	};
	return c;
}

static uint32_t cfg_rd(struct ctx *c, unsigned off, unsigned size)
{
	return pci_config_read(c->pdev, off, size);
}

static void cfg_wr(struct ctx *c, unsigned off, uint32_t v, unsigned size)
{
	pci_config_write(c->pdev, off, size, v);
}

static uint64_t bar_addr(struct ctx *c, unsigned bar)
{
	uint64_t lo = cfg_rd(c, PCI_BASE_ADDRESS_0 + 4 * bar, 4);

	if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
		lo |= (uint64_t)cfg_rd(c, PCI_BASE_ADDRESS_0 + 4 * bar + 4, 4) << 32;
	return lo & PCI_BASE_ADDRESS_MEM_MASK;
}

/* What a driver does first: find the function and walk its capabilities. */
static void probe(struct ctx *c)
{
	unsigned off;

	c->pdev = NULL;
	for (unsigned d = 0; d < PCI_DEVFNS && !c->pdev; d++) {
		struct pci_device *p = pci_host_device(&c->host, d);

		if (p && pci_config_read(p, PCI_VENDOR_ID, 2) == 0x1af4)
			c->pdev = p;
	}
	assert_non_null(c->pdev);
	for (off = cfg_rd(c, PCI_CAPABILITY_LIST, 1); off; off = cfg_rd(c, off + 1, 1)) {
		unsigned type = cfg_rd(c, off + VIRTIO_PCI_CAP_CFG_TYPE, 1);
		uint64_t at = bar_addr(c, cfg_rd(c, off + VIRTIO_PCI_CAP_BAR, 1)) +
			      cfg_rd(c, off + VIRTIO_PCI_CAP_OFFSET, 4);

		if (cfg_rd(c, off, 1) == PCI_CAP_ID_MSIX) {
			c->msix_cap = off;
			continue;
		}
		assert_int_equal(cfg_rd(c, off, 1), PCI_CAP_ID_VNDR);
		if (type == VIRTIO_PCI_CAP_COMMON_CFG)
			c->common = at;
		else if (type == VIRTIO_PCI_CAP_ISR_CFG)
			c->isr = at;
		else if (type == VIRTIO_PCI_CAP_DEVICE_CFG)
			c->devcfg = at;
		else if (type == VIRTIO_PCI_CAP_PCI_CFG)
			c->cfg_cap = off;
		if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
			c->notify = at;
			c->mult = cfg_rd(c, off + VIRTIO_PCI_NOTIFY_CAP_MULT, 4);
		}
	}
}

static struct ctx *attach(bool ioeventfd, uint16_t device_id, unsigned cfg_size)
{
	struct ctx *c = new_ctx(ioeventfd);

	assert_int_equal(virtio_dev_init(&c->vdev, "virtio-stub", device_id, &stub_ops, c,
					 &c->dh, NQ, QMAX, 1ull << FEAT_LO | 1ull << FEAT_HI,
					 cfg_size), 0);
	for (unsigned i = 0; i < cfg_size; i++)
		c->vdev.config[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(virtio_dev_attach(&c->vdev), 0);
	probe(c);
	return c;
}

static int setup(void **state)
{
	*state = attach(false, VIRTIO_ID_RNG, CFG_SIZE);
	return 0;
}

static int setup_ioeventfd(void **state)
{
	*state = attach(true, VIRTIO_ID_RNG, CFG_SIZE);
	return 0;
}

static void free_ctx(struct ctx *c)
{
	if (!c->destroyed)
		virtio_dev_destroy(&c->vdev);
	pci_host_destroy(&c->host);
	hw_fixture_free(c->f);
	free(c);
}

static int teardown(void **state)
{
	free_ctx(*state);
	return 0;
}

/* ---- driver-side accessors ---- */

static uint64_t rd(struct ctx *c, uint64_t addr, unsigned size)
{
	return mmio_in(&c->f->vm, addr, size);
}

static void wr(struct ctx *c, uint64_t addr, uint64_t v, unsigned size)
{
	mmio_out(&c->f->vm, addr, v, size);
}

static uint64_t common_rd(struct ctx *c, unsigned off, unsigned size)
{
	return rd(c, c->common + off, size);
}

static void common_wr(struct ctx *c, unsigned off, uint64_t v, unsigned size)
{
	wr(c, c->common + off, v, size);
}

static uint8_t status(struct ctx *c)
{
	return (uint8_t)common_rd(c, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void set_status(struct ctx *c, uint8_t s)
{
	common_wr(c, VIRTIO_PCI_COMMON_STATUS, s, 1);
}

static uint64_t device_features(struct ctx *c)
{
	uint64_t lo;

	common_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
	lo = common_rd(c, VIRTIO_PCI_COMMON_DF, 4);
	common_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	return lo | common_rd(c, VIRTIO_PCI_COMMON_DF, 4) << 32;
}

static void driver_features(struct ctx *c, uint64_t f)
{
	common_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	common_wr(c, VIRTIO_PCI_COMMON_GF, (uint32_t)f, 4);
	common_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	common_wr(c, VIRTIO_PCI_COMMON_GF, f >> 32, 4);
}

static uint64_t read_driver_features(struct ctx *c)
{
	uint64_t lo;

	common_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
	lo = common_rd(c, VIRTIO_PCI_COMMON_GF, 4);
	common_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
	return lo | common_rd(c, VIRTIO_PCI_COMMON_GF, 4) << 32;
}

static void select_queue(struct ctx *c, unsigned q)
{
	common_wr(c, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
}

static void run_loop(struct ctx *c)
{
	while (evloop_run_once(&c->f->vm.loop, 0) > 0)
		;
}

/* A driver's bring-up: features, both queues in guest RAM, DRIVER_OK. */
static void bring_up(struct ctx *c)
{
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	driver_features(c, 1ull << VIRTIO_F_VERSION_1);
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned q = 0; q < NQ; q++) {
		select_queue(c, q);
		common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
		common_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO, 0x10000 + q * 0x1000, 8);
		common_wr(c, VIRTIO_PCI_COMMON_Q_AVAILLO, 0x20000 + q * 0x1000, 8);
		common_wr(c, VIRTIO_PCI_COMMON_Q_USEDLO, 0x30000 + q * 0x1000, 8);
		common_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	}
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_int_equal(status(c), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					    VIRTIO_CONFIG_S_FEATURES_OK |
					    VIRTIO_CONFIG_S_DRIVER_OK);
	/* The core looks at every enabled queue once at DRIVER_OK. */
	run_loop(c);
	memset(c->notified, 0, sizeof(c->notified));
}

/* The transport's interrupt hooks, as the core calls them (lock held). */
static void dev_notify_queue(struct ctx *c, unsigned q)
{
	pthread_mutex_lock(&c->vdev.lock);
	c->vdev.transport->notify_queue(c->vdev.transport_opaque, &c->vdev.vqs[q]);
	pthread_mutex_unlock(&c->vdev.lock);
}

static void dev_notify_config(struct ctx *c)
{
	pthread_mutex_lock(&c->vdev.lock);
	c->vdev.transport->notify_config(c->vdev.transport_opaque);
	pthread_mutex_unlock(&c->vdev.lock);
}

static unsigned gsi(struct ctx *c)
{
	return cfg_rd(c, PCI_INTERRUPT_LINE, 1);
}

/* ---- cases ---- */

static void test_identity(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(cfg_rd(c, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(c, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	assert_int_equal(cfg_rd(c, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_rd(c, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(c, PCI_SUBSYSTEM_ID, 2), 0x1100);
	assert_int_equal(cfg_rd(c, PCI_CLASS_REVISION, 4) >> 8, 0xff0000);
	assert_int_equal(cfg_rd(c, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(gsi(c), GSI_BASE + 1); /* slot 1, INTA */
	assert_int_equal(cfg_rd(c, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
	/* Every structure in BAR 4, MSI-X alone in BAR 1. */
	assert_int_not_equal(c->common, 0);
	assert_int_not_equal(c->isr, 0);
	assert_int_not_equal(c->devcfg, 0);
	assert_int_not_equal(c->notify, 0);
	assert_int_not_equal(c->cfg_cap, 0);
	assert_int_equal(c->mult, 4);
	assert_int_equal(c->common, bar_addr(c, 4));
	assert_int_equal(cfg_rd(c, PCI_BASE_ADDRESS_4, 4) & 0xf,
			 PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	assert_int_not_equal(c->msix_cap, 0);
	assert_int_equal(cfg_rd(c, c->msix_cap + PCI_MSIX_FLAGS, 2), NQ); /* NQ + 1 vectors */
	assert_int_equal(cfg_rd(c, c->msix_cap + PCI_MSIX_TABLE, 4), 1);
	assert_int_equal(cfg_rd(c, c->msix_cap + PCI_MSIX_PBA, 4), 0x800 | 1);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
}

static void test_class_by_kind(void **state)
{
	static const struct {
		uint16_t id;
		uint32_t class;
	} kinds[] = {
		{ VIRTIO_ID_BLOCK, 0x010000 },
		{ VIRTIO_ID_NET, 0x020000 },
		{ VIRTIO_ID_CONSOLE, 0x078000 },
		{ VIRTIO_ID_RNG, 0xff0000 },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct ctx *c = attach(false, kinds[i].id, 0);

		assert_int_equal(cfg_rd(c, PCI_DEVICE_ID, 2), 0x1040 + kinds[i].id);
		assert_int_equal(cfg_rd(c, PCI_CLASS_REVISION, 4) >> 8, kinds[i].class);
		assert_int_equal(c->devcfg, 0); /* no device configuration, no capability */
		free_ctx(c);
	}
}

static void test_features(void **state)
{
	struct ctx *c = *state;
	uint64_t offered = device_features(c);
	uint64_t want = 1ull << VIRTIO_F_VERSION_1 | 1ull << FEAT_LO | 1ull << FEAT_HI;

	assert_int_equal(offered, c->vdev.features);
	assert_int_equal(offered & want, want);
	common_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 2, 4);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_DF, 4), 0);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_DFSELECT, 4), 2);
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	driver_features(c, want);
	assert_int_equal(read_driver_features(c), want);
	assert_int_equal(c->vdev.drv_features, want);
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(status(c) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* Fixed from now on. */
	driver_features(c, 1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(read_driver_features(c), want);
	/* A narrow write to a 32-bit register does nothing. */
	common_wr(c, VIRTIO_PCI_COMMON_GFSELECT, 7, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_GFSELECT, 4), 1);
}

static void test_features_refused(void **state)
{
	struct ctx *c = *state;

	c->refuse_features = true;
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	driver_features(c, 1ull << VIRTIO_F_VERSION_1);
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK);
	assert_false(status(c) & VIRTIO_CONFIG_S_FEATURES_OK);
}

static void test_queue_setup(void **state)
{
	struct ctx *c = *state;

	select_queue(c, 1);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SELECT, 2), 1);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), MSIX_NO_VECTOR);
	/* Sizes: a power of two up to the maximum, or refused. */
	common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 100, 2);
	common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 2 * QMAX, 2);
	common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 0, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 64, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
	/* Addresses by halves (as Linux writes them) or whole. */
	common_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO, 0x1000, 4);
	common_wr(c, VIRTIO_PCI_COMMON_Q_DESCHI, 0x1, 4);
	common_wr(c, VIRTIO_PCI_COMMON_Q_AVAILLO, 0x2000, 8);
	common_wr(c, VIRTIO_PCI_COMMON_Q_USEDLO, 0x3000, 4);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x100001000ull);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_DESCHI, 4), 1);
	assert_int_equal(c->vdev.vqs[1].desc_addr, 0x100001000ull);
	assert_int_equal(c->vdev.vqs[1].avail_addr, 0x2000);
	assert_int_equal(c->vdev.vqs[1].used_addr, 0x3000);
	common_wr(c, VIRTIO_PCI_COMMON_Q_DESCHI, 0, 4); /* back into guest RAM */
	assert_int_equal(c->vdev.vqs[1].desc_addr, 0x1000);
	/* Vectors the table has, or NO_VECTOR. */
	common_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, NQ, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), NQ);
	common_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, NQ + 1, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), MSIX_NO_VECTOR);
	common_wr(c, VIRTIO_PCI_COMMON_MSIX, 0, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_MSIX, 2), 0);
	common_wr(c, VIRTIO_PCI_COMMON_MSIX, 0x100, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_MSIX, 2), MSIX_NO_VECTOR);
	/* Enabled: the layout is frozen; queue 0 was not touched. */
	common_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	assert_true(c->vdev.vqs[1].enabled);
	assert_false(c->vdev.vqs[1].broken); /* the rings were mapped */
	assert_non_null(c->vdev.vqs[1].desc);
	common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 32, 2);
	common_wr(c, VIRTIO_PCI_COMMON_Q_DESCLO, 0x5000, 4);
	common_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 0, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x1000);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	select_queue(c, 0);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	assert_false(c->vdev.vqs[0].enabled);
	/* No such queue: size 0, writes go nowhere. */
	select_queue(c, NQ);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
	common_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_MSIX, 2), MSIX_NO_VECTOR);
}

static void test_status_and_reset(void **state)
{
	struct ctx *c = *state;
	unsigned resets = c->resets;

	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	assert_int_equal(status(c), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	assert_int_equal(c->vdev.status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(c, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	driver_features(c, 1ull << VIRTIO_F_VERSION_1);
	select_queue(c, 1);
	common_wr(c, VIRTIO_PCI_COMMON_Q_SIZE, 16, 2);
	common_wr(c, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
	common_wr(c, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
	dev_notify_queue(c, 1); /* INTx up */
	assert_int_equal(c->level[gsi(c)], 1);
	set_status(c, 0);
	assert_int_equal(c->resets, resets + 1);
	assert_int_equal(status(c), 0);
	assert_int_equal(c->level[gsi(c)], 0);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_DFSELECT, 4), 0);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SELECT, 2), 0);
	assert_int_equal(read_driver_features(c), 0);
	select_queue(c, 1);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_SIZE, 2), QMAX);
	/* Status is a byte register: a wider write is dropped. */
	common_wr(c, VIRTIO_PCI_COMMON_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 2);
	assert_int_equal(status(c), 0);
	/* Read-only fields stay. */
	common_wr(c, VIRTIO_PCI_COMMON_NUMQ, 9, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
	common_wr(c, VIRTIO_PCI_COMMON_Q_NOFF, 9, 2);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_Q_NOFF, 2), 1);
}

static void test_device_config(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(rd(c, c->devcfg, 1), 0xa0);
	assert_int_equal(rd(c, c->devcfg + 2, 2), 0xa3a2);
	assert_int_equal(rd(c, c->devcfg + 4, 4), 0xa7a6a5a4);
	assert_int_equal(rd(c, c->devcfg, 8), 0xa7a6a5a4a3a2a1a0ull);
	wr(c, c->devcfg + 1, 0x5511, 2);
	assert_int_equal(c->vdev.config[1], 0x11);
	assert_int_equal(c->vdev.config[2], 0x55);
	/* Past the structure: zero, and nothing written. */
	assert_int_equal(rd(c, c->devcfg + 6, 4), 0);
	assert_int_equal(rd(c, c->devcfg + CFG_SIZE, 1), 0);
	wr(c, c->devcfg + CFG_SIZE, 0xff, 1);
	assert_int_equal(rd(c, c->devcfg + 7, 1), 0xa7);
	(void)common_rd(c, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
}

static void test_doorbell_bar_write(void **state)
{
	struct ctx *c = *state;

	/* Before DRIVER_OK the core ignores doorbells. */
	wr(c, c->notify, 0, 2);
	run_loop(c);
	assert_int_equal(c->notified[0], 0);
	bring_up(c);

	wr(c, c->notify + 1 * c->mult, 1, 2);
	run_loop(c);
	assert_int_equal(c->notified[1], 1);
	assert_int_equal(c->notified[0], 0);
	wr(c, c->notify, 0, 4); /* a 32-bit doorbell (NOTIFICATION_DATA style) also rings */
	run_loop(c);
	assert_int_equal(c->notified[0], 1);
	/* Between doorbells, past the last one, one byte wide: nothing. */
	wr(c, c->notify + 2, 0, 2);
	wr(c, c->notify + NQ * c->mult, 0, 2);
	wr(c, c->notify + 4, 1, 1);
	run_loop(c);
	assert_int_equal(c->notified[0], 1);
	assert_int_equal(c->notified[1], 1);
	assert_int_equal(rd(c, c->notify, 2), 0);
}

static void assert_doorbells_at(struct ctx *c, uint64_t bar)
{
	assert_int_equal(c->nioev, NQ);
	for (unsigned q = 0; q < NQ; q++) {
		bool found = false;

		for (unsigned i = 0; i < c->nioev; i++) {
			const struct accel_ioeventfd *e = &c->ioev[i];

			if (e->addr != bar + VIRTIO_PCI_NOTIFY_OFF + q * 4)
				continue;
			found = true;
			assert_int_equal(e->len, 2);
			assert_false(e->pio);
			assert_false(e->has_datamatch);
			assert_int_equal(e->fd, c->vdev.vqs[q].kick_fd);
		}
		assert_true(found);
	}
}

static void test_doorbell_ioeventfd(void **state)
{
	struct ctx *c = *state;
	uint64_t bar = bar_addr(c, 4), moved = bar + 0x100000;
	uint16_t cmd = (uint16_t)cfg_rd(c, PCI_COMMAND, 2);
	unsigned adds;

	assert_doorbells_at(c, bar);
	assert_int_equal(c->notify, bar + VIRTIO_PCI_NOTIFY_OFF);
	/* The guest moves the BAR: the doorbells follow. */
	cfg_wr(c, PCI_BASE_ADDRESS_4, (uint32_t)moved, 4);
	assert_doorbells_at(c, moved);
	/* Decoding off: none; on again: back. */
	cfg_wr(c, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY, 2);
	assert_int_equal(c->nioev, 0);
	cfg_wr(c, PCI_COMMAND, cmd, 2);
	assert_doorbells_at(c, moved);
	/* Sizing the BAR unmaps it on the way. */
	cfg_wr(c, PCI_BASE_ADDRESS_4, 0xffffffff, 4);
	assert_int_equal(c->nioev, 0);
	cfg_wr(c, PCI_BASE_ADDRESS_4, (uint32_t)bar, 4);
	assert_doorbells_at(c, bar);
	/* Unrelated config writes do not churn the registrations. */
	adds = c->ioev_adds;
	cfg_wr(c, PCI_CACHE_LINE_SIZE, 0x10, 1);
	cfg_wr(c, PCI_COMMAND, cmd, 2);
	assert_int_equal(c->ioev_adds, adds);
}

/* An accelerator that refuses: doorbells arrive as BAR writes instead. */
static void test_doorbell_ioeventfd_refused(void **state)
{
	struct ctx *c = new_ctx(true);

	c->ioev_err = -ENOSPC;
	assert_int_equal(virtio_dev_init(&c->vdev, "virtio-stub", VIRTIO_ID_RNG, &stub_ops, c,
					 &c->dh, NQ, QMAX, 0, 0), 0);
	assert_int_equal(virtio_dev_attach(&c->vdev), 0);
	probe(c);
	assert_int_equal(c->ioev_adds, NQ);
	assert_int_equal(c->nioev, 0);
	bring_up(c);
	wr(c, c->notify + c->mult, 1, 2);
	run_loop(c);
	assert_int_equal(c->notified[1], 1);
	/* Moving the BAR deletes nothing that was not added. */
	cfg_wr(c, PCI_BASE_ADDRESS_4, (uint32_t)(bar_addr(c, 4) + 0x100000), 4);
	assert_int_equal(c->ioev_dels, 0);
	free_ctx(c);
	(void)state;
}

static void test_isr_intx(void **state)
{
	struct ctx *c = *state;
	unsigned line = gsi(c);

	dev_notify_queue(c, 0);
	assert_int_equal(c->level[line], 1);
	assert_true(cfg_rd(c, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	dev_notify_config(c);
	assert_int_equal(rd(c, c->isr + 1, 1), 0); /* only byte 0 means anything */
	assert_int_equal(c->level[line], 1);
	assert_int_equal(rd(c, c->isr, 1), 3);
	assert_int_equal(c->level[line], 0);
	assert_false(cfg_rd(c, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	assert_int_equal(rd(c, c->isr, 1), 0);
	dev_notify_config(c);
	assert_int_equal(rd(c, c->isr, 1), VIRTIO_PCI_ISR_CONFIG);
	/* INTX_DISABLE keeps the line down; ISR still says why. */
	cfg_wr(c, PCI_COMMAND, cfg_rd(c, PCI_COMMAND, 2) | PCI_COMMAND_INTX_DISABLE, 2);
	dev_notify_queue(c, 1);
	assert_int_equal(c->level[line], 0);
	assert_int_equal(rd(c, c->isr, 1), 1);
	assert_int_equal(c->nmsi, 0);
}

static void msix_vector(struct ctx *c, unsigned v, uint32_t data, bool masked)
{
	uint64_t e = bar_addr(c, 1) + v * PCI_MSIX_ENTRY_SIZE;

	wr(c, e, 0xfee00000, 4);
	wr(c, e + 4, 0, 4);
	wr(c, e + 8, data, 4);
	wr(c, e + 12, masked, 4);
}

static void test_msix_routing(void **state)
{
	struct ctx *c = *state;
	unsigned line = gsi(c);

	dev_notify_queue(c, 0); /* INTx up before MSI-X: enabling MSI-X drops it */
	assert_int_equal(c->level[line], 1);
	cfg_wr(c, c->msix_cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
	assert_int_equal(c->level[line], 0);
	for (unsigned v = 0; v <= NQ; v++)
		msix_vector(c, v, 0x30 + v, false);
	common_wr(c, VIRTIO_PCI_COMMON_MSIX, 0, 2);
	select_queue(c, 0);
	common_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 1, 2);
	select_queue(c, 1);
	common_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	(void)rd(c, c->isr, 1);

	dev_notify_queue(c, 1);
	dev_notify_queue(c, 0);
	dev_notify_config(c);
	assert_int_equal(c->nmsi, 3);
	assert_int_equal(c->msi_data[0], 0x32);
	assert_int_equal(c->msi_data[1], 0x31);
	assert_int_equal(c->msi_data[2], 0x30);
	assert_int_equal(c->msi_addr[0], 0xfee00000);
	assert_int_equal(c->level[line], 0);
	/* Queue bit stays clear with MSI-X; the config bit is set regardless. */
	assert_int_equal(rd(c, c->isr, 1), VIRTIO_PCI_ISR_CONFIG);
	/* NO_VECTOR: no interrupt at all. */
	common_wr(c, VIRTIO_PCI_COMMON_Q_MSIX, MSIX_NO_VECTOR, 2);
	dev_notify_queue(c, 1);
	assert_int_equal(c->nmsi, 3);
	/* A masked vector holds its message until unmasked. */
	msix_vector(c, 1, 0x31, true);
	dev_notify_queue(c, 0);
	assert_int_equal(c->nmsi, 3);
	assert_int_equal(rd(c, bar_addr(c, 1) + 0x800, 8), 1u << 1);
	wr(c, bar_addr(c, 1) + 1 * 16 + 12, 0, 4);
	assert_int_equal(c->nmsi, 4);
	assert_int_equal(c->msi_data[3], 0x31);
	/* MSI-X off again: back to INTx. */
	cfg_wr(c, c->msix_cap + PCI_MSIX_FLAGS, 0, 2);
	dev_notify_queue(c, 0);
	assert_int_equal(c->nmsi, 4);
	assert_int_equal(c->level[line], 1);
}

static void window_set(struct ctx *c, unsigned bar, uint32_t off, uint32_t len)
{
	cfg_wr(c, c->cfg_cap + VIRTIO_PCI_CAP_BAR, bar, 1);
	cfg_wr(c, c->cfg_cap + VIRTIO_PCI_CAP_OFFSET, off, 4);
	cfg_wr(c, c->cfg_cap + VIRTIO_PCI_CAP_LENGTH, len, 4);
}

#define WINDOW_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)

static void test_pci_cfg_window(void **state)
{
	struct ctx *c = *state;
	unsigned data = c->cfg_cap + WINDOW_DATA;
	uint8_t st;

	assert_int_equal(cfg_rd(c, c->cfg_cap + VIRTIO_PCI_CAP_LEN, 1),
			 sizeof(struct virtio_pci_cfg_cap));
	/* num_queues through the window. */
	window_set(c, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ, 2);
	assert_int_equal(cfg_rd(c, data, 2), NQ);
	/* device_status written through it. */
	window_set(c, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS, 1);
	cfg_wr(c, data, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
	assert_int_equal(status(c), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	assert_int_equal(cfg_rd(c, data, 1), VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* Device configuration, 4 bytes. */
	window_set(c, VIRTIO_PCI_BAR, VIRTIO_PCI_DEVICE_OFF + 4, 4);
	assert_int_equal(cfg_rd(c, data, 4), 0xa7a6a5a4);
	/* A doorbell. */
	bring_up(c);
	window_set(c, VIRTIO_PCI_BAR, VIRTIO_PCI_NOTIFY_OFF + 4, 2);
	cfg_wr(c, data, 1, 2);
	run_loop(c);
	assert_int_equal(c->notified[1], 1);
	/* The MSI-X table in BAR 1. */
	msix_vector(c, 2, 0x1234, true);
	window_set(c, VIRTIO_PCI_BAR_MSIX, 2 * 16 + 8, 4);
	assert_int_equal(cfg_rd(c, data, 4), 0x1234);
	/* Bad windows do nothing: odd length, misaligned, no BAR, past the BAR. */
	st = status(c);
	cfg_wr(c, data, 0x11111111, 4);
	window_set(c, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS, 3);
	cfg_wr(c, data, 0, 4);
	window_set(c, VIRTIO_PCI_BAR, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS + 1, 2);
	cfg_wr(c, data, 0, 2);
	window_set(c, 0, 0, 4);
	cfg_wr(c, data, 0, 4);
	window_set(c, 6, 0, 4);
	cfg_wr(c, data, 0, 4);
	window_set(c, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, 4);
	cfg_wr(c, data, 0, 4);
	window_set(c, VIRTIO_PCI_BAR, 0xfffffffc, 4);
	assert_int_equal(cfg_rd(c, data, 4), 0);
	assert_int_equal(status(c), st);
	assert_int_equal(rd(c, bar_addr(c, 1) + 2 * 16 + 8, 4), 0x11111111);
}

/* A hostile driver: every offset and width of both BARs, read and written. */
static void test_hostile_accesses(void **state)
{
	struct ctx *c = *state;
	uint64_t bar = bar_addr(c, 4), msix = bar_addr(c, 1);
	static const unsigned sizes[] = { 1, 2, 4, 8 };

	for (uint64_t off = 0; off < VIRTIO_PCI_BAR_SIZE; off += 1) {
		for (unsigned s = 0; s < 4; s++) {
			(void)rd(c, bar + off, sizes[s]);
			if (off < VIRTIO_PCI_COMMON_OFF + 0x40 &&
			    off != VIRTIO_PCI_COMMON_STATUS)
				wr(c, bar + off, 0xffffffffffffffffull, sizes[s]);
			else if (off >= VIRTIO_PCI_ISR_OFF)
				wr(c, bar + off, 0x5a5a5a5a5a5a5a5aull, sizes[s]);
		}
	}
	for (uint64_t off = 0; off < 0x1000; off += 1)
		for (unsigned s = 0; s < 4; s++) {
			(void)rd(c, msix + off, sizes[s]);
			wr(c, msix + off, 0, sizes[s]);
		}
	run_loop(c);
	for (unsigned off = 0; off < PCI_CFG_SPACE_SIZE; off++)
		(void)cfg_rd(c, off, 1);
	assert_int_equal(common_rd(c, VIRTIO_PCI_COMMON_NUMQ, 2), NQ);
}

static void test_destroy_unplugs(void **state)
{
	struct ctx *c = *state;
	uint64_t bar = bar_addr(c, 4);
	unsigned devfn = c->pdev->devfn;

	assert_int_equal(c->nioev, NQ);
	dev_notify_queue(c, 0);
	virtio_dev_destroy(&c->vdev);
	c->destroyed = true;
	assert_null(pci_host_device(&c->host, devfn));
	assert_int_equal(c->nioev, 0);
	assert_int_equal(c->level[GSI_BASE + 1], 0);
	assert_int_equal(mmio_in(&c->f->vm, bar + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test(test_class_by_kind),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbell_bar_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbell_ioeventfd, setup_ioeventfd, teardown),
		cmocka_unit_test(test_doorbell_ioeventfd_refused),
		cmocka_unit_test_setup_teardown(test_isr_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_accesses, setup_ioeventfd, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_unplugs, setup_ioeventfd, teardown),
	};

	return cmocka_run_group_tests_name("virtio-pci", tests, NULL, NULL);
}

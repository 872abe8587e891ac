/*
 * The PCI host: root bus 0 with its host bridge at 00:00.0, configuration
 * mechanism #1 (0xcf8/0xcfc) and ECAM, BAR assignment from the machine's
 * windows, BAR mapping on the PIO and MMIO buses, and the INTx swizzle.
 */
#include "hw/pci/pci.h"

#include <errno.h>
#include <string.h>

#include "core/iobus.h"
#include "core/log.h"

#define CONF1_ENABLE 0x80000000u
#define CONF1_MASK 0x80fffffcu /* enable, bus, device, function, register */

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

int pci_host_init(struct pci_host *host, const struct pci_host_config *cfg)
{
	int err;

	if (cfg->intx_gsi_count == 0 || cfg->intx_gsi_count > PCI_INTX_LINES_MAX)
		return -EINVAL;
	memset(host, 0, sizeof(*host));
	host->cfg = *cfg;
	host->io = (struct pci_window){ cfg->io_base, cfg->io_size, 0 };
	host->mem32 = (struct pci_window){ cfg->mem32_base, cfg->mem32_size, 0 };
	host->mem64 = (struct pci_window){ cfg->mem64_base, cfg->mem64_size, 0 };
	pthread_mutex_init(&host->lock, NULL);
	pthread_mutex_init(&host->irq_lock, NULL);
	err = pci_device_init(&host->bridge, "pci-host-bridge", PCI_CFG_SPACE_SIZE, NULL, NULL);
	if (err)
		goto fail;
	pci_set_ids(&host->bridge, PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE,
		    0, 0, PCI_CLASS_HOST_BRIDGE, 0);
	err = pci_host_add(host, &host->bridge, 0, 0);
	if (err)
		goto fail_bridge;
	return 0;
fail_bridge:
	pci_device_destroy(&host->bridge);
fail:
	pthread_mutex_destroy(&host->irq_lock);
	pthread_mutex_destroy(&host->lock);
	return err;
}

static void unmap_bars(struct pci_host *host, struct pci_device *pdev)
{
	for (unsigned i = 0; i <= PCI_BAR_ROM; i++) {
		struct pci_bar *b = &pdev->bars[i];
		uint64_t base = atomic_exchange(&b->base, 0);

		if (base)
			iobus_unregister(b->kind == PCI_BAR_IO ? host->cfg.pio : host->cfg.mmio,
					 base, b->opaque);
	}
}

void pci_host_destroy(struct pci_host *host)
{
	for (unsigned i = 0; i < PCI_DEVFNS; i++) {
		struct pci_device *pdev = host->devs[i];

		if (!pdev)
			continue;
		pthread_mutex_lock(&pdev->lock);
		unmap_bars(host, pdev);
		pdev->host = NULL;
		pthread_mutex_unlock(&pdev->lock);
		host->devs[i] = NULL;
	}
	pci_device_destroy(&host->bridge);
	pthread_mutex_destroy(&host->irq_lock);
	pthread_mutex_destroy(&host->lock);
}

void pci_host_remove(struct pci_host *host, struct pci_device *pdev)
{
	pthread_mutex_lock(&host->lock);
	if (pdev->host != host || host->devs[pdev->devfn] != pdev || pdev == &host->bridge) {
		pthread_mutex_unlock(&host->lock);
		return;
	}
	host->devs[pdev->devfn] = NULL;
	pthread_mutex_unlock(&host->lock);

	pthread_mutex_lock(&pdev->lock);
	unmap_bars(host, pdev);
	pci_set_irq(pdev, 0); /* a line it held goes back to the others */
	pdev->host = NULL;
	pthread_mutex_unlock(&pdev->lock);
	log_debug(host->cfg.log, "pci: %s removed", pdev->name);
}

struct pci_device *pci_host_device(struct pci_host *host, unsigned devfn)
{
	struct pci_device *pdev;

	if (devfn >= PCI_DEVFNS)
		return NULL;
	pthread_mutex_lock(&host->lock);
	pdev = host->devs[devfn];
	pthread_mutex_unlock(&host->lock);
	return pdev;
}

unsigned pci_host_intx_gsi(const struct pci_host *host, unsigned slot, unsigned pin)
{
	return host->cfg.intx_gsi_base + (slot + pin - 1) % host->cfg.intx_gsi_count;
}

/* Naturally aligned, as BARs must be. Returns 0 when the window is full. */
static uint64_t window_alloc(struct pci_window *w, uint64_t size)
{
	uint64_t start = (w->base + w->used + size - 1) & ~(size - 1);

	if (!w->size || start < w->base || start - w->base > w->size ||
	    size > w->size - (start - w->base))
		return 0;
	w->used = start - w->base + size;
	return start;
}

/* Gives BAR i its first address; 64-bit BARs go high only when needed. */
static int assign_bar(struct pci_host *host, struct pci_device *pdev, unsigned i)
{
	struct pci_bar *b = &pdev->bars[i];
	unsigned reg = i == PCI_BAR_ROM ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t flags = i == PCI_BAR_ROM ? 0 : pci_cfg_get(pdev, reg, 4);
	uint64_t addr;

	if (b->kind == PCI_BAR_IO)
		addr = window_alloc(&host->io, b->size);
	else
		addr = window_alloc(&host->mem32, b->size);
	if (!addr && b->kind == PCI_BAR_MEM64)
		addr = window_alloc(&host->mem64, b->size);
	if (!addr) {
		log_error(host->cfg.log, "%s: no room for a BAR of %#llx bytes", pdev->name,
			  (unsigned long long)b->size);
		return -ENOSPC;
	}
	pci_cfg_set(pdev, reg, 4, (uint32_t)addr | flags);
	if (b->kind == PCI_BAR_MEM64)
		pci_cfg_set(pdev, reg + 4, 4, (uint32_t)(addr >> 32));
	return 0;
}

/* Firmware's job: addresses, the INTx line register, decoding on. */
static int setup_device(struct pci_host *host, struct pci_device *pdev, unsigned slot)
{
	uint16_t cmd = 0;
	unsigned pin = pdev->cfg[PCI_INTERRUPT_PIN];
	int err;

	for (unsigned i = 0; i <= PCI_BAR_ROM; i++) {
		if (!pdev->bars[i].kind)
			continue;
		err = assign_bar(host, pdev, i);
		if (err)
			return err;
		if (i == PCI_BAR_ROM)
			continue;
		cmd |= pdev->bars[i].kind == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
	}
	pci_cfg_set(pdev, PCI_COMMAND, 2, pci_cfg_get(pdev, PCI_COMMAND, 2) | cmd);
	if (pin) {
		pdev->gsi = pci_host_intx_gsi(host, slot, pin);
		pci_cfg_set(pdev, PCI_INTERRUPT_LINE, 1, pdev->gsi);
	}
	return 0;
}

static int free_slot(const struct pci_host *host)
{
	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		unsigned fn;

		for (fn = 0; fn < PCI_FUNCS && !host->devs[PCI_DEVFN(s, fn)]; fn++)
			;
		if (fn == PCI_FUNCS)
			return (int)s;
	}
	return -ENOSPC;
}

/* A slot with several functions says so in function 0's header type. */
static void mark_multifunction(struct pci_host *host, unsigned slot)
{
	struct pci_device *fn0 = host->devs[PCI_DEVFN(slot, 0)];

	for (unsigned fn = 1; fn0 && fn < PCI_FUNCS; fn++)
		if (host->devs[PCI_DEVFN(slot, fn)])
			fn0->cfg[PCI_HEADER_TYPE] |= PCI_HEADER_MULTI_FUNCTION;
}

int pci_host_add(struct pci_host *host, struct pci_device *pdev, int slot, unsigned fn)
{
	int err;

	if (fn >= PCI_FUNCS || slot >= PCI_SLOTS || pdev->host || !pdev->cfg)
		return -EINVAL;
	pthread_mutex_lock(&host->lock);
	if (slot < 0)
		slot = fn ? -EINVAL : free_slot(host);
	err = slot < 0 ? slot : 0;
	if (!err && host->devs[PCI_DEVFN(slot, fn)])
		err = -EBUSY;
	if (!err)
		err = setup_device(host, pdev, (unsigned)slot);
	if (err) {
		pthread_mutex_unlock(&host->lock);
		return err;
	}
	pdev->host = host;
	pdev->devfn = PCI_DEVFN(slot, fn);
	host->devs[pdev->devfn] = pdev;
	mark_multifunction(host, (unsigned)slot);
	pthread_mutex_unlock(&host->lock);

	pthread_mutex_lock(&pdev->lock);
	pci_host_update_bars(host, pdev);
	pthread_mutex_unlock(&pdev->lock);
	log_debug(host->cfg.log, "pci: %s at 00:%02x.%u", pdev->name, (unsigned)slot, fn);
	return 0;
}

/* Where BAR i should be decoded now; false if nowhere. */
static bool bar_target(const struct pci_device *pdev, unsigned i, uint64_t *out)
{
	const struct pci_bar *b = &pdev->bars[i];
	uint16_t cmd = (uint16_t)pci_cfg_get(pdev, PCI_COMMAND, 2);
	unsigned reg = i == PCI_BAR_ROM ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t lo = pci_cfg_get(pdev, reg, 4), hi = 0;
	uint64_t addr, limit = 1ull << 32;

	if (b->kind == PCI_BAR_IO) {
		if (!(cmd & PCI_COMMAND_IO))
			return false;
		addr = lo & PCI_BASE_ADDRESS_IO_MASK;
		limit = 0x10000;
	} else if (i == PCI_BAR_ROM) {
		if (!(cmd & PCI_COMMAND_MEMORY) || !(lo & PCI_ROM_ADDRESS_ENABLE))
			return false;
		addr = lo & PCI_ROM_ADDRESS_MASK;
	} else {
		if (!(cmd & PCI_COMMAND_MEMORY))
			return false;
		if (b->kind == PCI_BAR_MEM64) {
			hi = pci_cfg_get(pdev, reg + 4, 4);
			limit = 0; /* 2^64 */
		}
		addr = (lo & PCI_BASE_ADDRESS_MEM_MASK) | (uint64_t)hi << 32;
		/* Sizing leaves all ones: that is no placement, so stay unmapped. */
		if ((lo | (uint32_t)(b->size - 1) | 0xf) == 0xffffffff && (hi == 0 || hi == ~0u))
			return false;
	}
	if (!addr || addr + b->size - 1 < addr || (limit && addr + b->size > limit))
		return false;
	*out = addr;
	return true;
}

static void bar_remap(struct pci_host *host, struct pci_device *pdev, unsigned i)
{
	struct pci_bar *b = &pdev->bars[i];
	struct iobus *bus = b->kind == PCI_BAR_IO ? host->cfg.pio : host->cfg.mmio;
	uint64_t cur = atomic_load(&b->base), addr = 0;
	bool want = bar_target(pdev, i, &addr);
	int err;

	if (want && cur == addr)
		return;
	if (cur) {
		iobus_unregister(bus, cur, b->opaque);
		atomic_store(&b->base, 0);
	}
	if (!want)
		return;
	err = iobus_register(bus, addr, b->size, b->ops, b->opaque, pdev->name);
	if (err) {
		/* The guest put it over something else: it decodes nothing. */
		log_debug(host->cfg.log, "%s: BAR %u at %#llx not mapped: %s", pdev->name, i,
			  (unsigned long long)addr, strerror(-err));
		return;
	}
	atomic_store(&b->base, addr);
}

void pci_host_update_bars(struct pci_host *host, struct pci_device *pdev)
{
	for (unsigned i = 0; i <= PCI_BAR_ROM; i++)
		if (pdev->bars[i].kind)
			bar_remap(host, pdev, i);
}

/* The function a 0xcf8 address selects, or NULL (reads all ones). */
static struct pci_device *conf1_target(struct pci_host *host, unsigned *reg)
{
	uint32_t addr;
	struct pci_device *pdev = NULL;

	pthread_mutex_lock(&host->lock);
	addr = host->conf1_addr;
	if ((addr & CONF1_ENABLE) && ((addr >> 16) & 0xff) == 0)
		pdev = host->devs[(addr >> 8) & 0xff];
	pthread_mutex_unlock(&host->lock);
	*reg = addr & 0xfc;
	return pdev;
}

static uint64_t conf1_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_host *host = dev;
	struct pci_device *pdev;
	unsigned reg;
	uint64_t v;

	if (off < 4) {
		/* Only dword accesses reach the address register. */
		if (off != 0 || size != 4)
			return all_ones(size);
		pthread_mutex_lock(&host->lock);
		v = host->conf1_addr;
		pthread_mutex_unlock(&host->lock);
		return v;
	}
	pdev = conf1_target(host, &reg);
	if (!pdev || size > 4)
		return all_ones(size);
	return pci_config_read(pdev, reg + (unsigned)off - 4, size);
}

static void conf1_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct pci_host *host = dev;
	struct pci_device *pdev;
	unsigned reg;

	if (off < 4) {
		if (off != 0 || size != 4)
			return;
		pthread_mutex_lock(&host->lock);
		host->conf1_addr = (uint32_t)value & CONF1_MASK;
		pthread_mutex_unlock(&host->lock);
		return;
	}
	pdev = conf1_target(host, &reg);
	if (pdev && size <= 4)
		pci_config_write(pdev, reg + (unsigned)off - 4, size, (uint32_t)value);
}

const struct io_ops pci_conf1_ops = {
	.read = conf1_read,
	.write = conf1_write,
};

/* ECAM offset: bus in bits 27..20, devfn in 19..12, register in 11..0. */
static struct pci_device *ecam_target(struct pci_host *host, uint64_t off, unsigned size)
{
	unsigned reg = off & 0xfff;

	if ((off >> 20) != 0 || reg + size > PCI_CFG_SPACE_EXP_SIZE)
		return NULL;
	return pci_host_device(host, (off >> 12) & 0xff);
}

static uint64_t ecam_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_device *pdev;

	if (size == 8)
		return ecam_read(dev, off, 4) | ecam_read(dev, off + 4, 4) << 32;
	pdev = ecam_target(dev, off, size);
	if (!pdev)
		return all_ones(size);
	return pci_config_read(pdev, off & 0xfff, size);
}

static void ecam_write(void *dev, uint64_t off, uint64_t value, unsigned size)
{
	struct pci_device *pdev;

	if (size == 8) {
		ecam_write(dev, off, value & 0xffffffff, 4);
		ecam_write(dev, off + 4, value >> 32, 4);
		return;
	}
	pdev = ecam_target(dev, off, size);
	if (pdev)
		pci_config_write(pdev, off & 0xfff, size, (uint32_t)value);
}

const struct io_ops pci_ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};

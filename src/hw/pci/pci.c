/*
 * The configuration space of one PCI function: the type 0 header with its
 * write masks, BAR registers and sizing, the capability list, and INTx.
 */
#include "hw/pci/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BAR_REG(i) (PCI_BASE_ADDRESS_0 + 4 * (i))
#define CMD_DECODE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)
#define CMD_WRITABLE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
		      PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
#define STATUS_W1C (PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | \
		    PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT | \
		    PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

uint32_t pci_cfg_get(const struct pci_device *pdev, unsigned off, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size && i < 4; i++)
		if (off + i < pdev->cfg_size)
			v |= (uint32_t)pdev->cfg[off + i] << (8 * i);
	return v;
}

static void put_bytes(uint8_t *arr, unsigned limit, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size && i < 4; i++)
		if (off + i < limit)
			arr[off + i] = (uint8_t)(v >> (8 * i));
}

void pci_cfg_set(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val)
{
	put_bytes(pdev->cfg, pdev->cfg_size, off, size, val);
}

void pci_cfg_set_wmask(struct pci_device *pdev, unsigned off, unsigned size, uint32_t mask)
{
	put_bytes(pdev->wmask, pdev->cfg_size, off, size, mask);
}

void pci_cfg_set_w1cmask(struct pci_device *pdev, unsigned off, unsigned size, uint32_t mask)
{
	put_bytes(pdev->w1cmask, pdev->cfg_size, off, size, mask);
}

int pci_device_init(struct pci_device *pdev, const char *name, unsigned cfg_size,
		    const struct pci_device_ops *ops, void *opaque)
{
	uint8_t *mem;

	if (cfg_size != PCI_CFG_SPACE_SIZE && cfg_size != PCI_CFG_SPACE_EXP_SIZE)
		return -EINVAL;
	memset(pdev, 0, sizeof(*pdev));
	mem = calloc(3, cfg_size);
	if (!mem)
		return -ENOMEM;
	pdev->name = name;
	pdev->ops = ops;
	pdev->opaque = opaque;
	pdev->cfg_size = cfg_size;
	pdev->cfg = mem;
	pdev->wmask = mem + cfg_size;
	pdev->w1cmask = mem + 2 * cfg_size;
	pdev->cap_end = PCI_CAP_FIRST;
	pthread_mutex_init(&pdev->lock, NULL);
	pci_cfg_set_wmask(pdev, PCI_COMMAND, 2, CMD_WRITABLE);
	pci_cfg_set_w1cmask(pdev, PCI_STATUS, 2, STATUS_W1C);
	pci_cfg_set_wmask(pdev, PCI_CACHE_LINE_SIZE, 1, 0xff);
	pci_cfg_set_wmask(pdev, PCI_LATENCY_TIMER, 1, 0xff);
	pci_cfg_set_wmask(pdev, PCI_INTERRUPT_LINE, 1, 0xff);
	return 0;
}

void pci_device_destroy(struct pci_device *pdev)
{
	if (!pdev->cfg)
		return;
	free(pdev->cfg);
	pdev->cfg = pdev->wmask = pdev->w1cmask = NULL;
	pthread_mutex_destroy(&pdev->lock);
}

void pci_set_ids(struct pci_device *pdev, uint16_t vendor, uint16_t device,
		 uint16_t subsys_vendor, uint16_t subsys, uint32_t class, uint8_t revision)
{
	pci_cfg_set(pdev, PCI_VENDOR_ID, 2, vendor);
	pci_cfg_set(pdev, PCI_DEVICE_ID, 2, device);
	pci_cfg_set(pdev, PCI_SUBSYSTEM_VENDOR_ID, 2, subsys_vendor);
	pci_cfg_set(pdev, PCI_SUBSYSTEM_ID, 2, subsys);
	pci_cfg_set(pdev, PCI_CLASS_REVISION, 4, class << 8 | revision);
}

/* The BAR whose upper half lives in slot idx, or -1. */
static int high_half_of(const struct pci_device *pdev, unsigned idx)
{
	if (idx > 0 && idx < PCI_BAR_COUNT && pdev->bars[idx - 1].kind == PCI_BAR_MEM64)
		return (int)idx - 1;
	return -1;
}

static bool bar_size_ok(enum pci_bar_kind kind, uint64_t size)
{
	if (!is_pow2(size))
		return false;
	switch (kind) {
	case PCI_BAR_IO:
		return size >= 4 && size <= 0x10000;
	case PCI_BAR_MEM32:
		return size >= 16 && size <= (1ull << 31);
	case PCI_BAR_MEM64:
		return size >= 16 && size <= (1ull << 62);
	default:
		return false;
	}
}

int pci_set_bar(struct pci_device *pdev, unsigned idx, enum pci_bar_kind kind, bool prefetch,
		uint64_t size, const struct io_ops *ops, void *opaque)
{
	uint32_t flags;

	if (idx >= PCI_BAR_COUNT || pdev->host || !ops || !bar_size_ok(kind, size))
		return -EINVAL;
	if (pdev->bars[idx].kind != PCI_BAR_UNUSED || high_half_of(pdev, idx) >= 0)
		return -EBUSY;
	if (kind == PCI_BAR_MEM64 &&
	    (idx + 1 >= PCI_BAR_COUNT || pdev->bars[idx + 1].kind != PCI_BAR_UNUSED))
		return -EINVAL;
	if (kind == PCI_BAR_IO)
		flags = PCI_BASE_ADDRESS_SPACE_IO;
	else
		flags = (kind == PCI_BAR_MEM64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) |
			(prefetch ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
	pdev->bars[idx] = (struct pci_bar){
		.kind = kind,
		.prefetch = kind != PCI_BAR_IO && prefetch,
		.size = size,
		.ops = ops,
		.opaque = opaque,
	};
	pci_cfg_set(pdev, BAR_REG(idx), 4, flags);
	return 0;
}

int pci_set_rom(struct pci_device *pdev, uint64_t size, const struct io_ops *ops, void *opaque)
{
	if (pdev->host || !ops || !is_pow2(size) || size < 0x800 || size > (1ull << 31))
		return -EINVAL;
	if (pdev->bars[PCI_BAR_ROM].kind != PCI_BAR_UNUSED)
		return -EBUSY;
	pdev->bars[PCI_BAR_ROM] = (struct pci_bar){
		.kind = PCI_BAR_MEM32,
		.size = size,
		.ops = ops,
		.opaque = opaque,
	};
	return 0;
}

void pci_set_intx_pin(struct pci_device *pdev, unsigned pin)
{
	pci_cfg_set(pdev, PCI_INTERRUPT_PIN, 1, pin <= 4 ? pin : 0);
}

unsigned pci_find_capability(const struct pci_device *pdev, uint8_t id)
{
	unsigned off = pdev->cfg[PCI_CAPABILITY_LIST] & ~3u;

	/* The bound stops a loop even if the list were corrupt. */
	for (unsigned n = 0; off >= PCI_CAP_FIRST && n < 48; n++) {
		if (pdev->cfg[off] == id)
			return off;
		off = pdev->cfg[off + PCI_CAP_LIST_NEXT] & ~3u;
	}
	return 0;
}

int pci_add_capability(struct pci_device *pdev, uint8_t id, unsigned len)
{
	unsigned off = (pdev->cap_end + 3) & ~3u, last;

	if (len < 2 || off + len > PCI_CFG_SPACE_SIZE)
		return -ENOSPC;
	pdev->cfg[off] = id;
	pdev->cfg[off + PCI_CAP_LIST_NEXT] = 0;
	last = pdev->cfg[PCI_CAPABILITY_LIST];
	if (!last) {
		pdev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	} else {
		while (pdev->cfg[last + PCI_CAP_LIST_NEXT])
			last = pdev->cfg[last + PCI_CAP_LIST_NEXT];
		pdev->cfg[last + PCI_CAP_LIST_NEXT] = (uint8_t)off;
	}
	pdev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	pdev->cap_end = off + len;
	return (int)off;
}

/* Takes pdev->host->irq_lock. */
static void intx_update(struct pci_device *pdev)
{
	struct pci_host *host = pdev->host;
	bool want = pdev->intx_level && !pdev->intx_disabled &&
		    pdev->cfg[PCI_INTERRUPT_PIN] && host->cfg.set_irq;
	unsigned line = pdev->gsi - host->cfg.intx_gsi_base;

	if (want == pdev->intx_on_line || line >= PCI_INTX_LINES_MAX)
		return;
	pdev->intx_on_line = want;
	/* Lines are shared: the first assertion raises, the last release lowers. */
	if (want && host->line_count[line]++ == 0)
		host->cfg.set_irq(host->cfg.irq_opaque, pdev->gsi, 1);
	else if (!want && --host->line_count[line] == 0)
		host->cfg.set_irq(host->cfg.irq_opaque, pdev->gsi, 0);
}

void pci_set_irq(struct pci_device *pdev, int level)
{
	struct pci_host *host = pdev->host;

	if (!host) {
		pdev->intx_level = level != 0;
		return;
	}
	pthread_mutex_lock(&host->irq_lock);
	pdev->intx_level = level != 0;
	intx_update(pdev);
	pthread_mutex_unlock(&host->irq_lock);
}

static void command_changed(struct pci_device *pdev)
{
	struct pci_host *host = pdev->host;
	uint16_t cmd = (uint16_t)pci_cfg_get(pdev, PCI_COMMAND, 2);

	if (!host)
		return;
	pthread_mutex_lock(&host->irq_lock);
	pdev->intx_disabled = cmd & PCI_COMMAND_INTX_DISABLE;
	intx_update(pdev);
	pthread_mutex_unlock(&host->irq_lock);
}

static bool interrupt_status(struct pci_device *pdev)
{
	bool level;

	if (!pdev->host)
		return pdev->intx_level;
	pthread_mutex_lock(&pdev->host->irq_lock);
	level = pdev->intx_level;
	pthread_mutex_unlock(&pdev->host->irq_lock);
	return level;
}

uint32_t pci_config_read(struct pci_device *pdev, unsigned off, unsigned size)
{
	uint32_t val;

	if (size != 1 && size != 2 && size != 4)
		return 0xffffffff;
	pthread_mutex_lock(&pdev->lock);
	val = pci_cfg_get(pdev, off, size);
	/* STATUS.INTERRUPT follows the device's INTx level. */
	if (off <= PCI_STATUS && off + size > PCI_STATUS && interrupt_status(pdev))
		val |= (uint32_t)PCI_STATUS_INTERRUPT << (8 * (PCI_STATUS - off));
	if (pdev->ops && pdev->ops->config_read)
		val = pdev->ops->config_read(pdev, off, size, val);
	pthread_mutex_unlock(&pdev->lock);
	return val;
}

/* The BAR register at dword offset reg: its BAR index, high half, or -1. */
static int bar_of_reg(const struct pci_device *pdev, unsigned reg, bool *high)
{
	unsigned idx;
	int lo;

	*high = false;
	if (reg == PCI_ROM_ADDRESS)
		return pdev->bars[PCI_BAR_ROM].kind ? PCI_BAR_ROM : -1;
	if (reg < PCI_BASE_ADDRESS_0 || reg > PCI_BASE_ADDRESS_5)
		return -1;
	idx = (reg - PCI_BASE_ADDRESS_0) / 4;
	lo = high_half_of(pdev, idx);
	if (lo >= 0) {
		*high = true;
		return lo;
	}
	return pdev->bars[idx].kind ? (int)idx : -1;
}

static bool is_bar_reg(unsigned reg)
{
	return (reg >= PCI_BASE_ADDRESS_0 && reg <= PCI_BASE_ADDRESS_5) || reg == PCI_ROM_ADDRESS;
}

/* The address bits of a BAR register keep what was written; sizing falls out. */
static void bar_write(struct pci_device *pdev, unsigned reg, uint32_t v)
{
	bool high;
	int idx = bar_of_reg(pdev, reg, &high);
	const struct pci_bar *b;
	uint64_t addr_mask;
	uint32_t old = pci_cfg_get(pdev, reg, 4);

	if (idx < 0)
		return; /* unimplemented BARs read as zero */
	b = &pdev->bars[idx];
	addr_mask = ~(b->size - 1);
	if (high) {
		pci_cfg_set(pdev, reg, 4, v & (uint32_t)(addr_mask >> 32));
	} else if (idx == PCI_BAR_ROM) {
		pci_cfg_set(pdev, reg, 4, (v & (uint32_t)addr_mask & PCI_ROM_ADDRESS_MASK) |
				 (v & PCI_ROM_ADDRESS_ENABLE));
	} else {
		uint32_t low = b->kind == PCI_BAR_IO ? ~PCI_BASE_ADDRESS_IO_MASK
						     : ~PCI_BASE_ADDRESS_MEM_MASK;

		pci_cfg_set(pdev, reg, 4, (v & (uint32_t)addr_mask & ~low) | (old & low));
	}
}

/* One dword of a write: mask has a bit set per written byte. */
static bool write_dword(struct pci_device *pdev, unsigned reg, uint32_t v, unsigned mask)
{
	if (is_bar_reg(reg)) {
		uint32_t old = pci_cfg_get(pdev, reg, 4);

		for (unsigned i = 0; i < 4; i++)
			if (!(mask & (1u << i)))
				v = (v & ~(0xffu << (8 * i))) | (old & (0xffu << (8 * i)));
		bar_write(pdev, reg, v);
		return true;
	}
	for (unsigned i = 0; i < 4; i++) {
		unsigned b = reg + i;
		uint8_t byte = (uint8_t)(v >> (8 * i)), wm;

		if (!(mask & (1u << i)) || b >= pdev->cfg_size)
			continue;
		wm = pdev->wmask[b];
		pdev->cfg[b] = (uint8_t)((pdev->cfg[b] & ~wm) | (byte & wm));
		pdev->cfg[b] &= (uint8_t)~(byte & pdev->w1cmask[b]);
	}
	return false;
}

void pci_config_write(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val)
{
	uint64_t v = (uint64_t)val << (8 * (off & 3));
	unsigned mask = ((1u << size) - 1) << (off & 3);
	bool bars = false, command = false;

	if (size != 1 && size != 2 && size != 4)
		return;
	pthread_mutex_lock(&pdev->lock);
	/* An unaligned access touches at most two dwords. */
	for (unsigned reg = off & ~3u; mask & 0xf; reg += 4, mask >>= 4, v >>= 32) {
		bars |= write_dword(pdev, reg, (uint32_t)v, mask & 0xf);
		command |= reg == PCI_COMMAND && (mask & 3);
	}
	if (command)
		command_changed(pdev);
	if ((bars || command) && pdev->host)
		pci_host_update_bars(pdev->host, pdev);
	if (pdev->ops && pdev->ops->config_write)
		pdev->ops->config_write(pdev, off, size, val);
	pthread_mutex_unlock(&pdev->lock);
}

/* BAR registers keep their type bits; the address goes to 0. */
static void reset_bars(struct pci_device *pdev)
{
	for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
		const struct pci_bar *b = &pdev->bars[i];
		uint32_t low;

		if (high_half_of(pdev, i) >= 0) {
			pci_cfg_set(pdev, BAR_REG(i), 4, 0);
			continue;
		}
		if (!b->kind)
			continue;
		low = b->kind == PCI_BAR_IO ? ~PCI_BASE_ADDRESS_IO_MASK : ~PCI_BASE_ADDRESS_MEM_MASK;
		pci_cfg_set(pdev, BAR_REG(i), 4, pci_cfg_get(pdev, BAR_REG(i), 4) & low);
	}
	if (pdev->bars[PCI_BAR_ROM].kind)
		pci_cfg_set(pdev, PCI_ROM_ADDRESS, 4, 0);
}

void pci_device_reset(struct pci_device *pdev)
{
	pthread_mutex_lock(&pdev->lock);
	/* BAR registers have no wmask bits: reset_bars() handles them. */
	for (unsigned b = 0; b < pdev->cfg_size; b++)
		pdev->cfg[b] &= (uint8_t)~(pdev->wmask[b] | pdev->w1cmask[b]);
	reset_bars(pdev);
	pci_set_irq(pdev, 0);
	command_changed(pdev);
	if (pdev->host)
		pci_host_update_bars(pdev->host, pdev);
	if (pdev->ops && pdev->ops->reset)
		pdev->ops->reset(pdev);
	pthread_mutex_unlock(&pdev->lock);
}

uint64_t pci_bar_base(struct pci_device *pdev, unsigned idx)
{
	return idx <= PCI_BAR_ROM ? atomic_load(&pdev->bars[idx].base) : 0;
}

/*
 * The proxy PCI device (proxy.h): discovery through the link, the VMM's
 * pci_device built from it, guest config and BAR accesses forwarded.
 */
#include "remote/proxy_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/iobus.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/pci/pci.h"
#include "remote/link.h"

#define BAR_REG(i) (PCI_BASE_ADDRESS_0 + 4 * (i))
#define ROM_SIZING 0xfffff800u
#define CAP_WALK_MAX 48

/* What discovery found; becomes the local pci_device. */
struct proxy_found {
	uint32_t id, class_rev, subsys;
	uint8_t pin;
	unsigned cfg_size;
	struct {
		enum pci_bar_kind kind;
		bool prefetch;
		uint64_t size;
	} bars[PCI_BAR_COUNT + 1];
};

static uint32_t ones(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static uint64_t ones64(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- requests -------------------------------------------------------------- */

/* Any failure broke the link and was logged there, once. */
int px_call(struct proxy *p, const struct link_msg *m, uint64_t *v)
{
	return link_call(&p->link, m, v, p->timeout_ms);
}

static int cfg_req(struct proxy *p, uint32_t cmd, unsigned off, unsigned size, uint32_t val,
		   uint32_t *out)
{
	struct link_msg m;
	uint64_t v = 0;
	int err;

	link_msg_cfg(&m, cmd, off, val, (int)size);
	err = px_call(p, &m, &v);
	if (!err && out)
		*out = (uint32_t)v & ones(size);
	return err;
}

/*
 * QEMU 7.2's remote ends the link on any access whose dword would pass the
 * end of a 256-byte space (a 1-byte read at 0xff): use the whole last dword.
 */
static bool past_qemu_end(const struct proxy *p, unsigned off)
{
	return p->cfg_size == PCI_CFG_SPACE_SIZE && off + 4 > PCI_CFG_SPACE_SIZE;
}

int px_cfg_read(struct proxy *p, unsigned off, unsigned size, uint32_t *out)
{
	unsigned shift = 8 * (off & 3);
	uint32_t v;
	int err;

	if (!past_qemu_end(p, off))
		return cfg_req(p, LINK_PCI_CFGREAD, off, size, 0, out);
	err = cfg_req(p, LINK_PCI_CFGREAD, off & ~3u, 4, 0, &v);
	if (!err)
		*out = (v >> shift) & ones(size);
	return err;
}

/* Past the QEMU end, a short write becomes a read-modify-write of the dword. */
int px_cfg_write(struct proxy *p, unsigned off, unsigned size, uint32_t val)
{
	unsigned shift = 8 * (off & 3);
	uint32_t v, mask = ones(size) << shift;
	int err;

	if (!past_qemu_end(p, off))
		return cfg_req(p, LINK_PCI_CFGWRITE, off, size, val, NULL);
	err = cfg_req(p, LINK_PCI_CFGREAD, off & ~3u, 4, 0, &v);
	if (!err)
		err = cfg_req(p, LINK_PCI_CFGWRITE, off & ~3u, 4,
			      (v & ~mask) | ((val << shift) & mask), NULL);
	return err;
}

/* ---- the guest's accesses -------------------------------------------------- */

static uint32_t px_config_read(struct pci_device *pdev, unsigned off, unsigned size,
			       uint32_t val)
{
	struct proxy *p = pdev->opaque;
	uint32_t v;

	if (off + size > p->cfg_size)
		return val;
	return px_cfg_read(p, off, size, &v) ? ones(size) : v;
}

static bool overlaps(unsigned off, unsigned size, unsigned start, unsigned len)
{
	return off < start + len && start < off + size;
}

/*
 * The local copy already took the write (BARs, COMMAND): now the device.
 * Doorbells follow the BARs; the MSI-X control word is followed here too.
 */
static void px_config_write(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val)
{
	struct proxy *p = pdev->opaque;

	if (off + size > p->cfg_size)
		return;
	px_cfg_write(p, off, size, val);
	if (p->msix.owned)
		proxy_msix_config_write(p, off, size, val);
	if (overlaps(off, size, PCI_COMMAND, 2) ||
	    overlaps(off, size, PCI_BASE_ADDRESS_0, 4 * PCI_BAR_COUNT))
		proxy_doorbells_sync(p);
}

static const struct pci_device_ops px_pci_ops = {
	.config_read = px_config_read,
	.config_write = px_config_write,
};

static uint64_t px_bar_read(void *dev, uint64_t offset, unsigned size)
{
	struct proxy_bar *b = dev;
	uint64_t base = pci_bar_base(&b->p->pdev, b->idx), v = 0;
	struct link_msg m;

	if (!base)
		return ones64(size); /* moved away under us */
	if (proxy_msix_bar(b->p, b->idx, offset, size, &v, false))
		return v;
	link_msg_bar(&m, LINK_BAR_READ, base + offset, 0, size, b->memory);
	if (px_call(b->p, &m, &v))
		return ones64(size);
	return v & ones64(size);
}

static void px_bar_write(void *dev, uint64_t offset, uint64_t value, unsigned size)
{
	struct proxy_bar *b = dev;
	uint64_t base = pci_bar_base(&b->p->pdev, b->idx), v;
	struct link_msg m;

	if (!base)
		return;
	value &= ones64(size);
	if (proxy_msix_bar(b->p, b->idx, offset, size, &value, true))
		return;
	if (b->memory && proxy_posted_write(b->p, base + offset, value, size))
		return;
	link_msg_bar(&m, LINK_BAR_WRITE, base + offset, value, size, b->memory);
	if (!px_call(b->p, &m, &v) && v == UINT64_MAX)
		log_debug(b->p->host->log, "%s: the device refused a BAR write at %#llx",
			  b->p->name, (unsigned long long)(base + offset));
}

static const struct io_ops px_bar_ops = {
	.read = px_bar_read,
	.write = px_bar_write,
};

/* ---- start-up ---------------------------------------------------------------- */

/* Guest RAM for the device process's DMA: every region, one message. */
static int share_ram(struct proxy *p, unsigned max_regions)
{
	const struct guest_memory *mem = p->host->mem;
	struct link_msg m;

	if (mem->nregions > max_regions) {
		log_error(p->host->log, "%s: guest RAM has %u regions, the device process takes %u",
			  p->name, mem->nregions, max_regions);
		return -E2BIG;
	}
	link_msg_sysmem(&m);
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_ram_region *r = &mem->regions[i];
		int err = link_msg_sysmem_add(&m, r->fd, r->base.raw, r->size,
					      (int64_t)r->fd_offset);

		if (err)
			return err;
	}
	return link_send(&p->link, &m, p->timeout_ms);
}

static int send_irqfds(struct proxy *p)
{
	struct link_msg m;

	p->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->resamplefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->irqfd < 0 || p->resamplefd < 0)
		return -errno;
	link_msg_irqfd(&m, p->irqfd, p->resamplefd);
	return link_send(&p->link, &m, p->timeout_ms);
}

/*
 * QEMU 7.2's remote serves what is queued as soon as its machine exists,
 * then resets every device, undoing early config writes (docs/mpqemu.md).
 * A sentinel in the interrupt line register, which reset clears, shows
 * when that is behind us; if it survives settle_ms, the reset came first.
 */
static int settle(struct proxy *p, int settle_ms)
{
	int64_t t0;
	uint32_t v = 0;
	int err;

	if (settle_ms <= 0 || p->splitvm_peer)
		return 0; /* our own device process does not reset itself */
	err = px_cfg_write(p, PCI_INTERRUPT_LINE, 1, 0xa5);
	t0 = now_ms();
	while (!err && now_ms() - t0 < settle_ms) {
		usleep(5000);
		err = px_cfg_read(p, PCI_INTERRUPT_LINE, 1, &v);
		if (!err && v == 0) {
			log_debug(p->host->log, "%s: device reset by its process after %lld ms",
				  p->name, (long long)(now_ms() - t0));
			break;
		}
	}
	return err;
}

static int device_reset(struct proxy *p)
{
	struct link_msg m;
	uint64_t v;

	link_msg_reset(&m);
	return px_call(p, &m, &v);
}

/* Writes all ones to a BAR register, reads back, restores. */
static int size_reg(struct proxy *p, unsigned reg, uint32_t probe, uint32_t *mask)
{
	uint32_t orig;
	int err = px_cfg_read(p, reg, 4, &orig);

	if (!err)
		err = px_cfg_write(p, reg, 4, probe);
	if (!err)
		err = px_cfg_read(p, reg, 4, mask);
	if (!err)
		err = px_cfg_write(p, reg, 4, orig);
	return err;
}

static int bad_bar(struct proxy *p, unsigned i, uint32_t v)
{
	log_error(p->host->log, "%s: BAR %u of the device reads back %#x after sizing: not a BAR",
		  p->name, i, v);
	return -EPROTO;
}

/* BAR i from its all-ones read-back; *next: the slot after it. */
static int size_bar(struct proxy *p, struct proxy_found *f, unsigned i, unsigned *next)
{
	uint32_t lo, hi = 0;
	uint64_t mask;
	int err = size_reg(p, BAR_REG(i), 0xffffffff, &lo);

	*next = i + 1;
	if (err || lo == 0)
		return err;
	if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
		mask = lo & PCI_BASE_ADDRESS_IO_MASK;
		if (!(mask >> 16))
			mask |= 0xffff0000u; /* 16-bit I/O decoders leave the top clear */
		f->bars[i].kind = PCI_BAR_IO;
	} else {
		switch (lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) {
		case PCI_BASE_ADDRESS_MEM_TYPE_64:
			if (i + 1 >= PCI_BAR_COUNT)
				return bad_bar(p, i, lo);
			err = size_reg(p, BAR_REG(i + 1), 0xffffffff, &hi);
			if (err)
				return err;
			f->bars[i].kind = PCI_BAR_MEM64;
			*next = i + 2;
			break;
		case PCI_BASE_ADDRESS_MEM_TYPE_32:
		case PCI_BASE_ADDRESS_MEM_TYPE_1M:
			f->bars[i].kind = PCI_BAR_MEM32;
			break;
		default:
			return bad_bar(p, i, lo);
		}
		f->bars[i].prefetch = lo & PCI_BASE_ADDRESS_MEM_PREFETCH;
		mask = (uint64_t)hi << 32 | (lo & (uint32_t)PCI_BASE_ADDRESS_MEM_MASK);
	}
	if (!mask)
		return bad_bar(p, i, lo);
	f->bars[i].size = mask & -mask; /* the lowest address bit that sticks */
	return 0;
}

/* The expansion ROM at 0x30, which QEMU 7.2's proxy misses (it sizes 0x28). */
static int size_rom(struct proxy *p, struct proxy_found *f)
{
	uint32_t v, mask;
	int err = size_reg(p, PCI_ROM_ADDRESS, ROM_SIZING, &v);

	mask = v & (uint32_t)PCI_ROM_ADDRESS_MASK;
	if (!err && mask) {
		f->bars[PCI_BAR_ROM].kind = PCI_BAR_MEM32;
		f->bars[PCI_BAR_ROM].size = mask & -mask;
	}
	return err;
}

/* PCI Express functions have 4 KiB of config space. */
static int find_cfg_size(struct proxy *p, struct proxy_found *f)
{
	uint32_t status, off, hdr;
	int err = px_cfg_read(p, PCI_STATUS, 2, &status);

	f->cfg_size = PCI_CFG_SPACE_SIZE;
	if (err || !(status & PCI_STATUS_CAP_LIST))
		return err;
	err = px_cfg_read(p, PCI_CAPABILITY_LIST, 1, &off);
	for (unsigned n = 0; !err && n < CAP_WALK_MAX; n++) {
		off &= ~3u;
		if (off < PCI_CAP_FIRST || off > PCI_CFG_SPACE_SIZE - 4)
			break;
		err = px_cfg_read(p, off, 2, &hdr);
		if (!err && (hdr & 0xff) == PCI_CAP_ID_EXP) {
			f->cfg_size = PCI_CFG_SPACE_EXP_SIZE;
			break;
		}
		off = hdr >> 8;
	}
	return err;
}

static int discover(struct proxy *p, struct proxy_found *f)
{
	uint32_t hdr = 0, pin = 0;
	int err;

	memset(f, 0, sizeof(*f));
	err = px_cfg_read(p, PCI_VENDOR_ID, 4, &f->id);
	if (!err && ((f->id & 0xffff) == 0xffff || (f->id & 0xffff) == 0)) {
		log_error(p->host->log, "%s: no PCI function answers (IDs %08x)", p->name, f->id);
		return -ENODEV;
	}
	if (!err)
		err = px_cfg_read(p, PCI_CLASS_REVISION, 4, &f->class_rev);
	if (!err)
		err = px_cfg_read(p, PCI_HEADER_TYPE, 1, &hdr);
	if (!err && (hdr & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		log_error(p->host->log, "%s: header type %#x: only plain functions can be proxied",
			  p->name, hdr);
		return -ENOTSUP;
	}
	if (!err)
		err = px_cfg_read(p, PCI_SUBSYSTEM_VENDOR_ID, 4, &f->subsys);
	if (!err)
		err = px_cfg_read(p, PCI_INTERRUPT_PIN, 1, &pin);
	f->pin = pin <= 4 ? (uint8_t)pin : 0;
	for (unsigned i = 0; !err && i < PCI_BAR_COUNT;)
		err = size_bar(p, f, i, &i);
	if (!err)
		err = size_rom(p, f);
	if (!err)
		err = find_cfg_size(p, f);
	if (!err)
		err = proxy_msix_discover(p);
	return err;
}

static int build_pdev(struct proxy *p, const struct proxy_found *f)
{
	int err = pci_device_init(&p->pdev, p->name, f->cfg_size, &px_pci_ops, p);

	if (err)
		return err;
	p->pdev_init = true;
	p->cfg_size = f->cfg_size;
	pci_set_ids(&p->pdev, f->id & 0xffff, f->id >> 16, f->subsys & 0xffff, f->subsys >> 16,
		    f->class_rev >> 8, f->class_rev & 0xff);
	pci_set_intx_pin(&p->pdev, f->pin);
	for (unsigned i = 0; i <= PCI_BAR_ROM && !err; i++) {
		p->bars[i] = (struct proxy_bar){ p, i, f->bars[i].kind != PCI_BAR_IO };
		if (!f->bars[i].kind)
			continue;
		if (i == PCI_BAR_ROM)
			err = pci_set_rom(&p->pdev, f->bars[i].size, &px_bar_ops, &p->bars[i]);
		else
			err = pci_set_bar(&p->pdev, i, f->bars[i].kind, f->bars[i].prefetch,
					  f->bars[i].size, &px_bar_ops, &p->bars[i]);
		if (err)
			log_error(p->host->log, "%s: the device's BAR %u (%#llx bytes) cannot be "
				  "offered", p->name, i, (unsigned long long)f->bars[i].size);
	}
	return err;
}

/* Firmware's work on the device itself: the addresses the host gave, decoding on. */
static int program_device(struct proxy *p)
{
	int err = 0;

	for (unsigned i = 0; i < PCI_BAR_COUNT && !err; i++) {
		bool high = i > 0 && p->pdev.bars[i - 1].kind == PCI_BAR_MEM64;

		if (p->pdev.bars[i].kind || high)
			err = px_cfg_write(p, BAR_REG(i), 4, pci_cfg_get(&p->pdev, BAR_REG(i), 4));
	}
	if (!err && p->pdev.bars[PCI_BAR_ROM].kind)
		err = px_cfg_write(p, PCI_ROM_ADDRESS, 4, pci_cfg_get(&p->pdev, PCI_ROM_ADDRESS, 4));
	if (!err)
		err = px_cfg_write(p, PCI_INTERRUPT_LINE, 1,
				pci_cfg_get(&p->pdev, PCI_INTERRUPT_LINE, 1));
	if (!err)
		err = px_cfg_write(p, PCI_COMMAND, 2, pci_cfg_get(&p->pdev, PCI_COMMAND, 2));
	return err;
}

/* INTx: the device process signals irqfd; the guest's EOI signals resamplefd. */
static int wire_intx(struct proxy *p)
{
	const struct dev_host *h = p->host;
	int err;

	if (!p->pdev.cfg[PCI_INTERRUPT_PIN])
		return 0;
	if (!h->add_irqfd) {
		log_warn(h->log, "%s: this VMM cannot take irqfds: the device's INTx is lost",
			 p->name);
		return 0;
	}
	err = h->add_irqfd(h->opaque, p->irqfd, p->pdev.gsi, p->resamplefd);
	if (err)
		log_error(h->log, "%s: cannot wire INTx to GSI %u: %s", p->name, p->pdev.gsi,
			  strerror(-err));
	p->irqfd_added = !err;
	return err;
}

static int start(struct proxy *p, const struct proxy_config *cfg)
{
	struct proxy_found f;
	int err;

	err = share_ram(p, cfg->max_regions);
	if (!err)
		err = send_irqfds(p);
	if (err == -EPIPE) /* the link logs a peer leaving between calls as normal */
		log_error(p->host->log, "%s: the device process closed its link", p->name);
	if (!err)
		err = proxy_ext_probe(p);
	if (!err)
		err = settle(p, cfg->settle_ms);
	if (!err)
		err = device_reset(p);
	if (!err)
		err = discover(p, &f);
	if (!err)
		err = build_pdev(p, &f);
	if (!err)
		err = proxy_ext_negotiate(p);
	if (err)
		return err;
	err = pci_host_add(p->host->pci, &p->pdev, -1, 0);
	if (err) {
		log_error(p->host->log, "%s: cannot add the device to the PCI bus: %s", p->name,
			  strerror(-err));
		return err;
	}
	p->on_bus = true;
	err = wire_intx(p);
	if (!err)
		err = program_device(p);
	if (!err)
		err = proxy_ext_start(p);
	if (!err)
		log_info(p->host->log, "%s: %04x:%04x class %06x at 00:%02x.0, INTx pin %u GSI %u%s",
			 p->name, f.id & 0xffff, f.id >> 16, f.class_rev >> 8, p->pdev.devfn >> 3,
			 f.pin, f.pin ? p->pdev.gsi : 0, p->splitvm_peer ? ", extensions" : "");
	return err;
}

int proxy_create(const struct dev_host *host, struct proxy_config *cfg, struct proxy **out)
{
	struct proxy *p = calloc(1, sizeof(*p));
	int err;

	*out = NULL;
	if (!p) {
		proxy_config_clear(cfg);
		return -ENOMEM;
	}
	p->host = host;
	p->irqfd = p->resamplefd = -1;
	p->ext_wanted = !cfg->no_ext;
	p->heartbeat_ms = cfg->heartbeat_ms;
	proxy_ext_init(p);
	proxy_msix_init(p);
	p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : PROXY_TIMEOUT_MS;
	p->cfg_size = PCI_CFG_SPACE_SIZE;
	p->child = cfg->child;
	p->name = cfg->name;
	cfg->child = 0;
	cfg->name = NULL;
	if (!p->name)
		p->name = strdup("remote");
	err = p->name ? link_init(&p->link, cfg->fd, LINK_ROLE_PROXY, host->log, p->name)
		      : -ENOMEM;
	if (err) {
		p->link.fd = -1;
		proxy_destroy(p);
		proxy_config_clear(cfg);
		return err;
	}
	cfg->fd = -1;
	p->link.max_regions = cfg->max_regions ? cfg->max_regions : LINK_QEMU_MAX_REGIONS;
	/* A device process started just before us may still be coming up. */
	if (p->timeout_ms < PROXY_START_TIMEOUT_MS)
		p->timeout_ms = PROXY_START_TIMEOUT_MS;
	err = start(p, cfg);
	p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : PROXY_TIMEOUT_MS;
	if (err) {
		proxy_destroy(p);
		return err;
	}
	*out = p;
	return 0;
}

void proxy_destroy(struct proxy *p)
{
	const struct dev_host *h;

	if (!p)
		return;
	h = p->host;
	proxy_ext_stop(p);
	if (p->on_bus)
		pci_host_remove(h->pci, &p->pdev);
	if (p->irqfd_added && h->del_irqfd)
		h->del_irqfd(h->opaque, p->irqfd, p->pdev.gsi);
	proxy_msix_fini(p);
	/* The device process ends when its link closes. */
	link_destroy(&p->link);
	proxy_ext_fini(p);
	if (p->child > 0)
		proxy_reap(p->child, p->name, PROXY_REAP_MS, h->log);
	if (p->irqfd >= 0)
		close(p->irqfd);
	if (p->resamplefd >= 0)
		close(p->resamplefd);
	if (p->pdev_init)
		pci_device_destroy(&p->pdev);
	free(p->name);
	free(p);
}

struct pci_device *proxy_pci(struct proxy *p)
{
	return &p->pdev;
}

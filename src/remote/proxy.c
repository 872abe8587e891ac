/*
 * The proxy PCI device (proxy.h): discovery through the link, the VMM's
 * pci_device built from it, guest config and BAR accesses forwarded.
 */
#include "remote/proxy_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/iobus.h"
#include "core/log.h"
#include "core/memory.h"
#include "hw/device.h"
#include "hw/pci/pci.h"
#include "remote/link.h"

static uint32_t ones(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static uint64_t ones64(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* ---- requests -------------------------------------------------------------- */

/* Any failure broke the link and was reported once (proxy_fail, or the link while attaching). */
int px_call(struct proxy *p, const struct link_msg *m, uint64_t *v)
{
	int err;

	if (proxy_fastchan_call(p, m, v, &err))
		return err;
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

/* Whether a guest access may use the link; nothing is held when it may not. */
static bool enter(struct proxy *p)
{
	pthread_rwlock_rdlock(&p->gate);
	if (atomic_load(&p->state) == PX_LIVE)
		return true;
	pthread_rwlock_unlock(&p->gate);
	return false;
}

static void leave(struct proxy *p)
{
	pthread_rwlock_unlock(&p->gate);
}

static uint32_t px_config_read(struct pci_device *pdev, unsigned off, unsigned size,
			       uint32_t val)
{
	struct proxy *p = pdev->opaque;
	uint32_t v;
	int err;

	if (off + size > p->cfg_size)
		return val;
	if (!enter(p))
		return ones(size);
	err = px_cfg_read(p, off, size, &v);
	leave(p);
	return err ? ones(size) : v;
}

static bool overlaps(unsigned off, unsigned size, unsigned start, unsigned len)
{
	return off < start + len && start < off + size;
}

/*
 * The local copy already took the write (BARs, COMMAND): now the device.
 * Doorbells follow the BARs; the MSI-X control word is followed here too,
 * also while the device is failed (a restarted one gets it).
 */
static void px_config_write(struct pci_device *pdev, unsigned off, unsigned size, uint32_t val)
{
	struct proxy *p = pdev->opaque;

	if (off + size > p->cfg_size)
		return;
	if (enter(p)) {
		px_cfg_write(p, off, size, val);
		leave(p);
	} else {
		proxy_inflight_config_write(p, off, size, val);
	}
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

/*
 * A failed device reads all ones, except where the guest wrote since: that
 * reads back, so that a driver's reset handshake ends. Linux's virtio_pci
 * writes 0 to device_status and waits for 0, for ever, at unbind and at
 * every reboot (virtio_dev_shutdown); all ones alone would hang the guest.
 */
static bool latch_load(struct proxy *p, uint64_t addr, unsigned size, bool memory,
		       uint64_t *v)
{
	bool hit = false;

	pthread_mutex_lock(&p->fail_lock);
	for (unsigned i = 0; i < PX_LATCHES && !hit; i++) {
		const struct px_latch *l = &p->latch[i];

		hit = l->size == size && l->addr == addr && l->memory == memory;
		if (hit)
			*v = l->val;
	}
	pthread_mutex_unlock(&p->fail_lock);
	return hit;
}

static void latch_store(struct proxy *p, uint64_t addr, unsigned size, bool memory, uint64_t v)
{
	unsigned i;

	pthread_mutex_lock(&p->fail_lock);
	for (i = 0; i < PX_LATCHES; i++)
		if (p->latch[i].size == size && p->latch[i].addr == addr &&
		    p->latch[i].memory == memory)
			break;
	if (i == PX_LATCHES)
		i = p->latch_next++ % PX_LATCHES; /* the oldest goes */
	p->latch[i] = (struct px_latch){ addr, v, size, memory };
	pthread_mutex_unlock(&p->fail_lock);
}

static uint64_t px_bar_read(void *dev, uint64_t offset, unsigned size)
{
	struct proxy_bar *b = dev;
	struct proxy *p = b->p;
	uint64_t base = pci_bar_base(&p->pdev, b->idx), v = 0;
	struct link_msg m;
	int err = -EPIPE;

	if (!base)
		return ones64(size); /* moved away under us */
	if (proxy_msix_bar(p, b->idx, offset, size, &v, false))
		return v; /* the table is the VMM's, failed device or not */
	if (enter(p)) {
		link_msg_bar(&m, LINK_BAR_READ, base + offset, 0, size, b->memory);
		err = px_call(p, &m, &v);
		leave(p);
	}
	if (err && !latch_load(p, base + offset, size, b->memory, &v))
		v = UINT64_MAX;
	return v & ones64(size);
}

static void px_bar_write(void *dev, uint64_t offset, uint64_t value, unsigned size)
{
	struct proxy_bar *b = dev;
	struct proxy *p = b->p;
	uint64_t base = pci_bar_base(&p->pdev, b->idx), v = 0;
	struct link_msg m;
	int err = -EPIPE;

	if (!base)
		return;
	value &= ones64(size);
	if (proxy_msix_bar(p, b->idx, offset, size, &value, true))
		return;
	if (enter(p)) {
		/* Posted: a failure broke the link (reported); lost as on a dead bus. */
		err = b->memory && proxy_posted_write(p, base + offset, value, size) ? 0 : 1;
		if (err) {
			link_msg_bar(&m, LINK_BAR_WRITE, base + offset, value, size, b->memory);
			err = px_call(p, &m, &v);
		}
		leave(p);
	}
	if (err) {
		latch_store(p, base + offset, size, b->memory, value);
		proxy_inflight_bar_write(p, size);
	} else if (v == UINT64_MAX)
		log_debug(p->host->log, "%s: the device refused a BAR write at %#llx", p->name,
			  (unsigned long long)(base + offset));
}

static const struct io_ops px_bar_ops = {
	.read = px_bar_read,
	.write = px_bar_write,
};

/* ---- start-up ---------------------------------------------------------------- */

/* Guest RAM for the device process's DMA: every region, one message. */
static int share_ram(struct proxy *p)
{
	const struct guest_memory *mem = p->host->mem;
	struct link_msg m;

	if (mem->nregions > p->max_regions) {
		log_error(p->host->log, "%s: guest RAM has %u regions, the device process takes %u",
			  p->name, mem->nregions, p->max_regions);
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

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* The INTx pair: made at attach, the same again for a restarted process. */
static int send_irqfds(struct proxy *p)
{
	struct link_msg m;

	if (p->irqfd < 0)
		p->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->resamplefd < 0)
		p->resamplefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->irqfd < 0 || p->resamplefd < 0)
		return -errno;
	/* What a dead process signalled is stale. */
	drain(p->irqfd);
	drain(p->resamplefd);
	link_msg_irqfd(&m, p->irqfd, p->resamplefd);
	return link_send(&p->link, &m, p->timeout_ms);
}

static int device_reset(struct proxy *p)
{
	struct link_msg m;
	uint64_t v;

	link_msg_reset(&m);
	return px_call(p, &m, &v);
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
int px_wire_intx(struct proxy *p)
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

/*
 * What attach and a restart share: RAM, the INTx pair, the extension probe,
 * a QEMU remote's own reset waited out, our reset.
 */
static int connect_device(struct proxy *p, int settle_ms)
{
	int err = share_ram(p);

	if (!err)
		err = send_irqfds(p);
	if (err == -EPIPE) /* the link logs a peer leaving between calls as normal */
		log_error(p->host->log, "%s: the device process closed its link", p->name);
	if (!err)
		err = proxy_ext_probe(p);
	if (!err)
		err = px_settle(p, settle_ms);
	if (!err)
		err = device_reset(p);
	return err;
}

static int start(struct proxy *p, int settle_ms)
{
	struct proxy_found f;
	int err;

	err = connect_device(p, settle_ms);
	if (!err)
		err = px_discover(p, &f);
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
	err = px_wire_intx(p);
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

/* ---- failure ------------------------------------------------------------------ */

/* The link broke (on the thread that used it): the proxy's failure, reported once. */
static void on_break(void *opaque, int err, const char *what)
{
	enum proxy_fail_kind kind = PROXY_FAIL_EOF;

	if (err == -ETIMEDOUT && proxy_ext_heartbeat_thread(opaque))
		kind = PROXY_FAIL_UNRESPONSIVE;
	else if (err == -ETIMEDOUT)
		kind = PROXY_FAIL_TIMEOUT;
	else if (err == -EBADMSG || err == -EPROTO)
		kind = PROXY_FAIL_PROTOCOL;
	proxy_fail(opaque, kind, what);
}

/* Attached (or restored): failures of the link are the proxy's from now on. */
static void supervise_link(struct proxy *p)
{
	p->link.on_break = on_break;
	p->link.break_opaque = p;
	atomic_store(&p->state, PX_LIVE);
	if (p->sup)
		sup_watch_link(p->sup, p->link.fd);
}

void proxy_fail(struct proxy *p, enum proxy_fail_kind kind, const char *what)
{
	bool first;

	pthread_mutex_lock(&p->fail_lock);
	first = atomic_load(&p->state) == PX_LIVE;
	if (first) {
		atomic_store(&p->state, PX_FAILED);
		/* Whoever waits for a reply fails now, not at its timeout. */
		if (p->link.fd >= 0)
			shutdown(p->link.fd, SHUT_RDWR);
		proxy_fastchan_fail(p);
	}
	pthread_mutex_unlock(&p->fail_lock);
	if (!first)
		return;
	/* Our own process's exit status, soon known, says more than a closed socket. */
	if (kind != PROXY_FAIL_EOF || !sup_take_eof(p->sup))
		px_report(p, kind == PROXY_FAIL_EOF ? "the device process closed its link" : what);
	if (p->sup)
		sup_notify(p->sup);
}

bool proxy_failed(struct proxy *p)
{
	return atomic_load(&p->state) != PX_LIVE;
}

unsigned proxy_generation(struct proxy *p)
{
	return p->sup ? sup_generation(p->sup) : 1;
}

pid_t proxy_child(struct proxy *p)
{
	return p->sup ? sup_child(p->sup) : p->child;
}

void px_report(struct proxy *p, const char *what)
{
	log_error(p->host->log, "%s: device failed: %s", p->name, what);
}

void px_unwire(struct proxy *p)
{
	const struct dev_host *h = p->host;

	/* The heartbeat ends, doorbells go; the MSI-X table stays (it is the guest's). */
	proxy_ext_lost(p);
	if (p->irqfd_added && h->del_irqfd)
		h->del_irqfd(h->opaque, p->irqfd, p->pdev.gsi);
	p->irqfd_added = false;
}

/* Once no access is inside the old link (gate), the new one takes its place. */
static int swap_link(struct proxy *p, int fd)
{
	int err;

	pthread_rwlock_wrlock(&p->gate);
	pthread_mutex_lock(&p->fail_lock);
	proxy_fastchan_close(p);
	link_destroy(&p->link);
	memset(p->latch, 0, sizeof(p->latch)); /* the new process answers */
	err = link_init(&p->link, fd, LINK_ROLE_PROXY, p->host->log, p->name);
	if (err) {
		close(fd);
		p->link.fd = -1;
	}
	p->link.max_regions = p->max_regions;
	pthread_mutex_unlock(&p->fail_lock);
	pthread_rwlock_unlock(&p->gate);
	return err;
}

/* A restarted process must be the same device: the guest's driver is bound to it. */
static int same_device(struct proxy *p)
{
	uint32_t id = 0, class_rev = 0;
	int err = px_cfg_read(p, PCI_VENDOR_ID, 4, &id);

	if (!err)
		err = px_cfg_read(p, PCI_CLASS_REVISION, 4, &class_rev);
	if (!err && (id != pci_cfg_get(&p->pdev, PCI_VENDOR_ID, 4) ||
		     class_rev != pci_cfg_get(&p->pdev, PCI_CLASS_REVISION, 4))) {
		log_error(p->host->log, "%s: the new device process has another device "
			  "(IDs %08x, class %08x)", p->name, id, class_rev);
		err = -ENODEV;
	}
	return err;
}

int px_restore(struct proxy *p, int fd)
{
	int timeout_ms = p->timeout_ms, err;

	/* The new process answers from now on; the guest must reset the device. */
	proxy_inflight_stop(p);
	atomic_store(&p->state, PX_RESTORING);
	err = swap_link(p, fd);
	/* As at attach: the new process may still be coming up. */
	if (p->timeout_ms < PROXY_START_TIMEOUT_MS)
		p->timeout_ms = PROXY_START_TIMEOUT_MS;
	if (!err)
		err = connect_device(p, 0);
	if (!err)
		err = same_device(p);
	if (!err)
		err = proxy_ext_negotiate(p); /* MSI-X vectors again, if agreed */
	if (!err)
		err = px_wire_intx(p);
	/* The BARs and COMMAND as the guest left them in the local copy. */
	if (!err)
		err = program_device(p);
	p->timeout_ms = timeout_ms;
	if (!err)
		err = proxy_ext_start(p); /* doorbells placed, heartbeat again */
	if (err) {
		proxy_ext_lost(p);
		atomic_store(&p->state, PX_FAILED);
		return err;
	}
	supervise_link(p);
	return 0;
}

/* ---- life ---------------------------------------------------------------------- */

static int init_locks(struct proxy *p)
{
	pthread_rwlockattr_t attr;
	int err;

	/* Guest accesses to a failed device must not starve the supervisor. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = -pthread_rwlock_init(&p->gate, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (err)
		return err;
	err = -pthread_mutex_init(&p->fail_lock, NULL);
	if (err) {
		pthread_rwlock_destroy(&p->gate);
		return err;
	}
	p->locks_init = true;
	return 0;
}

static int attach(struct proxy *p, struct proxy_config *cfg)
{
	int err;

	p->max_regions = cfg->max_regions ? cfg->max_regions : LINK_QEMU_MAX_REGIONS;
	p->link.max_regions = p->max_regions;
	/* A device process started just before us may still be coming up. */
	if (p->timeout_ms < PROXY_START_TIMEOUT_MS)
		p->timeout_ms = PROXY_START_TIMEOUT_MS;
	err = start(p, cfg->settle_ms);
	p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : PROXY_TIMEOUT_MS;
	if (!err)
		err = sup_create(p, p->host, p->child, cfg, &p->sup);
	if (err)
		return err;
	if (p->sup)
		p->child = 0; /* the supervisor's now */
	supervise_link(p);
	return 0;
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
	p->own_process = cfg->child > 0;
	p->journal.fd = -1;
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
	p->link.fd = -1;
	err = p->name ? init_locks(p) : -ENOMEM;
	if (!err)
		err = proxy_inflight_init(p);
	if (!err)
		err = link_init(&p->link, cfg->fd, LINK_ROLE_PROXY, host->log, p->name);
	if (err) {
		p->link.fd = -1;
		proxy_destroy(p);
		proxy_config_clear(cfg);
		return err;
	}
	cfg->fd = -1;
	err = attach(p, cfg);
	if (err) {
		proxy_destroy(p);
		return err;
	}
	*out = p;
	return 0;
}

/*
 * The end: failures from now on are not reported, and whatever waits on the
 * link (a heartbeat a hung process never answers) ends at once. Whether
 * the device had failed before.
 */
static bool quiesce(struct proxy *p)
{
	bool failed;

	if (!p->locks_init)
		return false;
	pthread_mutex_lock(&p->fail_lock);
	failed = atomic_load(&p->state) != PX_LIVE;
	atomic_store(&p->state, PX_FAILED);
	if (p->link.fd >= 0)
		shutdown(p->link.fd, SHUT_RDWR); /* the device process sees its link close */
	proxy_fastchan_fail(p);
	pthread_mutex_unlock(&p->fail_lock);
	return failed;
}

void proxy_destroy(struct proxy *p)
{
	const struct dev_host *h;
	bool failed;

	if (!p)
		return;
	h = p->host;
	failed = quiesce(p);
	proxy_ext_stop(p);
	if (p->responder)
		inflight_stop(p->responder); /* before the rings' memory goes */
	if (p->on_bus)
		pci_host_remove(h->pci, &p->pdev);
	px_unwire(p);
	proxy_msix_fini(p);
	if (p->sup)
		sup_watch_link(p->sup, -1);
	/* The device process ends when its link closes. */
	if (p->locks_init)
		pthread_mutex_lock(&p->fail_lock);
	proxy_fastchan_close(p);
	if (p->locks_init)
		pthread_mutex_unlock(&p->fail_lock);
	link_destroy(&p->link);
	if (p->sup)
		sup_destroy(p->sup, failed);
	proxy_ext_fini(p);
	proxy_inflight_fini(p);
	if (p->child > 0)
		proxy_reap(p->child, p->name, PROXY_REAP_MS, h->log);
	if (p->irqfd >= 0)
		close(p->irqfd);
	if (p->resamplefd >= 0)
		close(p->resamplefd);
	if (p->pdev_init)
		pci_device_destroy(&p->pdev);
	if (p->locks_init) {
		pthread_mutex_destroy(&p->fail_lock);
		pthread_rwlock_destroy(&p->gate);
	}
	free(p->name);
	free(p);
}

struct pci_device *proxy_pci(struct proxy *p)
{
	return &p->pdev;
}

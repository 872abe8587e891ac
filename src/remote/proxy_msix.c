/*
 * MSI-X of a device process, owned by the VMM (negotiated: LINK_F_MSIX).
 *
 * The device process gets one eventfd per vector and signals it whenever
 * its device sends that vector with MSI-X enabled. The table and the PBA
 * live here: a guest write to an entry changes an MSI route in the
 * accelerator (dev_host set_msi_irqfd), so an unmasked vector reaches the
 * guest with no VMM thread on the path. A masked vector (entry mask,
 * function mask) has no route: its signals stay counted on its eventfd,
 * which is its pending bit, and are delivered once when it is unmasked.
 * Disabling MSI-X drops what was pending.
 *
 * Discovery finds the capability whether or not it is negotiated; without
 * negotiation (QEMU's device process) nothing here is used and the table
 * accesses go to the device as any other BAR access.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/device.h"
#include "remote/proxy_int.h"

#define ENTRY_SIZE PCI_MSIX_ENTRY_SIZE
#define CTRL_DWORD (PCI_MSIX_ENTRY_VECTOR_CTRL / 4)
/* Vectors the VMM takes over; as many as a device model here may have. */
#define PROXY_MSIX_MAX 64

void proxy_msix_init(struct proxy *p)
{
	memset(&p->msix, 0, sizeof(p->msix));
	pthread_mutex_init(&p->msix.lock, NULL);
}

void proxy_msix_fini(struct proxy *p)
{
	struct proxy_msix *x = &p->msix;
	const struct dev_host *h = p->host;

	for (unsigned v = 0; x->vec && v < x->nvec; v++) {
		if (x->vec[v].routed)
			h->del_msi_irqfd(h->opaque, x->vec[v].fd);
		if (x->vec[v].fd >= 0)
			close(x->vec[v].fd);
	}
	free(x->vec);
	x->vec = NULL;
	x->owned = false;
	pthread_mutex_destroy(&x->lock);
}

/* ---- discovery -------------------------------------------------------------------- */

static int find_cap(struct proxy *p, unsigned *cap)
{
	uint32_t status, off, hdr;
	int err = px_cfg_read(p, PCI_STATUS, 2, &status);

	*cap = 0;
	if (err || !(status & PCI_STATUS_CAP_LIST))
		return err;
	err = px_cfg_read(p, PCI_CAPABILITY_LIST, 1, &off);
	for (unsigned n = 0; !err && n < 48; n++) {
		off &= ~3u;
		if (off < PCI_CAP_FIRST || off > PCI_CFG_SPACE_SIZE - PCI_CAP_MSIX_SIZEOF)
			break;
		err = px_cfg_read(p, off, 2, &hdr);
		if (!err && (hdr & 0xff) == PCI_CAP_ID_MSIX) {
			*cap = off;
			break;
		}
		off = hdr >> 8;
	}
	return err;
}

int proxy_msix_discover(struct proxy *p)
{
	struct proxy_msix *x = &p->msix;
	uint32_t ctrl, table, pba;
	int err = find_cap(p, &x->cap);

	if (err || !x->cap)
		return err;
	err = px_cfg_read(p, x->cap + PCI_MSIX_FLAGS, 2, &ctrl);
	if (!err)
		err = px_cfg_read(p, x->cap + PCI_MSIX_TABLE, 4, &table);
	if (!err)
		err = px_cfg_read(p, x->cap + PCI_MSIX_PBA, 4, &pba);
	if (err)
		return err;
	x->nvec = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	x->table_bar = table & PCI_MSIX_TABLE_BIR;
	x->table_off = table & PCI_MSIX_TABLE_OFFSET;
	x->pba_bar = pba & PCI_MSIX_PBA_BIR;
	x->pba_off = pba & PCI_MSIX_PBA_OFFSET;
	return 0;
}

static uint64_t table_len(const struct proxy_msix *x)
{
	return (uint64_t)x->nvec * ENTRY_SIZE;
}

static uint64_t pba_len(const struct proxy_msix *x)
{
	return 8 * (((uint64_t)x->nvec + 63) / 64);
}

static bool in_bar(const struct proxy *p, unsigned bar, uint64_t off, uint64_t len)
{
	const struct pci_bar *b = &p->pdev.bars[bar];

	return bar < PCI_BAR_COUNT && (b->kind == PCI_BAR_MEM32 || b->kind == PCI_BAR_MEM64) &&
	       off < b->size && len <= b->size - off;
}

bool proxy_msix_can_own(const struct proxy *p)
{
	const struct proxy_msix *x = &p->msix;
	const struct dev_host *h = p->host;

	if (!x->cap || !h->set_msi_irqfd || !h->del_msi_irqfd || !h->signal_msi)
		return false;
	if (x->nvec > PROXY_MSIX_MAX || !in_bar(p, x->table_bar, x->table_off, table_len(x)) ||
	    !in_bar(p, x->pba_bar, x->pba_off, pba_len(x))) {
		log_warn(h->log, "%s: MSI-X with %u vectors cannot be taken over: the device "
			 "process's messages are lost", p->name, x->nvec);
		return false;
	}
	return true;
}

/* Eventfds for every vector, sent 8 to a message. */
static int alloc_vectors(struct proxy_msix *x)
{
	x->vec = calloc(x->nvec, sizeof(*x->vec));
	if (!x->vec)
		return -ENOMEM;
	for (unsigned v = 0; v < x->nvec; v++)
		x->vec[v].fd = -1;
	for (unsigned v = 0; v < x->nvec; v++) {
		x->vec[v].entry[CTRL_DWORD] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		x->vec[v].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (x->vec[v].fd < 0)
			return -errno;
	}
	return 0;
}

int proxy_msix_own(struct proxy *p)
{
	struct proxy_msix *x = &p->msix;
	bool again = x->vec != NULL;
	uint32_t ctrl = (x->enabled ? PCI_MSIX_FLAGS_ENABLE : 0) |
			(x->func_masked ? PCI_MSIX_FLAGS_MASKALL : 0);
	struct link_msg m;
	int err = again ? 0 : alloc_vectors(x);

	for (unsigned v = 0; v < x->nvec && !err; v += LINK_MAX_FDS) {
		link_msg_msix_fds(&m, v);
		for (unsigned i = v; i < x->nvec && i < v + LINK_MAX_FDS; i++)
			link_msg_msix_fds_add(&m, x->vec[i].fd);
		err = link_send(&p->link, &m, p->timeout_ms);
	}
	/* A device process that follows a failed one takes the guest's MSI-X state. */
	if (!err && again && ctrl)
		err = px_cfg_write(p, x->cap + PCI_MSIX_FLAGS, 2, ctrl);
	x->owned = !err;
	return err;
}

/* ---- routes ----------------------------------------------------------------------- */

/* Signals counted on fd since it was last read: consumed. */
static bool drain(int fd)
{
	uint64_t n = 0;

	return read(fd, &n, sizeof(n)) == sizeof(n) && n;
}

static bool counted(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static bool vec_live(const struct proxy_msix *x, const struct proxy_msix_vec *e)
{
	return x->enabled && !x->func_masked && !(e->entry[CTRL_DWORD] & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/*
 * Routes vector v as its entry, masks and enable say (msix.lock held). On
 * unmasking, what came while masked is delivered once, then the route
 * takes over (a signal in between stays counted and the route delivers it).
 */
static void vec_sync(struct proxy *p, unsigned v)
{
	const struct dev_host *h = p->host;
	struct proxy_msix_vec *e = &p->msix.vec[v];
	uint64_t addr = (uint64_t)e->entry[1] << 32 | e->entry[0];
	uint32_t data = e->entry[2];
	int err;

	if (!vec_live(&p->msix, e)) {
		if (e->routed)
			h->del_msi_irqfd(h->opaque, e->fd);
		e->routed = false;
		return;
	}
	if (e->routed && e->r_addr == addr && e->r_data == data)
		return;
	if (!e->routed && (drain(e->fd) || e->pending))
		h->signal_msi(h->opaque, addr, data);
	e->pending = false;
	err = h->set_msi_irqfd(h->opaque, e->fd, addr, data);
	e->routed = !err;
	e->r_addr = addr;
	e->r_data = data;
	if (err)
		log_warn(h->log, "%s: MSI-X vector %u cannot be routed: %s", p->name, v,
			 strerror(-err));
}

void proxy_msix_config_write(struct proxy *p, unsigned off, unsigned size, uint32_t val)
{
	struct proxy_msix *x = &p->msix;
	unsigned hi = x->cap + PCI_MSIX_FLAGS + 1; /* the byte with enable and mask-all */
	uint8_t b;
	bool was_enabled;

	if (hi < off || hi >= off + size)
		return;
	b = (uint8_t)(val >> (8 * (hi - off)));
	pthread_mutex_lock(&x->lock);
	was_enabled = x->enabled;
	x->enabled = b & (PCI_MSIX_FLAGS_ENABLE >> 8);
	x->func_masked = b & (PCI_MSIX_FLAGS_MASKALL >> 8);
	for (unsigned v = 0; v < x->nvec; v++) {
		if (was_enabled && !x->enabled) {
			drain(x->vec[v].fd); /* nothing stays pending across a disable */
			x->vec[v].pending = false;
		}
		vec_sync(p, v);
	}
	pthread_mutex_unlock(&x->lock);
}

/* ---- the table and the PBA ----------------------------------------------------------- */

bool proxy_msix_overlaps(const struct proxy *p, unsigned bar, uint64_t off, uint64_t len)
{
	const struct proxy_msix *x = &p->msix;

	if (!x->owned)
		return false;
	if (bar == x->table_bar && off < x->table_off + table_len(x) && x->table_off < off + len)
		return true;
	return bar == x->pba_bar && off < x->pba_off + pba_len(x) && x->pba_off < off + len;
}

/* Bits of the PBA QWORD q: pending, or counted while masked (msix.lock held). */
static uint64_t pba_qword(struct proxy_msix *x, unsigned q)
{
	uint64_t bits = 0;

	for (unsigned v = 64 * q; v < x->nvec && v < 64 * q + 64; v++) {
		struct proxy_msix_vec *e = &x->vec[v];

		if (e->pending || (!e->routed && counted(e->fd)))
			bits |= 1ull << (v % 64);
	}
	return bits;
}

static uint64_t table_read(struct proxy_msix *x, uint64_t t, unsigned size)
{
	const uint32_t *e = x->vec[t / ENTRY_SIZE].entry;
	unsigned dw = (unsigned)(t % ENTRY_SIZE / 4);

	if (size == 8)
		return e[dw] | (uint64_t)e[dw + 1] << 32;
	return (e[dw] >> (8 * (t & 3))) & (uint32_t)((1ull << (8 * size)) - 1);
}

static void table_write(struct proxy *p, uint64_t t, uint64_t val, unsigned size)
{
	struct proxy_msix_vec *e = &p->msix.vec[t / ENTRY_SIZE];
	unsigned dw = (unsigned)(t % ENTRY_SIZE / 4);

	if (size != 4 && size != 8)
		return; /* DWORD or aligned QWORD accesses only (PCI 3.0, 6.8.2) */
	for (unsigned i = 0; i < size / 4; i++, dw++) {
		uint32_t d = (uint32_t)(val >> (32 * i));

		if (dw == 0)
			d &= ~3u; /* message addresses are DWORD aligned */
		else if (dw == CTRL_DWORD)
			d &= PCI_MSIX_ENTRY_CTRL_MASKBIT;
		e->entry[dw] = d;
	}
	vec_sync(p, (unsigned)(t / ENTRY_SIZE));
}

bool proxy_msix_bar(struct proxy *p, unsigned bar, uint64_t off, unsigned size, uint64_t *val,
		    bool is_write)
{
	struct proxy_msix *x = &p->msix;
	uint64_t t = off - x->table_off, b = off - x->pba_off;

	if (!proxy_msix_overlaps(p, bar, off, size))
		return false;
	pthread_mutex_lock(&x->lock);
	if (off & (size - 1))
		*val = 0; /* unaligned: reads 0, writes nothing */
	else if (bar == x->table_bar && off >= x->table_off && t < table_len(x)) {
		if (is_write)
			table_write(p, t, *val, size);
		else
			*val = table_read(x, t, size);
	} else if (!is_write && bar == x->pba_bar && off >= x->pba_off && b < pba_len(x)) {
		*val = pba_qword(x, (unsigned)(b / 8)) >> (8 * (b & 7));
		if (size < 8)
			*val &= (1ull << (8 * size)) - 1;
	} else if (!is_write)
		*val = 0;
	pthread_mutex_unlock(&x->lock);
	return true;
}

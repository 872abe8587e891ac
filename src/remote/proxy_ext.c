/*
 * The proxy's side of the negotiated extensions (proxy_int.h,
 * docs/proxy.md "Extensions"): the probe that tells a splitvm device
 * process from QEMU's, EXT_HELLO, doorbells registered with the
 * accelerator, posted BAR writes and the heartbeat.
 *
 * A QEMU peer sees one PCI_CFGREAD of its IDs more, and nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/device.h"
#include "remote/proxy_int.h"
#include "splitvm/accel.h"

void proxy_ext_init(struct proxy *p)
{
	pthread_mutex_init(&p->db_lock, NULL);
	p->hb_stop_fd = -1;
	for (unsigned i = 0; i < LINK_DOORBELL_MAX; i++)
		p->db[i].fd = -1;
}

/* ---- doorbells ----------------------------------------------------------------- */

static struct accel_ioeventfd ioeventfd_of(const struct proxy *p, const struct proxy_doorbell *d,
					   uint64_t base)
{
	return (struct accel_ioeventfd){
		.addr = base + d->d.offset,
		.len = d->d.len,
		.pio = p->pdev.bars[d->d.bar].kind == PCI_BAR_IO,
		.has_datamatch = d->d.flags & LINK_DOORBELL_DATAMATCH,
		.datamatch = d->d.datamatch,
		.fd = d->fd,
	};
}

/* Registered where its BAR is now, or nowhere while unmapped (db_lock held). */
static void doorbell_place(struct proxy *p, struct proxy_doorbell *d, uint64_t base)
{
	const struct dev_host *h = p->host;
	struct accel_ioeventfd ev;
	int err;

	if (d->base == base || d->fd < 0)
		return;
	if (d->base) {
		ev = ioeventfd_of(p, d, d->base);
		h->del_ioeventfd(h->opaque, &ev);
		d->base = 0;
	}
	if (!base)
		return;
	ev = ioeventfd_of(p, d, base);
	err = h->add_ioeventfd(h->opaque, &ev);
	if (err) {
		/* The write then arrives as a BAR write: slower, still right. */
		log_debug(h->log, "%s: doorbell %u at %#llx through BAR writes: %s", p->name,
			  d->d.id, (unsigned long long)ev.addr, strerror(-err));
		return;
	}
	log_debug(h->log, "%s: doorbell %u: %u bytes at %s %#llx", p->name, d->d.id, d->d.len,
		  ev.pio ? "port" : "address", (unsigned long long)ev.addr);
	d->base = base;
}

static void doorbell_drop(struct proxy *p, struct proxy_doorbell *d)
{
	doorbell_place(p, d, 0);
	if (d->fd >= 0)
		close(d->fd);
	*d = (struct proxy_doorbell){ .fd = -1 };
}

void proxy_doorbells_sync(struct proxy *p)
{
	pthread_mutex_lock(&p->db_lock);
	for (unsigned i = 0; i < LINK_DOORBELL_MAX; i++) {
		struct proxy_doorbell *d = &p->db[i];

		if (d->used)
			doorbell_place(p, d, pci_bar_base(&p->pdev, d->d.bar));
	}
	pthread_mutex_unlock(&p->db_lock);
}

/* A doorbell must lie inside one of the device's BARs, clear of the MSI-X table. */
static int check_doorbell(const struct proxy *p, const struct link_doorbell *d)
{
	const struct pci_bar *b = &p->pdev.bars[d->bar];

	if (!p->pdev_init || !b->kind || d->offset >= b->size || d->len > b->size - d->offset)
		return -EINVAL;
	if (proxy_msix_overlaps(p, d->bar, d->offset, d->len))
		return -EINVAL;
	return 0;
}

/*
 * The accelerator writes the fd on a vCPU's path: it must be an eventfd,
 * and never block (the device process shares its file and could make a
 * write block by filling the counter). Anything else is not registered.
 */
static bool usable_eventfd(int fd)
{
	char path[32], target[32] = "";
	ssize_t n;
	int fl;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0 || strncmp(target, "anon_inode:[eventfd]", (size_t)n) ||
	    (size_t)n != strlen("anon_inode:[eventfd]"))
		return false;
	fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

static int doorbell_add(struct proxy *p, struct link_msg *m)
{
	const struct link_doorbell *d = &m->data.doorbell;
	struct proxy_doorbell *slot = &p->db[d->id];

	if (slot->used || check_doorbell(p, d)) {
		log_error(p->host->log, "%s: doorbell %u (BAR %u offset %#llx) %s", p->name, d->id,
			  d->bar, (unsigned long long)d->offset,
			  slot->used ? "given twice" : "outside the device's BARs");
		return -EPROTO;
	}
	*slot = (struct proxy_doorbell){ .used = true, .d = *d, .fd = -1 };
	if (!usable_eventfd(m->fds[0])) {
		/* Kept by id, never registered: the doorbell stays a BAR write. */
		log_warn(p->host->log, "%s: doorbell %u does not come with an eventfd", p->name,
			 d->id);
		return 0;
	}
	slot->fd = m->fds[0];
	m->fds[0] = -1;
	doorbell_place(p, slot, pci_bar_base(&p->pdev, d->bar));
	return 0;
}

/* Extension messages the device process sends before a RET (link lock held). */
static int on_ext(void *opaque, struct link_msg *m)
{
	struct proxy *p = opaque;
	int err = 0;

	atomic_fetch_add(&p->ext_msgs, 1); /* the fast channel's replies count them */
	if (!(p->features & LINK_F_DOORBELL)) {
		log_error(p->host->log, "%s: %s, but doorbells were not agreed on", p->name,
			  link_cmd_name(m->cmd));
		return -EPROTO;
	}
	pthread_mutex_lock(&p->db_lock);
	if (m->cmd == LINK_EXT_DOORBELL_ADD)
		err = doorbell_add(p, m);
	else if (p->db[m->data.doorbell.id].used)
		doorbell_drop(p, &p->db[m->data.doorbell.id]);
	else
		err = -EPROTO;
	pthread_mutex_unlock(&p->db_lock);
	return err;
}

/* ---- negotiation ------------------------------------------------------------------- */

int proxy_ext_probe(struct proxy *p)
{
	struct link_msg m;
	uint64_t v = 0;
	int err;

	p->splitvm_peer = false;
	p->features = 0;
	atomic_store(&p->ext_msgs, 0);
	if (!p->ext_wanted)
		return 0;
	link_msg_hello_probe(&m);
	err = px_call(p, &m, &v);
	if (err || v >> 32 != LINK_HELLO_REPLY)
		return err; /* QEMU answers the IDs alone: plain mpqemu from here */
	p->splitvm_peer = true;
	p->link.ext = &link_ext_v1;
	p->link.on_ext = on_ext;
	p->link.ext_opaque = p;
	return 0;
}

static uint64_t features_offered(struct proxy *p)
{
	const struct dev_host *h = p->host;
	uint64_t f = LINK_F_POSTED | LINK_F_FASTCHAN;

	if (p->heartbeat_ms)
		f |= LINK_F_HEARTBEAT;
	if (h->add_ioeventfd && h->del_ioeventfd)
		f |= LINK_F_DOORBELL;
	if (proxy_msix_can_own(p))
		f |= LINK_F_MSIX;
	if (proxy_inflight_wanted(p))
		f |= LINK_F_INFLIGHT;
	return f;
}

int proxy_ext_negotiate(struct proxy *p)
{
	uint64_t offered, taken = 0;
	struct link_msg m;
	int err;

	if (!p->splitvm_peer)
		return 0;
	offered = features_offered(p);
	link_msg_hello(&m, offered, p->heartbeat_ms);
	err = px_call(p, &m, &taken);
	if (err)
		return err;
	if (taken & ~offered) {
		link_break(&p->link, -EPROTO, "the device process took features not offered");
		return -EPROTO;
	}
	p->features = taken;
	log_debug(p->host->log, "%s: extensions %#llx of %#llx", p->name,
		  (unsigned long long)taken, (unsigned long long)offered);
	err = taken & LINK_F_MSIX ? proxy_msix_own(p) : 0;
	if (!err && (taken & LINK_F_INFLIGHT))
		err = proxy_inflight_give(p);
	return !err && taken & LINK_F_FASTCHAN ? proxy_fastchan_open(p) : err;
}

int proxy_posted_write(struct proxy *p, uint64_t addr, uint64_t val, unsigned size)
{
	struct link_msg m;

	if (!(p->features & LINK_F_POSTED))
		return 0;
	link_msg_bar(&m, LINK_BAR_WRITE, addr, val, size, true);
	m.cmd = LINK_EXT_BAR_WRITE; /* the same payload, no RET */
	if (proxy_fastchan_post(p, &m))
		return 1;
	/* A failure broke the link (logged); the write is lost as on a dead bus. */
	link_send(&p->link, &m, p->timeout_ms);
	return 1;
}

/* ---- heartbeat ---------------------------------------------------------------------- */

/*
 * One EXT_HEARTBEAT per period, answered within the request timeout; no
 * answer breaks the link exactly as a vCPU's timeout would (link.on_break).
 */
static void *hb_main(void *arg)
{
	struct proxy *p = arg;
	struct pollfd stop = { .fd = p->hb_stop_fd, .events = POLLIN };
	uint64_t seq = 0, v;
	struct link_msg m;

	while (poll(&stop, 1, (int)p->heartbeat_ms) == 0 && !link_broken(&p->link)) {
		link_msg_heartbeat(&m, ++seq);
		if (link_call(&p->link, &m, &v, p->timeout_ms))
			break;
		if (v != seq) {
			link_break(&p->link, -EPROTO, "heartbeat answered with the wrong number");
			break;
		}
	}
	return NULL;
}

bool proxy_ext_heartbeat_thread(const struct proxy *p)
{
	return p->hb_started && pthread_equal(pthread_self(), p->hb_thread);
}

int proxy_ext_start(struct proxy *p)
{
	int err;

	uint64_t n;

	proxy_doorbells_sync(p);
	if (!(p->features & LINK_F_HEARTBEAT) || p->hb_started)
		return 0;
	if (p->hb_stop_fd < 0)
		p->hb_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->hb_stop_fd < 0)
		return -errno;
	if (read(p->hb_stop_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return -errno; /* a stop left from a device process before */
	err = -pthread_create(&p->hb_thread, NULL, hb_main, p);
	p->hb_started = !err;
	return err;
}

void proxy_ext_stop(struct proxy *p)
{
	uint64_t one = 1;

	if (p->hb_started) {
		if (write(p->hb_stop_fd, &one, sizeof(one)) < 0)
			log_debug(p->host->log, "%s: cannot stop the heartbeat", p->name);
		pthread_join(p->hb_thread, NULL);
		p->hb_started = false;
	}
	pthread_mutex_lock(&p->db_lock);
	for (unsigned i = 0; i < LINK_DOORBELL_MAX; i++) {
		if (p->db[i].used)
			doorbell_drop(p, &p->db[i]);
	}
	pthread_mutex_unlock(&p->db_lock);
}

void proxy_ext_lost(struct proxy *p)
{
	proxy_ext_stop(p);
	p->features = 0;
	p->splitvm_peer = false;
}

void proxy_ext_fini(struct proxy *p)
{
	if (p->hb_stop_fd >= 0)
		close(p->hb_stop_fd);
	p->hb_stop_fd = -1;
	pthread_mutex_destroy(&p->db_lock);
}

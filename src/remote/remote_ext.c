/*
 * The device process's side of the negotiated extensions (remote_int.h,
 * docs/remote.md): the negotiation probe and EXT_HELLO, heartbeats, posted
 * BAR writes, MSI-X vectors on the VMM's eventfds, and doorbells announced
 * to the VMM so that the accelerator signals the device's eventfds itself.
 *
 * Nothing here sends a message a QEMU proxy did not ask for: the link takes
 * extension commands only after the probe, and doorbells go out only once
 * EXT_HELLO accepted them, just before a RET (the proxy reads them while it
 * waits for that RET).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/virtio/vq_journal.h"
#include "remote/remote_int.h"
#include "splitvm/accel.h"

void remote_ext_init(struct remote *r)
{
	memset(&r->ext, 0, sizeof(r->ext));
	pthread_mutex_init(&r->ext.db_lock, NULL);
	for (unsigned v = 0; v < MSIX_MAX_VECTORS; v++)
		r->ext.msix_fd[v] = -1;
}

void remote_ext_fini(struct remote *r)
{
	r->host.vq_journal = NULL;
	if (r->ext.journal)
		munmap(r->ext.journal, r->ext.journal_size);
	r->ext.journal = NULL;
	for (unsigned v = 0; v < MSIX_MAX_VECTORS; v++) {
		if (r->ext.msix_fd[v] >= 0)
			close(r->ext.msix_fd[v]);
		r->ext.msix_fd[v] = -1;
	}
	pthread_mutex_destroy(&r->ext.db_lock);
}

uint64_t remote_ext_probe(struct remote *r, uint32_t ids)
{
	if (!r->link.ext)
		log_debug(r->log, "remote: the VMM is splitvm's proxy: extensions offered");
	r->link.ext = &link_ext_v1;
	return (uint64_t)LINK_HELLO_REPLY << 32 | ids;
}

/* ---- MSI-X: the VMM owns the table, the device signals its eventfds ---------- */

/* The device's msix_notify() with MSI-X enabled (any thread of the device). */
static void msix_vector(void *opaque, unsigned vec)
{
	struct remote *r = opaque;
	uint64_t one = 1;
	int fd = vec < MSIX_MAX_VECTORS ? r->ext.msix_fd[vec] : -1;

	/* Non-blocking: a counter that full means the VMM is long gone. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		log_debug(r->log, "remote: cannot signal MSI-X vector %u", vec);
}

/*
 * EXT_MSIX_FDS: vectors get their eventfd once, before the guest runs; a
 * vector given twice is refused (the device's threads may be signalling).
 */
static int take_msix_fds(struct remote *r, struct link_msg *m)
{
	const struct link_msix_fds *x = &m->data.msix;
	struct msix *msix = r->pdev->msix;

	if (!(r->ext.features & LINK_F_MSIX) || !msix) {
		log_error(r->log, "remote: MSI-X vectors from the VMM, but %s",
			  msix ? "MSI-X was not negotiated" : "the device has no MSI-X");
		return -EPROTO;
	}
	for (unsigned i = 0; i < x->count; i++) {
		unsigned v = x->first + i;

		if (v >= MSIX_MAX_VECTORS)
			continue; /* more than a device here has: closed with the message */
		if (r->ext.msix_fd[v] >= 0) {
			log_error(r->log, "remote: MSI-X vector %u given twice", v);
			return -EPROTO;
		}
		r->ext.msix_fd[v] = m->fds[i];
		m->fds[i] = -1;
	}
	msix_set_sink(msix, msix_vector, r);
	return 0;
}

/* ---- the virtqueue journal (LINK_F_INFLIGHT) ---------------------------------- */

/*
 * EXT_INFLIGHT: the VMM's journal, once, before the guest runs. The virtio
 * core of our device writes it from its next queue enable on; a device
 * that is not virtio leaves it alone.
 */
static int take_journal(struct remote *r, struct link_msg *m)
{
	const struct link_inflight *j = &m->data.inflight;
	struct stat st;
	void *map;

	if (!(r->ext.features & LINK_F_INFLIGHT) || r->ext.journal) {
		log_error(r->log, "remote: a virtqueue journal %s", r->ext.journal ?
			  "given twice" : "from the VMM, but it was not negotiated");
		return -EPROTO;
	}
	if (j->version != VQ_JOURNAL_VERSION || j->size != VQ_JOURNAL_BYTES ||
	    fstat(m->fds[0], &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != j->size) {
		log_error(r->log, "remote: the virtqueue journal (version %u, %llu bytes) is not "
			  "one this process writes", j->version, (unsigned long long)j->size);
		return -EPROTO;
	}
	map = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0], 0);
	if (map == MAP_FAILED) {
		log_error(r->log, "remote: cannot map the virtqueue journal: %s", strerror(errno));
		return -errno;
	}
	if (((struct vq_journal *)map)->magic != VQ_JOURNAL_MAGIC) {
		munmap(map, j->size);
		log_error(r->log, "remote: the virtqueue journal has no magic");
		return -EPROTO;
	}
	r->ext.journal = map;
	r->ext.journal_size = j->size;
	r->host.vq_journal = map;
	return 0;
}

/* ---- negotiation, heartbeat, posted writes ------------------------------------ */

static uint64_t features_taken(struct remote *r, uint64_t offered)
{
	uint64_t take = offered & (LINK_F_ALL | LINK_F_INFLIGHT);

	if (!r->pdev->msix)
		take &= ~LINK_F_MSIX;
	if (!remote_fastchan_ready(r))
		take &= ~LINK_F_FASTCHAN;
	return take;
}

static int hello(struct remote *r, const struct link_hello *h)
{
	if (r->ext.features) {
		log_error(r->log, "remote: EXT_HELLO twice");
		return -EPROTO;
	}
	r->ext.features = features_taken(r, h->features);
	r->ext.heartbeat_ms = r->ext.features & LINK_F_HEARTBEAT ? h->heartbeat_ms : 0;
	/* Posted writes must not be overtaken by a doorbell rung after them. */
	if (r->ext.features & LINK_F_POSTED)
		r->loop.first = &r->link_watch;
	log_info(r->log, "remote: extensions v%u:%s%s%s%s%s%s (heartbeat %u ms)", h->version,
		 r->ext.features & LINK_F_DOORBELL ? " doorbells" : "",
		 r->ext.features & LINK_F_MSIX ? " msix" : "",
		 r->ext.features & LINK_F_POSTED ? " posted-writes" : "",
		 r->ext.features & LINK_F_HEARTBEAT ? " heartbeat" : "",
		 r->ext.features & LINK_F_FASTCHAN ? " fast-channel" : "",
		 r->ext.features & LINK_F_INFLIGHT ? " inflight" : "", r->ext.heartbeat_ms);
	/* The doorbells the device has now go out before this RET. */
	return 0;
}

static int send_ret(struct remote *r, uint64_t val)
{
	int err = remote_ext_flush(r);

	return err ? err : link_send_ret(&r->link, val, false, REPLY_TIMEOUT_MS);
}

int remote_ext_handle(struct remote *r, struct link_msg *m)
{
	int err;

	switch (m->cmd) {
	case LINK_EXT_HELLO:
		err = hello(r, &m->data.hello);
		return err ? err : send_ret(r, r->ext.features);
	case LINK_EXT_HEARTBEAT:
		r->ext.heartbeats++;
		return send_ret(r, m->data.u64);
	case LINK_EXT_BAR_WRITE:
		remote_bar_access(r, &m->data.bar, m->data.bar.val, true);
		return 0;
	case LINK_EXT_MSIX_FDS:
		return take_msix_fds(r, m);
	case LINK_EXT_FASTCHAN:
		err = remote_fastchan_open(r, m);
		return err ? err : send_ret(r, 0);
	case LINK_EXT_INFLIGHT:
		return take_journal(r, m);
	}
	log_error(r->log, "remote: unexpected %s from the VMM", link_cmd_name(m->cmd));
	return -EPROTO;
}

/* ---- doorbells ------------------------------------------------------------------- */

/* The BAR of the device holding [addr, addr + len) in that space, or -1. */
static int find_bar(struct remote *r, uint64_t addr, unsigned len, bool pio, uint64_t *off)
{
	struct pci_device *pdev = remote_function(r);

	for (unsigned i = 0; pdev && i < PCI_BAR_COUNT; i++) {
		const struct pci_bar *b = &pdev->bars[i];
		uint64_t base = pci_bar_base(pdev, i);

		if (!b->kind || !base || (b->kind == PCI_BAR_IO) != pio || addr < base)
			continue;
		if (addr - base < b->size && len <= b->size - (addr - base)) {
			*off = addr - base;
			return (int)i;
		}
	}
	return -1;
}

static bool same_doorbell(const struct remote_doorbell *d, const struct link_doorbell *want,
			  int fd)
{
	return d->used && d->fd == fd && d->d.bar == want->bar && d->d.offset == want->offset &&
	       d->d.len == want->len && d->d.flags == want->flags &&
	       d->d.datamatch == want->datamatch;
}

/*
 * Recorded relative to the BAR; called under the device's config lock, so
 * nothing is sent from here (remote_ext_flush() does, before the RET).
 */
static int add_doorbell(struct remote *r, const struct accel_ioeventfd *ev)
{
	struct link_doorbell want = { .len = (uint8_t)ev->len };
	struct remote_doorbell *free_slot = NULL;
	uint64_t off;
	int bar;

	if (ev->fd < 0 || (ev->len != 1 && ev->len != 2 && ev->len != 4 && ev->len != 8))
		return -EINVAL;
	bar = find_bar(r, ev->addr, ev->len, ev->pio, &off);
	if (bar < 0)
		return -EINVAL;
	want.bar = (uint8_t)bar;
	want.offset = off;
	want.flags = ev->has_datamatch ? LINK_DOORBELL_DATAMATCH : 0;
	want.datamatch = ev->has_datamatch ? ev->datamatch : 0;
	for (unsigned i = 0; i < LINK_DOORBELL_MAX; i++) {
		struct remote_doorbell *d = &r->ext.db[i];

		if (same_doorbell(d, &want, ev->fd)) {
			d->wanted = true; /* back where it was: the VMM's entry stands */
			d->addr = ev->addr;
			return 0;
		}
		if (!d->used && !free_slot)
			free_slot = d;
	}
	if (!free_slot)
		return -ENOSPC;
	want.id = (uint32_t)(free_slot - r->ext.db);
	*free_slot = (struct remote_doorbell){ .used = true, .wanted = true, .d = want,
					       .addr = ev->addr, .pio = ev->pio, .fd = ev->fd };
	return 0;
}

int remote_add_ioeventfd(void *opaque, const struct accel_ioeventfd *ev)
{
	struct remote *r = opaque;
	int err;

	pthread_mutex_lock(&r->ext.db_lock);
	err = add_doorbell(r, ev);
	pthread_mutex_unlock(&r->ext.db_lock);
	return err;
}

static int del_doorbell(struct remote *r, const struct accel_ioeventfd *ev)
{
	for (unsigned i = 0; i < LINK_DOORBELL_MAX; i++) {
		struct remote_doorbell *d = &r->ext.db[i];

		if (!d->used || !d->wanted || d->fd != ev->fd || d->addr != ev->addr ||
		    d->pio != ev->pio || d->d.len != ev->len)
			continue;
		d->wanted = false;
		if (!d->announced)
			d->used = false;
		return 0;
	}
	return -ENOENT;
}

int remote_del_ioeventfd(void *opaque, const struct accel_ioeventfd *ev)
{
	struct remote *r = opaque;
	int err;

	pthread_mutex_lock(&r->ext.db_lock);
	err = del_doorbell(r, ev);
	pthread_mutex_unlock(&r->ext.db_lock);
	return err;
}

/* db_lock held: the event loop and the fast channel's thread both answer requests. */
static int flush_locked(struct remote *r)
{
	for (unsigned i = 0; i < LINK_DOORBELL_MAX; i++) {
		struct remote_doorbell *d = &r->ext.db[i];
		struct link_msg m;
		int err;

		if (!d->used || d->wanted == d->announced)
			continue;
		link_msg_doorbell(&m, d->wanted ? LINK_EXT_DOORBELL_ADD : LINK_EXT_DOORBELL_DEL,
				  &d->d, d->fd);
		err = link_send(&r->link, &m, REPLY_TIMEOUT_MS);
		if (err)
			return err;
		atomic_fetch_add(&r->ext.sock_msgs, 1);
		d->announced = d->wanted;
		d->used = d->wanted;
	}
	return 0;
}

int remote_ext_flush(struct remote *r)
{
	int err;

	if (!(r->ext.features & LINK_F_DOORBELL))
		return 0;
	pthread_mutex_lock(&r->ext.db_lock);
	err = flush_locked(r);
	pthread_mutex_unlock(&r->ext.db_lock);
	return err;
}

/*
 * The proxy's side of LINK_F_INFLIGHT (proxy_int.h, docs/proxy.md "What the
 * guest sees"): the journal handed to a virtio-blk device process of ours,
 * and, once that process is dead, the failed responder (inflight.h) that
 * answers its queues with I/O errors on the doorbells the VMM now gets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "hw/device.h"
#include "remote/inflight.h"
#include "remote/proxy_int.h"

#define VIRTIO_BLK_IDS 0x10421af4u /* 1af4:1042, a modern virtio-blk function */

/* An eventfd of ours, non-blocking: a full counter means an interrupt is pending anyway. */
static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return; /* nothing to do about it */
}

/* The queue's MSI-X vector through its eventfd (routed by the accelerator), or INTx. */
static void raise_irq(void *opaque, uint16_t vector)
{
	struct proxy *p = opaque;
	struct proxy_msix *x = &p->msix;

	pthread_mutex_lock(&x->lock);
	if (x->owned && x->enabled) {
		if (vector < x->nvec)
			signal_fd(x->vec[vector].fd);
	} else if (p->irqfd_added) {
		signal_fd(p->irqfd); /* lowered at the guest's EOI (resampling irqfd) */
	}
	pthread_mutex_unlock(&x->lock);
}

int proxy_inflight_init(struct proxy *p)
{
	p->journal.fd = -1;
	p->responder = malloc(sizeof(*p->responder));
	if (!p->responder)
		return -ENOMEM;
	inflight_init(p->responder, p->host, p->name, raise_irq, p);
	return 0;
}

void proxy_inflight_fini(struct proxy *p)
{
	if (p->responder) {
		inflight_stop(p->responder);
		inflight_fini(p->responder);
	}
	free(p->responder);
	p->responder = NULL;
	inflight_journal_destroy(&p->journal);
}

/* Only a virtio-blk process of ours: the VMM answers for it once it is reaped. */
bool proxy_inflight_wanted(const struct proxy *p)
{
	return p->own_process && p->responder &&
	       pci_cfg_get(&p->pdev, PCI_VENDOR_ID, 4) == VIRTIO_BLK_IDS;
}

int proxy_inflight_give(struct proxy *p)
{
	struct link_msg m;
	int err;

	/* A fresh journal for every device process. */
	inflight_journal_destroy(&p->journal);
	err = inflight_journal_create(&p->journal);
	if (err) {
		log_error(p->host->log, "%s: cannot make a virtqueue journal: %s", p->name,
			  strerror(-err));
		return err;
	}
	link_msg_inflight(&m, VQ_JOURNAL_VERSION, VQ_JOURNAL_BYTES, p->journal.fd);
	return link_send(&p->link, &m, p->timeout_ms);
}

void proxy_inflight_takeover(struct proxy *p)
{
	struct inflight *f = p->responder;
	int err;

	/* A journal exists only while the process took LINK_F_INFLIGHT (features are gone now). */
	if (!f || !p->journal.map)
		return;
		/* A driver on INTx hears of the answers through the irqfd, wired again. */
	if (!p->msix.enabled && !p->irqfd_added && p->irqfd >= 0) {
		uint64_t stale;

		while (read(p->irqfd, &stale, sizeof(stale)) == sizeof(stale))
			; /* what the dead process signalled */
		px_wire_intx(p);
	}
	err = inflight_takeover(f, p->journal.map);
	if (err) {
		proxy_inflight_stop(p);
		return;
	}
	/* Taken requests there may be none: the kill may fall between two. */
	log_warn(p->host->log, "%s: the VMM answers the device's queues with I/O errors until "
		 "the guest resets it; %u request(s) the device process had taken", p->name,
		 f->answered);
}

void proxy_inflight_stop(struct proxy *p)
{
	const struct dev_host *h = p->host;

	if (!p->responder)
		return;
	inflight_stop(p->responder);
	inflight_journal_destroy(&p->journal); /* the dead process's; a new one gets its own */
	/* INTx wired for the responder: the next device process wires its own. */
	if (p->irqfd_added && h->del_irqfd)
		h->del_irqfd(h->opaque, p->irqfd, p->pdev.gsi);
	p->irqfd_added = false;
}

/*
 * A guest BAR write to the failed device. A 1-byte write is the virtio
 * status (the only byte-wide register a driver writes): a reset, after
 * which the driver frees the rings. Anything else may be a doorbell.
 */
void proxy_inflight_bar_write(struct proxy *p, unsigned size)
{
	if (!p->responder || !inflight_active(p->responder))
		return;
	if (size == 1)
		inflight_stop(p->responder); /* INTx stays wired, silent, until a restart */
	else
		inflight_kick(p->responder);
}

/* Bus mastering off: the device may no longer touch guest memory. */
void proxy_inflight_config_write(struct proxy *p, unsigned off, unsigned size, uint32_t val)
{
	if (!p->responder || off > PCI_COMMAND || off + size <= PCI_COMMAND)
		return;
	if (!((val >> (8 * (PCI_COMMAND - off))) & PCI_COMMAND_MASTER))
		inflight_stop(p->responder);
}

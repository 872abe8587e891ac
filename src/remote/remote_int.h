/*
 * Inside `splitvm remote` (remote.h): the machine's state, shared by
 * remote.c (the machine, plain mpqemu) and remote_ext.c (the negotiated
 * extensions: doorbells, MSI-X vectors, posted writes, heartbeat).
 */
#ifndef REMOTE_REMOTE_INT_H
#define REMOTE_REMOTE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/iobus.h"
#include "hw/device.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "remote/link.h"
#include "remote/remote.h"
#include "remote/remote_mem.h"

struct accel_ioeventfd;

/* A VMM that does not take a 24-byte reply within this is gone. */
#define REPLY_TIMEOUT_MS 10000

/*
 * INTx over an irqfd/resample pair, the device side of KVM's resampling
 * irqfd: the VMM asserts the line when irqfd is signalled and lowers it
 * when the guest acknowledges (EOI), signalling resample; a line still up
 * then is signalled again.
 */
struct remote_intx {
	int irqfd, resamplefd;
	struct ev_watch resample_watch;
	bool level;
};


/*
 * A doorbell the device asked for (dev_host add_ioeventfd), relative to its
 * BAR. The VMM learns of it (EXT_DOORBELL_ADD, with the device's eventfd)
 * once negotiated; a BAR move deletes and adds it again at the new place,
 * which changes nothing here, so nothing is sent.
 */
struct remote_doorbell {
	bool used, wanted, announced;
	struct link_doorbell d;
	uint64_t addr; /* absolute, as the device named it */
	bool pio;
	int fd;        /* the device's eventfd, not ours */
};

struct remote_ext {
	uint64_t features; /* negotiated (LINK_F_*); 0: plain mpqemu */
	unsigned heartbeat_ms;
	uint64_t heartbeats;
	struct remote_doorbell db[LINK_DOORBELL_MAX];
	int msix_fd[MSIX_MAX_VECTORS]; /* the VMM's, one per vector; -1: none */
	void *journal; /* the VMM's virtqueue journal, mapped (LINK_F_INFLIGHT); or NULL */
	size_t journal_size;
};

struct remote {
	const struct logger *log;
	struct evloop loop;
	struct iobus pio, mmio;
	struct pci_host pci;
	bool pci_ready;
	struct remote_mem mem;
	struct dev_host host;
	struct device dev;
	struct pci_device *pdev; /* the device's PCI function */
	struct link link;
	struct ev_watch link_watch;
	struct ev_watch signal_watch;
	struct remote_intx intx;
	struct remote_ext ext;
	bool msi_warned;
	bool done;
	int status; /* why remote_run() returns */
};

/* remote.c */
void remote_stop(struct remote *r, int status);
/* The device's function: the first one besides the host bridge, or NULL. */
struct pci_device *remote_function(struct remote *r);
/* Handles whatever whole messages the link holds (the link's watch). */
void remote_on_link(void *opaque, uint32_t events);
uint64_t remote_bar_access(struct remote *r, const struct link_bar_access *b, uint64_t val,
			   bool is_write);

/* remote_ext.c */
void remote_ext_init(struct remote *r);
void remote_ext_fini(struct remote *r);
/* The negotiation probe's RET value: the IDs and LINK_HELLO_REPLY; extensions on. */
uint64_t remote_ext_probe(struct remote *r, uint32_t ids);
/* An extension request: 0 handled, -errno ends the link. */
int remote_ext_handle(struct remote *r, struct link_msg *m);
/* Before every RET: the doorbells the VMM has not heard of yet. */
int remote_ext_flush(struct remote *r);
int remote_add_ioeventfd(void *opaque, const struct accel_ioeventfd *ev);
int remote_del_ioeventfd(void *opaque, const struct accel_ioeventfd *ev);

#endif

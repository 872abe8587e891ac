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
#include "remote/fastchan.h"
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
	/* the doorbells; taken by whichever thread serves a request (the fast channel's too) */
	pthread_mutex_t db_lock;
	struct remote_doorbell db[LINK_DOORBELL_MAX];
	/* extension messages sent on the link so far (the fast channel's replies say) */
	_Atomic uint32_t sock_msgs;
	int msix_fd[MSIX_MAX_VECTORS]; /* the VMM's, one per vector; -1: none */
	void *journal; /* the VMM's virtqueue journal, mapped (LINK_F_INFLIGHT); or NULL */
	size_t journal_size;
};

/*
 * The fast channel's device side (remote_fastchan.c): a thread started
 * before the sandbox's filter (which allows no new threads), idle until
 * EXT_FASTCHAN maps the VMM's page, then serving it.
 */
struct remote_fastchan {
	struct fastchan_dev dev;
	pthread_t thread;
	bool thread_on;
	pthread_mutex_t lock; /* hands the mapped page to the thread */
	pthread_cond_t cond;
	bool running, mapped, quit;
	bool inline_only; /* no thread: served by remote_fastchan_poll() (fuzzing) */
	_Atomic int err; /* a bad request: the event loop ends the process */
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
	struct remote_fastchan chan;
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
/* A validated config or BAR access (PCI_CFG*, BAR_*, EXT_BAR_WRITE): the RET's value. */
uint64_t remote_access(struct remote *r, const struct link_msg *m);

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

/* remote_fastchan.c */
void remote_fastchan_init(struct remote *r);
/* Stops and joins the thread, unmaps the page. */
void remote_fastchan_fini(struct remote *r);
/* Whether the channel can be offered: its thread runs. */
bool remote_fastchan_ready(const struct remote *r);
/* EXT_FASTCHAN: maps the page (negotiated, once) and hands it to the thread. */
int remote_fastchan_open(struct remote *r, struct link_msg *m);
/* The event loop, before its handlers: a pending request served here and now. */
void remote_fastchan_sync(void *opaque);
/* A bad request ended the channel: its error (the process ends), else 0. */
int remote_fastchan_error(struct remote *r);

#endif

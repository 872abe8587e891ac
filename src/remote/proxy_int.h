/*
 * Inside the proxy device (proxy.h): its state, shared by proxy.c (plain
 * mpqemu: discovery, config and BAR forwarding), proxy_ext.c (negotiation,
 * doorbells, posted writes, heartbeat) and proxy_msix.c (the MSI-X table the
 * VMM owns once negotiated).
 *
 * Locks, outermost first: pdev.lock (config writes), the link's lock (one
 * request at a time; extension messages arrive under it), then db_lock or
 * msix.lock (leaves; the accelerator's own locks may follow).
 */
#ifndef REMOTE_PROXY_INT_H
#define REMOTE_PROXY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hw/pci/pci.h"
#include "remote/link.h"
#include "remote/proxy.h"

struct proxy_bar {
	struct proxy *p;
	unsigned idx;
	bool memory; /* memory space, else I/O */
};

/* A doorbell of the device process: the accelerator signals fd on a match. */
struct proxy_doorbell {
	bool used;
	struct link_doorbell d;
	int fd;        /* ours (a copy of the device's eventfd) */
	uint64_t base; /* BAR base it is registered at in the accelerator; 0: not */
};

struct proxy_msix_vec {
	uint32_t entry[4]; /* address low, high, data, vector control */
	int fd;            /* the device process signals it */
	bool routed;       /* the accelerator delivers fd's signals */
	uint64_t r_addr;   /* what the route says */
	uint32_t r_data;
	bool pending;      /* signalled while masked: the PBA bit */
};

/* The device's MSI-X capability, and its table while the VMM owns it. */
struct proxy_msix {
	unsigned cap;  /* offset in config space; 0: none found */
	unsigned nvec;
	unsigned table_bar, pba_bar;
	uint32_t table_off, pba_off;
	bool owned;    /* negotiated: table and PBA are served here */
	bool enabled, func_masked;
	pthread_mutex_t lock;
	struct proxy_msix_vec *vec;
};

struct proxy {
	struct pci_device pdev;
	struct link link;
	const struct dev_host *host;
	char *name;
	int timeout_ms;
	pid_t child;
	int irqfd, resamplefd;
	bool irqfd_added, on_bus, pdev_init;
	unsigned cfg_size; /* the device's config space: accesses past it stay local */
	struct proxy_bar bars[PCI_BAR_COUNT + 1];
	/* extensions */
	bool ext_wanted;    /* probe for a splitvm device process */
	bool splitvm_peer;  /* it answered the probe */
	uint64_t features;  /* negotiated LINK_F_* */
	unsigned heartbeat_ms;
	pthread_mutex_t db_lock;
	struct proxy_doorbell db[LINK_DOORBELL_MAX];
	struct proxy_msix msix;
	pthread_t hb_thread;
	bool hb_started;
	int hb_stop_fd;
};

/* proxy.c */
int px_call(struct proxy *p, const struct link_msg *m, uint64_t *v);
int px_cfg_read(struct proxy *p, unsigned off, unsigned size, uint32_t *out);
int px_cfg_write(struct proxy *p, unsigned off, unsigned size, uint32_t val);

/* proxy_ext.c */
void proxy_ext_init(struct proxy *p);
/* The probe: is the device process splitvm's? Only with p->ext_wanted. */
int proxy_ext_probe(struct proxy *p);
/* EXT_HELLO after discovery: agrees on features, hands out MSI-X vectors. */
int proxy_ext_negotiate(struct proxy *p);
/* After setup: the heartbeat thread, if one was agreed. */
int proxy_ext_start(struct proxy *p);
/* Stops the heartbeat (before the link closes), drops doorbells. */
void proxy_ext_stop(struct proxy *p);
/*
 * The device process is gone and another may follow (restart): the same,
 * and its features forgotten. The MSI-X table stays (it is the guest's):
 * probe, negotiate and start again on the new link, after its reset.
 */
void proxy_ext_lost(struct proxy *p);
void proxy_ext_fini(struct proxy *p);
/*
 * Whether the calling thread is the heartbeat's: a link that breaks there
 * (link.on_break) broke on an unanswered heartbeat, not a guest access.
 */
bool proxy_ext_heartbeat_thread(const struct proxy *p);
/* The guest may have moved a BAR or toggled decoding (pdev.lock held). */
void proxy_doorbells_sync(struct proxy *p);
/* A memory-space BAR write: posted if negotiated. 1 if sent so, else 0. */
int proxy_posted_write(struct proxy *p, uint64_t addr, uint64_t val, unsigned size);

/* proxy_msix.c */
void proxy_msix_init(struct proxy *p);
void proxy_msix_fini(struct proxy *p);
/* Finds the capability during discovery (no table taken over yet). */
int proxy_msix_discover(struct proxy *p);
/* Whether the table can be owned here: a usable capability and MSI routes. */
bool proxy_msix_can_own(const struct proxy *p);
/*
 * Takes the table over: an eventfd per vector, sent to the device process.
 * Again for a new device process: the same eventfds, and the guest's
 * enable and function-mask bits written to it (after its reset).
 */
int proxy_msix_own(struct proxy *p);
/* A BAR access the table or PBA answers: true if it was theirs. */
bool proxy_msix_bar(struct proxy *p, unsigned bar, uint64_t off, unsigned size, uint64_t *val,
		    bool is_write);
/* Does [off, off + len) of BAR bar touch the table or PBA? */
bool proxy_msix_overlaps(const struct proxy *p, unsigned bar, uint64_t off, uint64_t len);
/* A config write the guest made (pdev.lock held): enable and function mask. */
void proxy_msix_config_write(struct proxy *p, unsigned off, unsigned size, uint32_t val);

#endif

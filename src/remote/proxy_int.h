/*
 * Inside the proxy device (proxy.h): its state, shared by proxy.c (plain
 * mpqemu: config and BAR forwarding, the failed state), proxy_discover.c
 * (what the device process offers), proxy_ext.c (negotiation, doorbells,
 * posted writes, heartbeat), proxy_msix.c (the MSI-X table the VMM owns once
 * negotiated) and proxy_sup.c (supervision of the device process).
 *
 * Locks, outermost first: pdev.lock (config writes), gate (read: anything
 * that uses the link once attached; write: the supervisor replacing it),
 * the link's lock (one request at a time; extension messages arrive under
 * it), then fail_lock, db_lock or msix.lock (leaves; the accelerator's own
 * locks may follow).
 */
#ifndef REMOTE_PROXY_INT_H
#define REMOTE_PROXY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hw/pci/pci.h"
#include "remote/fastchan.h"
#include "remote/inflight.h"
#include "remote/link.h"
#include "remote/proxy.h"

struct proxy_sup;

#define BAR_REG(i) (PCI_BASE_ADDRESS_0 + 4 * (i))

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

/* Whether the device process is there for the guest (docs/proxy.md, Supervision). */
enum px_state {
	PX_LIVE,      /* accesses go over the link */
	PX_FAILED,    /* reads all ones, writes go nowhere */
	PX_RESTORING, /* the same, while a new device process is set up */
};

/* A BAR location the guest wrote while the device was failed. */
struct px_latch {
	uint64_t addr, val;
	unsigned size; /* 0: unused */
	bool memory;
};

#define PX_LATCHES 16

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
	unsigned max_regions;
	pid_t child; /* without a supervisor: ours, reaped at destroy */
	int irqfd, resamplefd;
	bool irqfd_added, on_bus, pdev_init, locks_init;
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
	/*
	 * The fast channel (proxy_fastchan.c), open while this device process
	 * agreed on it; opened and closed with the link it belongs to.
	 */
	struct fastchan_vmm chan;
	bool chan_on;
	_Atomic uint32_t ext_msgs; /* extension messages read from the device process */
	/*
	 * Supervision. Guest accesses, posted writes and the heartbeat use the
	 * link only while PX_LIVE, guest accesses holding gate for reading;
	 * the supervisor stops the heartbeat, then replaces the link holding it
	 * for writing. fail_lock makes leaving PX_LIVE and the socket's
	 * shutdown one step, and guards the latches.
	 */
	_Atomic int state;
	pthread_rwlock_t gate;
	pthread_mutex_t fail_lock;
	struct px_latch latch[PX_LATCHES];
	unsigned latch_next;
	struct proxy_sup *sup; /* NULL: unsupervised (no event loop) */
	/* LINK_F_INFLIGHT (proxy_inflight.c) */
	bool own_process; /* we started the device process: we know when it is gone */
	struct inflight_journal journal;
	struct inflight *responder;
};

/* proxy.c: requests (any failure broke the link and was reported once) */
int px_call(struct proxy *p, const struct link_msg *m, uint64_t *v);
int px_cfg_read(struct proxy *p, unsigned off, unsigned size, uint32_t *out);
int px_cfg_write(struct proxy *p, unsigned off, unsigned size, uint32_t val);
/* For the supervisor. The failure line: "NAME: device failed: WHAT". */
void px_report(struct proxy *p, const char *what);
/* Interrupt wiring and extensions of the dead process undone (INTx lowered). */
void px_unwire(struct proxy *p);
/* INTx: the irqfd pair to the accelerator (the device's pin, if any). */
int px_wire_intx(struct proxy *p);
/*
 * A new device process's link (fd, taken): RAM, interrupts, extensions
 * again, a reset, the same IDs, the BARs and COMMAND of the local copy. The
 * proxy is live again on success, still failed otherwise (logged).
 */
int px_restore(struct proxy *p, int fd);

/* proxy_discover.c */
/* Waits out a QEMU remote's start-up reset (docs/mpqemu.md, quirk 5); 0 ms: none. */
int px_settle(struct proxy *p, int settle_ms);
/* IDs, header type, BARs, ROM, config space size, INTx pin, MSI-X capability. */
int px_discover(struct proxy *p, struct proxy_found *f);

/* proxy_sup.c */
/*
 * Supervises p's link and our device process child (0: none), taking
 * cfg->spec and cfg->restart for restarts. *out stays NULL without an
 * event loop: failures are then reported, nothing more.
 */
int sup_create(struct proxy *p, const struct dev_host *host, pid_t child,
	       struct proxy_config *cfg, struct proxy_sup **out);
/* Stops watching, then ends and reaps our device process (at once if it failed). */
void sup_destroy(struct proxy_sup *s, bool failed);
/* Watches the link's socket for a hang-up; -1: none. */
int sup_watch_link(struct proxy_sup *s, int fd);
/* Any thread: the proxy just failed. */
void sup_notify(struct proxy_sup *s);
/*
 * Any thread, s may be NULL: true if the supervisor reports a closed link
 * itself, once our device process's exit status is known (it then does).
 */
bool sup_take_eof(struct proxy_sup *s);
unsigned sup_generation(const struct proxy_sup *s);
pid_t sup_child(const struct proxy_sup *s);

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

/* proxy_fastchan.c */
/* After EXT_HELLO took LINK_F_FASTCHAN: the page, sent with EXT_FASTCHAN. */
int proxy_fastchan_open(struct proxy *p);
/* With the link it belongs to: nobody inside (gate), fail_lock held. */
void proxy_fastchan_close(struct proxy *p);
/* proxy_fail() (fail_lock held): a vCPU waiting on the channel wakes now. */
void proxy_fastchan_fail(struct proxy *p);
/*
 * px_call() on the channel: true if it took m (the result in *err, any
 * failure reported). A request for the socket first waits until a posted
 * write before it was served (false: the socket's turn).
 */
bool proxy_fastchan_call(struct proxy *p, const struct link_msg *m, uint64_t *v, int *err);
/* A posted BAR write on the channel: true if it took it. */
bool proxy_fastchan_post(struct proxy *p, const struct link_msg *m);
/* proxy_inflight.c: the failed responder of a dead virtio-blk process of ours */
int proxy_inflight_init(struct proxy *p);
void proxy_inflight_fini(struct proxy *p);
/* Whether to offer LINK_F_INFLIGHT (after discovery). */
bool proxy_inflight_wanted(const struct proxy *p);
/* Negotiated: a fresh journal to the device process (EXT_INFLIGHT). */
int proxy_inflight_give(struct proxy *p);
/* Our process is reaped (event loop): answer its queues from its journal. */
void proxy_inflight_takeover(struct proxy *p);
/* The responder hands the rings back (a restart, the end; event loop). */
void proxy_inflight_stop(struct proxy *p);
/* Guest accesses to the failed device: doorbells, a reset, bus mastering off. */
void proxy_inflight_bar_write(struct proxy *p, unsigned size);
void proxy_inflight_config_write(struct proxy *p, unsigned off, unsigned size, uint32_t val);

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

/*
 * The proxy's insides, shared by proxy.c (the device, its failed state),
 * proxy_discover.c (what the device process offers) and proxy_sup.c
 * (supervision of the device process) only.
 *
 * Supervision runs on the thread of the VMM's event loop, except
 * sup_notify() and sup_defers_eof().
 *
 * The supervisor watches the link for a hang-up, our device process (a
 * pidfd) for its end, and is woken by proxy_fail() from any thread. It
 * reports a failure whose cause is the exit status, lowers INTx
 * (px_unwire), kills and reaps the process, and with restart=on starts
 * another and hands its link to px_restore(), at most PROXY_RESTART_MAX
 * times per PROXY_RESTART_WINDOW_MS.
 */
#ifndef REMOTE_PROXY_INT_H
#define REMOTE_PROXY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hw/pci/pci.h"

struct dev_host;
struct logger;
struct proxy;
struct proxy_config;
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


/* proxy.c: config requests over the link (any failure broke it and was reported). */
int px_cfg_read(struct proxy *p, unsigned off, unsigned size, uint32_t *out);
int px_cfg_write(struct proxy *p, unsigned off, unsigned size, uint32_t val);
const char *px_name(const struct proxy *p);
const struct logger *px_log(const struct proxy *p);

/* proxy_discover.c */
/* Waits out a QEMU remote's start-up reset (docs/mpqemu.md, quirk 5); 0 ms: none. */
int px_settle(struct proxy *p, int settle_ms);
/* IDs, header type, BARs, ROM, config space size, INTx pin. */
int px_discover(struct proxy *p, struct proxy_found *f);

/* proxy_sup.c */

/*
 * Supervises p's link and our device process child (0: none), taking
 * cfg->spec and cfg->restart for restarts. *out stays NULL without an
 * event loop: failures are then reported, nothing more.
 */
int sup_create(struct proxy *p, const struct dev_host *host, const char *name, pid_t child,
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

/* proxy.c, for the supervisor. */
/* The failure line: "NAME: device failed: WHAT". */
void px_report(struct proxy *p, const char *what);
/* Interrupt wiring into the accelerator undone (INTx lowered). */
void px_unwire(struct proxy *p);
/*
 * A new device process's link (fd, taken): RAM, interrupts and extensions
 * again, a reset, the same IDs, the BARs and COMMAND the proxy holds. The
 * proxy is live again on success, still failed otherwise (logged).
 */
int px_restore(struct proxy *p, int fd);

#endif /* REMOTE_PROXY_INT_H */

/*
 * `splitvm remote`: a device process. A machine with no vCPUs and no RAM
 * of its own: one device (any --device kind) on a PCI host of its own,
 * guest RAM mapped from the VMM's SYNC_SYSMEM (remote_mem.h), INTx on the
 * irqfd of SET_IRQFD, and the VMM's config and BAR accesses arriving as
 * link messages (link.h). One thread runs everything: the link and the
 * device's own work (queue kicks, timers, backends) share one event loop,
 * so a message is handled between two pieces of device work, never during.
 *
 * docs/remote.md describes the process from a user's side.
 */
#ifndef REMOTE_REMOTE_H
#define REMOTE_REMOTE_H

#include "core/log.h"

struct device_sandbox;

struct remote;

/*
 * The machine with its device, from a --device SPEC, before any VMM is
 * there. Returns 0, -EINVAL for a bad spec (logged: bad usage), or another
 * -errno (logged). log must outlive the remote.
 */
int remote_create(struct remote **out, const char *spec, const struct logger *log);
/*
 * The link to serve: link_fd, a connected UNIX stream socket, is the
 * remote's from here on (also on failure). Once per remote. 0 or -errno.
 */
int remote_attach(struct remote *r, int link_fd);
/*
 * Serves the VMM until it closes the link (0) or a bad message, a failed
 * reply or a device error ends it (-errno, logged). SIGINT, SIGTERM and
 * SIGHUP end it with 0 too, if they are blocked in the calling thread
 * (remote_block_signals()).
 */
int remote_run(struct remote *r);
/*
 * One round of the loop, waiting up to timeout_ms (tests, fuzzing): 1 while
 * serving, else what remote_run() would return.
 */
int remote_step(struct remote *r, int timeout_ms);
/*
 * Starts the fast channel's thread (opaque: the remote), once: after the
 * sandbox's namespaces and before its filter (sandbox_apply_with()), or
 * before remote_run() without a sandbox. Without it the channel is not
 * offered. 0 (a thread that cannot start only costs the channel).
 */
int remote_start_threads(void *opaque);
/*
 * Tests and fuzzing, instead of remote_start_threads(): the fast channel is
 * offered but served only by remote_fastchan_poll() (and the event loop's
 * wake-ups), on the caller's thread, deterministically.
 */
void remote_fastchan_inline(struct remote *r);
/* Serves a pending fast channel request now: 1 while serving, else as remote_step(). */
int remote_fastchan_poll(struct remote *r);
/* What the device's kind needs once sandboxed (remote/sandbox.h); may be NULL. */
const struct device_sandbox *remote_sandbox(const struct remote *r);
/* Finishes the device's work (disks flush) and frees everything. */
void remote_destroy(struct remote *r);

/* Blocks the termination signals so that remote_run() sees them (main thread). */
int remote_block_signals(void);

#endif

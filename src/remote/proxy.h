/*
 * The proxy PCI device: a device model running in another process (a
 * `splitvm remote` or QEMU 7.2's `-machine x-remote`), seen by the guest as
 * a PCI function of the VMM, reached through the mpqemu link (link.h).
 *
 * At creation the proxy shares guest RAM (SYNC_SYSMEM) and hands over an
 * INTx eventfd pair (SET_IRQFD) wired into the accelerator, waits out a
 * QEMU remote's start-up reset, resets the device, and discovers it: IDs,
 * header type, BAR and expansion ROM sizes, INTx pin, PCI Express or not.
 * The VMM's pci_device gets the same IDs and BARs; the host places the BARs
 * and the proxy writes their addresses into the device, as firmware would.
 *
 * Config space split (docs/proxy.md): every guest config read inside the
 * device's config space is answered by the device process; every write is
 * applied to the local copy first (so the VMM's PCI host follows BAR moves
 * and the decode bits of COMMAND, with its own BAR emulation), then
 * forwarded. The local copy of other registers is never shown to the guest.
 * BAR accesses become BAR_READ/BAR_WRITE with absolute bus addresses.
 *
 * A link that breaks (timeout, garbage, the process died) is logged once;
 * from then on reads return all ones and writes are dropped, and the VM
 * keeps running.
 */
#ifndef REMOTE_PROXY_H
#define REMOTE_PROXY_H

#include <stdbool.h>
#include <sys/types.h>

struct dev_host;
struct device_kind;
struct logger;
struct pci_device;
struct proxy;

/* Default time a vCPU waits for the device process's answer. */
#define PROXY_TIMEOUT_MS 5000
/* Each request while attaching, at least: a fresh device process may be slow to start. */
#define PROXY_START_TIMEOUT_MS 10000
/* How long a QEMU remote may take to reset its devices after it started. */
#define PROXY_SETTLE_MS 300
/* How long a device process we started may take to leave once its link closed. */
#define PROXY_REAP_MS 2000

struct proxy_config {
	int fd;           /* the link's socket: the proxy's once created, -1 after */
	char *path;       /* socket=PATH, for messages (owned) */
	char *name;       /* for log lines (owned) */
	int timeout_ms;   /* per request */
	int settle_ms;    /* 0: the peer does not reset itself at start */
	/* Regions one SYNC_SYSMEM may carry: 7 for a QEMU peer, 8 for ours. */
	unsigned max_regions;
	pid_t child;      /* isolated=on: the device process we started, or 0 */
	bool no_ext;      /* ext=off: plain mpqemu, no probe */
	unsigned heartbeat_ms; /* heartbeat=MS: period; 0 none (replies within timeout_ms) */
	const struct logger *log;
};

/* Options of the proxy itself, for remote,... and for KIND,...,isolated=on. */
struct proxy_opts {
	int timeout_ms;        /* timeout=MS */
	unsigned heartbeat_ms; /* heartbeat=MS; 0: none */
	bool no_ext;           /* ext=off */
};

struct devspec;
/* Reads timeout=, heartbeat= and ext= from spec; -EINVAL (logged) on bad values. */
int proxy_parse_opts(struct devspec *spec, struct proxy_opts *o, const struct logger *log);
/* Whether key is one of those: isolated=on keeps it from the device process. */
bool proxy_opt_key(const char *key);
void proxy_apply_opts(struct proxy_config *cfg, const struct proxy_opts *o);

/* --device remote,fd=N | remote,socket=PATH */
extern const struct device_kind remote_kind;

/* Takes cfg->fd (and cfg->child, reaped at destroy) whatever the outcome. */
int proxy_create(const struct dev_host *host, struct proxy_config *cfg, struct proxy **out);
void proxy_destroy(struct proxy *p);
/* The proxy's PCI function, for tests. */
struct pci_device *proxy_pci(struct proxy *p);

/*
 * isolated=on: starts `splitvm remote --link fd=3 --device spec
 * --log-level L` (this binary, logging as log does) on a socketpair with
 * only its end, stdin from /dev/null and stdout on stderr; fills cfg for
 * proxy_create().
 */
int proxy_spawn(const char *spec, const char *name, struct proxy_config *cfg,
		const struct logger *log);
/* Waits up to timeout_ms for the child to end, then kills it; logs a failure. */
void proxy_reap(pid_t pid, const char *name, int timeout_ms, const struct logger *log);
void proxy_config_clear(struct proxy_config *cfg);

#endif

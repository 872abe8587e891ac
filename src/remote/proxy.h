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
 * A link that breaks (timeout, garbage, heartbeat, the process died) puts
 * the proxy in its failed state: reads return all ones (what the guest
 * wrote since reads back), writes go nowhere, INTx is lowered, one log line
 * names the device and the cause, and the VM keeps running. With an event
 * loop the proxy is supervised (proxy_sup.c): a hang-up of its link or the
 * end of a device process it started is noticed while idle too, and with
 * restart=on a new device process takes over (docs/proxy.md, Supervision).
 */
#ifndef REMOTE_PROXY_H
#define REMOTE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
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
/* How long a failed device process that closed its link may take to exit (its status says why). */
#define PROXY_EXIT_GRACE_MS 500
/* restart=on: at most this many restarts of one device within the window. */
#define PROXY_RESTART_MAX 3
#define PROXY_RESTART_WINDOW_MS 60000

struct proxy_config {
	int fd;           /* the link's socket: the proxy's once created, -1 after */
	char *path;       /* socket=PATH, for messages (owned) */
	char *name;       /* for log lines (owned) */
	int timeout_ms;   /* per request */
	int settle_ms;    /* 0: the peer does not reset itself at start */
	/* Regions one SYNC_SYSMEM may carry: 7 for a QEMU peer, 8 for ours. */
	unsigned max_regions;
	pid_t child;      /* isolated=on: the device process we started, or 0 */
	char *spec;       /* isolated=on: its --device, to start another (owned) */
	bool restart;     /* restart=on: start another when it fails */
	bool no_ext;      /* ext=off: plain mpqemu, no probe */
	unsigned heartbeat_ms; /* heartbeat=MS: period; 0 none (replies within timeout_ms) */
	const struct logger *log;
};

/* Options of the proxy itself, for remote,... and for KIND,...,isolated=on. */
struct proxy_opts {
	int timeout_ms;        /* timeout=MS */
	unsigned heartbeat_ms; /* heartbeat=MS; 0: none */
	bool no_ext;           /* ext=off */
	bool restart;          /* restart=on (isolated=on only) */
};

struct devspec;
/* Reads timeout=, heartbeat=, ext= and restart= from spec; -EINVAL (logged) on bad values. */
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

/* Why a device failed, for proxy_fail(). */
enum proxy_fail_kind {
	PROXY_FAIL_EOF,          /* the link closed (a process of ours: its exit status says why) */
	PROXY_FAIL_TIMEOUT,      /* a request went unanswered */
	PROXY_FAIL_PROTOCOL,     /* a bad message */
	PROXY_FAIL_UNRESPONSIVE, /* a liveness check: the heartbeat, or another */
	PROXY_FAIL_EXITED,       /* the device process we started ended */
};

/*
 * The failed state's one entry, from any thread (a vCPU inside an access,
 * the heartbeat thread, the event loop): the first call wins. Requests in
 * flight end at once (the socket is shut down), guest reads return all
 * ones from now on, one log line names the device and `what` (for a
 * process of ours that closed its link: its exit status, once known). The
 * event loop then lowers INTx, stops the extensions, kills and reaps our
 * device process, and restarts it if asked to. A broken link calls it by
 * itself (link.on_break): timeouts, bad messages, a closed socket.
 */
void proxy_fail(struct proxy *p, enum proxy_fail_kind kind, const char *what);
bool proxy_failed(struct proxy *p);
/* Device processes started for this proxy so far, the first included (tests). */
unsigned proxy_generation(struct proxy *p);
/* The device process we started and have not reaped yet, or 0 (tests). */
pid_t proxy_child(struct proxy *p);

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
/* "exited with status 1", "killed by signal 9 (SIGKILL)": a wait status in words. */
void proxy_status_text(int status, char *buf, size_t len);
void proxy_config_clear(struct proxy_config *cfg);

#endif

/*
 * Devices given with --device (and to `splitvm remote --device`).
 *
 * A spec is "KIND[,KEY[=VALUE]]...". Each kind parses its spec into a config
 * when the VM loads (a bad spec, a missing file: bad input, exit status 2),
 * then creates the device with the services of struct dev_host. The VMM and
 * a device process both provide those services, so device code does not know
 * which process it runs in.
 */
#ifndef HW_DEVICE_H
#define HW_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/device_sandbox.h"

struct accel_ioeventfd;
struct evloop;
struct guest_memory;
struct logger;
struct pci_host;
struct proxy_opts;
struct vq_journal;

#define DEVSPEC_MAX_PARAMS 16

struct devspec_param {
	const char *key;
	const char *value; /* NULL for a bare flag ("user") */
	bool used;         /* read by the kind: anything left unread is unknown */
};

struct devspec {
	const char *text; /* as given, for messages */
	char *buf;        /* owned copy the strings below point into */
	const char *kind;
	unsigned nparams;
	struct devspec_param params[DEVSPEC_MAX_PARAMS];
};

/* Splits text; logs and returns -EINVAL on a malformed spec. */
int devspec_parse(struct devspec *s, const char *text, const struct logger *log);
void devspec_free(struct devspec *s);
/* The value of the first KEY=VALUE (NULL if absent) and marks it used. */
const char *devspec_get(struct devspec *s, const char *key);
/* Every value of a repeatable key, in order: call with *pos = 0 until NULL. */
const char *devspec_next(struct devspec *s, const char *key, unsigned *pos);
/* A bare flag or KEY=on/off/yes/no/true/false/1/0; -EINVAL (logged) otherwise. */
int devspec_bool(struct devspec *s, const char *key, bool def, bool *out,
		 const struct logger *log);
/* A decimal or 0x number in [min, max]; -EINVAL (logged) otherwise. */
int devspec_u64(struct devspec *s, const char *key, uint64_t def, uint64_t min, uint64_t max,
		uint64_t *out, const struct logger *log);

/*
 * What a device gets from the process it runs in. Device work (queue
 * processing, I/O completions, backend sockets) runs on the thread of
 * `loop`; guest accesses to BARs and config space arrive on vCPU threads (or
 * a link thread in a device process).
 */
struct dev_host {
	const struct logger *log;
	const struct guest_memory *mem;
	struct evloop *loop;
	struct pci_host *pci;
	void *opaque;
	int (*signal_msi)(void *opaque, uint64_t addr, uint32_t data);
	/*
	 * Doorbells that bypass this process's vCPU path; NULL where there is
	 * none (the transport then kicks its queue from the BAR write itself).
	 */
	int (*add_ioeventfd)(void *opaque, const struct accel_ioeventfd *ev);
	int (*del_ioeventfd)(void *opaque, const struct accel_ioeventfd *ev);
	/*
	 * Interrupts that bypass this process: fd raises gsi; with a
	 * resample_fd (>= 0) the line is level-triggered, lowered at the
	 * guest's EOI, which then signals resample_fd. NULL where there is none.
	 */
	int (*add_irqfd)(void *opaque, int fd, unsigned gsi, int resample_fd);
	int (*del_irqfd)(void *opaque, int fd, unsigned gsi);
	/*
	 * MSI routes: signalling fd delivers (addr, data); set adds or changes
	 * one, a count already on fd is delivered. After del, signals stay
	 * counted on fd. NULL where there is none.
	 */
	int (*set_msi_irqfd)(void *opaque, int fd, uint64_t addr, uint32_t data);
	int (*del_msi_irqfd)(void *opaque, int fd);
	/*
	 * A device process's virtqueue journal (hw/virtio/vq_journal.h), given
	 * by the VMM before the guest runs; NULL where there is none.
	 */
	struct vq_journal *vq_journal;
};

struct device_kind {
	const char *name;  /* "virtio-blk" */
	const char *usage; /* "virtio-blk,file=PATH[,readonly=on][,serial=STR]" */
	size_t config_size;
	/* Reads its keys from spec into config; logs and returns -EINVAL on bad input. */
	int (*parse)(struct devspec *spec, void *config, const struct logger *log);
	/* Releases what parse acquired (open files); optional. */
	void (*config_free)(void *config);
	/* Creates the device and plugs it into host->pci; config outlives it. */
	int (*create)(const struct dev_host *host, void *config, void **state);
	/* Finishes outstanding work (flushes disks) and frees the device. */
	void (*destroy)(void *state);
	/*
	 * Its needs in a sandboxed device process (hw/device_sandbox.h), for
	 * the parsed config; NULL or a NULL result: the machine's only.
	 */
	const struct device_sandbox *(*sandbox)(const void *config);
};

/*
 * isolated=on (any kind): the VMM parses the spec to check it, releases
 * what parsing acquired, and at creation starts `splitvm remote` with the
 * spec minus isolated=on, behind a proxy (src/remote/proxy.h).
 */
struct device {
	const struct device_kind *kind;
	struct devspec spec;
	void *config; /* NULL for an isolated device once checked */
	void *state;  /* NULL until created; a struct proxy if isolated */
	bool isolated;
	char *remote_spec; /* isolated: the spec the device process gets */
	struct proxy_opts *proxy_opts; /* isolated: timeout=, heartbeat=, ext=, restart= */
};

const struct device_kind *device_kind_find(const char *name);
/* Prints "  USAGE" lines of every kind, for --help. */
void device_kinds_usage(int fd);

/* Parse and check one --device: -EINVAL (logged) on bad input. */
int device_parse(struct device *dev, const char *text, const struct logger *log);
int device_create(struct device *dev, const struct dev_host *host);
/* The kind's sandbox needs for this device's config, or NULL (see device_kind). */
const struct device_sandbox *device_sandbox(const struct device *dev);
/* Destroys the device (if created) and its config; safe on a zeroed struct. */
void device_destroy(struct device *dev);

#endif

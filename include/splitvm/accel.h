/*
 * The accelerator module ABI.
 *
 * An accelerator (accel-kvm.so, accel-emu.so) is a shared object loaded with
 * dlopen. It exports one symbol, SPLITVM_ACCEL_ENTRY, a function returning a
 * const table whose first field is the ABI version. The core hands the module
 * a table of services (struct accel_host): port and memory dispatch for exits,
 * logging, and stop requests. The module owns the run loop and the interrupt
 * controllers; the core drives interrupt lines, MSIs, irqfds and ioeventfds
 * through the VM operations.
 */
#ifndef SPLITVM_ACCEL_H
#define SPLITVM_ACCEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "splitvm/cpu_state.h"
#include "splitvm/types.h"

#define SPLITVM_ACCEL_ABI_VERSION 2
#define SPLITVM_ACCEL_ENTRY "splitvm_accel_entry"

struct accel_vm;   /* module-private */
struct accel_vcpu; /* module-private */

enum accel_stop_reason {
	ACCEL_STOP_RESET,    /* guest reset (triple fault, reset request) */
	ACCEL_STOP_POWEROFF, /* guest powered off */
	ACCEL_STOP_ERROR,    /* the accelerator failed; the VMM exits 1 */
};

enum accel_log_level { ACCEL_LOG_ERROR, ACCEL_LOG_WARN, ACCEL_LOG_INFO, ACCEL_LOG_DEBUG };

/* Services the core gives the module. Valid for the life of the accel_vm. */
struct accel_host {
	void *opaque;
	unsigned ncpus;
	const struct guest_ram_region *ram;
	unsigned nram;
	/* Exit dispatch: data is little-endian, size 1/2/4 (pio) or 1/2/4/8 (mmio). */
	void (*pio)(void *opaque, uint16_t port, void *data, unsigned size, bool is_write);
	void (*mmio)(void *opaque, uint64_t addr, void *data, unsigned size, bool is_write);
	/* True once the VM is stopping: run loops return promptly. */
	bool (*should_stop)(void *opaque);
	void (*request_stop)(void *opaque, enum accel_stop_reason why);
	void (*log)(void *opaque, enum accel_log_level level, const char *fmt, va_list ap);
};

/* Whether a module can run guests on this host (accel_ops.probe). */
enum accel_probe {
	ACCEL_PROBE_OK = 0,      /* runs any guest */
	ACCEL_PROBE_LIMITED = 1, /* runs, but not every guest (reason given) */
};

struct accel_ioeventfd {
	uint64_t addr;
	uint32_t len;       /* 0 = any length (mmio) */
	bool pio;
	bool has_datamatch;
	uint64_t datamatch;
	int fd;
};

struct accel_vm_ops {
	int (*create)(const struct accel_host *host, struct accel_vm **out);
	void (*destroy)(struct accel_vm *vm);
	/* Drive an interrupt line (GSI): level 1 asserted, 0 deasserted. */
	int (*set_irq)(struct accel_vm *vm, unsigned gsi, int level);
	int (*signal_msi)(struct accel_vm *vm, uint64_t addr, uint32_t data);
	/* resample_fd < 0 for edge-triggered lines. An irqfd's file may be
	 * made non-blocking (O_NONBLOCK) by the module. */
	int (*add_irqfd)(struct accel_vm *vm, int fd, unsigned gsi, int resample_fd);
	int (*del_irqfd)(struct accel_vm *vm, int fd, unsigned gsi);
	int (*add_ioeventfd)(struct accel_vm *vm, const struct accel_ioeventfd *ev);
	int (*del_ioeventfd)(struct accel_vm *vm, const struct accel_ioeventfd *ev);
	/*
	 * MSI routes (ABI 2): signalling fd delivers the message (addr, data),
	 * as signal_msi would. Adds the irqfd, or changes the message of one
	 * added before; a count pending on fd when it is added is delivered.
	 */
	int (*set_msi_irqfd)(struct accel_vm *vm, int fd, uint64_t addr, uint32_t data);
	/* After it returns, signals of fd stay counted on fd, undelivered. */
	int (*del_msi_irqfd)(struct accel_vm *vm, int fd);
};

struct accel_vcpu_ops {
	/* Called from the thread that will run the vCPU. */
	int (*create)(struct accel_vm *vm, unsigned index, struct accel_vcpu **out);
	void (*destroy)(struct accel_vcpu *vcpu);
	/* Only the boot CPU gets a state; others wait for INIT/SIPI. */
	int (*set_boot_state)(struct accel_vcpu *vcpu, const struct cpu_boot_state *st);
	/* The run loop: returns 0 once host->should_stop(), <0 on failure. */
	int (*run)(struct accel_vcpu *vcpu);
	/* From any thread: make run() notice should_stop() soon. */
	void (*kick)(struct accel_vcpu *vcpu);
};

struct accel_ops {
	uint32_t abi_version; /* SPLITVM_ACCEL_ABI_VERSION: must stay first */
	uint32_t size;        /* sizeof(struct accel_ops) */
	const char *name;     /* "kvm", "emu" */
	const char *description;
	/* ACCEL_PROBE_OK/LIMITED, or -errno; why describes limits or failure. */
	int (*probe)(char *why, size_t why_len);
	const struct accel_vm_ops *vm;
	const struct accel_vcpu_ops *vcpu;
};

typedef const struct accel_ops *(*splitvm_accel_entry_fn)(void);

/* A module's one exported symbol, returning its ops (the rest stays hidden). */
#define SPLITVM_ACCEL_MODULE(ops)                                                            \
	__attribute__((visibility("default"))) const struct accel_ops *splitvm_accel_entry(void); \
	__attribute__((visibility("default"))) const struct accel_ops *splitvm_accel_entry(void)  \
	{                                                                                    \
		return &(ops);                                                               \
	}

#endif

/*
 * struct vm owns all state of one virtual machine: memory, buses, event loop,
 * console, accelerator, vCPU threads and the platform (vm->arch). There are
 * no mutable globals, so a device can run alone in another process.
 */
#ifndef CORE_VM_H
#define CORE_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/accel_loader.h"
#include "core/console.h"
#include "core/evloop.h"
#include "core/iobus.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/options.h"
#include "hw/device.h"
#include "splitvm/accel.h"

struct arch_machine;
struct vm;

enum vm_exit {
	VM_EXIT_NONE,
	VM_EXIT_RESET,    /* guest reset: status 0 */
	VM_EXIT_POWEROFF, /* guest powered off: status 0 */
	VM_EXIT_QUIT,     /* Ctrl-A x or a signal: status 0 */
	VM_EXIT_ERROR,    /* VMM failure: status 1 */
};

struct vcpu_thread {
	struct vm *vm;
	unsigned index;
	pthread_t thread;
	bool started;
	struct accel_vcpu *accel;
	int err;
};

struct vm {
	struct logger log;
	const struct vm_config *cfg;
	uint64_t start_ns; /* CLOCK_MONOTONIC at VMM start, for --boot-timer */
	struct guest_memory mem;
	struct iobus pio;
	struct iobus mmio;
	struct evloop loop;
	struct console console;
	struct accel accel;
	struct accel_host host; /* services given to the accelerator */
	struct arch_machine *arch;
	struct device devices[VM_MAX_DEVICES]; /* --device, in order */
	unsigned ndevices;
	struct dev_host dev_host; /* services given to devices */
	struct cpu_boot_state bsp_state;
	unsigned ncpus;
	struct vcpu_thread *vcpus;
	pthread_mutex_t gate_lock; /* vCPUs wait until all are created */
	pthread_cond_t gate_cond;
	unsigned vcpus_ready;
	bool gate_open;
	_Atomic int exit_reason; /* enum vm_exit; first stop request wins */
	struct ev_watch signal_watch; /* signalfd: SIGINT, SIGTERM, SIGHUP */
	sigset_t saved_sigmask;
	bool sigmask_saved;
};

/* Memory, buses and event loop. Returns -errno. */
int vm_create(struct vm *vm, const struct vm_config *cfg, uint64_t start_ns);
/* Kernel, initrd, device specs: errors here are bad input (exit status 2). */
int vm_load(struct vm *vm);
/* Console, signals, accelerator, platform and devices. Returns -errno. */
int vm_setup(struct vm *vm);
/* Runs until the guest resets or powers off, an error or a quit. */
enum vm_exit vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* From any thread: the first reason wins. */
void vm_request_stop(struct vm *vm, enum vm_exit why);
bool vm_stopping(const struct vm *vm);
int vm_set_irq(struct vm *vm, unsigned gsi, int level);
int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data);
uint64_t vm_now_ns(void);

#endif

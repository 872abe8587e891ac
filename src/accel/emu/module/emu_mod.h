/*
 * accel-emu.so internals: the software CPU as a loadable accelerator. The
 * VM owns the interrupt controllers (one LAPIC per vCPU, the IOAPIC, the
 * APIC bus, the 8259 pair), the 8254 PIT, the timebase, the irqfd thread
 * and the ioeventfd table; a vCPU
 * is an emu_cpu with its own emu_mem whose hooks route the guest's port,
 * MMIO, MSR and CR8 accesses. Nothing but the entry symbol is exported.
 */
#ifndef ACCEL_EMU_MOD_H
#define ACCEL_EMU_MOD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/emu/apic_bus.h"
#include "accel/emu/emu.h"
#include "accel/emu/ioapic.h"
#include "accel/emu/lapic.h"
#include "accel/emu/pic.h"
#include "accel/emu/pit.h"
#include "accel/emu/timebase.h"
#include "splitvm/accel.h"

#define EMU_MAX_CPUS 255      /* 8-bit xAPIC IDs; 0xff is the broadcast */
#define EMU_MAX_IRQFD 64
#define EMU_MAX_IOEVENTFD 128

struct emu_irqfd {
	int fd;          /* -1: free slot */
	int resample_fd; /* -1: edge */
	unsigned gsi;
	int pin;         /* IOAPIC pin of gsi */
	uint32_t gen;    /* bumped when the slot is freed: stale epoll events miss */
	bool msi;        /* an MSI route: delivers (msi_addr, msi_data), not a GSI */
	bool asserted;   /* a level irqfd holds its GSI up until the guest's EOI */
	uint32_t msi_data;
	uint64_t msi_addr;
};

struct accel_vcpu {
	struct accel_vm *vm;
	unsigned index;
	atomic_bool created;   /* cpu is initialised: wakes may touch it */
	bool waiting_sipi;     /* INIT state: only INIT/SIPI/kick matter */
	bool halted;           /* after HLT, until an interrupt, NMI or INIT */
	struct lapic *lapic;
	struct emu_mem mem;
	uint64_t kvmclock;     /* MSR_KVM_SYSTEM_TIME_NEW as written */
	uint64_t run_ns;       /* in run(), and of that halted or waiting for SIPI */
	uint64_t idle_ns;
	int halt_epfd;         /* HLT sleeps here: halt_wake_fd and the irqfds */
	int halt_wake_fd;      /* the LAPIC signals it while a HLT is armed */
	uint64_t halt_poll_ns; /* a HLT polls this long before it sleeps (emu_irq.c) */
	struct emu_cpu cpu;
};

struct accel_vm {
	const struct accel_host *host;
	unsigned ncpus;
	struct emu_timebase tb;
	struct apic_bus bus;
	struct ioapic ioapic;
	struct lapic *lapic;        /* [ncpus] */
	struct lapic **lapic_ptrs;  /* [ncpus], for the bus */
	struct accel_vcpu *vcpu;    /* [ncpus], each created by vcpu->create */
	struct pic pic;             /* INT -> the boot vCPU's LINT0 */
	struct pit pit;             /* channel 0 -> ISA IRQ 0, run by the boot vCPU */
	struct emu_codemap *code;   /* code pages shared by the vCPUs; NULL with one */
	unsigned jit_hot;           /* runs before a block is translated (SPLITVM_EMU_JIT) */

	/* irqfd: a thread waits on the eventfds (epoll) and drives the pins;
	 * a halted vCPU waits on them too and comes first (emu_irq.c). */
	pthread_mutex_t irq_lock;   /* order: irq_lock -> PIC or IOAPIC -> LAPIC */
	struct emu_irqfd irqfd[EMU_MAX_IRQFD];
	uint32_t vmm_levels; /* set_irq's level, a bit per GSI: one source of many */
	int epfd, stop_fd;
	pthread_t irq_thread;
	bool irq_thread_started;

	/* ioeventfd: matched on guest writes before the core's dispatch. */
	pthread_mutex_t ioev_lock;
	atomic_uint nioev;
	struct accel_ioeventfd ioev[EMU_MAX_IOEVENTFD];
};

/* emu_accel.c */
void emu_log(const struct accel_vm *vm, enum accel_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Host pointer for [gpa, gpa + len) if it lies in one RAM region, else NULL. */
void *emu_ram_ptr(const struct accel_vm *vm, uint64_t gpa, uint64_t len);

/* emu_vcpu.c */
extern const struct accel_vcpu_ops emu_vcpu_ops;
void emu_vcpu_wake(void *opaque);

/* emu_irq.c */
int emu_irq_init(struct accel_vm *vm);
void emu_irq_fini(struct accel_vm *vm);
int emu_set_irq(struct accel_vm *vm, unsigned gsi, int level);
/* The 8259's EOI callback: resamples level irqfds on that ISA IRQ. */
void emu_irq_pic_eoi(void *opaque, unsigned irq);
int emu_signal_msi(struct accel_vm *vm, uint64_t addr, uint32_t data);
/* HLT: sleeps until the LAPIC has an event that ends it, a kick, or
 * deadline_ns (CLOCK_MONOTONIC; UINT64_MAX: none), firing irqfds that
 * signal meanwhile itself. The caller reads the LAPIC's events after. */
void emu_irq_halt(struct accel_vcpu *v, bool intr_enabled, uint64_t deadline_ns);
int emu_add_irqfd(struct accel_vm *vm, int fd, unsigned gsi, int resample_fd);
int emu_del_irqfd(struct accel_vm *vm, int fd, unsigned gsi);
int emu_set_msi_irqfd(struct accel_vm *vm, int fd, uint64_t addr, uint32_t data);
int emu_del_msi_irqfd(struct accel_vm *vm, int fd);
int emu_add_ioeventfd(struct accel_vm *vm, const struct accel_ioeventfd *ev);
int emu_del_ioeventfd(struct accel_vm *vm, const struct accel_ioeventfd *ev);
/* True if a guest write matched a registered ioeventfd (and signalled it). */
bool emu_ioeventfd_write(struct accel_vm *vm, bool pio, uint64_t addr, const void *data,
			 unsigned size);

/* emu_legacy.c: the PC's 8259 pair and 8254 */
int emu_legacy_init(struct accel_vm *vm);
void emu_legacy_fini(struct accel_vm *vm);
/* The 8259's INTA for the boot vCPU's LAPIC (opaque = the VM). */
int emu_legacy_inta(void *opaque);
/* Port accesses the 8259s and the PIT own; false for any other port. */
bool emu_legacy_pio(struct accel_vcpu *v, uint16_t port, void *data, unsigned size,
		    bool is_write);
/* Fires due timers: this vCPU's LAPIC timer, and the PIT on the boot vCPU. */
void emu_timers_check(struct accel_vcpu *v);
/* When emu_timers_check() next has work (ns), for a HLT's sleep. */
uint64_t emu_timers_deadline(struct accel_vcpu *v);

/* emu_mmio.c: the emu_mem hooks of a vCPU (opaque = struct accel_vcpu). */
void emu_vcpu_mem_init(struct accel_vcpu *v);

/* emu_msr.c */
int emu_msr_read(struct accel_vcpu *v, uint32_t msr, uint64_t *val);
int emu_msr_write(struct accel_vcpu *v, uint32_t msr, uint64_t val);

#endif

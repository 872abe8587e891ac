/*
 * accel-kvm.so internals. The module sees only the public headers
 * (include/splitvm) and the services table the core hands it; nothing here
 * is exported except the entry symbol (kvm_entry.c).
 */
#ifndef ACCEL_KVM_H
#define ACCEL_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "splitvm/accel.h"

/* Sent by kick() to pull a vCPU thread out of KVM_RUN (or a guest HLT). */
#define KVM_KICK_SIGNAL SIGUSR1

/* In the 32-bit hole, clear of PCI, ECAM, IOAPIC and LAPIC (layout.h). */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull /* 1 page */
#define KVM_TSS_ADDR          0xfeffd000ull /* 3 pages, ends at 0xff000000 */

/* MSI routes take the GSIs after the IOAPIC's pins. */
#define KVM_MSI_ROUTES 128
#define KVM_MSI_GSI_BASE KVM_IOAPIC_NUM_PINS

struct kvm_msi_route {
	int fd; /* -1: free; GSI KVM_MSI_GSI_BASE + index */
	uint32_t data;
	uint64_t addr;
};

struct accel_vm {
	const struct accel_host *host;
	pthread_mutex_t route_lock; /* the routing table: msi[] and KVM_SET_GSI_ROUTING */
	struct kvm_msi_route msi[KVM_MSI_ROUTES];
	int kvm_fd;
	int vm_fd;
	int run_size;              /* KVM_GET_VCPU_MMAP_SIZE */
	bool irq_line_status;      /* KVM_IRQ_LINE_STATUS available */
	bool tsc_deadline;         /* KVM_CAP_TSC_DEADLINE_TIMER */
	unsigned nslots;
	struct kvm_cpuid2 *cpuid;  /* KVM_GET_SUPPORTED_CPUID, queried once */
};

struct accel_vcpu {
	struct accel_vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;          /* the thread that created and runs it */
	bool warned_hlt;
};

/* kvm_entry.c */
void kvm_log(const struct accel_vm *vm, enum accel_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int kvm_check_extension(int fd, long cap);

/* kvm_vm.c */
extern const struct accel_vm_ops kvm_vm_ops;
int kvm_open_dev(int *fd, char *why, size_t why_len);
int kvm_check_required_caps(int kvm_fd, char *why, size_t why_len);

/* kvm_cpuid.c */
int kvm_cpuid_query(struct accel_vm *vm);
/* A copy of the cached table fitted to one vCPU; free() it. */
struct kvm_cpuid2 *kvm_cpuid_for_vcpu(const struct accel_vm *vm, unsigned index);

/* kvm_vcpu.c */
extern const struct accel_vcpu_ops kvm_vcpu_ops;

/* kvm_run.c */
int kvm_install_kick_handler(void);
int kvm_vcpu_run(struct accel_vcpu *vcpu);
void kvm_vcpu_kick(struct accel_vcpu *vcpu);

#endif

/*
 * CPUID: KVM_GET_SUPPORTED_CPUID once per VM, then a per-vCPU copy with its
 * APIC id, the topology (one package, ncpus cores, one thread each), the
 * hypervisor bit, and without features this VMM does not back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "accel/kvm/kvm.h"

#define CPUID_MAX_ENTRIES 1024

#define LEAF1_ECX_MONITOR      (1u << 3)
#define LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define LEAF1_ECX_HYPERVISOR   (1u << 31)
#define LEAF1_EDX_HTT          (1u << 28)
#define LEAF7_EBX_SGX          (1u << 2)
#define LEAF7_EBX_PT           (1u << 25)
#define LEAF7_ECX_SGX_LC       (1u << 30)
#define TOPO_LEVEL_SMT         1u
#define TOPO_LEVEL_CORE        2u

int kvm_cpuid_query(struct accel_vm *vm)
{
	unsigned n;

	for (n = 128; n <= CPUID_MAX_ENTRIES; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG) {
			int r = -errno;

			kvm_log(vm, ACCEL_LOG_ERROR, "kvm: KVM_GET_SUPPORTED_CPUID: %s",
				strerror(-r));
			return r;
		}
	}
	kvm_log(vm, ACCEL_LOG_ERROR, "kvm: KVM_GET_SUPPORTED_CPUID: over %d entries",
		CPUID_MAX_ENTRIES);
	return -E2BIG;
}

static unsigned order_base_2(unsigned n)
{
	unsigned s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

/* Leaves 0xB and 0x1F: SMT level of 1 thread, core level of ncpus. */
static void fix_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned ncpus)
{
	e->edx = apic_id;
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (TOPO_LEVEL_SMT << 8) | e->index;
		break;
	case 1:
		e->eax = order_base_2(ncpus);
		e->ebx = ncpus;
		e->ecx = (TOPO_LEVEL_CORE << 8) | e->index;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void fix_entry(const struct accel_vm *vm, struct kvm_cpuid_entry2 *e, unsigned apic_id)
{
	unsigned ncpus = vm->host->ncpus ? vm->host->ncpus : 1;

	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0xffffu) | (apic_id << 24) | ((ncpus & 0xffu) << 16);
		e->ecx |= LEAF1_ECX_HYPERVISOR;
		e->ecx &= ~LEAF1_ECX_MONITOR; /* MWAIT is not passed through */
		if (vm->tsc_deadline)
			e->ecx |= LEAF1_ECX_TSC_DEADLINE;
		if (ncpus > 1)
			e->edx |= LEAF1_EDX_HTT;
		break;
	case 5: /* MONITOR/MWAIT */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 7:
		if (e->index == 0) {
			e->ebx &= ~(LEAF7_EBX_SGX | LEAF7_EBX_PT);
			e->ecx &= ~LEAF7_ECX_SGX_LC;
		}
		break;
	case 0xb:
	case 0x1f:
		fix_topology_leaf(e, apic_id, ncpus);
		break;
	case 0x12: /* SGX */
	case 0x14: /* processor trace */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000008:
		e->ecx = (e->ecx & ~0xffu) | ((ncpus - 1) & 0xffu);
		break;
	case 0x8000001e: /* AMD extended APIC id, one core per compute unit */
		e->eax = apic_id;
		e->ebx = apic_id & 0xffu;
		e->ecx = 0;
		break;
	}
}

static struct kvm_cpuid_entry2 *find_entry(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
	unsigned i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/*
 * A topology leaf needs its SMT, core and terminating subleaves; KVM may
 * report fewer (a nested host reports 0xB.0 alone). c has room for 3 more.
 */
static void complete_topology_leaf(struct kvm_cpuid2 *c, uint32_t fn)
{
	struct kvm_cpuid_entry2 *first = find_entry(c, fn, 0);
	uint32_t index;

	if (!first)
		return;
	for (index = 1; index <= 2; index++) {
		if (find_entry(c, fn, index))
			continue;
		c->entries[c->nent++] = (struct kvm_cpuid_entry2){
			.function = fn,
			.index = index,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		};
	}
}

struct kvm_cpuid2 *kvm_cpuid_for_vcpu(const struct accel_vm *vm, unsigned index)
{
	size_t sz = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz + 6 * sizeof(vm->cpuid->entries[0]));
	unsigned i;

	if (!c)
		return NULL;
	memcpy(c, vm->cpuid, sz);
	complete_topology_leaf(c, 0xb);
	complete_topology_leaf(c, 0x1f);
	for (i = 0; i < c->nent; i++)
		fix_entry(vm, &c->entries[i], index);
	return c;
}

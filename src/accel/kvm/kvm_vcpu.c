/*
 * KVM vCPUs: creation from the thread that runs them, CPUID, the MSRs and
 * LAPIC set-up a Linux boot expects, and the boot CPU's register state.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/kvm/kvm.h"

#define MSR_IA32_MISC_ENABLE     0x1a0
#define MISC_ENABLE_FAST_STRING  (1ull << 0)
#define MSR_MTRR_DEF_TYPE        0x2ff
#define MTRR_DEF_ENABLE          (1ull << 11)
#define MTRR_TYPE_WB             6ull

#define APIC_REG_LVT0            0x350
#define APIC_REG_LVT1            0x360
#define APIC_LVT_MASKED          (1u << 16)
#define APIC_LVT_MODE_MASK       (7u << 8)
#define APIC_LVT_MODE_NMI        (4u << 8)
#define APIC_LVT_MODE_EXTINT     (7u << 8)

#define FPU_FCW_RESET            0x37f
#define MXCSR_RESET              0x1f80

static int vcpu_ioctl(struct accel_vcpu *v, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(v->fd, req, arg);

	if (r < 0) {
		r = -errno;
		kvm_log(v->vm, ACCEL_LOG_ERROR, "kvm: vcpu %u: %s: %s", v->index, what,
			strerror(-r));
	}
	return r;
}

static int vcpu_set_cpuid(struct accel_vcpu *v)
{
	struct kvm_cpuid2 *c = kvm_cpuid_for_vcpu(v->vm, v->index);
	int r;

	if (!c)
		return -ENOMEM;
	r = vcpu_ioctl(v, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
	return r;
}

/* An MSR KVM refuses is worth a warning, not a failure: guests cope. */
static void vcpu_set_msr(struct accel_vcpu *v, uint32_t index, uint64_t value)
{
	union {
		struct kvm_msrs hdr;
		uint8_t room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m = { .room = { 0 } };

	m.hdr.nmsrs = 1;
	m.hdr.entries[0] = (struct kvm_msr_entry){ .index = index, .data = value };
	if (ioctl(v->fd, KVM_SET_MSRS, &m) != 1)
		kvm_log(v->vm, ACCEL_LOG_WARN, "kvm: vcpu %u: MSR 0x%x not set", v->index,
			index);
}

static void lapic_set_lvt(struct kvm_lapic_state *s, unsigned reg, uint32_t mode)
{
	uint32_t lvt;

	memcpy(&lvt, &s->regs[reg], sizeof(lvt));
	lvt = (lvt & ~(APIC_LVT_MODE_MASK | APIC_LVT_MASKED)) | mode;
	memcpy(&s->regs[reg], &lvt, sizeof(lvt));
}

/* Virtual-wire mode as a BIOS leaves it: LINT0 ExtINT, LINT1 NMI. */
static int vcpu_setup_lapic(struct accel_vcpu *v)
{
	struct kvm_lapic_state s;
	int r;

	r = vcpu_ioctl(v, KVM_GET_LAPIC, &s, "KVM_GET_LAPIC");
	if (r < 0)
		return r;
	lapic_set_lvt(&s, APIC_REG_LVT0, APIC_LVT_MODE_EXTINT);
	lapic_set_lvt(&s, APIC_REG_LVT1, APIC_LVT_MODE_NMI);
	return vcpu_ioctl(v, KVM_SET_LAPIC, &s, "KVM_SET_LAPIC");
}

/* APs must sit in wait-for-SIPI; KVM does so with an in-kernel irqchip. */
static int vcpu_check_mp_state(struct accel_vcpu *v)
{
	struct kvm_mp_state mp;
	int r;

	r = vcpu_ioctl(v, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE");
	if (r < 0 || v->index == 0 || mp.mp_state == KVM_MP_STATE_UNINITIALIZED)
		return r;
	kvm_log(v->vm, ACCEL_LOG_WARN, "kvm: vcpu %u: mp_state %u, forcing wait-for-SIPI",
		v->index, mp.mp_state);
	mp.mp_state = KVM_MP_STATE_UNINITIALIZED;
	return vcpu_ioctl(v, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
}

static int vcpu_setup(struct accel_vcpu *v)
{
	int r;

	r = vcpu_set_cpuid(v);
	if (r < 0)
		return r;
	vcpu_set_msr(v, MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING);
	vcpu_set_msr(v, MSR_MTRR_DEF_TYPE, MTRR_DEF_ENABLE | MTRR_TYPE_WB);
	if (v->index == 0) {
		r = vcpu_setup_lapic(v);
		if (r < 0)
			return r;
	}
	return vcpu_check_mp_state(v);
}

/* The kick signal must reach this thread even if the core blocked it. */
static int unblock_kick_signal(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, KVM_KICK_SIGNAL);
	return -pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void kvm_vcpu_destroy(struct accel_vcpu *v)
{
	if (!v)
		return;
	if (v->run)
		munmap(v->run, (size_t)v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	free(v);
}

static int kvm_vcpu_create(struct accel_vm *vm, unsigned index, struct accel_vcpu **out)
{
	struct accel_vcpu *v;
	void *run;
	int r;

	*out = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	v->thread = pthread_self();
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		r = -errno;
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: KVM_CREATE_VCPU %u: %s", index, strerror(-r));
		goto fail;
	}
	run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		r = -errno;
		kvm_log(vm, ACCEL_LOG_ERROR, "kvm: vcpu %u: mmap kvm_run: %s", index,
			strerror(-r));
		goto fail;
	}
	v->run = run;
	r = vcpu_setup(v);
	if (r < 0)
		goto fail;
	r = unblock_kick_signal();
	if (r < 0)
		goto fail;
	*out = v;
	return 0;
fail:
	kvm_vcpu_destroy(v);
	return r;
}

static void seg_to_kvm(struct kvm_segment *k, const struct cpu_segment *s)
{
	*k = (struct kvm_segment){
		.base = s->base,
		.limit = s->limit,
		.selector = s->selector,
		.type = s->type,
		.present = s->present,
		.dpl = s->dpl,
		.db = s->db,
		.s = s->s,
		.l = s->l,
		.g = s->g,
		.avl = s->avl,
		.unusable = s->unusable,
	};
}

static int set_boot_sregs(struct accel_vcpu *v, const struct cpu_boot_state *st)
{
	struct kvm_sregs sr;
	int r;

	r = vcpu_ioctl(v, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
	if (r < 0)
		return r;
	seg_to_kvm(&sr.cs, &st->cs);
	seg_to_kvm(&sr.ds, &st->ds);
	seg_to_kvm(&sr.es, &st->es);
	seg_to_kvm(&sr.fs, &st->fs);
	seg_to_kvm(&sr.gs, &st->gs);
	seg_to_kvm(&sr.ss, &st->ss);
	seg_to_kvm(&sr.tr, &st->tr);
	seg_to_kvm(&sr.ldt, &st->ldt);
	sr.gdt = (struct kvm_dtable){ .base = st->gdt.base, .limit = st->gdt.limit };
	sr.idt = (struct kvm_dtable){ .base = st->idt.base, .limit = st->idt.limit };
	sr.cr0 = st->cr0;
	sr.cr2 = st->cr2;
	sr.cr3 = st->cr3;
	sr.cr4 = st->cr4;
	sr.efer = st->efer;
	return vcpu_ioctl(v, KVM_SET_SREGS, &sr, "KVM_SET_SREGS");
}

static int set_boot_regs(struct accel_vcpu *v, const struct cpu_boot_state *st)
{
	const uint64_t *g = st->gpr;
	struct kvm_regs regs = {
		.rax = g[CPU_RAX], .rcx = g[CPU_RCX], .rdx = g[CPU_RDX], .rbx = g[CPU_RBX],
		.rsp = g[CPU_RSP], .rbp = g[CPU_RBP], .rsi = g[CPU_RSI], .rdi = g[CPU_RDI],
		.r8 = g[CPU_R8], .r9 = g[CPU_R9], .r10 = g[CPU_R10], .r11 = g[CPU_R11],
		.r12 = g[CPU_R12], .r13 = g[CPU_R13], .r14 = g[CPU_R14], .r15 = g[CPU_R15],
		.rip = st->rip,
		.rflags = st->rflags | 2, /* bit 1 is always set */
	};

	return vcpu_ioctl(v, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

static int kvm_vcpu_set_boot_state(struct accel_vcpu *v, const struct cpu_boot_state *st)
{
	struct kvm_fpu fpu = { .fcw = FPU_FCW_RESET, .mxcsr = MXCSR_RESET };
	int r;

	r = set_boot_sregs(v, st);
	if (r < 0)
		return r;
	r = set_boot_regs(v, st);
	if (r < 0)
		return r;
	r = vcpu_ioctl(v, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
	if (r < 0 || v->index == 0)
		return r;
	/* An AP given a state starts from it instead of waiting for SIPI. */
	return vcpu_ioctl(v, KVM_SET_MP_STATE, &(struct kvm_mp_state){ KVM_MP_STATE_RUNNABLE },
			  "KVM_SET_MP_STATE");
}

const struct accel_vcpu_ops kvm_vcpu_ops = {
	.create = kvm_vcpu_create,
	.destroy = kvm_vcpu_destroy,
	.set_boot_state = kvm_vcpu_set_boot_state,
	.run = kvm_vcpu_run,
	.kick = kvm_vcpu_kick,
};

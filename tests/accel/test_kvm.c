/*
 * accel-kvm.so module tests: test-kvm MODULE_PATH.
 *
 * Each case runs in a child process (t_isolate) with a time limit and every
 * KVM_RUN bounded by a watchdog. A case skips where KVM cannot be used at
 * all; on a host whose /dev/kvm is a software nested layer (probe says
 * LIMITED) a case that wedges is reported skipped, never hung.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "t_suite.h"
#include "test_kvm.h"

/* Cases: the module and its VM. */
static void case_entry(struct t_case *c)
{
	char why[256] = "";
	int r = c->ops->probe(why, sizeof(why));
	void *h;

	T_REQUIRE(c, c->ops->size == sizeof(struct accel_ops), "ops size %u", c->ops->size);
	T_REQUIRE(c, strcmp(c->ops->name, "kvm") == 0, "name %s", c->ops->name);
	T_REQUIRE(c, c->ops->vm && c->ops->vcpu && c->ops->vm->create && c->ops->vcpu->run &&
		     c->ops->vcpu->kick && c->ops->vm->add_ioeventfd, "ops table incomplete");
	T_REQUIRE(c, r == ACCEL_PROBE_OK || r == ACCEL_PROBE_LIMITED || r < 0, "probe %d", r);
	T_REQUIRE(c, why[0] != '\0', "probe gave no reason");
	h = dlopen(c->module, RTLD_NOW | RTLD_NOLOAD);
	T_REQUIRE(c, h && dlsym(h, SPLITVM_ACCEL_ENTRY), "entry symbol not found");
	T_REQUIRE(c, !dlsym(h, "kvm_vcpu_run") && !dlsym(h, "kvm_vm_ops") &&
		     !dlsym(h, "kvm_log"), "the module exports more than its entry symbol");
}

/* 64-bit mode: MMIO writes and reads of 1, 2, 4 and 8 bytes. */
static void case_mmio(struct t_case *c)
{
	static const uint8_t code[] = {
		0x48, 0xbe, 0x00, 0x80, 0x09, 0, 0, 0, 0, 0, /* mov rsi, T_MMIO_TEST */
		0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* mov rax, imm */
		0x88, 0x06,             /* mov [rsi], al */
		0x66, 0x89, 0x46, 0x02, /* mov [rsi+2], ax */
		0x89, 0x46, 0x04,       /* mov [rsi+4], eax */
		0x48, 0x89, 0x46, 0x08, /* mov [rsi+8], rax */
		0x48, 0x8b, 0x4e, 0x10, /* mov rcx, [rsi+16] */
		0x48, 0x89, 0x0f,       /* mov [rdi], rcx */
		0x8b, 0x4e, 0x18,       /* mov ecx, [rsi+24] */
		0x48, 0x89, 0x4f, 0x08, /* mov [rdi+8], rcx */
	};
	static const struct { uint64_t off; unsigned size; bool w; uint64_t data; } want[] = {
		{ 0, 1, true, 0x88 }, { 2, 2, true, 0x7788 }, { 4, 4, true, 0x55667788 },
		{ 8, 8, true, 0x1122334455667788ull }, { 16, 8, false, 0 }, { 24, 4, false, 0 },
	};
	struct t_host *t = t_vm(c, 1);
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	struct t_access acc[8];
	uint64_t *res = t_gpa(t, T_DATA);
	unsigned i, n = 0;

	a_bytes(&a, code, sizeof(code));
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	t_run_checked(c, t, t_vcpu(c, t, 0, &st), 3000);
	for (i = 0; i < t->nacc; i++)
		if (!t->acc[i].pio && t->acc[i].addr != T_MMIO_DONE && n < 8)
			acc[n++] = t->acc[i];
	T_REQUIRE(c, n == 6, "%u MMIO accesses, want 6", n);
	for (i = 0; i < n; i++)
		T_REQUIRE(c, acc[i].addr == T_MMIO_TEST + want[i].off &&
			     acc[i].size == want[i].size && acc[i].is_write == want[i].w &&
			     (!want[i].w || acc[i].data == want[i].data),
			  "access %u: addr 0x%llx size %u write %d data 0x%llx", i,
			  (unsigned long long)acc[i].addr, acc[i].size, acc[i].is_write,
			  (unsigned long long)acc[i].data);
	T_REQUIRE(c, res[0] == 0x1122334455667788ull && res[1] == 0x55667788,
		  "guest read 0x%llx, 0x%llx", (unsigned long long)res[0],
		  (unsigned long long)res[1]);
}

/* What the guest finds: CPUID (per-vCPU APIC id), MSRs, LAPIC LINT0/1. */
static const uint8_t setup_probe_code[] = {
	0xb8, 0x01, 0, 0, 0, 0x0f, 0xa2,         /* cpuid(1) */
	0x89, 0x1f, 0x89, 0x4f, 0x04,             /* [rdi] = ebx, [rdi+4] = ecx */
	0xb8, 0x0b, 0, 0, 0, 0x31, 0xc9, 0x0f, 0xa2, /* cpuid(0xb, 0) */
	0x89, 0x57, 0x08,                         /* [rdi+8] = edx */
	0xb8, 0, 0, 0, 0x40, 0x0f, 0xa2,          /* cpuid(0x40000000) */
	0x89, 0x5f, 0x0c, 0x89, 0x4f, 0x10, 0x89, 0x57, 0x14,
	0xb9, 0xa0, 0x01, 0, 0, 0x0f, 0x32,       /* rdmsr(IA32_MISC_ENABLE) */
	0x89, 0x47, 0x18,
	0xb9, 0xff, 0x02, 0, 0, 0x0f, 0x32,       /* rdmsr(MTRR_DEF_TYPE) */
	0x89, 0x47, 0x1c,
	0xb8, 0x50, 0x03, 0xe0, 0xfe, 0x8b, 0x00, 0x89, 0x47, 0x20, /* LVT LINT0 */
	0xb8, 0x60, 0x03, 0xe0, 0xfe, 0x8b, 0x00, 0x89, 0x47, 0x24, /* LVT LINT1 */
	0xb8, 0, 0, 0, 0, 0x0f, 0xa2, 0x89, 0x47, 0x28, /* cpuid(0).eax */
	0xb8, 0x0b, 0, 0, 0, 0xb9, 0x01, 0, 0, 0, 0x0f, 0xa2, /* cpuid(0xb, 1) */
	0x89, 0x5f, 0x2c, 0x89, 0x4f, 0x30,       /* [rdi+44] = ebx, [rdi+48] = ecx */
	0xbb, 0x00, 0x00, 0x09, 0x00,             /* mov ebx, T_MMIO_DONE (cpuid took it) */
};

struct setup_seen {
	uint32_t l1_ebx, l1_ecx, lb_edx, sig[3], misc, mtrr, lint0, lint1, max_leaf;
	uint32_t lb1_ebx, lb1_ecx;
};

static void check_vcpu_setup(struct t_case *c, const struct setup_seen *s, unsigned index)
{
	T_REQUIRE(c, s->l1_ebx >> 24 == index, "vcpu %u: CPUID.1 APIC id %u", index,
		  s->l1_ebx >> 24);
	T_REQUIRE(c, s->l1_ecx >> 31, "vcpu %u: no hypervisor bit", index);
	T_REQUIRE(c, s->max_leaf < 0xb || s->lb_edx == index, "vcpu %u: CPUID.B x2APIC id %u",
		  index, s->lb_edx);
	T_REQUIRE(c, s->max_leaf < 0xb || (s->lb1_ebx == 2 && (s->lb1_ecx >> 8 & 0xff) == 2),
		  "vcpu %u: CPUID.B.1 (core level) ebx %u ecx 0x%x", index, s->lb1_ebx,
		  s->lb1_ecx);
	T_REQUIRE(c, memcmp(s->sig, "KVMKVMKVM\0\0\0", 12) == 0, "vcpu %u: no KVM signature",
		  index);
	T_REQUIRE(c, s->misc & 1, "vcpu %u: MISC_ENABLE 0x%x", index, s->misc);
	T_REQUIRE(c, s->mtrr == 0x806, "vcpu %u: MTRR_DEF_TYPE 0x%x", index, s->mtrr);
	T_REQUIRE(c, index || ((s->lint0 & 0x10700) == 0x700 && (s->lint1 & 0x10700) == 0x400),
		  "LINT0 0x%x LINT1 0x%x", s->lint0, s->lint1);
}

static void case_vcpu_setup(struct t_case *c)
{
	struct t_host *t = t_vm(c, 2);
	struct t_asm a = { .mode = T_LONG64 };
	struct cpu_boot_state st;
	struct setup_seen seen;
	unsigned i;

	a_bytes(&a, setup_probe_code, sizeof(setup_probe_code));
	a_done(&a);
	a_hlt_loop(&a);
	t_put_code(t, a.b, a.n);
	t_boot_state(t, T_LONG64, &st);
	for (i = 0; i < 2; i++) {
		atomic_store(&t->done, false);
		t_run_checked(c, t, t_vcpu(c, t, i, &st), 3000);
		memcpy(&seen, t_gpa(t, T_DATA), sizeof(seen));
		check_vcpu_setup(c, &seen, i);
	}
}

static const struct case_desc cases[] = {
	CASE(case_entry, NULL, 5000, "module entry and probe"),
	CASE(case_mmio, NULL, 10000, "MMIO 1/2/4/8 bytes (64-bit)"),
	T_BASE_CASES,
	T_KICK_CASES,
	CASE(case_vcpu_setup, NULL, 10000, "CPUID, MSRs and LAPIC LINT0/1 per vCPU"),
	T_IRQ_CASES,
};


int main(int argc, char **argv)
{
	return t_suite_main(argc, argv, "accel-kvm", cases, sizeof(cases) / sizeof(cases[0]));
}
